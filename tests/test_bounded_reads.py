"""Reading an untrusted model is bounded: the HDF5 part runs in a worker process that is
abandoned when it makes no progress (a corrupt heap can make HDF5 loop forever) and killed at
once by Cancel; declared sizes are checked against the memory budget before anything is read."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from engine import ModelFileError, load_model
from engine.loaders import h5read
from engine.system.budget import BudgetError
from tests.helpers import FIXTURES, ROOT, assert_clean_error, run_cli_process

H5 = FIXTURES / "keras2" / "lstm_plain.h5"
# one byte changed in the heap of the root's attributes: HDF5 spins forever reading model_config
# (written by scripts/make_hanging_h5.py; tests/fixtures/hostile/README.md)
HANGING = ["gcol_collection_size.h5", "gcol_object_size.h5"]


@pytest.fixture
def stuck(monkeypatch):
    """The reader process imports h5py, then makes no progress (tests/children.py)."""
    monkeypatch.setattr(h5read, "READER", "tests.children:stuck_reader")


def test_a_reader_making_no_progress_is_abandoned(stuck, monkeypatch, tmp_path):
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(ModelFileError, match="no progress for 1 s"):
        load_model(H5)
    assert time.monotonic() - start < 15
    assert not h5read._ACTIVE


def test_cancel_kills_the_reader_at_once(stuck, monkeypatch):
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "60")
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_model(H5)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)
    worker = threading.Thread(target=load)
    worker.start()
    deadline = time.monotonic() + 10
    while not h5read._ACTIVE and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    start = time.monotonic()
    h5read.cancel_reads()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - start < 5
    assert isinstance(outcome[0], h5read.ReadCancelled), outcome


@pytest.mark.parametrize("command", ["info", "trace"])
@pytest.mark.parametrize("name", HANGING)
def test_a_file_on_which_hdf5_loops_forever_is_abandoned(monkeypatch, tmp_path, name, command):
    """Not a stub: the real HDF5 library spins at 100% CPU on these files, and the CLI still
    answers with one line and exit 2 once the reader's CPU limit (1 s here) runs out
    (docs/architecture.md, "Files in, files out"). Another message means this HDF5 no longer
    hangs on the file: search again (scripts/make_hanging_h5.py says how)."""
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "1")
    path = FIXTURES / "hostile" / name
    args = {"info": ["info", str(path)],
            "trace": ["trace", str(path), "--input", str(FIXTURES / "keras2" / "lstm_plain.npz"),
                      "--key", "x", "--out", str(tmp_path / "t.npz")]}[command]
    start = time.monotonic()
    proc = run_cli_process(*args, timeout=60)
    assert time.monotonic() - start < 30
    assert_clean_error(proc, name, "no progress for 1 s")
    assert not (tmp_path / "t.npz").exists()


def test_the_hanging_files_are_what_their_script_writes():
    """Each committed file is lstm_plain.h5 with the one byte scripts/make_hanging_h5.py names."""
    spec = importlib.util.spec_from_file_location("make_hanging_h5",
                                                  ROOT / "scripts" / "make_hanging_h5.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert sorted(script.MUTATIONS) == sorted(HANGING)
    for name in HANGING:
        assert (FIXTURES / "hostile" / name).read_bytes() == script.mutant(name), name


def test_the_worker_reads_the_same_model_as_before():
    """The HDF5 copy holds every array the loaders read: the traced numbers are unchanged."""
    model = load_model(H5)
    ref = np.load(FIXTURES / "keras2" / "lstm_plain.npz")
    out = model.trace(ref["x"]).layer(0)
    np.testing.assert_allclose(out.h, ref["layer0_h"], rtol=1e-5, atol=1e-5)


def test_the_reader_is_a_clean_interpreter_not_a_copy_of_this_process(monkeypatch):
    """The reader never forks, spawns or forkserves this process (those re-import the caller's
    __main__ or copy its threads): it is ``python -I`` on our own module."""
    import subprocess

    from engine.system import child
    started = []
    real = subprocess.Popen

    def spy(args, **kwargs):
        started.append(list(args))
        return real(args, **kwargs)
    monkeypatch.setattr(child.subprocess, "Popen", spy)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("the reader forked"))
    h5read.close_idle_readers()                  # a reader kept from an earlier test
    model = load_model(H5)
    assert model.traced_layers[0].units == 4
    (args,) = started
    assert args[:2] == [sys.executable, "-I"] and h5read.READER in args
    assert "__main__" not in " ".join(args)


def _count_readers(monkeypatch) -> list[list[str]]:
    from engine.system import child
    started: list[list[str]] = []
    real = child.subprocess.Popen

    def spy(args, **kwargs):
        started.append(list(args))
        return real(args, **kwargs)
    monkeypatch.setattr(child.subprocess, "Popen", spy)
    h5read.close_idle_readers()
    return started


def test_a_reader_that_read_without_error_reads_the_next_file(monkeypatch):
    """Starting a reader costs an interpreter, numpy and h5py; one that answered is kept."""
    started = _count_readers(monkeypatch)
    first = load_model(H5).traced_layers[0]
    second = load_model(H5).traced_layers[0]
    assert len(started) == 1
    np.testing.assert_array_equal(first.weights.kernel, second.weights.kernel)


def test_a_reader_is_kept_across_pytest_renaming_the_current_test(monkeypatch):
    """pytest rewrites PYTEST_CURRENT_TEST at every phase of every test and no child reads it:
    a program run under pytest (this suite, a user's own tests) keeps its warm reader."""
    started = _count_readers(monkeypatch)
    load_model(H5)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_other.py::test_next (call)")
    load_model(H5)
    assert len(started) == 1


def test_after_a_failed_read_the_next_file_gets_a_fresh_reader(monkeypatch, tmp_path):
    started = _count_readers(monkeypatch)
    bad = tmp_path / "bad.h5"
    bad.write_bytes(H5.read_bytes()[:2000])
    with pytest.raises(ModelFileError):
        load_model(bad)
    assert load_model(H5).traced_layers[0].units == 4
    assert len(started) == 2


def test_a_changed_memory_budget_gets_a_fresh_reader(monkeypatch, tmp_path):
    """The budget is read by the reader from its environment: a kept reader must not carry an
    old one."""
    path = tmp_path / "big.h5"
    shutil.copy(H5, path)
    with h5py.File(path, "r+") as f:
        f.create_dataset("model_weights/lstm/huge", shape=(1000, 1000), dtype="f4")   # 4 MB
    started = _count_readers(monkeypatch)
    load_model(H5)
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    with pytest.raises(BudgetError, match="memory"):
        load_model(path)
    assert len(started) == 2


def test_a_reader_that_dies_says_why_in_one_line(monkeypatch):
    monkeypatch.setattr(h5read, "READER", "tests.children:dying_reader")
    with pytest.raises(ModelFileError) as info:
        load_model(H5)
    assert "ended without an answer (exit code 1: the reader's last words)" in str(info.value)
    assert "\n" not in str(info.value) and not h5read._ACTIVE


def test_dataset_declaring_more_than_the_budget_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    path = tmp_path / "big.h5"
    shutil.copy(H5, path)
    with h5py.File(path, "r+") as f:
        f.create_dataset("model_weights/lstm/huge", shape=(100_000, 1000), dtype="f4")  # unwritten
    with pytest.raises(BudgetError, match="memory"):
        load_model(path)


def test_external_links_are_not_followed(tmp_path):
    path = tmp_path / "linked.h5"
    shutil.copy(H5, path)
    with h5py.File(path, "r+") as f:
        f["model_weights/elsewhere"] = h5py.ExternalLink("/dev/zero", "/data")
    assert load_model(path).traced_layers[0].name == "lstm"


# --- ONNX: external data and the shapes a graph declares -----------------------------------------
ONNX = FIXTURES / "onnx" / "forward.onnx"


def onnx_with_external(tmp_path, location: str, *, dims: int = 1 << 20,
                       length: int | None = None, data_bytes: int = 4 << 20):
    """forward.onnx in ``tmp_path/m/`` plus an initializer ``pad`` of ``dims`` floats stored in
    the external file ``location``; ``m/pad.bin`` holds ``data_bytes`` (sparse: nothing is
    written)."""
    import onnx
    proto = onnx.load(str(ONNX))
    pad = onnx.TensorProto(name="pad", data_type=onnx.TensorProto.FLOAT, dims=[dims])
    pad.data_location = onnx.TensorProto.EXTERNAL
    pad.external_data.add(key="location", value=location)
    if length is not None:
        pad.external_data.add(key="length", value=str(length))
    proto.graph.initializer.append(pad)
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    with open(folder / "pad.bin", "wb") as fh:
        fh.truncate(data_bytes)
    path = folder / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize("case", ["length", "dims", "file-longer-than-dims"])
def test_onnx_external_data_over_the_budget_is_refused(tmp_path, monkeypatch, case):
    """A model of a few hundred bytes whose external tensor is 4 MB, against a 1 MB budget:
    counted from ``length``, else from what onnx would read (the rest of the file)."""
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    path = onnx_with_external(tmp_path, "pad.bin", length=(4 << 20) if case == "length" else None,
                              dims=16 if case == "file-longer-than-dims" else 1 << 20)
    with pytest.raises(BudgetError, match="memory") as info:
        load_model(path)
    assert "m.onnx" in str(info.value) and "external data" in str(info.value)


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_onnx_external_data_outside_the_model_folder_is_refused(tmp_path, where):
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\0" * 64)
    location = {"parent": "../outside.bin", "absolute": str(outside), "symlink": "link.bin"}[where]
    path = onnx_with_external(tmp_path, location, dims=16)
    if where == "symlink":
        (path.parent / "link.bin").symlink_to(outside)
    with pytest.raises(ModelFileError, match="outside the model's folder") as info:
        load_model(path)
    assert "m.onnx" in str(info.value) and location in str(info.value)


def test_onnx_external_data_in_a_fifo_is_refused_unopened(tmp_path):
    path = onnx_with_external(tmp_path, "pipe", dims=4, length=16)
    os.mkfifo(path.parent / "pipe")
    with pytest.raises(ModelFileError, match="named pipe"):
        load_model(path)


def test_onnx_external_data_inside_the_folder_still_loads(tmp_path):
    import onnx
    path = tmp_path / "ext.onnx"
    onnx.save(onnx.load(str(ONNX)), str(path), save_as_external_data=True,
              all_tensors_to_one_file=True, location="ext.data", size_threshold=0)
    assert (tmp_path / "ext.data").stat().st_size > 0
    x = np.random.default_rng(0).normal(size=(1, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(load_model(path).trace(x).layers[0].h,
                                  load_model(ONNX).trace(x).layers[0].h)


@pytest.mark.parametrize("op, ins", [
    ("ConstantOfShape", [np.array([1000, 1000], np.int64)]),
    ("Expand", [np.ones(1, np.float32), np.array([1000, 1000], np.int64)]),
    ("Expand", [np.ones((1000, 1), np.float32), np.array([1, 1000], np.int64)]),
])
def test_onnx_ops_check_the_declared_output_against_the_budget(monkeypatch, op, ins):
    """A shape input of a few bytes declares a 4 MB tensor: refused (1 MB budget), not made."""
    from engine.loaders.onnx_ops import evaluate
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    with pytest.raises(BudgetError, match=op):
        evaluate(op, ins, {}, 14)


def onnx_plus(tmp_path, make):
    """forward.onnx plus the nodes ``make(helper, numpy_helper)`` returns: dead ends that the
    fold at load (all inputs constant, op foldable) or the native run still computes."""
    import onnx
    proto = onnx.load(str(ONNX))
    proto.graph.node.extend(make(onnx.helper, onnx.numpy_helper))
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    return path


def const(h, nh, name: str, value: np.ndarray):
    return h.make_node("Constant", [], [name], value=nh.from_array(value, name))


F4 = np.float32
# each builds a 4 MB (or larger) output from inputs of at most 16 KB, against a 1 MB budget
GROWING = {
    "Add": lambda h, nh: [const(h, nh, "a", np.ones((1000, 1), F4)),
                          const(h, nh, "b", np.ones((1, 1000), F4)),
                          h.make_node("Add", ["a", "b"], ["out"], name="grow")],
    "Gather": lambda h, nh: [const(h, nh, "a", np.ones((1, 1000), F4)),
                             const(h, nh, "i", np.zeros(1000, np.int64)),
                             h.make_node("Gather", ["a", "i"], ["out"], name="grow")],
    "Concat": lambda h, nh: [const(h, nh, "a", np.ones(4000, F4)),   # one name, 300 times
                             h.make_node("Concat", ["a"] * 300, ["out"], name="grow", axis=0)],
    "Cast": lambda h, nh: [const(h, nh, "s", np.array([300_000], np.int64)),
                           h.make_node("ConstantOfShape", ["s"], ["a"],
                                       value=nh.from_array(np.ones(1, np.uint8))),
                           h.make_node("Cast", ["a"], ["out"], name="grow", to=11)],  # DOUBLE
    "MatMul": lambda h, nh: [const(h, nh, "a", np.ones((1000, 1, 1), F4)),   # batch broadcast
                             const(h, nh, "b", np.ones((1, 1, 1000), F4)),
                             h.make_node("MatMul", ["a", "b"], ["out"], name="grow")],
    "Gemm": lambda h, nh: [const(h, nh, "a", np.ones((1, 1000), F4)),
                           const(h, nh, "b", np.ones((1, 1000), F4)),
                           h.make_node("Gemm", ["a", "b"], ["out"], name="grow", transA=1)],
}


@pytest.mark.parametrize("op", list(GROWING))
def test_onnx_ops_whose_output_outgrows_their_inputs_are_budgeted(tmp_path, monkeypatch, op):
    """Broadcasting, products, gathers, repeated inputs and widening casts make an output far
    larger than their inputs: refused before numpy makes it, at load (folded) or in the run."""
    path = onnx_plus(tmp_path, GROWING[op])
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1M")
    x = np.random.default_rng(0).normal(size=(1, 5, 3)).astype(np.float32)
    with pytest.raises(BudgetError, match="memory") as info:
        load_model(path).trace(x)
    assert all(s in str(info.value) for s in ("m.onnx", "'grow'", f"the {op} output")), info.value
