"""Legacy HDF5 ``.h5`` models written by Keras 2 / tf.keras and by Keras 3's legacy writer.

The root attribute ``model_config`` holds the model's JSON config; ``model_weights/<layer
name>`` holds each layer's arrays, listed in order by its ``weight_names`` attribute (h5py's
own iteration order is alphabetical, which would swap kernel and bias). ``keras_version``
tells the writer: Keras 2 files get Keras 2's hard_sigmoid, clip(0.2x + 0.5, 0, 1).
Keras 3 itself refuses most Keras 2 LSTM files (``time_major``); we read them directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, UnsupportedModelError, describe
from ..network.model import Model
from .h5read import H5Group, read_h5
from .keras3 import (
    CONFIG_ERRORS,
    _is_chain,
    add_graph_warnings,
    build_or_placeholder,
    data_layers,
    malformed,
    native_prefix,
    parse_json,
)
from .keras_common import check_declared_features, cudnn_note, read_config_text
from .keras_runtime import attach_runtime


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value.item())
    return str(value)


def _layer_arrays(weights_root: H5Group | None, layer_name: str) -> list[np.ndarray]:
    """A layer's arrays in the writer's order (``weight_names``)."""
    if weights_root is None or layer_name not in weights_root:
        return []
    group = weights_root[layer_name]
    if not isinstance(group, H5Group):
        raise ModelFileError(f"layer '{layer_name}': its weights are not a group")
    names = group.attrs.get("weight_names", [])
    if isinstance(names, np.ndarray) and names.dtype.kind == "f":   # weightless: empty floats
        names = []
    try:
        arrays = [group[_text(n)] for n in np.ravel(names)]
    except KeyError as exc:
        raise ModelFileError(f"layer '{layer_name}': a weight listed in weight_names is missing "
                             f"from the file ({exc})") from None
    if any(isinstance(a, H5Group) for a in arrays):
        raise ModelFileError(f"layer '{layer_name}': a name in weight_names is a group, not an "
                             f"array")
    return [np.asarray(a) for a in arrays]


def read_config(config_path: str | Path) -> dict[str, Any]:
    """A Keras model config as ``model.to_json()`` writes it."""
    where = describe(config_path)
    config = parse_json(read_config_text(config_path), where, "the model config")
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFileError(f"{where}: not a Keras model config (no class_name; write it "
                             f"with model.to_json())")
    return config


def _weights_only(path: Path, root: H5Group, config_path: str | Path) -> Model:
    """A ``save_weights`` file and the config of the model that wrote it."""
    config = read_config(config_path)
    if "layers" in root and "layer_names" not in root.attrs:      # Keras 3 .weights.h5
        from .keras3 import build_model
        model = build_model(config, root, source=str(path), fmt="keras3 weights + config",
                            legacy=False, metadata={})
    else:
        version = _text(root.attrs.get("keras_version", "2"))
        weights = root.get("model_weights") or root
        model = _build(config, weights, path, not version.startswith("3"), version,
                       _text(root.attrs.get("backend", "")))
    model.metadata["weights_config"] = str(config_path)      # how Keras rebuilds it to capture
    return model


def load_keras_h5(path: Path, config: str | Path | None = None) -> Model:
    where = describe(path)
    root = read_h5(path, where, skip=("optimizer_weights",))
    if "model_config" not in root.attrs:
        weights_only = "layer_names" in root.attrs or "model_weights" in root or "layers" in root
        if weights_only and config is not None:
            return _weights_only(path, root, config)
        if weights_only:
            raise ModelFileError(
                f"{where}: this .h5 holds weights only, no model config (save_weights); "
                f"open it with --config model.json (model.to_json() of the model that wrote "
                f"it), or engine.from_keras(model, x) on the rebuilt model")
        raise ModelFileError(f"{where}: an HDF5 file but not a Keras model (no "
                             f"model_config attribute)")
    if config is not None:        # never silently ignored: the file's own config decides
        raise ModelFileError(f"{where}: this .h5 holds its own model config (a whole model "
                             f"saved with model.save), which LSTM Scope uses; --config is only for "
                             f"a weights-only .h5 (save_weights): drop --config")
    try:
        text = _text(root.attrs["model_config"])
    except UnicodeDecodeError:
        raise ModelFileError(f"{where}: the model_config attribute is not UTF-8 text") from None
    config = parse_json(text, where, "the model_config attribute")
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: the model_config attribute holds a "
                             f"{type(config).__name__}, not a model config object")
    try:
        version = _text(root.attrs.get("keras_version", "2"))
        backend = _text(root.attrs.get("backend", ""))
    except UnicodeDecodeError:
        raise ModelFileError(f"{where}: the keras_version attribute is not UTF-8 text") from None
    if version.startswith("1."):
        raise UnsupportedModelError(
            f"{where}: written by Keras {version}, whose LSTM stores 12 per-gate arrays; "
            f"LSTM Scope reads Keras 2 and 3 files: load and re-save it with Keras 2")
    legacy = not version.startswith("3")
    weights_root = root.get("model_weights")
    if weights_root is not None and not isinstance(weights_root, H5Group):
        raise ModelFileError(f"{where}: model_weights is not a group of layers")
    try:
        return _build(config, weights_root, path, legacy, version, backend)
    except CONFIG_ERRORS as exc:
        raise ModelFileError(f"{where}: the model_config attribute is not a model config Keras "
                             f"writes ({malformed(exc)})") from None


def _build(config: dict[str, Any], weights_root, path: Path, legacy: bool, version: str,
           backend: str = "") -> Model:
    class_name = config.get("class_name")
    if class_name not in ("Sequential", "Functional", "Model"):
        raise UnsupportedModelError(f"{path}: top-level object is {class_name}, expected a "
                                    f"Sequential or Functional model")
    inner = config.get("config", {})
    layers = inner.get("layers") if isinstance(inner, dict) else inner   # Keras 2.0-2.2: a list
    if not isinstance(layers, list):
        raise ModelFileError(f"{path}: the model config has no layer list")
    ops = []
    input_length = None
    batch_size = None
    declared = None
    graph = {"config": inner if isinstance(inner, dict) else {}}
    chain = class_name == "Sequential" or _is_chain(graph)
    needed = None if class_name == "Sequential" else data_layers(graph)
    cudnn: list[tuple[str, str]] = []
    for entry in layers:
        cls = entry.get("class_name", "")
        cfg = entry.get("config", {})
        name = cfg.get("name", entry.get("name", ""))
        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if shape and len(shape) >= 2 and input_length is None:
            input_length, batch_size = shape[1], shape[0]
            declared = shape
        if cls == "InputLayer" or (needed is not None and entry.get("name", name) not in needed):
            continue   # mask-only op nodes (Keras 3's Masking NotEqual/Any): the engine masks itself
        arrays = _layer_arrays(weights_root, name)

        def sub(part: str, arrays=arrays, cls=cls):
            if cls == "Bidirectional":
                half = len(arrays) // 2
                picked = arrays[:half] if part == "forward_layer" else arrays[half:]
                return lambda: picked
            return lambda: arrays
        ops.append(build_or_placeholder(cls, cfg, lambda a=arrays: a, sub, legacy, str(path),
                                        cudnn))
    writer = f"Keras {version}" + (f", {backend}" if backend else "")
    model = Model(ops, source=str(path), format=f"keras-h5 ({writer})",
                  name=str(inner.get("name", "model")) if isinstance(inner, dict) else "model",
                  chain=chain, input_length=input_length,
                  metadata={"keras_version": version, "backend": backend,
                            "hard_sigmoid": "keras2" if legacy else "keras3"})
    model.batch_size = batch_size
    model.fixed_input = True
    note = cudnn_note(cudnn)
    if note is not None:
        model.warnings.append(note)
    model.native_prefix = native_prefix(graph if isinstance(inner, dict) else {}, ops)
    # files Keras 3 provably cannot rebuild to run: the engine computes what it can itself
    if not isinstance(inner, dict):
        model.metadata["keras_cannot_rebuild"] = "a Keras 2.0-2.2 Sequential (its config is a list)"
    elif cudnn:
        model.metadata["keras_cannot_rebuild"] = "a model with CuDNNLSTM or CuDNNGRU weights"
    check_declared_features(model, declared, str(path))
    attach_runtime(model, path, config)
    add_graph_warnings(model)
    return model
