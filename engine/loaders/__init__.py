"""Model loaders, one module per file format, all returning ``engine.network.model.Model``.

The format is read from the file's content (``sniff``), never its suffix. Optional frameworks
(PyTorch, ONNX) are imported only when such a file is opened.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError, ScopeError, describe
from ..network.model import Model
from ..system.archives import BadMemberName
from ..system.files import check_readable
from .sniff import TORCH_KINDS, kind_of


@dataclass(frozen=True)
class LoadOptions:
    """What the user allows or adds when opening a file (the same for every command and the
    window's Open dialog): ``config`` a Keras model config (JSON) for a weights-only .h5, or
    an ``xlstm`` xLSTMBlockStack config (YAML or JSON) for a state dict (.pt, .safetensors),
    ``allow_length`` runs a Keras model at another input length/batch than its file fixes
    (with a warning), ``trust`` lets a TorchScript archive's own code run to capture."""

    config: str | None = None
    allow_length: bool = False
    trust: bool = False


def load_model(spec: str | Path, *, config: str | None = None, allow_length: bool = False,
               trust: bool = False) -> Model:
    """Open a model file, or a bundled demo: ``"demo"`` / ``"demo:NAME"``.

    ``file#PREFIX`` picks one LSTM of a PyTorch file (checkpoint, safetensors, TorchScript)
    holding several (e.g. ``seq2seq.pt#decoder.rnn``). Other formats list every LSTM as a
    traced layer (``--layer``).
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
    if not os.path.exists(path) and "#" in text:   # file#PREFIX: one LSTM of several
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
    if path.stat().st_size == 0:
        raise ModelFileError(f"{describe(path)}: the file is empty")
    try:
        kind = kind_of(path)
    except BadMemberName as exc:
        raise ModelFileError(f"{describe(path)}: not a readable zip archive ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{describe(path)}: cannot read the model file "
                             f"({exc.strerror or exc})") from None
    if select is not None and kind not in TORCH_KINDS:
        raise ModelFileError(f"{describe(path)}: '#{select}' picks one LSTM of a PyTorch file; for "
                             f"this format choose a traced layer with --layer")
    if kind is None:
        raise ModelFileError(f"{describe(path)}: not a model format LSTM Scope reads (expected a "
                             f"Keras .keras/.h5, a PyTorch checkpoint or TorchScript archive, "
                             f".safetensors or .onnx; the content is none of these)")
    if config is not None and kind not in ("h5", "torch", "safetensors"):
        raise ModelFileError(f"{describe(path)}: --config gives the model config of a weights-only "
                             f"Keras .h5 file or of an xLSTM stack's state dict (.pt, "
                             f".safetensors); this file is {kind}")
    if config is not None and select is not None:
        raise ModelFileError(f"{describe(path)}: '#{select}' picks one LSTM of a PyTorch file; "
                             f"an xLSTM stack built from --config lists its sLSTM cells as "
                             f"traced layers: choose one with --layer")
    if config is not None:       # before the model is read: a FIFO or device fails at once
        check_readable(config, "--config file", ModelFileError)
    try:
        model = _LOADERS[kind](path, select, LoadOptions(config, allow_length, trust))
    except ScopeError as exc:       # every model error names the file, once
        if describe(path) in str(exc):
            raise
        raise type(exc)(f"{describe(path)}: {exc}") from None
    except _MALFORMED as exc:       # a structure no writer makes (ONNX attributes of a wrong type...)
        raise ModelFileError(f"{describe(path)}: not a model file LSTM Scope can read "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None
    model.allow_length = allow_length
    model.open_options = {k: v for k, v in (("config", config), ("allow_length", allow_length),
                                            ("trust", trust)) if v}
    if config is not None:
        model.source_files.insert(0, ("--config file", str(config)))
    return model


def _keras3(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .keras3 import load_keras3
    return load_keras3(path)


def _h5(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .keras_h5 import load_keras_h5
    return load_keras_h5(path, config=options.config)


def _torch(path: Path, select: str | None, options: LoadOptions) -> Model:
    if options.config is not None:
        from .xlstm_config import load_xlstm_stack
        return load_xlstm_stack(path, "torch", options.config)
    from .torch_state import load_torch
    return load_torch(path, select)


def _torchscript(path: Path, select: str | None, options: LoadOptions) -> Model:
    from .torchscript import load_torchscript
    return load_torchscript(path, select, trust=options.trust)


def _safetensors(path: Path, select: str | None, options: LoadOptions) -> Model:
    if options.config is not None:
        from .xlstm_config import load_xlstm_stack
        return load_xlstm_stack(path, "safetensors", options.config)
    from .torch_state import load_safetensors
    return load_safetensors(path, select)


def _onnx(path: Path, select: str | None, options: LoadOptions) -> Model:
    from ..system.budget import check_bytes
    from .onnx_model import load_onnx
    # protobuf holds the whole file and numpy a copy of every tensor
    check_bytes(2 * path.stat().st_size, f"{describe(path)}: the ONNX model", error=ModelFileError)
    return load_onnx(path)


_LOADERS = {"keras3": _keras3, "h5": _h5, "torch": _torch, "torchscript": _torchscript,
            "safetensors": _safetensors, "onnx": _onnx}
# What reading a file of a structure no writer makes raises besides our own errors.
_MALFORMED = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError,
              RecursionError)


__all__ = ["LoadOptions", "load_model", "Model"]
