"""Test-wide settings: Keras runs on its numpy backend, Qt renders offscreen.

``tests`` is a package, so pytest puts the repository's top folder first on ``sys.path``: the
checkout's ``engine`` and ``gui`` are the ones tested.
"""

import os
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")
# Cache compiled bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE):
# the suite starts ``main.py`` in a fresh interpreter a few hundred times, and each would
# otherwise compile every engine and gui module again (about a second a run on 2 cores).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# what the command line sets for itself (engine.system.quiet), set once for the whole run: a CLI
# run in process (tests.helpers.run_cli) then leaves the environment as it found it, so a warm
# HDF5 reader or Keras worker (kept only under the same environment) serves the next test too
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# numba's compiled steps (engine/runs/compiled.py) keep their cache under the user's cache
# folder; tests that give a child a fresh HOME would otherwise compile every kernel again in
# each such child (about 7 s of CPU each): the children find the one cache through this
if "NUMBA_CACHE_DIR" not in os.environ:
    from engine.runs.compiled import cache_dir as _numba_cache_dir
    os.environ["NUMBA_CACHE_DIR"] = str(_numba_cache_dir())

from hypothesis import settings  # noqa: E402

# Property tests search a fixed sequence of examples: a run in CI finds what a run here finds,
# never a new failure by chance, and writes no example database into the checkout.
settings.register_profile("lstm-scope", derandomize=True, database=None)
settings.load_profile("lstm-scope")


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="run generative tests (fuzz, window state machine, figure matrix) with "
                          "many fresh random examples instead of CI's fixed few (tests/generative.py)")


# What the suite compares against (pyproject's test extra): never skipped when missing, the
# suite refuses to start instead (a broken one fails the tests that import it).
TEST_EXTRA = ("keras", "jax", "scipy", "torch", "onnx", "onnxruntime", "safetensors",
              "hypothesis", "pytestqt", "xdist", "ipykernel", "nbclient")


def pytest_configure(config):
    import importlib.util

    import pytest
    missing = [name for name in TEST_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(f"the test extra is not installed ({', '.join(missing)} missing): "
                                f"pip install -e '.[test]'; the tests compare LSTM Scope against "
                                f"these frameworks and never skip them")
    from tests import generative
    generative.set_long(bool(config.getoption("--long", default=False)))


def pytest_collection_finish(session):
    """Move everything alive after collection (torch, Keras, JAX, Qt and the app's modules,
    imported by the test modules) out of the garbage collector's sight: each full collection
    otherwise walks those millions of objects again, and the GUI tests' many Qt and pyqtgraph
    allocations trigger thousands of collections. Measured on five GUI, export and Keras files
    in one process: 113.4 -> 85.4 s of CPU, the collector's own time 19.6 -> 5.3 s. Objects a
    test makes are collected as before; frozen ones are freed by reference counting."""
    import gc
    gc.collect()
    gc.freeze()


# A closed window's pyqtgraph plots live on in reference cycles until the garbage collector
# runs, each holding a dozen parentless context menus (QMenu); an app-wide theme change then
# re-polishes every one of them (a theme test took 23 s after 40 export tests, 1.8 s alone).
# After tests that left 150 more top-level widgets than the last collection did, collect them
# (comparing with the last count: menus that survive a collection must not make every later
# test pay for one, about 0.4 s with torch, Keras and JAX loaded).
LEFT_WIDGETS_COLLECTED = 150
_widgets_after_collection = 0


@pytest.fixture(autouse=True)
def _collect_closed_windows():
    global _widgets_after_collection
    yield
    widgets = sys.modules.get("PySide6.QtWidgets")
    app = widgets.QApplication.instance() if widgets is not None else None
    if app is None:
        return
    if len(app.topLevelWidgets()) > _widgets_after_collection + LEFT_WIDGETS_COLLECTED:
        import gc

        from PySide6.QtCore import QCoreApplication, QEvent
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        _widgets_after_collection = len(app.topLevelWidgets())
