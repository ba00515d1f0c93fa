"""Model loaders, one module per file format, all returning ``engine.model.Model``.

Optional frameworks (PyTorch, ONNX) are imported only when such a file is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelFileError, ScopeError, describe
from ..files import check_readable
from ..model import Model

_SUFFIX_KINDS = {".keras": "keras3", ".h5": "h5", ".hdf5": "h5", ".pt": "torch", ".pth": "torch",
                 ".bin": "torch", ".ckpt": "torch", ".safetensors": "safetensors", ".onnx": "onnx"}


def load_model(spec: str | Path) -> Model:
    """Open a model file, or a bundled demo: ``"demo"`` / ``"demo:NAME"``.

    ``file.pt#PREFIX`` (also .safetensors) picks one LSTM of a file holding several (e.g.
    ``seq2seq.pt#decoder.rnn``). Other formats list every LSTM as a traced layer (``--layer``).
    """
    text = str(spec)
    if text == "demo" or text.startswith("demo:"):
        from .demos import load_demo
        return load_demo(text.partition(":")[2] or None)
    if text == "":
        raise ModelFileError("no model file given (the path is empty); give a model file or "
                             "demo[:NAME]")
    path = Path(text)
    select = None
    if not os.path.exists(path) and "#" in text:   # file.pt#PREFIX: one LSTM of several
        head, _, select = text.rpartition("#")
        if os.path.exists(head):
            path = Path(head)
        else:
            select = None
    if os.path.isdir(path) or path.name in ("saved_model.pb", "saved_model.pbtxt", "keras_metadata.pb"):
        if os.path.exists(path / "saved_model.pb") or path.suffix in (".pb", ".pbtxt"):
            from .keras_common import savedmodel_error
            raise ModelFileError(savedmodel_error(describe(path)))
    path = check_readable(path, "model file", ModelFileError)
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise ModelFileError(f"{describe(path)}: the file is empty")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise ModelFileError(f"{describe(path)}: cannot read the model file "
                             f"({exc.strerror or exc})") from None
    kind = _SUFFIX_KINDS.get(suffix)
    if kind is None:  # unknown suffix: sniff the content
        kind = "keras3" if head.startswith(b"PK") else "h5" if head.startswith(b"\x89HDF") else None
    if select is not None and kind not in ("torch", "safetensors"):
        raise ModelFileError(f"{describe(path)}: '#{select}' picks one LSTM of a PyTorch file; for this "
                             f"format choose a traced layer with --layer")
    if kind is None:
        raise ModelFileError(f"{describe(path)}: unknown model format '{suffix}' (expected .keras, "
                             f".h5, .pt/.pth, .safetensors or .onnx)")
    try:
        return _LOADERS[kind](path, select)
    except ScopeError as exc:       # every model error names the file, once
        if describe(path) in str(exc):
            raise
        raise type(exc)(f"{describe(path)}: {exc}") from None
    except _MALFORMED as exc:       # a structure no writer makes (ONNX attributes of a wrong type...)
        raise ModelFileError(f"{describe(path)}: not a model file LSTM Scope can read "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None


def _keras3(path: Path, select: str | None) -> Model:
    from .keras3 import load_keras3
    return load_keras3(path)


def _h5(path: Path, select: str | None) -> Model:
    from .keras_h5 import load_keras_h5
    return load_keras_h5(path)


def _torch(path: Path, select: str | None) -> Model:
    from .torch_state import load_torch
    return load_torch(path, select)


def _safetensors(path: Path, select: str | None) -> Model:
    from .torch_state import load_safetensors
    return load_safetensors(path, select)


def _onnx(path: Path, select: str | None) -> Model:
    from ..budget import check_bytes
    from .onnx_model import load_onnx
    # protobuf holds the whole file and numpy a copy of every tensor
    check_bytes(2 * path.stat().st_size, f"{describe(path)}: the ONNX model", error=ModelFileError)
    return load_onnx(path)


_LOADERS = {"keras3": _keras3, "h5": _h5, "torch": _torch, "safetensors": _safetensors,
            "onnx": _onnx}
# What reading a file of a structure no writer makes raises besides our own errors.
_MALFORMED = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError,
              RecursionError)


__all__ = ["load_model", "Model"]
