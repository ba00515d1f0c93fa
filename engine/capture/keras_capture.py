"""Capture from Keras: a sub-model whose outputs are each traced LSTM's input (and the states
it is called with), plus the model's own outputs, run once.

The file is loaded by Keras with ``safe_mode=True`` (a Lambda layer's code is refused, never
run) and ``compile=False``; the LSTM's mask, when a Masking layer or ``mask_zero`` Embedding
makes one, is read off the same symbolic tensor (see docs/architecture.md, "Capture").
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, ScopeError
from .feed import Capture, LayerFeed

F32 = np.float32
KERAS_HINT = "pip install keras"


def load_keras_file(path: Path, weights_config: str | None = None) -> Any:
    """The Keras model of a file (``safe_mode``: no Lambda code runs), or of a weights-only
    file and its JSON config."""
    import keras
    try:
        with warnings.catch_warnings():          # Keras' own deprecation chatter is not ours
            warnings.simplefilter("ignore")
            return _load(keras, path, weights_config)
    except Exception as exc:  # noqa: BLE001 - Keras raises anything on a file it cannot rebuild
        if "arbitrary code" in str(exc) or "safe_mode" in str(exc):
            raise ScopeError("Keras will not rebuild it: it holds Python code (a Lambda layer), "
                             "which runs only with safe_mode=False, never used by LSTM "
                             "Scope") from None
        raise ScopeError(f"Keras cannot rebuild this model to run it "
                         f"({_first_line(exc)})") from None


def _load(keras: Any, path: Path, weights_config: str | None) -> Any:
    from ..loaders.keras_common import read_config_text
    config_text = None if weights_config is None else read_config_text(weights_config)
    with keras.utils.custom_object_scope(_keras2_objects(keras, path, config_text)):
        if config_text is not None:
            model = keras.models.model_from_json(config_text)
            model.load_weights(str(path))
            return model
        try:
            return keras.saving.load_model(str(path), compile=False, safe_mode=True)
        except Exception:
            if not _is_legacy_h5(path):
                raise
            return _load_keras2_h5(keras, path)


def _keras2_objects(keras: Any, path: Path, config_text: str | None) -> dict[str, Any]:
    """What a Keras 2 file's names meant to its writer, where Keras 3 changed them: Keras 2's
    ``hard_sigmoid`` is ``clip(0.2x + 0.5, 0, 1)``, Keras 3's ``clip(x/6 + 1/2, 0, 1)`` (see
    docs/architecture.md, "The math"). Empty for a Keras 3 file."""
    version = ""
    if config_text is not None:
        try:
            version = str(json.loads(config_text).get("keras_version", ""))
        except (ValueError, AttributeError):
            version = ""
    elif _is_legacy_h5(path):
        version = _h5_version(path)
    if not version or version.startswith("3"):
        return {}

    def hard_sigmoid(x: Any) -> Any:
        return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)
    return {"hard_sigmoid": hard_sigmoid}


def _h5_version(path: Path) -> str:
    import h5py
    with h5py.File(path, "r") as h5:
        raw = h5.attrs.get("keras_version", "2")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


# LSTM arguments Keras 2 wrote that Keras 3 no longer accepts (with the values they always had)
_KERAS2_ONLY = ("time_major",)


def _is_legacy_h5(path: Path) -> bool:
    import h5py
    try:
        with h5py.File(path, "r") as h5:
            return "model_config" in h5.attrs
    except OSError:
        return False


def _load_keras2_h5(keras: Any, path: Path) -> Any:
    """A Keras 2 .h5 that Keras 3 refuses only for arguments it dropped: a copy of the file
    with those arguments removed from its config, loaded by Keras 3's own legacy loader."""
    import shutil
    import tempfile

    import h5py
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "model.h5"
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as h5:
            raw = h5.attrs["model_config"]
            config = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
            _strip(config)
            h5.attrs["model_config"] = json.dumps(config)
        return keras.saving.load_model(str(copy), compile=False, safe_mode=True)


def _strip(value: Any) -> None:
    if isinstance(value, dict):
        for key in _KERAS2_ONLY:
            value.pop(key, None)
        for item in value.values():
            _strip(item)
    elif isinstance(value, list):
        for item in value:
            _strip(item)


def _rnn_layers(model: Any) -> dict[str, Any]:
    """Keras layers by name, nested models included."""
    out = {}
    for layer in model.layers:
        out[layer.name] = layer
        if hasattr(layer, "layers") and layer is not model:
            out.update(_rnn_layers(layer))
    return out


def _call_states(layer: Any) -> list[Any]:
    """The symbolic initial states a layer was called with (``initial_state=[h, c]``)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    args = getattr(nodes[0], "arguments", None)
    kwargs = getattr(args, "kwargs", {}) if args is not None else {}
    states = kwargs.get("initial_state")
    if states is None and args is not None and len(getattr(args, "args", ())) > 1:
        states = args.args[1]
    return list(states) if isinstance(states, (list, tuple)) else []


class KerasCapture:
    """One Keras sub-model: model inputs -> [each LSTM's input, mask, states..., outputs...]."""

    def __init__(self, keras_model: Any, traced: list[tuple[str, bool]], source: str) -> None:
        import keras
        self.source = source
        self.model = keras_model
        layers = _rnn_layers(keras_model)
        self.input_names = [t.name.split(":")[0] for t in keras_model.inputs]
        fetch: list[Any] = []
        self.plan: list[tuple[str, bool, int, int | None, list[int]]] = []
        for name, backward in traced:
            layer = layers.get(name.split("/")[0])
            if layer is None:
                raise ScopeError(f"{source}: Keras' model has no layer '{name.split('/')[0]}'")
            x = layer.input
            x = x[0] if isinstance(x, (list, tuple)) else x
            mask = getattr(x, "_keras_mask", None)
            states = _call_states(layer)
            half = len(states) // 2            # a Bidirectional's: forward's, then backward's
            if name.endswith("/backward") and half:          # (h, c) each, a GRU's h alone
                states = states[half:]
            elif name.endswith("/forward") and half:
                states = states[:half]
            idx = len(fetch)
            fetch.append(x)
            mask_idx = None
            if mask is not None:
                mask_idx = len(fetch)
                fetch.append(mask)
            state_idx = []
            for s in states[:2]:
                state_idx.append(len(fetch))
                fetch.append(s)
            self.plan.append((name, backward, idx, mask_idx, state_idx))
        self.n_layers = len(fetch)
        outputs = keras_model.outputs
        self.n_outputs = len(outputs)
        self.sub = keras.Model(keras_model.inputs, fetch + list(outputs))

    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        if len(self.input_names) == 1:
            feed: Any = next(iter(inputs.values()))
        else:
            feed = [inputs[n] for n in self.input_names]
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = self.sub.predict_on_batch(feed)
        except Exception as exc:  # noqa: BLE001 - the input does not fit the model
            raise InputFileError(f"{self.source}: Keras cannot run the model on this input "
                                 f"({_first_line(exc)})") from None
        seconds = time.perf_counter() - start
        values = [np.asarray(v) for v in (values if isinstance(values, list) else [values])]
        feeds = {}
        for name, _backward, idx, mask_idx, state_idx in self.plan:
            x = np.asarray(values[idx], F32)
            mask = None if mask_idx is None else np.asarray(values[mask_idx], bool)
            if mask is not None and mask.all():
                mask = None
            h0 = np.asarray(values[state_idx[0]], F32) if len(state_idx) > 0 else None
            c0 = np.asarray(values[state_idx[1]], F32) if len(state_idx) > 1 else None
            feeds[name] = LayerFeed(x, mask, h0, c0)
        return Capture(values[self.n_layers:], feeds, seconds)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
