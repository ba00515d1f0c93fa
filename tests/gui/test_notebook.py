"""A Session or TraceResult ending a notebook cell shows its units figure (gui.notebook, the
exporter of ``export --view units``); ``gui.show`` blocks from a plain script until the window
closes, and returns at once in Jupyter after ``%gui qt``. Real kernels (nbclient), real
scripts; they run the numpy path (``LSTM_SCOPE_JIT=0``): numba's import and cached kernels would
cost each child about a second of CPU for a figure that does not depend on them."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

import engine
from gui import notebook
from tests.helpers import ROOT

X = np.sin(np.linspace(0, 6, 24, dtype=np.float32)).reshape(1, 24, 1)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_an_ipython_shell_shows_a_session_and_a_trace_as_the_units_figure(qtbot):
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    try:
        assert notebook.register(shell)
        model = engine.load_model("demo")
        session = engine.Session(model, X)
        session.seek(7)
        data, _ = shell.display_formatter.format(session)
        width, height = _png_size(data["image/png"])
        assert width == notebook.REPORT_WIDTH and height > 300
        assert session.t == 7 and session._observers == []      # the user's session untouched
        data, _ = shell.display_formatter.format(model.trace(X))
        assert _png_size(data["image/png"])[0] == notebook.REPORT_WIDTH
    finally:
        InteractiveShell.clear_instance()


def test_the_figure_is_the_export_commands(tmp_path):
    """Same exporter, same layout: the notebook's PNG has the size ``export --view units``
    writes for the same run, and shows the shape badges (the units figure's header)."""
    import main
    out = tmp_path / "units.png"
    assert main.main(["export", "demo", "--view", "units", "--width",
                      str(notebook.REPORT_WIDTH), "--out", str(out)]) == 0
    model = engine.load_model("demo")
    from engine.cli.commands import resolve_input
    ours = notebook.units_png(model.trace(resolve_input(model, None, None)))
    assert _png_size(ours) == _png_size(out.read_bytes())


def _child_env() -> dict[str, str]:
    """This process's environment for a kernel or script, on the numpy path (module docstring)."""
    return {**os.environ, "LSTM_SCOPE_JIT": "0"}


def _run_notebook(tmp_path, cells: list[str]) -> list:
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c))
                                         for c in cells])
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=_child_env())
    return nb.cells


def _pngs(cell) -> list[bytes]:
    return [base64.b64decode(out["data"]["image/png"]) for out in cell.outputs
            if "image/png" in out.get("data", {})]


@pytest.mark.slow
def test_a_jupyter_kernel_with_the_extension(tmp_path):
    cells = _run_notebook(tmp_path, [
        "%load_ext gui.notebook",
        "import numpy as np, engine\n"
        "x = np.sin(np.linspace(0, 6, 24, dtype=np.float32)).reshape(1, 24, 1)\n"
        "engine.load_model('demo').trace(x)",
        "s = engine.Session(engine.load_model('demo'), x)\ns.seek(5)\ns",
    ])
    for cell in cells[1:]:
        (png,) = _pngs(cell)
        assert _png_size(png)[0] == notebook.REPORT_WIDTH


@pytest.mark.slow
def test_a_jupyter_kernel_after_gui_qt_imports_gui_and_shows_without_blocking(tmp_path):
    cells = _run_notebook(tmp_path, [
        "%gui qt",
        "import numpy as np, engine, gui\n"
        "x = np.sin(np.linspace(0, 6, 24, dtype=np.float32)).reshape(1, 24, 1)\n"
        "s = engine.Session(engine.load_model('demo'), x)\ns",
        "w = gui.show(s)                      # returns at once: the kernel's loop runs Qt\n"
        "print('shown', w.isVisible())",
        "print('still', w.isVisible())\nw.close()",
    ])
    (png,) = _pngs(cells[1])
    assert _png_size(png)[0] == notebook.REPORT_WIDTH
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in cells]
    assert printed[2].strip() == "shown True" and printed[3].strip() == "still True"


@pytest.mark.slow
def test_gui_show_from_a_plain_script_blocks_until_the_window_closes(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        import engine, gui
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from gui.app import make_app

        closed = []
        def close_it():
            for widget in QApplication.topLevelWidgets():
                if widget.isVisible() and hasattr(widget, "session_model"):
                    closed.append(widget.session_model.session.t)
                    widget.close()
        make_app()
        QTimer.singleShot(1500, close_it)
        x = np.sin(np.linspace(0, 6, 24, dtype=np.float32)).reshape(1, 24, 1)
        s = engine.Session(engine.load_model("demo"), x)
        window = gui.show(s)
        print("returned after close", closed == [s.t], window.isVisible())
        """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**_child_env(),
                                                       "QT_QPA_PLATFORM": "offscreen",
                                                       "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "returned after close True False", proc.stdout
