"""Keras capture of a model file runs in a bounded worker process (engine.capture.keras_worker):
never in LSTM Scope's own process, with a CPU-time limit that does not count importing Keras and
the memory budget; a hostile or runaway file is abandoned with one line."""

from __future__ import annotations

import gc
import os
import time

import keras
import numpy as np
import pytest

from engine.capture import keras_worker
from engine.errors import ModelFileError, ScopeError
from engine.loaders import h5read, load_model
from engine.system.budget import BudgetError
from tests.helpers import FIXTURES, assert_clean_error, assert_close, run_cli
from tests.keras_ref import step_cell

CAP = FIXTURES / "capture"


def _npz(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# Tests of real Keras workers come first, in an order where a worker that one test closed
# cleanly serves the next (each new worker imports Keras: seconds of CPU); the
# misbehaving children of tests/children.py follow.

@pytest.mark.parametrize("ext", [".keras"])      # the .h5 twin: tests/test_capture_live.py
def test_conv1d_lstm_is_captured_in_a_worker_and_matches_keras(ext):
    model = load_model(CAP / f"conv1d_lstm{ext}")
    x = _npz(CAP / "conv1d_lstm.input.npz")["signal"]
    result = model.trace(x)
    worker = model.runtime.capturer()
    assert isinstance(worker, keras_worker.KerasWorker)
    assert worker._proc.is_alive() and worker._proc.pid != os.getpid()
    ref_model = keras.saving.load_model(CAP / "conv1d_lstm.keras", compile=False)
    lstm = ref_model.get_layer("lstm")
    lstm_in = np.asarray(keras.Model(ref_model.inputs, lstm.input).predict(x, verbose=0))
    np.testing.assert_allclose(result.layer(0).x, lstm_in, atol=1e-6, rtol=0)
    assert_close(result.output, ref_model.predict(x, verbose=0), f"{ext} output")
    ref = _npz(CAP / "conv1d_lstm.ref.npz")         # h, c stepped by Keras' own LSTM layer
    assert_close(result.layer(0).h, ref["layer0_h"], f"{ext} h")
    assert_close(result.layer(0).c, ref["layer0_c"], f"{ext} c")
    stepped = step_cell(lstm, lstm_in)                # gates: keras.ops on the layer's weights
    for k, gate in enumerate("ifgo"):
        assert_close(result.layer(0).gates[:, :, k], stepped[gate], f"{ext} {gate} from Keras")
    # a second input is one more forward pass in the same worker (no new process)
    pid = worker._proc.pid
    model.trace(x[:, :5])
    assert worker._proc.pid == pid
    worker.close()
    assert worker._proc is None


def test_a_keras2_file_runs_with_the_functions_its_writer_meant():
    """A tf.keras file whose LSTM uses hard_sigmoid: Keras 3 alone would run its own
    hard_sigmoid (x/6 + 1/2); the worker gives the file Keras 2's (0.2x + 0.5), so the captured
    run equals what tf.keras computed (tests/fixtures/keras2, written by tf.keras 2.21)."""
    ref = _npz(FIXTURES / "keras2" / "lstm_hard_sigmoid.npz")
    worker = keras_worker.KerasWorker(FIXTURES / "keras2" / "lstm_hard_sigmoid.h5", None,
                                      [("lstm", False)], "lstm_hard_sigmoid.h5")
    try:
        captured = worker.run({"x": ref["x"]})
    finally:
        worker.close()
    assert_close(captured.outputs[0], ref["output"], "tf.keras output")
    np.testing.assert_array_equal(captured.feeds["lstm"].x, ref["x"])


def test_lambda_code_is_refused_not_run(tmp_path):
    """A file whose Lambda would run its own code: Keras (safe_mode) refuses it in the worker,
    and the CLI says so in one line, exit 2; the marker file the code would write is absent."""
    marker = tmp_path / "ran"
    inp = keras.Input((None, 3), name="signal")
    code = eval(f"lambda t: t * 2.0 + 0 * len(str(__import__('pathlib').Path({str(marker)!r})"  # noqa: S307
                f".touch()))")
    y = keras.layers.Lambda(code, output_shape=(None, 3), name="code")(inp)   # never run here
    y = keras.layers.LSTM(4, name="lstm")(y)
    keras.Model(inp, y).save(tmp_path / "lambda.keras")
    marker.unlink(missing_ok=True)
    np.save(tmp_path / "x.npy", np.ones((1, 5, 3), np.float32))
    assert_clean_error(run_cli("trace", str(tmp_path / "lambda.keras"), "--input",
                               str(tmp_path / "x.npy"), "--out", str(tmp_path / "t.npz")),
                       "lambda.keras", "holds Python code (a Lambda layer)", "--layer-input")
    assert not marker.exists()
    assert not (tmp_path / "t.npz").exists()


def _with_conv1d(out, edit):
    """The capture fixture conv1d_lstm.keras with its Conv1D layer's config edited in place."""
    import json
    import zipfile
    with zipfile.ZipFile(CAP / "conv1d_lstm.keras") as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    if layer["class_name"] == "Conv1D":
                        edit(layer)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return out


def test_a_corrupt_keras_file_is_one_line(tmp_path):
    """Weights that our reader takes but Keras cannot rebuild from (the config names a layer
    class Keras does not have): one line, exit 2, never a traceback."""
    bad = _with_conv1d(tmp_path / "bad.keras", lambda layer: layer.update(class_name="NoSuchLayer"))
    assert_clean_error(run_cli("trace", str(bad), "--input", str(CAP / "conv1d_lstm.input.npz"),
                               "--out", str(tmp_path / "t.npz")), "bad.keras")


def test_a_config_declaring_huge_layers_is_abandoned_at_the_budget(tmp_path, monkeypatch):
    """A .keras whose config gives the Conv1D (a layer LSTM Scope does not read) a 4096 x 4096
    kernel: Keras would allocate 200 MB rebuilding it; past the budget the worker is killed
    and the CLI says so in one line (importing Keras is not counted against the budget)."""
    bad = _with_conv1d(tmp_path / "huge.keras",
                       lambda layer: layer["config"].update(filters=4096, kernel_size=[4096]))
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "32M")
    assert_clean_error(run_cli("trace", str(bad), "--input", str(CAP / "conv1d_lstm.input.npz"),
                               "--out", str(tmp_path / "t.npz")),
                       "huge.keras", "more than 32.0 MB of memory loading the model")


def _count_workers(monkeypatch) -> list[list[str]]:
    """The Keras workers started from here on (a worker kept from an earlier test closed)."""
    from engine.system import child
    started: list[list[str]] = []
    real = child.subprocess.Popen

    def spy(args, **kwargs):
        if keras_worker.WORKER in args:
            started.append(list(args))
        return real(args, **kwargs)
    monkeypatch.setattr(child.subprocess, "Popen", spy)
    # an earlier test's model still waiting for collection would hand its worker back in the
    # middle of this test (and be the one kept): collect it now, then close what waits
    gc.collect()
    keras_worker.close_idle_workers()
    return started


def test_the_worker_of_a_closed_model_loads_the_next_model_file(monkeypatch):
    """Importing Keras costs seconds: a worker whose model was closed (or collected) and that
    never answered with an error loads the next file, and captures it as a fresh one would."""
    started = _count_workers(monkeypatch)
    x = _npz(CAP / "conv1d_lstm.input.npz")["signal"]
    ref = _npz(CAP / "conv1d_lstm.ref.npz")
    first = load_model(CAP / "conv1d_lstm.keras")
    assert_close(first.trace(x).layer(0).h, ref["layer0_h"], ".keras h")
    pid = first.runtime.capturer()._proc.pid
    first.runtime.capturer().close()
    second = load_model(CAP / "conv1d_lstm.h5")
    assert_close(second.trace(x).layer(0).h, ref["layer0_h"], ".h5 h in the kept worker")
    assert second.runtime.capturer()._proc.pid == pid
    del first, second
    gc.collect()                            # collected: its worker waits for the next model
    third = keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m")
    assert third._proc.pid == pid and len(started) == 1
    third.close()


def test_a_dropped_model_hands_its_worker_back_at_once(monkeypatch):
    """A model dropped without closing it hands its worker back when its last reference goes,
    not at some later garbage collection (the collector is off here): the next Keras model (the
    window opening another file, a command run in process) costs its load, not a Keras import."""
    started = _count_workers(monkeypatch)
    x = _npz(CAP / "conv1d_lstm.input.npz")["signal"]
    ref = _npz(CAP / "conv1d_lstm.ref.npz")
    gc.disable()
    try:
        first = load_model(CAP / "conv1d_lstm.keras")
        assert_close(first.trace(x).layer(0).h, ref["layer0_h"], ".keras h")
        del first
        second = load_model(CAP / "conv1d_lstm.h5")
        assert_close(second.trace(x).layer(0).h, ref["layer0_h"], ".h5 h in the handed-back worker")
    finally:
        gc.enable()
    assert len(started) == 1, started


def test_a_runtime_outliving_its_model_says_so():
    """The runtime holds its model weakly: asked for a capture after the model is gone, it says
    so in one line instead of starting a worker."""
    model = load_model(CAP / "conv1d_lstm.keras")
    runtime = model.runtime
    del model
    with pytest.raises(ScopeError, match="the model was closed; open it again"):
        runtime.capturer()


def test_a_worker_that_answered_with_an_error_is_not_kept(monkeypatch):
    """As for the HDF5 reader, only a worker whose every answer was clean serves another model."""
    started = _count_workers(monkeypatch)
    worker = keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m")
    with pytest.raises(ScopeError, match="Keras cannot run the model on this input"):
        worker.run({"signal": np.zeros((1, 5, 99), np.float32)})      # 99 features, not 3
    worker.close()
    again = keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m")
    again.close()
    assert len(started) == 2


def test_the_worker_backend_is_the_users_else_one_that_loads_fast(monkeypatch):
    import importlib.util
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert keras_worker.worker_backend() == "jax"
    monkeypatch.delenv("KERAS_BACKEND")
    installed = {"tensorflow", "torch", "jax"}
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name in installed else None)
    assert keras_worker.worker_backend() == "tensorflow"
    installed.discard("tensorflow")
    assert keras_worker.worker_backend() == "numpy"


def test_a_run_may_take_longer_on_a_longer_input(monkeypatch):
    monkeypatch.setenv("LSTM_SCOPE_CAPTURE_TIMEOUT", "2")
    assert keras_worker._run_limit({"x": np.zeros((1, 10, 3))}) == 2
    assert keras_worker._run_limit({"x": np.zeros((1, 100_000, 4))}) == 8


@pytest.fixture
def child(monkeypatch):
    """Name the worker process's target: one of tests/children.py's captures."""
    return lambda name: monkeypatch.setattr(keras_worker, "WORKER", f"tests.children:{name}")


def test_a_spinning_keras_load_is_abandoned_by_cpu_time(child, monkeypatch):
    child("spinning_capture")
    model = load_model(CAP / "conv1d_lstm.keras")
    monkeypatch.setenv("LSTM_SCOPE_CAPTURE_TIMEOUT", "1")
    start = time.monotonic()
    with pytest.raises(ModelFileError, match="no progress loading the model for 1 s of CPU time"):
        model.trace(_npz(CAP / "conv1d_lstm.input.npz")["signal"])
    assert time.monotonic() - start < 30
    assert not h5read._ACTIVE


def test_importing_keras_is_not_timed(child, monkeypatch):
    """A limit far below what the import costs still lets the capture run: the clock starts
    once Keras is imported (the child burns 1.5 s of CPU before, the load itself is instant)."""
    child("slow_import_capture")
    monkeypatch.setenv("LSTM_SCOPE_CAPTURE_TIMEOUT", "0.5")
    worker = keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m")
    assert worker.input_names == ["signal"]
    worker.close()


def test_a_keras_worker_over_the_memory_budget_is_abandoned(child, monkeypatch):
    child("growing_capture")
    model = load_model(CAP / "conv1d_lstm.keras")
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "16M")
    with pytest.raises(BudgetError, match="more than 16.0 MB of memory loading the model"):
        model.trace(_npz(CAP / "conv1d_lstm.input.npz")["signal"])
    assert not h5read._ACTIVE


def test_cancel_kills_the_keras_worker(child):
    child("growing_capture")
    model = load_model(CAP / "conv1d_lstm.keras")
    import threading
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            model.trace(_npz(CAP / "conv1d_lstm.input.npz")["signal"])
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 20
    while not h5read._ACTIVE and time.monotonic() < deadline:
        time.sleep(0.05)
    h5read.cancel_reads()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], h5read.ReadCancelled), outcome


def test_a_changed_memory_budget_gets_a_fresh_worker(child, monkeypatch):
    """The worker reads the budget from its environment: a kept one must not carry an old one."""
    child("instant_capture")
    started = _count_workers(monkeypatch)
    keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m").close()
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1G")
    keras_worker.KerasWorker(CAP / "conv1d_lstm.keras", None, [("lstm", False)], "m").close()
    assert len(started) == 2
