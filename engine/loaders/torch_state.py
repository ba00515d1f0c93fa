"""PyTorch ``state_dict`` files (.pt/.pth, via torch) and .safetensors files (no torch needed).

What is mapped (each fact checked against torch 2.13's own ``nn.LSTM`` output, see
tests/test_torch_loader.py):

* ``weight_ih_lK`` (4N, D) -> kernel = weight_ih.T (D, 4N); ``weight_hh_lK`` (4N, H) ->
  recurrent kernel = weight_hh.T (H, 4N). PyTorch's gate order i, f, g, o is the canonical one,
  so no block is permuted.
* ``bias_ih_lK + bias_hh_lK`` -> bias (zb); both are kept in ``bias_parts`` and both count in
  the parameter count. No bias keys (``bias=False``) -> ``use_bias=False``.
* ``weight_hr_lK`` (P, N) (``proj_size=P``) -> projection = weight_hr.T (N, P): h has P values,
  c has N; the recurrent kernel is then (P, 4N).
* ``_reverse`` keys are the backward direction; layer K+1 reads [forward h, reverse h].
* ``nn.LSTMCell`` keys (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) are one
  forward layer run over the sequence.

Names follow docs/architecture.md ("Traced layers"): ``l0``, ``l0_reverse``, ``l1`` ... for a bare ``nn.LSTM`` state dict,
``lstm.l0`` ... under the prefix ``lstm.``; an ``nn.LSTMCell`` under ``cell.`` is ``cell``
(bare: ``cell``). A file with several LSTMs opens the first; ``file.pt#PREFIX`` picks another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..capture.foreign_ops import TorchLSTMLayer
from ..cells.cell import CellWeights
from ..errors import ModelFileError, UnsupportedModelError, describe
from ..network.model import Model
from ..system.archives import open_zip
from ..system.budget import check_bytes
from .torch_gru import recurrent_kind, torch_cell

F32 = np.float32
TORCH_HINT = "pip install torch==2.13.0"

_KEY = re.compile(r"^(?P<prefix>(?:.*\.)?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                  r"(?:_l(?P<layer>\d+)(?P<rev>_reverse)?)?$")
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module", "weights")


@dataclass
class _Group:
    """All recurrent-looking keys under one prefix."""

    prefix: str
    cell: bool = False                                    # nn.LSTMCell-style keys (no _lK)
    params: dict[tuple[int, bool], dict[str, np.ndarray]] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.prefix[:-1] if self.prefix.endswith(".") else self.prefix


# --- reading the files ---------------------------------------------------------------------
# What a training checkpoint's bookkeeping pickles besides tensors: the script's arguments, numpy
# numbers and arrays (a best score, a seed), paths. Building them runs no code of the file, so
# torch's weights-only loader may build them too; anything else (a module, a custom class)
# stays refused.
HARMLESS_GLOBALS = frozenset({
    "argparse.Namespace", "numpy.dtype", "numpy.ndarray",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "pathlib.PosixPath", "pathlib.PurePosixPath", "pathlib.WindowsPath", "pathlib.PureWindowsPath"})


# globals torch's weights-only loader builds itself (a protocol-2 pickle spells bytes with
# _codecs.encode)
_TORCH_ALLOWED = ("collections.OrderedDict", "_codecs.encode")


def _harmless(name: str) -> bool:
    return name in HARMLESS_GLOBALS or (name.startswith("numpy.dtypes.") and name.endswith("DType"))


_LIBRARIES = {"torch", "numpy", "builtins", "collections", "argparse", "pathlib", "_codecs"}


def _unsafe_globals(torch: Any, path: Path) -> list[str]:
    """The globals a torch.save file names beyond torch's own (tensors, storages, OrderedDict):
    torch lists a zip's; a legacy pickle's are read off its opcodes, nothing run."""
    try:
        names = list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - a legacy pickle or a damaged archive
        names = [n for n in _legacy_globals(path)
                 if not n.startswith("torch.") and n not in _TORCH_ALLOWED]
    # the file's own classes first (the user's module is the most telling name), then the
    # library ones; sorted, so a message names the same classes on every run
    return sorted(dict.fromkeys(names), key=lambda n: (n.split(".")[0] in _LIBRARIES, n))


def _legacy_globals(path: Path, pickles: int = 4) -> list[str]:
    """``module.name`` of every GLOBAL in the first pickles of a legacy torch file (magic,
    protocol, system info, the object), read with pickletools: no object is built."""
    import pickletools
    found: list[str] = []
    try:
        with path.open("rb") as fh:
            for _ in range(pickles):
                strings: list[str] = []
                for op, arg, _pos in pickletools.genops(fh):
                    if op.name == "GLOBAL":
                        found.append(str(arg).replace(" ", "."))
                    elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                        found.append(f"{strings[-2]}.{strings[-1]}")
                    elif isinstance(arg, str):
                        strings.append(arg)
    except Exception:  # noqa: BLE001 - a damaged pickle: what was read so far
        pass
    return list(dict.fromkeys(found))


def _resolve(name: str) -> Any:
    import importlib
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _load_weights_only(torch: Any, path: Path) -> Any:
    """torch.load with weights_only=True; a checkpoint whose only other globals are in
    ``HARMLESS_GLOBALS`` is loaded with those allowed."""
    import pickle
    try:
        return torch.load(str(path), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        names = _unsafe_globals(torch, path)
        if not names or not all(_harmless(n) for n in names):
            raise
        try:
            allowed = [_resolve(n) for n in names]
        except (ImportError, AttributeError):
            raise pickle.UnpicklingError("Unsupported global") from None
        if any(n.startswith("numpy") for n in names):      # a dtype is rebuilt as its class
            dtypes = getattr(np, "dtypes", None)
            allowed += [cls for key, cls in vars(dtypes).items() if key.endswith("DType")] if dtypes else []
    with torch.serialization.safe_globals(allowed):
        return torch.load(str(path), weights_only=True, map_location="cpu")
def load_torch(path: str | Path, select: str | None = None) -> Model:
    """A .pt/.pth file holding a state_dict (or a checkpoint dict with one)."""
    path = Path(path)
    return build_torch_model(path, torch_arrays(path), select=select, fmt="pytorch")


def torch_arrays(path: Path) -> dict[str, np.ndarray]:
    """The state_dict of a .pt/.pth file (or of the checkpoint dict holding one) as numpy
    arrays, read with ``torch.load(weights_only=True)`` only."""
    where = describe(path)
    try:
        import torch
    except ImportError:
        raise ModelFileError(f"{where}: opening a PyTorch file needs PyTorch: {TORCH_HINT} "
                             f"(or save the weights as .safetensors, which needs no torch)") from None
    import pickle
    with path.open("rb") as handle:
        head = handle.read(4)
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise ModelFileError(f"{where}: not a readable PyTorch file (neither a torch.save zip "
                             f"archive nor a pickle)")
    _check_torch_sizes(path, head)
    try:
        obj = _load_weights_only(torch, path)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text:
            others = _unsafe_globals(torch, path)
            held = f" ({', '.join(others[:3])})" if others else ""
            raise ModelFileError(
                f"{where}: this file holds a whole pickled Python object{held}, which only "
                f"unpickling (running its code) could open, and LSTM Scope never does that; "
                f"trace the live module with engine.from_torch(module, x), or save its weights: "
                f"torch.save(model.state_dict(), 'model.pt')") from None
        raise _unreadable(path, head, text) from None
    except Exception as exc:  # noqa: BLE001 - torch.load raises anything on a foreign file
        raise _unreadable(path, head, str(exc)) from None
    state = _find_state_dict(path, obj)
    arrays: dict[str, np.ndarray] = {}
    unusable: dict[str, str] = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            reason = _unusable_tensor(torch, value)
            if reason is not None:
                unusable[str(key)] = reason
                continue
            if value.is_floating_point():
                value = value.detach().to("cpu", torch.float32)
            arrays[key] = value.detach().cpu().numpy()
    for key, reason in unusable.items():
        if _KEY.match(key):
            raise ModelFileError(f"{where}: the LSTM weight '{key}' is {reason}, which LSTM Scope "
                                 f"cannot read; save dense real-valued weights "
                                 f"(model.float().state_dict())")
    return arrays


_TORCH_MAGIC = 0x1950A86A20F9469CFC6C       # the first pickle of a legacy torch.save file
_SAVE_WEIGHTS = ("save the weights with torch.save(model.state_dict(), 'model.pt'), or trace "
                 "the live module with engine.from_torch(module, x)")


def _unreadable(path: Path, head: bytes, reason: str) -> ModelFileError:
    """Why torch could not read ``path``, in LSTM Scope's words: a plain pickle is named as
    one (never with advice to unpickle it), torch's own text only when it says nothing of
    turning weights_only off."""
    where = describe(path)
    if head[:1] == b"\x80" and not _is_legacy_torch(path):
        return ModelFileError(f"{where}: a plain Python pickle, not a torch.save file; LSTM Scope "
                              f"will not unpickle it (unpickling runs whatever code the file "
                              f"names): {_SAVE_WEIGHTS}")
    line = _first_line(reason)
    if "weights_only" in line.lower() or "weights only" in line.lower():
        line = "it holds objects other than tensors and plain containers"
    return ModelFileError(f"{where}: not a readable PyTorch file ({line}); {_SAVE_WEIGHTS}")


def _is_legacy_torch(path: Path) -> bool:
    """Whether a pickle file starts as torch.save's legacy format does (its magic number),
    read with pickletools: nothing is built."""
    import pickletools
    try:
        with path.open("rb") as fh:
            for op, arg, _pos in pickletools.genops(fh):
                if op.name in ("LONG1", "LONG4", "LONG", "INT"):
                    return arg == _TORCH_MAGIC
                if op.name not in ("PROTO", "FRAME"):
                    return False
    except Exception:  # noqa: BLE001 - a damaged pickle is not torch's
        return False
    return False


def _unusable_tensor(torch: Any, value: Any) -> str | None:
    """Why a tensor cannot become a numpy array of real numbers (None: it can)."""
    if value.layout != torch.strided:
        return f"a sparse tensor ({value.layout})"
    if value.is_quantized:
        return f"a quantized tensor ({value.dtype})"
    if value.device.type == "meta":
        return "a tensor on the 'meta' device (a shape with no data)"
    if value.is_complex():
        return f"a complex tensor ({value.dtype})"
    if value.dtype == torch.bfloat16 or value.is_floating_point() or value.dtype == torch.bool:
        return None
    try:
        value.numpy()
    except Exception as exc:  # noqa: BLE001 - torch says why in its own words
        return f"a tensor numpy cannot hold ({_first_line(str(exc))})"
    return None


def _check_torch_sizes(path: Path, head: bytes) -> None:
    """A torch.save archive's declared member sizes (or a pickle's size) against the budget."""
    where = describe(path)
    if head.startswith(b"PK"):
        with open_zip(path, where, ModelFileError, "PyTorch archive") as zf:
            infos = zf.infolist()
            if not infos:
                raise ModelFileError(f"{where}: an empty zip archive, not a PyTorch file")
            check_bytes(sum(i.file_size for i in infos), f"{where}: the archive's contents",
                        error=ModelFileError)
    else:
        check_bytes(path.stat().st_size * 2, f"{where}: the pickled tensors", error=ModelFileError)


def load_safetensors(path: str | Path, select: str | None = None) -> Model:
    """A .safetensors file of a PyTorch module's state_dict, read with the numpy API."""
    path = Path(path)
    return build_torch_model(path, safetensors_arrays(path), select=select, fmt="safetensors")


def safetensors_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a .safetensors file, read with the numpy API (no torch, no code)."""
    where = describe(path)
    check_bytes(path.stat().st_size, f"{where}: the tensors", error=ModelFileError)
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ModelFileError(f"{where}: opening .safetensors needs the safetensors package: "
                             f"pip install safetensors") from None
    try:
        arrays = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - the library raises its own error types
        raise ModelFileError(f"{where}: not a readable .safetensors file "
                             f"({_first_line(str(exc))})") from None
    return arrays


def _find_state_dict(path: Path, obj: Any) -> Mapping[str, Any]:
    try:
        import torch
        tensor_type: Any = torch.Tensor
    except ImportError:  # pragma: no cover - only called after torch imported
        tensor_type = np.ndarray
    if not isinstance(obj, Mapping):
        raise ModelFileError(f"{path}: holds a {type(obj).__name__}, not a state_dict; save "
                             f"the weights with torch.save(model.state_dict(), 'model.pt')")
    if any(isinstance(v, tensor_type) for v in obj.values()):
        return obj
    for key in _CHECKPOINT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, tensor_type) for v in inner.values()):
            return inner
    for inner in obj.values():      # under another name ("ema", "generator"): one with LSTM keys
        if isinstance(inner, Mapping) and any(isinstance(v, tensor_type) and _KEY.match(str(k))
                                              for k, v in inner.items()):
            return inner
    raise ModelFileError(f"{path}: no tensors found (keys: {_list(obj.keys())}); expected a "
                         f"state_dict saved with torch.save(model.state_dict(), 'model.pt')")


# --- mapping onto the engine ---------------------------------------------------------------
def _groups(arrays: Mapping[str, np.ndarray]) -> list[_Group]:
    groups: dict[tuple[str, bool], _Group] = {}
    for key, value in arrays.items():
        m = _KEY.match(key)
        if m is None:
            continue
        cell = m.group("layer") is None
        gkey = (m.group("prefix"), cell)
        group = groups.setdefault(gkey, _Group(m.group("prefix"), cell))
        layer = 0 if cell else int(m.group("layer"))
        group.params.setdefault((layer, bool(m.group("rev"))), {})[m.group("kind")] = np.asarray(value)
        group.keys.append(key)
    return list(groups.values())


def _is_lstm(group: _Group) -> bool:
    """LSTM, not GRU/RNN: weight_ih has 4N rows where N = weight_hr cols or weight_hh cols. Rows
    that are a multiple of 4 but disagree with those columns are an LSTM with a damaged tensor
    (``_cell`` says which), unless they fit a GRU's 3N or an RNN's N."""
    for parts in group.params.values():
        w_ih, w_hh = parts.get("weight_ih"), parts.get("weight_hh")
        w_hr = parts.get("weight_hr")
        if w_ih is None or w_hh is None or w_ih.ndim != 2 or w_hh.ndim != 2 \
                or (w_hr is not None and w_hr.ndim != 2):
            return False
        n = w_hh.shape[1] if w_hr is None else w_hr.shape[1]
        if w_ih.shape[0] == 4 * n:
            continue
        rows = (w_ih.shape[0], w_hh.shape[0])
        if any(r % 4 or r in (n, 3 * n) for r in rows):
            return False
    return bool(group.params)


def _lstm_cell(path: Path, name: str, parts: dict[str, np.ndarray], expect_d: int | None) -> CellWeights:
    def bad(msg: str) -> ModelFileError:
        return ModelFileError(f"{path}: inconsistent LSTM weights for '{name}': {msg}")

    for key, arr in parts.items():
        if not np.issubdtype(arr.dtype, np.floating):
            raise bad(f"{key} has dtype {arr.dtype}, expected floating point")
    w_ih, w_hh = parts.get("weight_ih"), parts.get("weight_hh")
    if w_ih is None or w_hh is None:
        missing = "weight_ih" if w_ih is None else "weight_hh"
        raise bad(f"{missing} is missing")
    if w_ih.ndim != 2 or w_hh.ndim != 2:
        raise bad(f"weight_ih {w_ih.shape} and weight_hh {w_hh.shape} must be 2-D")
    if w_ih.shape[0] % 4:
        raise bad(f"weight_ih has {w_ih.shape[0]} rows, not a multiple of 4 (4 gates)")
    if w_hh.shape[0] != w_ih.shape[0]:
        raise bad(f"weight_ih has {w_ih.shape[0]} rows (4 gates × {w_ih.shape[0] // 4} units) "
                  f"but weight_hh has {w_hh.shape[0]}{_gates(w_hh.shape[0])}; the two must agree")
    n, d = w_ih.shape[0] // 4, w_ih.shape[1]
    w_hr = parts.get("weight_hr")
    h = n
    projection = None
    if w_hr is not None:
        if w_hr.ndim != 2 or w_hr.shape[1] != n:
            raise bad(f"weight_hr {w_hr.shape} should be (proj_size, {n})")
        h = w_hr.shape[0]
        projection = np.ascontiguousarray(w_hr.T, F32)
    if w_hh.shape[1] != h:
        reads = f"the {h} values of h (weight_hr {w_hr.shape})" if w_hr is not None else \
            f"the previous h of all {n} units"
        raise bad(f"weight_hh {w_hh.shape}: its {4 * n} rows are {n} units' gates, each reading "
                  f"{reads}, so it needs {h} columns, not {w_hh.shape[1]}")
    if expect_d is not None and d != expect_d:
        raise bad(f"weight_ih {w_ih.shape} reads {d} features but the layer below gives {expect_d}")
    b_ih, b_hh = parts.get("bias_ih"), parts.get("bias_hh")
    if (b_ih is None) != (b_hh is None):
        raise bad("has only one of bias_ih / bias_hh")
    use_bias = b_ih is not None
    bias_parts: tuple[np.ndarray, ...] = ()
    if use_bias:
        for label, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
            if b.shape != (4 * n,):
                raise bad(f"{label} {b.shape} should be ({4 * n},)")
        b_ih, b_hh = np.asarray(b_ih, F32), np.asarray(b_hh, F32)
        bias = b_ih + b_hh
        bias_parts = (b_ih, b_hh)
    else:
        bias = np.zeros(4 * n, F32)
    count = sum(int(a.size) for a in parts.values())
    return CellWeights(kernel=np.asarray(w_ih, F32).T, recurrent_kernel=np.asarray(w_hh, F32).T,
                       bias=bias, use_bias=use_bias, projection=projection, param_count=count,
                       bias_parts=bias_parts)


def build_torch_model(path: Path, arrays: Mapping[str, np.ndarray], *, select: str | None = None,
                      fmt: str = "pytorch") -> Model:
    """Find the LSTM(s) in a flat name -> array mapping and build the engine model."""
    groups = _groups(arrays)
    lstms = [g for g in groups if _is_lstm(g) or recurrent_kind(g.params)]
    if not lstms:
        if groups:
            raise UnsupportedModelError(
                f"{path}: the recurrent weights under '{groups[0].label or '(top level)'}' are "
                f"neither an LSTM's, a GRU's nor an RNN's (weight_ih has 4N, 3N or N rows "
                f"for N = weight_hh's columns)")
        raise ModelFileError(f"{path}: no LSTM weights in this state_dict (looked for keys like "
                             f"weight_ih_l0, weight_hh_l0; found {_list(arrays.keys())})")
    chosen = lstms[0]
    if select is not None:
        wanted = select.rstrip(".")
        matches = [g for g in lstms if g.label == wanted]
        if not matches:
            raise ModelFileError(f"{path}: no LSTM under '{select}' (LSTMs in this file: "
                                 f"{', '.join(_display(g) for g in lstms)})")
        chosen = matches[0]
    warnings: list[str] = []
    others = [g for g in lstms if g is not chosen]
    if others:
        warnings.append(f"this file holds {len(lstms)} LSTMs ({', '.join(_display(g) for g in lstms)}); "
                        f"showing '{_display(chosen)}'; open "
                        f"{path}#{others[0].label or 'NAME'} (FILE#NAME) to trace another")
    ops = _build_ops(path, chosen)
    if recurrent_kind(chosen.params) == "rnn":
        warnings.append(f"'{_display(chosen)}' is an nn.RNN: a state dict does not record its "
                        f"nonlinearity, tanh is assumed (a relu RNN: open the live module with "
                        f"engine.from_torch)")
    first_d = ops[0].forward.input_dim
    warnings += _neighbour_notes(arrays, chosen, first_d)
    warnings += _other_module_notes(arrays, lstms, fmt)
    model = Model(ops=ops, source=str(path), format=fmt, name=_display(chosen), warnings=warnings)
    model.metadata["torch_prefix"] = chosen.prefix
    model.metadata["torch_lstms"] = [_display(g) for g in lstms]
    return model


def _gates(rows: int) -> str:
    return f" (4 × {rows // 4})" if rows % 4 == 0 else " (not a multiple of 4 gates)"


def _build_ops(path: Path, group: _Group, nonlinearity: str = "tanh") -> list[TorchLSTMLayer]:
    """The ops of one group: an LSTM's, or a GRU's or RNN's (``torch_gru``) named alike."""
    kind = recurrent_kind(group.params)
    module = {"gru": "GRU", "rnn": "RNN"}.get(kind or "", "LSTM")

    def _cell(path: Path, name: str, parts: dict[str, np.ndarray], expect_d: int | None) -> CellWeights:
        if kind is None:
            return _lstm_cell(path, name, parts, expect_d)
        return torch_cell(path, name, parts, expect_d, kind, nonlinearity)

    if group.cell:
        name = group.label or "cell"
        return [TorchLSTMLayer(name=name, forward=_cell(path, name, group.params[(0, False)], None),
                               kind=f"torch.nn.{module}Cell")]
    layers = sorted({layer for layer, _ in group.params})
    if layers != list(range(len(layers))):
        raise ModelFileError(f"{path}: LSTM '{_display(group)}' has layers {layers}; expected "
                             f"l0 .. l{len(layers) - 1} with none missing")
    bidir = {rev for _, rev in group.params}
    if True in bidir and any((layer, True) not in group.params for layer in layers):
        raise ModelFileError(f"{path}: LSTM '{_display(group)}' has _reverse weights for only "
                             f"some layers")
    if False not in bidir:
        raise ModelFileError(f"{path}: LSTM '{_display(group)}' has _reverse weights but no "
                             f"forward ones")
    ops: list[TorchLSTMLayer] = []
    expect_d: int | None = None
    for layer in layers:
        name = f"{group.prefix}l{layer}"
        fwd = _cell(path, name, group.params[(layer, False)], expect_d)
        bwd = None
        if (layer, True) in group.params:
            bwd = _cell(path, f"{name}_reverse", group.params[(layer, True)], expect_d)
            if bwd.input_dim != fwd.input_dim or bwd.state_size != fwd.state_size \
                    or bwd.units != fwd.units:
                raise ModelFileError(f"{path}: inconsistent LSTM weights: '{name}_reverse' has "
                                     f"other shapes than '{name}'")
        ops.append(TorchLSTMLayer(name=name, forward=fwd, backward=bwd, reverse_name=f"{name}_reverse",
                                  kind=f"torch.nn.{module} layer"))
        expect_d = fwd.state_size * (2 if bwd is not None else 1)
    return ops


def _neighbour_notes(arrays: Mapping[str, np.ndarray], group: _Group, d: int) -> list[str]:
    """An Embedding-looking matrix right before the LSTM is not run: say so."""
    keys = list(arrays.keys())
    first = keys.index(group.keys[0])
    notes = []
    for key in reversed(keys[:first]):
        arr = arrays[key]
        if key.endswith(".weight") and getattr(arr, "ndim", 0) == 2 and arr.shape[1] == d:
            notes.append(f"'{key}' {tuple(arr.shape)} looks like an nn.Embedding feeding the LSTM; "
                         f"it is not run: the input is the LSTM's own input (batch, time, {d}) "
                         f"and the output is the LSTM's output")
        break
    return notes


def _other_module_notes(arrays: Mapping[str, np.ndarray], lstms: list[_Group], fmt: str) -> list[str]:
    """Weights of modules that are not LSTMs (convs, linears ...) are not run: say which."""
    lstm_keys = {key for group in lstms for key in group.keys}
    owners: list[str] = []
    for key in arrays:
        if key not in lstm_keys:
            owner = key.rpartition(".")[0] or key
            if owner not in owners:
                owners.append(owner)
    if not owners:
        return []
    how = ("--trust runs the scripted module to capture it" if fmt == "torchscript"
           else "engine.from_torch(module, x) captures it from the live module")
    return [f"the file also holds weights of {_list(owners, 5)}, which LSTM Scope does not run: "
            f"the input is the LSTM's own input ({how})"]


def _display(group: _Group) -> str:
    return group.label or "(top level)"


def _list(keys: Any, limit: int = 6) -> str:
    keys = [str(k) for k in keys]
    if not keys:
        return "none"
    more = f", ... ({len(keys)} in all)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line[:200]


def module_ops(source: str, arrays: Mapping[str, np.ndarray],
               nonlinearity: str = "tanh") -> list[TorchLSTMLayer]:
    """The engine ops of one ``nn.LSTM`` / ``nn.LSTMCell`` / ``nn.GRU`` / ``nn.RNN`` ...'s
    state dict (keys under its module path), named as a file's would be (``enc.rnn.l0``,
    ``cell``); ``nonlinearity`` is an ``nn.RNN``'s own."""
    lstms = [g for g in _groups(arrays) if _is_lstm(g) or recurrent_kind(g.params)]
    if not lstms:
        raise UnsupportedModelError(f"{source}: no LSTM, GRU or RNN weights in {_list(arrays.keys())}")
    return _build_ops(Path(source), lstms[0], nonlinearity)
