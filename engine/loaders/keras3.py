"""Keras 3 native ``.keras`` archives: a zip of config.json and model.weights.h5.

No Keras import: the config is JSON, the weights are HDF5 read with h5py in a worker process
(``h5read``: bounded in time and memory). Keras stores each
layer's variables under ``layers/<snake_case class name>[_k]/...`` in container order (the
Sequential's InputLayer is not in the container; a Functional model's is), so weights are
matched to configs by that same counter, never by the user-visible layer name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, UnsupportedModelError, describe
from ..network.layers import Op, Untraceable
from ..network.model import Model
from ..system.archives import open_zip, read_member
from .h5read import H5Group, read_h5
from .keras_common import build_op, check_declared_features
from .keras_runtime import attach_runtime

# What interpreting a config of the wrong shape raises (a list where an object belongs, a
# string where a number does): a malformed file, reported as one line.
CONFIG_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError,
                 RecursionError)

_SNAKE_1 = re.compile(r"(.)([A-Z][a-z]+)")
_SNAKE_2 = re.compile(r"([a-z])([A-Z])")


def to_snake_case(name: str) -> str:
    """Keras' own ``naming.to_snake_case`` (used for weight group names)."""
    name = _SNAKE_1.sub(r"\1_\2", name)
    name = _SNAKE_2.sub(r"\1_\2", name).lower()
    return name


def _vars_under(group: H5Group | None) -> list[np.ndarray]:
    """Arrays under ``group`` in Keras' variable order (vars/0, vars/1 ..., nested first)."""
    if group is None:
        return []
    out: list[np.ndarray] = []
    keys = sorted(group.keys(), key=lambda k: (k == "vars", k))
    for key in keys:
        item = group[key]
        if key == "vars" and isinstance(item, H5Group):
            for vk in sorted(item.keys(), key=lambda s: int(s) if s.isdigit() else 0):
                out.append(np.asarray(item[vk]))
        elif isinstance(item, H5Group):
            out.extend(_vars_under(item))
    return out


def _weights_getter(group: H5Group | None) -> Callable[[], Sequence[np.ndarray]]:
    return lambda: _vars_under(group)


def _sub_getter(group: H5Group | None) -> Callable[[str], Callable[[], Sequence[np.ndarray]]]:
    def sub(part: str) -> Callable[[], Sequence[np.ndarray]]:
        node: Any = group
        for piece in part.split("/"):
            node = node.get(piece) if node is not None and piece in node else None
        return _weights_getter(node)
    return sub


def parse_json(data: bytes | str, where: str, what: str) -> Any:
    """JSON from a model file, with one-line errors (deep nesting included)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ModelFileError(f"{where}: {what} is nested too deeply to be a model config") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{where}: {what} is not valid JSON ({str(exc)[:120]})") from None


def read_archive(path: Path) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """(config, weights bytes, metadata) from a .keras file, with one-line errors."""
    where = describe(path)
    with open_zip(path, where, ModelFileError, "a valid .keras archive") as archive:
        names = set(archive.namelist())
        if "config.json" not in names:
            raise ModelFileError(f"{where}: not a Keras 3 archive (no config.json inside)")
        config = parse_json(read_member(archive, "config.json", where, ModelFileError), where,
                            "config.json")
        weights = (read_member(archive, "model.weights.h5", where, ModelFileError)
                   if "model.weights.h5" in names else b"")
        metadata = (parse_json(read_member(archive, "metadata.json", where, ModelFileError),
                               where, "metadata.json") if "metadata.json" in names else {})
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: config.json holds a {type(config).__name__}, not a model "
                             f"config object")
    if not isinstance(metadata, dict):
        metadata = {}
    if not weights:
        raise ModelFileError(f"{where}: the archive holds no model.weights.h5")
    return config, weights, metadata


def load_keras3(path: Path, *, trusted: bool = False) -> Model:
    """``trusted``: a bundled demo, whose HDF5 part is read in this process (fast start-up)."""
    config, weights_bytes, metadata = read_archive(path)
    where = describe(path)
    if not weights_bytes.startswith(b"\x89HDF"):
        raise ModelFileError(f"{where}: model.weights.h5 is not an HDF5 file")
    tree = read_h5(weights_bytes, f"{where}: model.weights.h5", skip=("optimizer",),
                   trusted=trusted)
    try:
        return build_model(config, tree, source=str(path), fmt="keras3", legacy=False,
                           metadata=metadata)
    except CONFIG_ERRORS as exc:
        raise ModelFileError(f"{where}: config.json is not a model config Keras writes "
                             f"({malformed(exc)})") from None


def malformed(exc: BaseException) -> str:
    """What went wrong interpreting a malformed config, in a few words."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _layer_entries(model_config: dict[str, Any]) -> list[dict[str, Any]]:
    layers = model_config.get("config", {}).get("layers")
    if not isinstance(layers, list):
        raise ModelFileError("the model config has no layer list")
    return layers


def build_model(config: dict[str, Any], h5: H5Group, *, source: str, fmt: str, legacy: bool,
                metadata: dict[str, Any]) -> Model:
    """A Model from a Keras 3 model config and an open model.weights.h5."""
    class_name = config.get("class_name")
    if class_name not in ("Sequential", "Functional", "Model"):
        raise UnsupportedModelError(f"{source}: top-level object is {class_name}, expected a "
                                    f"Sequential or Functional model")
    entries = _layer_entries(config)
    root = h5.get("layers")
    used: dict[str, int] = {}
    ops = []
    is_sequential = class_name == "Sequential"
    chain = is_sequential or _is_chain(config)
    needed = None if is_sequential else data_layers(config)
    input_length = None
    batch_size = None
    declared = None
    for entry in entries:
        cls = entry.get("class_name", "")
        cfg = entry.get("config", {})
        if cls == "InputLayer":
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if shape and len(shape) >= 2:
                input_length, batch_size = shape[1], shape[0]
                declared = declared or shape
            if is_sequential:
                continue
        key = to_snake_case(cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        group = root.get(key) if root is not None else None
        if cls == "InputLayer" or (needed is not None and entry.get("name") not in needed):
            continue   # mask-only op nodes (Masking's NotEqual/Any): the engine masks itself
        ops.append(build_or_placeholder(cls, cfg, _weights_getter(group), _sub_getter(group),
                                        legacy, source))
    build_cfg = config.get("build_config", {}) or {}
    if input_length is None and isinstance(build_cfg.get("input_shape"), list):
        shape = build_cfg["input_shape"]
        input_length = shape[1] if len(shape) >= 2 else None
    model = Model(ops, source=source, format=fmt, name=str(config.get("config", {}).get("name", "model")),
                  chain=chain, input_length=input_length, metadata=dict(metadata))
    model.batch_size = batch_size
    model.fixed_input = True
    model.native_prefix = native_prefix(config, ops)
    check_declared_features(model, declared, source)
    attach_runtime(model, Path(source), config)
    add_graph_warnings(model)
    return model


def build_or_placeholder(cls: str, cfg: dict[str, Any], weights, sub_weights, legacy: bool,
                         source: str, cudnn: list[tuple[str, str]] | None = None) -> Op:
    """The layer's op, or an ``Untraceable`` placeholder naming why it cannot be computed:
    the model still loads, and its other LSTM layers can be traced with --layer-input.
    Layers whose weights were converted from cuDNN's layout are added to ``cudnn``."""
    try:
        return build_op(cls, cfg, weights, sub_weights, legacy, source, cudnn)
    except UnsupportedModelError as exc:      # counted from its weights, so totals are Keras'
        count = sum(int(np.size(arr)) for arr in weights())
        return Untraceable(str(cfg.get("name", cls)), cls, str(exc), count)


def add_graph_warnings(model: Model) -> None:
    """What ``info`` says about layers the engine cannot run and graphs that are not chains."""
    blocked = model.untraceable
    cannot = model.metadata.get("keras_cannot_rebuild")
    if model.runtime is not None:
        how = ("Keras runs the model and each LSTM's input is captured (pip install keras if "
               "missing); --layer-input traces an LSTM on its own input instead")
    elif model.partial:         # one line, instead of the "cannot compute" one
        model.warnings.append(model.no_output_note()
                              + (f", and Keras 3 cannot rebuild {cannot} to run them" if cannot
                                 else "") + "; --layer-input traces an LSTM on its own input")
        return
    else:
        how = ((f"Keras 3 cannot rebuild {cannot}, so " if cannot else "")
               + "the whole model cannot run; trace an LSTM layer on its own input with "
                 "--layer-input")
    if blocked:
        model.warnings.append(
            "cannot compute " + ", ".join(f"'{op.name}' ({op.kind})" for op in blocked) + f": {how}")
    elif not model.chain:
        model.warnings.append(f"not a chain of layers: {how}")


def native_prefix(config: dict[str, Any], ops: list[Op]) -> int:
    """How many leading ops the engine computes from the model's one input: each reads the op
    before (the first, the input) and is one the engine computes. In a graph that is not a
    chain as a whole (textgenrnn: Embedding -> LSTM -> LSTM, then a Concatenate of all three)
    the LSTMs up to there are still traced, without the model's output. ``ops`` are the
    config's layers in order, InputLayer and mask-only nodes left out (as the loaders build
    them)."""
    cfg = config.get("config", {})
    if not isinstance(cfg, dict) or "input_layers" not in cfg:     # a Sequential: a chain
        return next((k for k, op in enumerate(ops) if isinstance(op, Untraceable)), len(ops))
    refs = cfg.get("input_layers") or []
    if _count_refs(refs) != 1:
        return 0
    previous = refs[0] if isinstance(refs[0], str) else refs[0][0]
    needed = data_layers(config)
    entries = [entry for entry in cfg.get("layers", []) if entry.get("class_name") != "InputLayer"
               and (needed is None or entry.get("name") in needed)]
    for k, (entry, op) in enumerate(zip(entries, ops)):
        nodes = entry.get("inbound_nodes", [])
        if isinstance(op, Untraceable) or len(nodes) != 1 \
                or _inbound_sources(nodes[0]) != [previous]:
            return k
        previous = entry.get("name")
    return min(len(entries), len(ops))


def data_layers(config: dict[str, Any]) -> set[str] | None:
    """Names of the functional graph's layers the outputs depend on through data, not only
    through masks. Keras 3 records a Masking layer's mask computation as op nodes (``NotEqual``
    -> ``Any``) that feed the next layer's ``mask=`` argument only; the engine propagates masks
    itself, so those nodes are not part of the model it runs. None: not a functional config."""
    cfg = config.get("config", {})
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    outputs = cfg.get("output_layers") if isinstance(cfg, dict) else None
    if not isinstance(layers, list) or not outputs:
        return None
    by_name = {entry.get("name"): entry for entry in layers}
    out_refs = [outputs] if isinstance(outputs[0], str) else outputs
    todo = [ref[0] for ref in out_refs if isinstance(ref, list) and ref]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        for node in by_name[name].get("inbound_nodes", []):
            todo.extend(src.partition("#")[0] for src in _inbound_sources(node))
    return needed


def _is_chain(config: dict[str, Any]) -> bool:
    """A functional graph where each layer reads the previous one's first output only."""
    cfg = config.get("config", {})
    needed = data_layers(config)
    layers = [entry for entry in cfg.get("layers", [])
              if needed is None or entry.get("name") in needed]
    inputs, outputs = cfg.get("input_layers", []), cfg.get("output_layers", [])
    if _count_refs(inputs) != 1 or not outputs:
        return False
    out_refs = [outputs] if isinstance(outputs[0], str) else outputs
    out_layers = {ref[0] for ref in out_refs}
    if len(out_layers) != 1:
        return False
    if [_tensor_index(ref) for ref in out_refs] != list(range(len(out_refs))):
        return False    # e.g. only an LSTM's state_h is the output
    previous = None
    for entry in layers:
        nodes = entry.get("inbound_nodes", [])
        if entry.get("class_name") == "InputLayer":
            if previous is not None:
                return False
            previous = entry.get("name")
            continue
        if len(nodes) != 1:
            return False
        sources = _inbound_sources(nodes[0])
        if sources != [previous]:
            return False
        previous = entry.get("name")
    return out_layers == {previous}

def _tensor_index(ref: Any) -> int:
    return int(ref[2]) if isinstance(ref, list) and len(ref) > 2 and isinstance(ref[2], int) else 0


def _count_refs(refs: Any) -> int:
    if not refs:
        return 0
    if isinstance(refs[0], str):
        return 1
    return len(refs)


def _inbound_sources(node: Any) -> list[str]:
    """Layer names a Keras 3 inbound node reads (keras_history of every tensor arg)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                history = value["config"]["keras_history"]
                # a layer reading another layer's second output (an LSTM's state) is no chain
                found.append(history[0] if _tensor_index(history) == 0 else f"{history[0]}#out")
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    if isinstance(node, dict):
        walk(node.get("args", []))
        kwargs = node.get("kwargs", {})
        walk({k: v for k, v in kwargs.items() if k not in ("mask", "training")})
    else:  # Keras 2 style [[name, node_index, tensor_index, kwargs], ...]
        for ref in node:
            found.append(ref[0] if _tensor_index(ref) == 0 else f"{ref[0]}#out")
            extra = ref[3] if len(ref) > 3 and isinstance(ref[3], dict) else {}
            if any(isinstance(v, list) and k not in ("mask", "training") for k, v in extra.items()):
                found.append("#kwargs")    # e.g. initial_state=[...] from other layers
    return found
