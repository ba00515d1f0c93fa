"""Turn Keras layer configs plus their weight arrays into engine ops.

Shared by the Keras 3 ``.keras`` loader and the legacy HDF5 loader: the two formats differ in
where the weights live, not in what a layer config means. ``legacy`` selects Keras 2's
definitions where they differ (hard_sigmoid).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..cells.cell import CellWeights
from ..errors import ModelFileError, UnsupportedModelError, describe
from ..network.layers import (
    LSTM,
    ActivationOp,
    Bidirectional,
    Dense,
    Embedding,
    Identity,
    Masking,
    Op,
    TimeDistributed,
    activation_of,
)
from ..system.budget import check_bytes
from ..system.files import check_readable
from .keras_gru import RECURRENT_CLASSES, keras_cell_weights

WeightsFor = Callable[[], Sequence[np.ndarray]]

IDENTITY_LAYERS = {
    "InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "ActivityRegularization",
}

_CONV = ("has convolutional gates over images, which LSTM Scope does not support yet; only "
         "LSTM and Bidirectional(LSTM) layers can be traced")
NOT_LSTM_HINTS = {
    "ConvLSTM1D": "a ConvLSTM1D " + _CONV,
    "ConvLSTM2D": "a ConvLSTM2D " + _CONV,
    "ConvLSTM3D": "a ConvLSTM3D " + _CONV,
    "RNN": ("a generic RNN layer around a custom cell cannot be traced; only LSTM cells can "
            "(keras.layers.LSTM)"),
}


def savedmodel_error(path: object) -> str:
    """The one-line refusal for a TensorFlow SavedModel (directory or its saved_model.pb)."""
    return (f"{path}: a TensorFlow SavedModel (saved_model.pb), which LSTM Scope cannot read "
            f"without TensorFlow; in TensorFlow 2 run "
            f"tf.keras.models.load_model(DIR).save('model.h5') and open the .h5")




def _act_name(value: Any) -> str:
    """Activation as a plain name (configs may hold a string or a serialized dict)."""
    if value is None:
        return "linear"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        cfg = value.get("config")
        if isinstance(cfg, dict) and "name" in cfg:
            return str(cfg["name"])
        if isinstance(cfg, str):
            return cfg
        return str(value.get("class_name", "linear"))
    return str(value)


def real_array(layer: str, what: str, value: Any, ndim: int | tuple[int, ...]) -> np.ndarray:
    """A weight array as float32, refused (one line) unless it is real numbers of rank ``ndim``:
    a complex array would lose its imaginary part, a structured one has no meaning here."""
    arr = np.asarray(value)
    if arr.dtype.kind == "c":
        raise ModelFileError(f"layer '{layer}': the {what} holds complex numbers ({arr.dtype}); "
                             f"LSTM weights are real")
    if arr.dtype.kind not in "fiub":
        raise ModelFileError(f"layer '{layer}': the {what} has dtype {arr.dtype}, not numbers")
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ranks:
        raise ModelFileError(f"layer '{layer}': the {what} has shape {arr.shape}, expected "
                             f"{' or '.join(f'{r}-D' for r in ranks)}")
    return arr.astype(np.float32)


def config_int(layer: str, config: dict[str, Any], key: str, default: int) -> int:
    """An integer setting of a layer config, or one line saying it is not one."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or not 0 < value < 2**31:
        raise ModelFileError(f"layer '{layer}': {key} is {value!r}, not a positive whole number")
    return int(value)


def cudnn_blocks(kernel: np.ndarray, recurrent: np.ndarray, gates: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and recurrent kernel of a cuDNN layer as Keras 2 regroups them on load (its
    ``_convert_rnn_weights``): each gate's kernel block is the flat (N, D) matrix cuDNN reads,
    ``transpose_input``'s ``k.T.reshape(k.shape, order="F")``, and each recurrent block is
    transposed; the gate order is the Keras layer's in both layouts."""
    n = recurrent.shape[0]
    d = kernel.shape[0]
    kernel = np.hstack([block.reshape(n, d).T for block in np.hsplit(kernel, gates)])
    recurrent = np.hstack([block.T for block in np.hsplit(recurrent, gates)])
    return kernel, recurrent


def cudnn_to_keras(kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Keras 2's own conversion of CuDNNLSTM weights on load: cuDNN keeps an input and a
    recurrent bias, bias (8N,); the LSTM gets the two biases summed and every block of kernel
    and recurrent kernel regrouped (``cudnn_blocks``; gate order i, f, c, o in both layouts)."""
    n = recurrent.shape[0]
    kernel, recurrent = cudnn_blocks(kernel, recurrent, 4)
    parts = (bias[:4 * n], bias[4 * n:])
    return kernel, recurrent, parts[0] + parts[1], parts


def _is_cudnn_bias(arrays: Sequence[np.ndarray]) -> bool:
    """Keras 2 tells CuDNNLSTM weights by their bias alone: (8N,) where an LSTM has (4N,)."""
    if len(arrays) != 3:
        return False
    units = np.shape(arrays[1])[0] if np.ndim(arrays[1]) == 2 else 0
    return bool(units) and np.shape(arrays[2]) == (8 * units,)


Converted = list[tuple[str, str]]
"""(cuDNN class, traced layer name) of every layer whose weights were in cuDNN's layout."""


def lstm_cell_weights(name: str, config: dict[str, Any], arrays: Sequence[np.ndarray],
                      legacy: bool, cudnn: Converted | None = None,
                      cudnn_class: bool = False) -> CellWeights:
    """CellWeights from an LSTM config and its [kernel, recurrent_kernel, (bias)] arrays.

    Weights in CuDNNLSTM's layout are converted as Keras 2 does when it loads them into an
    LSTM (``cudnn_to_keras``; ``name`` is appended to ``cudnn``). ``cudnn_class``: the layer
    is a CuDNNLSTM itself, which always computes sigmoid/tanh and counts both biases."""
    param_count = 0
    parts: tuple[np.ndarray, ...] = ()
    if _is_cudnn_bias(arrays) and config.get("use_bias", True):
        kernel = real_array(name, "kernel", arrays[0], 2)
        recurrent = real_array(name, "recurrent kernel", arrays[1], 2)
        bias8 = real_array(name, "bias", arrays[2], 1)
        if kernel.shape[1] != recurrent.shape[1] or recurrent.shape[1] != 4 * recurrent.shape[0]:
            raise UnsupportedModelError(
                f"LSTM '{name}': CuDNNLSTM weight shapes {kernel.shape} and {recurrent.shape} do "
                f"not fit a bias of {bias8.shape[0]} (expected (D, 4N) and (N, 4N))")
        kernel, recurrent, bias, parts = cudnn_to_keras(kernel, recurrent, bias8)
        arrays = [kernel, recurrent, bias]
        if cudnn is not None:
            cudnn.append(("CuDNNLSTM", name))
        if cudnn_class:
            param_count = kernel.size + recurrent.size + bias8.size
    if cudnn_class:                 # cuDNN's kernel: sigmoid gates, tanh cell, whatever is written
        config = {**config, "activation": "tanh", "recurrent_activation": "sigmoid"}
    use_bias = bool(config.get("use_bias", True))
    if len(arrays) < (3 if use_bias else 2):
        raise UnsupportedModelError(_missing_weights(name, config, arrays, use_bias))
    kernel = real_array(name, "kernel", arrays[0], 2)
    recurrent = real_array(name, "recurrent kernel", arrays[1], 2)
    units = config_int(name, config, "units", max(1, kernel.shape[-1] // 4))
    if kernel.ndim != 2 or kernel.shape[1] != 4 * units or recurrent.shape != (units, 4 * units):
        raise UnsupportedModelError(
            f"LSTM '{name}': weight shapes {kernel.shape} and {recurrent.shape} do not fit "
            f"units={units} (expected (D, {4 * units}) and ({units}, {4 * units}))")
    if use_bias:
        if len(arrays) < 3:
            raise UnsupportedModelError(f"LSTM '{name}': use_bias is set but no bias was saved")
        bias = real_array(name, "bias", arrays[2], (1, 2)).reshape(-1)
        if bias.shape != (4 * units,):
            raise UnsupportedModelError(
                f"LSTM '{name}': bias has shape {bias.shape}, expected ({4 * units},) (or "
                f"({8 * units},), CuDNNLSTM's two biases)")
    else:
        bias = np.zeros(4 * units, np.float32)
    act = activation_of(_act_name(config.get("activation", "tanh")), legacy)
    rec = activation_of(_act_name(config.get("recurrent_activation", "sigmoid")), legacy)
    return CellWeights(kernel=kernel, recurrent_kernel=recurrent, bias=bias, use_bias=use_bias,
                       gate_activation=rec, cell_activation=act, output_activation=act,
                       param_count=param_count, bias_parts=parts)


def _missing_weights(name: str, config: dict[str, Any], arrays: Sequence[np.ndarray],
                     use_bias: bool) -> str:
    """Which of kernel (D, 4N), recurrent kernel (N, 4N) and bias (4N,) a short list of an
    LSTM's arrays lacks, told from the shapes that are there (never by position: with the
    kernel gone, the first array is the recurrent kernel)."""
    shapes = [tuple(np.shape(a)) for a in arrays]
    matrices = [s for s in shapes if len(s) == 2]
    units = config.get("units")
    missing = []
    if not matrices:
        missing += ["kernel", "recurrent kernel"]
    elif len(matrices) == 1:
        recurrent = isinstance(units, int) and matrices[0] == (units, 4 * units)
        missing.append("kernel or the recurrent kernel" if recurrent else "recurrent kernel")
    if use_bias and not any(len(s) == 1 for s in shapes):
        missing.append("bias")
    held = ", ".join(str(s) for s in shapes) or "none"
    return (f"LSTM '{name}': the {' and the '.join(missing) or 'weights'} "
            f"{'is' if len(missing) == 1 else 'are'} missing (the file holds {len(shapes)} "
            f"of its arrays: {held}; an LSTM saves kernel (D, 4N), recurrent kernel (N, 4N)"
            f"{' and bias (4N,)' if use_bias else ''})")


def check_declared_features(model: Any, shape: Any, where: str) -> None:
    """Refuse a file whose config declares inputs of D features when its first LSTM's kernel
    reads another number: the model file disagrees with itself, and a run would otherwise
    blame the input file that follows the config."""
    from ..network.layers import LSTM, Bidirectional, Identity, Masking
    if not model.chain or not isinstance(shape, list | tuple) or len(shape) != 3 \
            or not isinstance(shape[2], int) or isinstance(shape[2], bool):
        return
    for op in model.ops:
        if isinstance(op, Identity | Masking):
            continue
        if isinstance(op, LSTM | Bidirectional):
            w = op.weights if isinstance(op, LSTM) else op.forward
            if w.input_dim != shape[2]:
                raise ModelFileError(
                    f"{where}: layer '{op.name}': its kernel {w.kernel.shape} reads "
                    f"{w.input_dim} features per step, but the model's config declares {shape[2]} "
                    f"(input shape {list(shape)}); the file's weights and config disagree")
        return


def recurrent_cell_weights(class_name: str, name: str, config: dict[str, Any],
                           arrays: Sequence[np.ndarray], legacy: bool,
                           cudnn: Converted | None = None) -> CellWeights:
    """A GRU's, CuDNNGRU's or SimpleRNN's weights: its arrays read and checked here as an
    LSTM's are, mapped by ``keras_gru.keras_cell_weights``. CuDNNGRU weights (bias (6N,)) are
    converted as Keras 2 converts them when it loads them into a GRU(reset_after=True)
    (``_cudnn_gru``; ``name`` is appended to ``cudnn``)."""
    use_bias = bool(config.get("use_bias", True)) or class_name == "CuDNNGRU"
    if len(arrays) < (3 if use_bias else 2):
        raise UnsupportedModelError(f"{class_name} '{name}': expected kernel, recurrent kernel"
                                    f"{' and bias' if use_bias else ''}; found {len(arrays)} arrays")
    kernel = real_array(name, "kernel", arrays[0], 2)
    recurrent = real_array(name, "recurrent kernel", arrays[1], 2)
    bias = real_array(name, "bias", arrays[2], (1, 2)) if use_bias else None
    blocks = 1 if class_name == "SimpleRNN" else 3
    units = config_int(name, config, "units", max(1, kernel.shape[-1] // blocks))
    if class_name == "CuDNNGRU" or (class_name == "GRU" and bias is not None
                                    and bias.shape == (6 * units,)):
        kernel, recurrent, bias, config = _cudnn_gru(class_name, name, config, kernel,
                                                     recurrent, bias, units)
        class_name = "GRU"
        if cudnn is not None:
            cudnn.append(("CuDNNGRU", name))
    act = activation_of(_act_name(config.get("activation", "tanh")), legacy)
    rec = activation_of(_act_name(config.get("recurrent_activation", "sigmoid")), legacy)
    return keras_cell_weights(class_name, name, config, kernel, recurrent, bias, units, act, rec)


def _cudnn_gru(class_name: str, name: str, config: dict[str, Any], kernel: np.ndarray,
               recurrent: np.ndarray, bias: np.ndarray | None, units: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """CuDNNGRU weights as Keras 2 loads them into a GRU: its ``_convert_rnn_weights`` with
    source "CuDNNGRU" and target "GRU(reset_after=True)" regroups kernel and recurrent kernel
    (``cudnn_blocks``, gates z, r, h in both layouts) and reshapes bias (6N,) to (2, 3N), the
    input and the recurrent bias. cuDNN's GRU applies r after h·U + b_h, as reset_after does,
    and always computes sigmoid gates and a tanh candidate. Keras refuses to load them into a
    GRU(reset_after=False), and so does LSTM Scope."""
    if bias is None or bias.shape != (6 * units,) or kernel.shape[1] != 3 * units \
            or recurrent.shape != (units, 3 * units):
        raise UnsupportedModelError(
            f"{class_name} '{name}': weight shapes {kernel.shape}, {recurrent.shape} and "
            f"{None if bias is None else bias.shape} do not fit units={units} (a CuDNNGRU saves "
            f"(D, {3 * units}), ({units}, {3 * units}) and ({6 * units},))")
    if class_name == "GRU" and not config.get("reset_after", True):
        raise UnsupportedModelError(
            f"GRU '{name}' has reset_after=False but holds CuDNNGRU weights (bias "
            f"({6 * units},)): Keras 2 refuses them too (CuDNNGRU is not compatible with "
            f"GRU(reset_after=False)); save the model with GRU(reset_after=True)")
    kernel, recurrent = cudnn_blocks(kernel, recurrent, 3)
    config = {**config, "reset_after": True, "use_bias": True}
    if class_name == "CuDNNGRU":    # cuDNN's kernel: sigmoid gates, tanh candidate
        config.update(activation="tanh", recurrent_activation="sigmoid")
    return kernel, recurrent, bias.reshape(2, 3 * units), config


def unwrap_rnn_config(class_name: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Keras 2 files may wrap an LSTMCell in a generic RNN layer: treat RNN(LSTMCell) as LSTM
    (and RNN(GRUCell), RNN(SimpleRNNCell) as GRU, SimpleRNN)."""
    if class_name == "RNN":
        cell = config.get("cell", {})
        cells = {"LSTMCell": "LSTM", **{c: layer for layer, c in RECURRENT_CLASSES.items()}}
        if isinstance(cell, dict) and cell.get("class_name") in cells:
            merged = dict(cell.get("config", {}))
            for key in ("return_sequences", "return_state", "go_backwards", "stateful"):
                merged[key] = config.get(key, False)
            return cells[cell["class_name"]], merged
    return class_name, config


def build_op(class_name: str, config: dict[str, Any], weights: WeightsFor,
             sub_weights: Callable[[str], WeightsFor], legacy: bool, where: str,
             cudnn: list[str] | None = None) -> Op:
    """One engine op from a Keras layer (config dict, lazily fetched weight arrays).

    ``sub_weights(part)`` fetches a nested layer's arrays: ``forward_layer``/``backward_layer``
    for Bidirectional, ``layer`` for TimeDistributed. Traced layers whose weights were in
    CuDNNLSTM's layout (and converted) are appended to ``cudnn``.
    """
    class_name, config = unwrap_rnn_config(class_name, config)
    name = str(config.get("name", class_name.lower()))
    hs = "keras2" if legacy else "keras3"
    if class_name in IDENTITY_LAYERS:
        return Identity(name, kind=class_name)
    if class_name == "Embedding":
        arrays = weights()
        if not arrays:
            raise ModelFileError(f"{where}: Embedding '{name}' has no weights saved")
        return Embedding(name, real_array(name, "embedding matrix", arrays[0], 2),
                         bool(config.get("mask_zero", False)))
    if class_name == "Masking":
        return Masking(name, float(config.get("mask_value", 0.0)))
    if class_name == "Dense":
        arrays = weights()
        if not arrays:
            raise ModelFileError(f"{where}: Dense '{name}' has no weights saved")
        kernel = real_array(name, "kernel", arrays[0], 2)
        bias = (real_array(name, "bias", arrays[1], 1)
                if config.get("use_bias", True) and len(arrays) > 1 else None)
        if bias is not None and bias.shape != (kernel.shape[1],):
            raise ModelFileError(f"{where}: Dense '{name}': bias {bias.shape} does not fit "
                                 f"kernel {kernel.shape}")
        return Dense(name, kernel, bias, _act_name(config.get("activation")), hs)
    if class_name == "Activation":
        return ActivationOp(name, _act_name(config.get("activation")), hs)
    if class_name in ("ReLU", "Softmax", "LeakyReLU", "ELU"):
        return _advanced_activation(class_name, name, config)
    if class_name == "TimeDistributed":
        inner = config.get("layer", {})
        inner_cls = unwrap_rnn_config(inner.get("class_name", ""), inner.get("config", {}))[0]
        if inner_cls in ("LSTM", "CuDNNLSTM", "CuDNNGRU", "Bidirectional", *RECURRENT_CLASSES) \
                or inner_cls in NOT_LSTM_HINTS:
            raise UnsupportedModelError(f"{where}: layer '{name}' is TimeDistributed({inner_cls}), "
                                        f"a recurrent layer over a second time axis, which is not "
                                        f"supported")
        inner_op = build_op(inner.get("class_name", ""), inner.get("config", {}), sub_weights("layer"),
                            lambda part: sub_weights(f"layer/{part}"), legacy, where)
        return TimeDistributed(name, inner_op)
    if class_name in ("LSTM", "CuDNNLSTM"):
        _reject_unsupported_lstm_options(name, config, where)
        cell = lstm_cell_weights(name, config, weights(), legacy, cudnn,
                                 cudnn_class=class_name == "CuDNNLSTM")
        return LSTM(name, cell, bool(config.get("return_sequences", False)),
                    bool(config.get("return_state", False)), bool(config.get("go_backwards", False)),
                    bool(config.get("stateful", False)),
                    bool(config.get("zero_output_for_mask", False)), kind=class_name)
    if class_name in RECURRENT_CLASSES or class_name == "CuDNNGRU":
        _reject_unsupported_lstm_options(name, config, where)
        return LSTM(name, recurrent_cell_weights(class_name, name, config, weights(), legacy,
                                                 cudnn),
                    bool(config.get("return_sequences", False)),
                    bool(config.get("return_state", False)), bool(config.get("go_backwards", False)),
                    bool(config.get("stateful", False)),
                    bool(config.get("zero_output_for_mask", False)), kind=class_name)
    if class_name == "Bidirectional":
        return _bidirectional(name, config, sub_weights, legacy, where, cudnn)
    if class_name in NOT_LSTM_HINTS:
        raise UnsupportedModelError(f"{where}: layer '{name}' is {class_name}: {NOT_LSTM_HINTS[class_name]}")
    raise UnsupportedModelError(
        f"{where}: layer '{name}' of class {class_name} is not one LSTM Scope can compute")


def _advanced_activation(class_name: str, name: str, config: dict[str, Any]) -> Op:
    if class_name == "Softmax":
        return ActivationOp(name, "softmax", kind="Softmax")
    if class_name == "ReLU" and not config.get("max_value") and not config.get("negative_slope") \
            and not config.get("threshold"):
        return ActivationOp(name, "relu", kind="ReLU")
    if class_name == "ELU" and float(config.get("alpha", 1.0)) == 1.0:
        return ActivationOp(name, "elu", kind="ELU")
    if class_name == "LeakyReLU":
        slope = float(config.get("negative_slope", config.get("alpha", 0.3)))
        if abs(slope - 0.2) < 1e-12:
            return ActivationOp(name, "leaky_relu", kind="LeakyReLU")
    raise UnsupportedModelError(f"layer '{name}' ({class_name}) with these settings is not supported")


def _reject_unsupported_lstm_options(name: str, config: dict[str, Any], where: str) -> None:
    if config.get("time_major"):
        raise UnsupportedModelError(f"{where}: LSTM '{name}' is time_major; re-save it batch-major")
    if config.get("unroll"):
        return  # unrolling changes speed, not results


def _bidirectional(name: str, config: dict[str, Any], sub_weights: Callable[[str], WeightsFor],
                   legacy: bool, where: str, cudnn: Converted | None) -> Bidirectional:
    inner = config.get("layer", {})
    inner_cls, inner_cfg = unwrap_rnn_config(inner.get("class_name", ""), inner.get("config", {}))
    if inner_cls not in ("LSTM", "CuDNNLSTM", "CuDNNGRU", *RECURRENT_CLASSES):
        hint = NOT_LSTM_HINTS.get(inner_cls, "only Bidirectional(LSTM), Bidirectional(GRU) and "
                                             "Bidirectional(SimpleRNN) can be traced")
        raise UnsupportedModelError(f"{where}: Bidirectional '{name}' wraps {inner_cls}: {hint}")
    back = config.get("backward_layer")
    back_cfg = unwrap_rnn_config(back.get("class_name", ""), back.get("config", {}))[1] if back else inner_cfg
    if inner_cls in RECURRENT_CLASSES or inner_cls == "CuDNNGRU":
        fwd = recurrent_cell_weights(inner_cls, f"{name}/forward", inner_cfg,
                                     sub_weights("forward_layer")(), legacy, cudnn)
        bwd = recurrent_cell_weights(inner_cls, f"{name}/backward", back_cfg,
                                     sub_weights("backward_layer")(), legacy, cudnn)
        return Bidirectional(name, fwd, bwd, config.get("merge_mode", "concat"),
                             bool(inner_cfg.get("return_sequences", False)),
                             bool(inner_cfg.get("return_state", False)))
    is_cudnn = inner_cls == "CuDNNLSTM"
    fwd = lstm_cell_weights(f"{name}/forward", inner_cfg, sub_weights("forward_layer")(), legacy,
                            cudnn, cudnn_class=is_cudnn)
    bwd = lstm_cell_weights(f"{name}/backward", back_cfg, sub_weights("backward_layer")(), legacy,
                            cudnn, cudnn_class=is_cudnn)
    merge = config.get("merge_mode", "concat")
    return Bidirectional(name, fwd, bwd, merge, bool(inner_cfg.get("return_sequences", False)),
                         bool(inner_cfg.get("return_state", False)))


def cudnn_note(converted: Converted) -> str | None:
    """The one line saying which layers held CuDNNLSTM or CuDNNGRU weights and what was done
    to them."""
    lines = []
    for kind, how in (("CuDNNLSTM", "(bias (8N,), cuDNN's kernel layout) converted as Keras 2 "
                                    "converts them on load: the two biases summed, each gate's "
                                    "kernels regrouped; the trace is that LSTM's"),
                      ("CuDNNGRU", "(bias (6N,), cuDNN's kernel layout) converted as Keras 2 "
                                   "converts them when it loads them into a GRU(reset_after="
                                   "True): the bias read as its input and recurrent rows, each "
                                   "gate's kernels regrouped; the trace is that GRU's")):
        names = [name for k, name in converted if k == kind]
        if names:
            lines.append(f"{kind} weights of {', '.join(repr(n) for n in names)} {how}")
    return "; ".join(lines) or None


def read_config_text(config_path: str | Path) -> str:
    """The text of a ``--config`` file, read like every other file the user names: a regular
    readable file (a FIFO would block, ``/dev/zero`` never ends) no bigger than the memory
    budget (docs/architecture.md, "Files in, files out"). Here, beside the config's meaning, so
    that both the loader and the Keras capture (``engine.capture``) read it without a cycle."""
    path = check_readable(config_path, "--config file", ModelFileError)
    where = describe(path)
    check_bytes(path.stat().st_size, f"{where}: the --config file", error=ModelFileError)
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelFileError(f"{where}: not a JSON model config (not UTF-8 text)") from None
    except OSError as exc:
        raise ModelFileError(f"{where}: cannot read the --config file "
                             f"({exc.strerror or exc})") from None
