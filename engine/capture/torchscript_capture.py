"""Capture from a TorchScript archive (only with ``--trust``: loading it runs the archive's
code). Hooks cannot be added to a scripted module, so the loaded module is exported to ONNX in
memory for the input's shapes and ONNX Runtime captures what each LSTM node receives; each
node is matched to the traced layer read statically from the archive by its weights (equal
W and R), never by name (see docs/architecture.md, "Capture").
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, ScopeError
from .feed import Capture

F32 = np.float32


def load_script(path: Path) -> tuple[Any, list[str]]:
    """The scripted module (this runs the archive's code: only with --trust) and the names of
    its forward's inputs."""
    import torch
    try:
        with warnings.catch_warnings():   # torch deprecates TorchScript; its archives still exist
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as exc:  # noqa: BLE001 - torch raises anything on a foreign archive
        raise ScopeError(f"{path}: torch cannot load this TorchScript archive "
                         f"({_first_line(exc)})") from None
    names = [arg.name for arg in module.forward.schema.arguments[1:]]
    return module, names


class TorchScriptCapture:
    """``torch.jit.load`` once; one ONNX export per input shape; one ORT run per capture."""

    def __init__(self, path: Path, module: Any, traced: list[tuple[str, Any]],
                 input_names: list[str]) -> None:
        self.path, self.module, self.traced, self.input_names = path, module, traced, input_names
        self._by_shape: dict[tuple, Any] = {}

    def _onnx_capture(self, args: list[Any]) -> tuple[Any, dict[str, str]]:
        import torch

        from ..loaders.onnx_model import onnx_from_proto
        from .onnx_capture import OrtCapture
        key = tuple((tuple(a.shape), str(a.dtype)) for a in args)
        if key in self._by_shape:
            return self._by_shape[key]
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(self.module, tuple(args), buffer, dynamo=False,
                                  input_names=self.input_names, opset_version=17)
        except Exception as exc:  # noqa: BLE001 - the exporter refuses some scripted code
            raise ScopeError(f"{self.path}: the scripted module cannot be run for capture "
                             f"(its ONNX export failed: {_first_line(exc)})") from None
        import onnx
        proto = onnx.load_from_string(buffer.getvalue())
        onnx_model, found = onnx_from_proto(proto, self.path)
        capture = OrtCapture(proto, found, onnx_model.ops, self.path)
        names = self._match(onnx_model)
        self._by_shape[key] = (capture, names)
        return capture, names

    def _match(self, onnx_model: Any) -> dict[str, str]:
        """ONNX traced-layer name -> the archive's traced-layer name, by equal weights."""
        out = {}
        for info in onnx_model.traced_layers:
            for name, weights in self.traced:
                if weights.kernel.shape == info.weights.kernel.shape and \
                        np.allclose(weights.kernel, info.weights.kernel, atol=1e-6) and \
                        np.allclose(weights.recurrent_kernel, info.weights.recurrent_kernel, atol=1e-6):
                    out[info.name] = name
                    break
        return out

    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        import torch
        args = [torch.as_tensor(np.asarray(inputs[n])) for n in self.input_names]
        capture, names = self._onnx_capture(args)
        try:
            captured = capture.run({n: np.asarray(inputs[n]) for n in self.input_names})
        except InputFileError:
            raise
        feeds = {names[k]: feed for k, feed in captured.feeds.items() if k in names}
        return Capture(captured.outputs, feeds, captured.seconds)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
