"""Model loaders, one module per file format, all returning ``engine.model.Model``.

Optional frameworks (PyTorch, ONNX) are imported only when such a file is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError
from ..model import Model
from .sniff import TORCH_KINDS, kind_of


@dataclass(frozen=True)
class LoadOptions:
    """What the user allows or adds when opening a file (the same for every command and the
    window's Open dialog): ``config`` a Keras model config (JSON) for a weights-only .h5,
    ``allow_length`` runs a Keras model at another input length/batch than its file fixes
    (with a warning), ``trust`` lets a TorchScript archive's own code run to capture."""

    config: str | None = None
    allow_length: bool = False
    trust: bool = False


def load_model(spec: str | Path, *, config: str | None = None, allow_length: bool = False,
               trust: bool = False) -> Model:
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
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty")
    kind = kind_of(path)
    if select is not None and kind not in TORCH_KINDS:
        raise ModelFileError(f"{path}: '#{select}' picks one LSTM of a PyTorch file; for this "
                             f"format choose a traced layer with --layer")
    loader = _LOADERS.get(kind or "")
    if loader is None:
        raise ModelFileError(f"{path}: not a model format LSTM Scope reads (expected a Keras "
                             f".keras/.h5, a PyTorch checkpoint or TorchScript archive, "
                             f".safetensors or .onnx; the content is none of these)")
    options = LoadOptions(config, allow_length, trust)
    if config is not None and kind != "h5":
        raise ModelFileError(f"{path}: --config gives the model config of a weights-only Keras "
                             f".h5 file; this file is {kind}")
    model = loader(path, select, options)
    model.allow_length = allow_length
    model.open_options = {k: v for k, v in (("config", config), ("allow_length", allow_length),
                                            ("trust", trust)) if v}
    return model


def _keras3(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .keras3 import load_keras3
    return load_keras3(path)


def _h5(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .keras_h5 import load_keras_h5
    return load_keras_h5(path, config=options.config)


def _torch(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .torch_state import load_torch
    return load_torch(path, select)


def _torchscript(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .torchscript import load_torchscript
    return load_torchscript(path, select, trust=options.trust)


def _safetensors(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .torch_state import load_safetensors
    return load_safetensors(path, select)


def _onnx(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .onnx_model import load_onnx
    return load_onnx(path)


_LOADERS = {"keras3": _keras3, "h5": _h5, "torch": _torch, "torchscript": _torchscript,
            "safetensors": _safetensors, "onnx": _onnx}

__all__ = ["LoadOptions", "load_model", "Model"]
