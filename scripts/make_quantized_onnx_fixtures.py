"""Write tests/fixtures/onnx/quantized_bilstm.onnx: a bidirectional float LSTM graph quantized by
onnxruntime's own quantizer (``quantize_dynamic``), which turns the node into com.microsoft's
``DynamicQuantizeLSTM`` with int8 W and R (transposed to (dirs, D, 4H) and (dirs, H, 4H)), their
scales and zero points, as older ddddocr models ship it. Rerun (seeded, deterministic) with
onnx and onnxruntime installed::

    python scripts/make_quantized_onnx_fixtures.py

``quantized_bilstm.npz`` holds ``x`` (B, T, D) batch first, ``onnx_input`` (T, B, D) as the graph
takes it, ``output``: ONNX Runtime's Y of the quantized graph, and the float cell's reference:
the dequantized weights ``W = (Wq - zero_point) * scale`` (per output channel) put back into a
plain float ``LSTM`` node, run by ONNX Runtime: ``float_output`` (its Y) and per direction k
``layer{k}_name`` / ``layer{k}_direction`` / ``layer{k}_h`` / ``layer{k}_c`` (B, T, H) at every
input position (Y_h, Y_c of the prefix, or for the reverse direction the suffix, ending there).
``meta`` records the versions and the largest |output - float_output|.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "onnx"
NAME = "quantized_bilstm"
B, T, D, H = 2, 7, 5, 6


def float_lstm(w: np.ndarray, r: np.ndarray, b: np.ndarray) -> onnx.ModelProto:
    node = helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], name="bilstm",
                            hidden_size=H, direction="bidirectional")
    graph = helper.make_graph(
        [node], "bilstm_graph", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, None, D])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None] * k)
         for n, k in (("Y", 4), ("Y_h", 3), ("Y_c", 3))],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R"),
         numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": np.ascontiguousarray(x)})


def dequantized(quant: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray]:
    """W (dirs, 4H, D) and R (dirs, 4H, H) in float, from the quantized node's own tensors."""
    node = next(n for n in quant.graph.node if n.op_type == "DynamicQuantizeLSTM")
    inits = {i.name: numpy_helper.to_array(i) for i in quant.graph.initializer}

    def weight(q: str, scale: str, zero: str) -> np.ndarray:
        arr, s, z = inits[q].astype(np.float32), inits[scale], inits[zero].astype(np.float32)
        if s.ndim == 1:                       # one scale per direction
            s, z = s[:, None, None], z[:, None, None]
        else:                                 # one per direction and output channel (4H)
            s, z = s[:, None, :], z[:, None, :]
        return np.ascontiguousarray(((arr - z) * s).transpose(0, 2, 1), np.float32)
    return weight(node.input[1], node.input[8], node.input[9]), \
        weight(node.input[2], node.input[10], node.input[11])


def main() -> None:
    rng = np.random.default_rng(31)
    w = rng.normal(0, 0.5, (2, 4 * H, D)).astype(np.float32)
    r = rng.normal(0, 0.5, (2, 4 * H, H)).astype(np.float32)
    b = rng.normal(0, 0.3, (2, 8 * H)).astype(np.float32)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    seq = np.ascontiguousarray(x.transpose(1, 0, 2))
    with tempfile.TemporaryDirectory() as folder:
        src, dst = Path(folder) / "float.onnx", OUT / f"{NAME}.onnx"
        onnx.save(float_lstm(w, r, b), src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True)
    quant = onnx.load(dst)
    assert [n.op_type for n in quant.graph.node] == ["DynamicQuantizeLSTM"], quant.graph.node
    output = run(quant, seq)[0]
    wd, rd = dequantized(quant)
    ref_model = float_lstm(wd, rd, b)
    float_output = run(ref_model, seq)[0]
    refs = {"x": x, "onnx_input": seq, "output": output, "float_output": float_output}
    for k, (direction, name) in enumerate((("forward", "bilstm_quant/forward"),
                                           ("backward", "bilstm_quant/backward"))):
        h = np.zeros((B, T, H), np.float32)
        c = np.zeros((B, T, H), np.float32)
        for t in range(T):
            part = seq[t:] if direction == "backward" else seq[:t + 1]
            _, yh, yc = run(ref_model, part)
            h[:, t], c[:, t] = yh[k], yc[k]
        assert np.allclose(h.transpose(1, 0, 2), float_output[:, k], atol=1e-6), name
        refs.update({f"layer{k}_name": np.array(name), f"layer{k}_direction": np.array(direction),
                     f"layer{k}_h": h, f"layer{k}_c": c})
    gap = float(np.abs(output - float_output).max())
    meta = {"case": NAME, "onnx": onnx.__version__, "onnxruntime": ort.__version__,
            "quantize_dynamic": {"weight_type": "QInt8", "per_channel": True},
            "max_abs_quantized_vs_float": gap, "traced_layers": [refs["layer0_name"].item(),
                                                                refs["layer1_name"].item()]}
    np.savez_compressed(OUT / f"{NAME}.npz", meta=np.array(json.dumps(meta)), **refs)
    print(f"wrote {OUT / NAME}.onnx/.npz: ONNX Runtime's quantized Y vs the float cell: "
          f"max |diff| {gap:.3g}")


if __name__ == "__main__":
    main()
