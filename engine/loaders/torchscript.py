"""TorchScript archives (``torch.jit.save``): LSTM parameters read without running the file.

A TorchScript archive is a zip: ``<root>/data.pkl`` pickles the module tree (objects of
``__torch__.*`` classes whose state dicts hold submodules and tensors by attribute name), the
tensors' bytes sit in ``<root>/data/<key>``, and ``<root>/code/`` holds the module's code.
The pickle is read with a restricted unpickler that builds only plain containers, placeholder
objects and numpy arrays: no class of the file is imported and none of its code runs. The
flattened ``path.param -> array`` mapping then goes through the same LSTM finder as a
``state_dict`` (``torch_state.build_torch_model``); the LSTM is traced on its own input, or,
with ``--trust`` (which runs the archive's code), on what it receives when the scripted module
runs (``engine/capture/torchscript_capture.py``).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError
from ..network.model import Model
from ..system.archives import zip_archive

_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                   "HalfStorage": np.float16, "BFloat16Storage": np.uint16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
MAX_PICKLE_BYTES = 64 << 20


class ScriptObject:
    """A ``__torch__.*`` object of the archive: its class name and attribute state only."""

    qualname = "__torch__"
    state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = dict(state) if isinstance(state, dict) else {}


class _Storage:
    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> np.ndarray:
    data = storage.data
    if not size:
        return data[offset:offset + 1].reshape(())
    item = data.itemsize
    return np.lib.stride_tricks.as_strided(data[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride)).copy()


def _rebuild_parameter(tensor: np.ndarray, *_: Any) -> np.ndarray:
    return tensor


def _intlist(values: Any) -> list:
    return list(values)


_SAFE = {("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
         ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
         ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
         ("collections", "OrderedDict"): OrderedDict,
         ("torch.jit._pickle", "build_intlist"): _intlist,
         ("torch.jit._pickle", "build_doublelist"): _intlist,
         ("torch.jit._pickle", "build_boollist"): _intlist,
         ("torch.jit._pickle", "build_tensorlist"): _intlist,
         ("torch.jit._pickle", "build_genericlist"): _intlist,
         ("torch.jit._pickle", "restore_type_tag"): lambda value, _tag: value}


class _Unpickler(pickle.Unpickler):
    """Resolves only the names in ``_SAFE``, storage types and placeholder classes."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(io.BytesIO(data))
        self.archive, self.root = archive, root

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE:
            return _SAFE[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if module.startswith("__torch__"):
            return type(name, (ScriptObject,), {"qualname": f"{module}.{name}"})
        raise pickle.UnpicklingError(f"refused to load '{module}.{name}' from the archive")

    def persistent_load(self, pid: Any) -> _Storage:
        _, storage_type, key, _device, numel = pid
        dtype = _STORAGE_DTYPES.get(storage_type if isinstance(storage_type, str) else "")
        if dtype is None:
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r}")
        raw = self.archive.read(f"{self.root}/data/{key}")
        return _Storage(np.frombuffer(raw, dtype=dtype, count=int(numel)))


def read_script_tree(path: Path) -> tuple[ScriptObject, str]:
    """(the root module object, the archive's folder name) without running anything."""
    try:
        with zip_archive(path) as archive:
            names = archive.namelist()
            pkl = next((n for n in names if n.endswith("/data.pkl") and n.count("/") == 1), None)
            if pkl is None:
                raise ModelFileError(f"{path}: a zip without data.pkl, not a TorchScript archive")
            root = pkl.split("/")[0]
            info = archive.getinfo(pkl)
            if info.file_size > MAX_PICKLE_BYTES:
                raise ModelFileError(f"{path}: data.pkl is {info.file_size} bytes, too large "
                                     f"for a module structure")
            obj = _Unpickler(archive.read(pkl), archive, root).load()
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError,
            pickle.UnpicklingError) as exc:
        raise ModelFileError(f"{path}: not a readable TorchScript archive "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not isinstance(obj, ScriptObject):
        raise ModelFileError(f"{path}: the archive's data.pkl holds no module")
    return obj, root


def flatten(obj: ScriptObject, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``path.attr -> array`` for every tensor attribute, and ``path -> class`` per module."""
    arrays: dict[str, np.ndarray] = {}
    classes: dict[str, str] = {prefix.rstrip("."): obj.qualname}
    for key, value in obj.state.items():
        if isinstance(value, np.ndarray):
            arrays[prefix + key] = value
        elif isinstance(value, ScriptObject):
            sub_arrays, sub_classes = flatten(value, f"{prefix}{key}.")
            arrays.update(sub_arrays)
            classes.update(sub_classes)
    return arrays, classes


def load_torchscript(path: str | Path, select: str | None = None, *, trust: bool = False) -> Model:
    """The archive's LSTMs (nn.LSTM / nn.LSTMCell submodules at any depth), read statically;
    with ``trust`` the scripted module also runs, to capture what its LSTMs receive."""
    from .torch_state import build_torch_model
    path = Path(path)
    tree, _ = read_script_tree(path)
    arrays, classes = flatten(tree)
    arrays = {k: np.asarray(v, np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}
    model = build_torch_model(path, arrays, select=select, fmt="torchscript")
    model.metadata["torchscript_classes"] = classes
    if trust:
        _attach_script_runtime(model, path)
    return model


def _attach_script_runtime(model: Model, path: Path) -> None:
    """--trust: torch loads the archive (running its code) and captures each LSTM's input."""
    from ..capture.feed import Runtime
    from .torch_state import TORCH_HINT
    try:
        from ..capture.torchscript_capture import TorchScriptCapture, load_script
        module, names = load_script(path)
    except ImportError:
        raise ModelFileError(f"{path}: running a TorchScript archive (--trust) needs PyTorch: "
                             f"{TORCH_HINT}") from None
    traced = [(info.name, info.weights) for info in model.traced_layers]
    model.input_names = names
    model.warnings = [w for w in model.warnings if "does not run" not in w]
    model.warnings.append("--trust: the scripted module runs (its own code) and each LSTM's "
                          "input is captured from that run")
    model.runtime = Runtime("torch", TORCH_HINT,
                            lambda: TorchScriptCapture(path, module, traced, names))
