"""The classic cell's compiled steps (engine/runs/compiled.py, numba) against the written spec
``cell.lstm_step`` and against the numpy path they stand in for: masks, go_backwards, initial
states, groups of samples (the block kernel with its own product) and numpy's product (large
batches of wide layers), whole runs, runs in pieces and the debugger's one step at a time, bit-identical
to each other. Without numba the engine runs the numpy path (checked in a child process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.cells.cell import CellWeights, lstm_step
from engine.runs import compiled
from engine.runs.stepper import DirectionRunner
from tests.generative import generative_settings
from tests.helpers import assert_close
from tests.test_cell_spec import check_against_spec

ROOT = Path(__file__).resolve().parents[1]
RUN_ARRAYS = ("gates", "zh", "c", "h")

# numba is in the test extra: these tests run, never skip (a numba that fails to load fails here)
assert compiled.kernels() is not None, "the compiled steps did not load (numba is in the test extra)"


def classic_cell(rng: np.random.Generator, d: int, n: int) -> CellWeights:
    return CellWeights(rng.normal(0, 0.6, (d, 4 * n)), rng.normal(0, 0.6, (n, 4 * n)),
                       rng.normal(0, 0.3, 4 * n))


def make_runner(w: CellWeights, x, mask, h0, c0, backward: bool) -> DirectionRunner:
    return DirectionRunner("jit", w, x, backward=backward, mask=mask, h0=h0, c0=c0)


@st.composite
def classic_runs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n, d = draw(st.integers(1, 9)), draw(st.integers(1, 5))
    b, t = draw(st.sampled_from([1, 2, 3, 8, 9, 17])), draw(st.integers(1, 12))
    w = classic_cell(rng, d, n)
    x = rng.normal(size=(b, t, d)).astype(np.float32)
    mask = rng.random((b, t)) > 0.3 if draw(st.booleans()) else None
    h0 = rng.normal(0, 0.5, (b, n)).astype(np.float32)
    c0 = rng.normal(0, 0.5, (b, n)).astype(np.float32)
    return w, x, mask, h0, c0, draw(st.booleans()), draw(st.integers(0, t))


@pytest.mark.generative
@generative_settings(60)
@given(classic_runs())
def test_compiled_steps_are_the_spec_and_the_numpy_path(monkeypatch, case):
    w, x, mask, h0, c0, backward, cut = case
    runner = make_runner(w, x, mask, h0, c0, backward)
    assert runner._compiled is not None, "the classic cell takes the compiled path"
    runner.run()
    check_against_spec(runner, lstm_step)

    pieces = make_runner(w, x, mask, h0, c0, backward)      # a window, then the rest
    pieces.run(0, cut)
    pieces.run(cut)
    stepped = make_runner(w, x, mask, h0, c0, backward)     # the debugger's way
    for p in range(x.shape[1]):
        stepped.step(p)
    for other in (pieces, stepped):
        for name in RUN_ARRAYS:
            assert np.array_equal(getattr(other, name), getattr(runner, name), equal_nan=True), name

    with monkeypatch.context() as patch:
        patch.setenv(compiled.JIT_SWITCH, "0")
        plain = make_runner(w, x, mask, h0, c0, backward)
    assert plain._compiled is None
    plain.run()
    for name in RUN_ARRAYS:
        ours, theirs = getattr(runner, name), getattr(plain, name)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), name
        assert_close(ours[~np.isnan(ours)], theirs[~np.isnan(theirs)], name)


def test_the_transposed_product_gives_the_same_run():
    """B > 8 with N >= 512: numpy computes h·U as U^T·h^T; the kernel reads it through a view."""
    rng = np.random.default_rng(3)
    w = classic_cell(rng, 3, 512)
    x = rng.normal(size=(9, 5, 3)).astype(np.float32)
    mask = rng.random((9, 5)) > 0.2
    runner = make_runner(w, x, mask, None, None, False)
    assert not runner._compiled.in_kernel
    runner.run()
    check_against_spec(runner, lstm_step)


def test_tanh_is_within_three_tenths_of_a_millionth_and_keeps_nan_and_infinities():
    z = np.concatenate([np.linspace(-12, 12, 200_001, dtype=np.float32),
                        np.float32([0.0, -0.0, 1e-30, np.inf, -np.inf, np.nan])])
    out = np.empty_like(z)
    compiled.kernels().tanh_into(z, out)
    ref = np.tanh(z.astype(np.float64))
    finite = ~np.isnan(z)
    assert np.abs(out[finite] - ref[finite]).max() <= 3e-7
    assert np.isnan(out[-1]) and out[-3] == 1.0 and out[-2] == -1.0


def test_other_cells_keep_the_numpy_path():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 4, 2)).astype(np.float32)
    peep = CellWeights(rng.normal(size=(2, 8)), rng.normal(size=(2, 8)), np.zeros(8),
                       peephole=rng.normal(size=(3, 2)).astype(np.float32))
    from engine.cells.activations import keras_activation
    relu = CellWeights(rng.normal(size=(2, 8)), rng.normal(size=(2, 8)), np.zeros(8),
                       cell_activation=keras_activation("relu"))
    for w in (peep, relu):
        assert DirectionRunner("np", w, x)._compiled is None


def test_compiled_code_is_cached_in_the_users_cache_not_in_the_package():
    import numba
    engine_dir = ROOT / "engine"
    assert not any(engine_dir.rglob("*.nbi")) and not any(engine_dir.rglob("*.nbc"))
    expected = os.environ.get("NUMBA_CACHE_DIR") or str(compiled.cache_dir())
    assert numba.config.CACHE_DIR == expected


def test_without_numba_the_engine_traces_on_the_numpy_path(tmp_path):
    code = ("import sys; sys.modules['numba'] = None\n"
            "import numpy as np\n"
            "from engine.runs import compiled\n"
            "from engine.bench.engine_figures import bench_model\n"
            "assert compiled.kernels() is None\n"
            "x = np.random.default_rng(1).normal(size=(2, 7, 32)).astype(np.float32)\n"
            "np.save(sys.argv[1], bench_model(5, 32).trace(x).layer(0).h)\n")
    out = tmp_path / "h.npy"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from engine.bench.engine_figures import bench_model
    x = np.random.default_rng(1).normal(size=(2, 7, 32)).astype(np.float32)
    assert_close(bench_model(5, 32).trace(x).layer(0).h, np.load(out), "h without numba")


FIRST_RUN_LOADS = """
import os, sys
from threadpoolctl import threadpool_info, threadpool_limits
import numpy as np
import engine
from engine.runs import stepper
assert "numba" not in sys.modules, "numba was imported with the engine"
from engine.bench.engine_figures import bench_model
model = bench_model(5, 32)
seen = []
original = stepper.DirectionRunner._run_compiled
def spy(*args, **kwargs):
    seen.append({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
    return original(*args, **kwargs)
stepper.DirectionRunner._run_compiled = spy
assert "numba" not in sys.modules, "numba was imported with a model"
x = np.random.default_rng(1).normal(size=(2, 7, 32)).astype(np.float32)
with threadpool_limits(2, user_api="blas"):
    model.trace(x)
    print(sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}))
print("numba" in sys.modules, seen)
"""


def test_the_first_run_loads_the_kernels_not_the_engines_import():
    """numba's import (about 0.8 s of CPU) is paid by the first run that takes the compiled
    path, not by ``import engine`` (``main.py --help``, an export, a model of another cell);
    the BLAS libraries numba's import brings in are held at one thread during that run, and
    given back the person's setting after it."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", compiled.JIT_SWITCH)}
    done = subprocess.run([sys.executable, "-c", FIRST_RUN_LOADS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[2]", "True [{1}]"], done.stdout


def test_children_do_not_load_the_compiled_steps():
    """A child (HDF5 reader, Keras worker) never steps an LSTM: numba's import would cost it
    about 0.5 s of CPU."""
    from engine.system.child import Child
    child = Child("tests.children:loaded_modules")
    try:
        assert child.conn.poll(60), child.ended_without_answer()
        assert child.conn.recv() is False
    finally:
        child.close()


def test_runs_and_forks_use_the_code_warmed_at_load():
    """A first trace pays no compilation: runs of a few samples and of a large batch of a wide
    layer, and a fork over a window of a batch's run (its x·W a view of the parent's), all
    use the kernels' signatures warmed when the kernels were loaded."""
    from engine import Session
    from engine.debugging.debugger import Debugger
    from engine.network.layers import LSTM
    from engine.network.model import Model
    module = compiled.kernels()
    kernels = (module.classic_block, module.classic_step)
    warmed = [len(k.signatures) for k in kernels]
    rng = np.random.default_rng(5)
    for b, n in ((1, 3), (3, 5), (9, 512)):
        w = classic_cell(rng, 2, n)
        runner = make_runner(w, rng.normal(size=(b, 4, 2)).astype(np.float32), None, None, None, False)
        runner.run()
    w = classic_cell(rng, 2, 6)
    session = Session(Model([LSTM("lstm", w, return_sequences=True)], source="test"),
                      rng.normal(size=(3, 20, 2)).astype(np.float32))
    session.seek(12)
    fork = Debugger(session).perturb(0, 0.1)
    fork.run()
    assert [len(k.signatures) for k in kernels] == warmed


def test_kernels_that_cannot_be_cached_leave_the_numpy_path(monkeypatch):
    """A cache folder that cannot be written (a full disk, a file-size limit: errno 27 seen in
    tests/test_output_safety.py) made the engine's import fail: the kernels are left out and
    every run takes the numpy path instead."""
    def unwritable(module):
        raise OSError(27, "File too large")
    monkeypatch.setattr(compiled, "_warm_up", unwritable)
    assert compiled._load() is None


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 40, 100])
def test_a_streamed_row_is_its_source_wherever_it_starts(length):
    """``stream_row`` (the recorded rows' streaming stores): plain stores up to the first
    64-byte boundary, whole lines streamed, the rest plain: every start within a line, every
    element written once, nothing around the row touched."""
    kernels = compiled.kernels()
    src = np.arange(1, length + 1, dtype=np.float32)
    for start in range(17):
        dst = np.full(160, -1.0, np.float32)
        kernels.stream_row(dst[start:start + length], src)
        assert np.array_equal(dst[start:start + length], src)
        assert (dst[:start] == -1).all() and (dst[start + length:] == -1).all()
