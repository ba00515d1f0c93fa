"""Model loaders, one module per file format, all returning ``engine.model.Model``.

Optional frameworks (PyTorch, ONNX) are imported only when such a file is opened.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelFileError
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
    path = Path(text)
    select = None
    if not path.exists() and "#" in text:   # file.pt#PREFIX: one of several LSTMs in a file
        head, _, select = text.rpartition("#")
        if Path(head).exists():
            path = Path(head)
        else:
            select = None
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir() or path.name in ("saved_model.pb", "saved_model.pbtxt", "keras_metadata.pb"):
        if (path / "saved_model.pb").exists() or path.suffix in (".pb", ".pbtxt"):
            from .keras_common import savedmodel_error
            raise ModelFileError(savedmodel_error(path))
        raise ModelFileError(f"{path}: is a directory, not a model file")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty")
    with path.open("rb") as handle:
        head = handle.read(8)
    kind = _SUFFIX_KINDS.get(suffix)
    if kind is None:  # unknown suffix: sniff the content
        kind = "keras3" if head.startswith(b"PK") else "h5" if head.startswith(b"\x89HDF") else None
    if select is not None and kind not in ("torch", "safetensors"):
        raise ModelFileError(f"{path}: '#{select}' picks one LSTM of a PyTorch file; for this "
                             f"format choose a traced layer with --layer")
    if kind == "keras3":
        from .keras3 import load_keras3
        return load_keras3(path)
    if kind == "h5":
        from .keras_h5 import load_keras_h5
        return load_keras_h5(path)
    if kind == "torch":
        from .torch_state import load_torch
        return load_torch(path, select)
    if kind == "safetensors":
        from .torch_state import load_safetensors
        return load_safetensors(path, select)
    if kind == "onnx":
        from .onnx_model import load_onnx
        return load_onnx(path)
    raise ModelFileError(f"{path}: unknown model format '{suffix}' (expected .keras, .h5, "
                         f".pt/.pth, .safetensors or .onnx)")


__all__ = ["load_model", "Model"]
