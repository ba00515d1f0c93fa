"""Capture figures: what capturing an LSTM's input from ONNX Runtime costs next to one plain
ONNX Runtime forward of the same model, measured in the same run.

Model: Transpose -> Conv (D=32, kernel 3) -> LSTM (N=256) over T=500, batch 1, written with
``onnx.helper`` (no file on disk). ``capture_framework_ms`` is ORT on the unmodified graph (the
baseline); ``capture_run_ms`` ORT on the graph with the LSTM's inputs added as outputs (what a
capture runs: at most one framework forward); ``capture_trace_ms`` a whole captured trace
(capture + the engine stepping the LSTM). Omitted when onnx or onnxruntime is missing.

Keras (``keras_capture_*``, omitted without Keras): Conv1D (D=32) -> LSTM (N=128) over T=500,
batch 1, saved to a temporary ``.keras``. ``keras_capture_framework_ms`` is Keras'
``predict_on_batch`` of the whole model in this process, on the worker's backend (the baseline);
``keras_capture_run_ms`` one capture through the bounded worker process (its sub-model's
forward plus moving the arrays between processes); ``keras_capture_start_ms`` the first
capture of a freshly opened file (starting the worker, importing Keras, loading the file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.bench.engine_figures import _median_ms


def _graph(steps: int, features: int, units: int) -> Any:
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(a, n) for n, a in (
        ("CW", rng.normal(0, 0.2, (features, features, 3)).astype(np.float32)),
        ("W", rng.normal(0, 0.1, (1, 4 * units, features)).astype(np.float32)),
        ("R", rng.normal(0, 0.05, (1, 4 * units, units)).astype(np.float32)),
        ("B", rng.normal(0, 0.1, (1, 8 * units)).astype(np.float32)))]
    nodes = [helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 2, 1]),
             helper.make_node("Conv", ["xc", "CW"], ["yc"], pads=[1, 1]),
             helper.make_node("Transpose", ["yc"], ["yt"], perm=[2, 0, 1]),
             helper.make_node("LSTM", ["yt", "W", "R", "B"], ["Y"], hidden_size=units, name="lstm")]
    graph = helper.make_graph(
        nodes, "bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, steps, features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def capture_figures(steps: int = 500, features: int = 32, units: int = 256,
                    repeat: int = 5) -> dict[str, Any]:
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        return {}
    from engine.loaders import load_model
    proto = _graph(steps, features, units)
    x = np.random.default_rng(1).normal(size=(1, steps, features)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.onnx"
        onnx.save(proto, str(path))
        plain = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        model = load_model(path)
    assert model.runtime is not None, "the bench graph must need capture"
    inputs = {"x": x}
    model.runtime.run(inputs)            # warm-up: session build, BLAS threads
    plain.run(None, inputs)

    def trace() -> None:
        model._capture_cache = None      # a fresh capture each time
        model.trace(x)
    return {"capture_steps": steps, "capture_units": units,
            "capture_framework_ms": round(_median_ms(lambda: plain.run(None, inputs), repeat), 2),
            "capture_run_ms": round(_median_ms(lambda: model.runtime.run(inputs), repeat), 2),
            "capture_trace_ms": round(_median_ms(trace, repeat), 2)}


def keras_capture_figures(steps: int = 500, features: int = 32, units: int = 128,
                          repeat: int = 5) -> dict[str, Any]:
    import os

    from engine.capture.keras_worker import worker_backend
    os.environ["KERAS_BACKEND"] = worker_backend()     # the baseline runs what the worker runs
    try:
        import keras
    except ImportError:
        return {}
    import time

    from engine.loaders import load_model
    keras.utils.set_random_seed(0)
    inp = keras.Input((None, features), name="x")
    y = keras.layers.Conv1D(features, 3, padding="same", name="conv")(inp)
    model = keras.Model(inp, keras.layers.LSTM(units, return_sequences=True, name="lstm")(y))
    x = np.random.default_rng(1).normal(size=(1, steps, features)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.keras"
        model.save(path)
        ours = load_model(path)
        assert ours.runtime is not None, "the bench model must need capture"
        start = time.perf_counter()
        ours.runtime.run({"x": x})                 # worker start, Keras import, load, one run
        first_ms = (time.perf_counter() - start) * 1000
    model.predict_on_batch(x)                      # warm-up
    figures = {"keras_capture_steps": steps, "keras_capture_units": units,
               "keras_capture_framework_ms": round(_median_ms(lambda: model.predict_on_batch(x),
                                                              repeat), 2),
               "keras_capture_run_ms": round(_median_ms(lambda: ours.runtime.run({"x": x}),
                                                        repeat), 2),
               "keras_capture_start_ms": round(first_ms, 1)}
    ours.runtime.capturer().close()
    return figures
