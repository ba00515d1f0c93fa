"""Element-wise activation functions by the names frameworks use, in float32.

Each activation knows its output range, which the GUI needs for shared gate scales and the
debugger needs for "saturated" (within 5 % of either end). Keras 3 and Keras 2 disagree on
``hard_sigmoid``; loaders pass ``hard_sigmoid="keras2"`` for files written by Keras 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import UnsupportedModelError

ArrayFn = Callable[[np.ndarray], np.ndarray]
F32 = np.float32


@dataclass(frozen=True)
class Activation:
    """A named element-wise function with its output range (lo, hi; inf where unbounded)."""

    name: str
    fn: ArrayFn
    lo: float
    hi: float
    elementwise: bool = True    # False: acts across the units of one gate (softmax family)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Same formula as Keras' numpy backend, so float32 rounding matches closely.
    with np.errstate(over="ignore"):
        return F32(1.0) / (F32(1.0) + np.exp(-x))


def _hard_sigmoid_keras3(x: np.ndarray) -> np.ndarray:
    return np.clip(x / F32(6.0) + F32(0.5), F32(0.0), F32(1.0))


def _hard_sigmoid_keras2(x: np.ndarray) -> np.ndarray:
    return np.clip(F32(0.2) * x + F32(0.5), F32(0.0), F32(1.0))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf without scipy: Abramowitz & Stegun 7.1.26 refined (|error| < 1.2e-7), in float64."""
    z = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + 0.5 * z)
    # Numerical Recipes erfc approximation, fractional error < 1.2e-7 everywhere.
    poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def _gelu(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float64) * 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))).astype(F32)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    c = F32(math.sqrt(2.0 / math.pi))
    return x * F32(0.5) * (F32(1.0) + np.tanh(c * (x + F32(0.044715) * x * x * x)))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, F32(0.0)).astype(F32)


def _elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, F32(alpha) * np.expm1(np.minimum(x, F32(0.0)))).astype(F32)


def _selu(x: np.ndarray) -> np.ndarray:
    alpha, scale = F32(1.6732632423543772), F32(1.0507009873554805)
    return (scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, F32(0.0))))).astype(F32)


def _silu(x: np.ndarray) -> np.ndarray:
    return x * _sigmoid(x)


def _hard_silu(x: np.ndarray) -> np.ndarray:
    return x * _hard_sigmoid_keras3(x)


def _mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(_softplus(x))


def _softsign(x: np.ndarray) -> np.ndarray:
    return x / (F32(1.0) + np.abs(x))


def _exponential(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.exp(x)


def _leaky_relu(x: np.ndarray, slope: float = 0.2) -> np.ndarray:
    return np.where(x >= 0, x, F32(slope) * x).astype(F32)


def _celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    a = F32(alpha)
    return (np.maximum(x, F32(0.0)) + a * np.expm1(np.minimum(x, F32(0.0)) / a)).astype(F32)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return (-np.logaddexp(F32(0.0), -x)).astype(F32)


def _squareplus(x: np.ndarray, b: float = 4.0) -> np.ndarray:
    return ((x + np.sqrt(x * x + F32(b))) / F32(2.0)).astype(F32)


def _sparse_plus(x: np.ndarray) -> np.ndarray:
    return np.where(x <= -1, F32(0.0), np.where(x >= 1, x, (x + F32(1.0)) ** 2 / F32(4.0))).astype(F32)


def _sparse_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x <= -1, F32(0.0), np.where(x >= 1, F32(1.0), F32(0.5) * (x + F32(1.0)))).astype(F32)


def _shrink(x: np.ndarray, thr: float, soft: bool) -> np.ndarray:
    keep = np.abs(x) > F32(thr)
    if soft:
        return np.where(keep, x - np.sign(x) * F32(thr), F32(0.0)).astype(F32)
    return np.where(keep, x, F32(0.0)).astype(F32)


INF = math.inf

_KERAS: dict[str, tuple[ArrayFn, float, float]] = {
    "tanh": (np.tanh, -1.0, 1.0),
    "sigmoid": (_sigmoid, 0.0, 1.0),
    "hard_sigmoid": (_hard_sigmoid_keras3, 0.0, 1.0),
    "relu": (lambda x: np.maximum(x, F32(0.0)), 0.0, INF),
    "relu6": (lambda x: np.clip(x, F32(0.0), F32(6.0)), 0.0, 6.0),
    "linear": (lambda x: x, -INF, INF),
    "softsign": (_softsign, -1.0, 1.0),
    "softplus": (_softplus, 0.0, INF),
    "elu": (_elu, -1.0, INF),
    "selu": (_selu, -1.7580993408473766, INF),
    "celu": (_celu, -1.0, INF),
    "silu": (_silu, -0.2784645427610738, INF),
    "swish": (_silu, -0.2784645427610738, INF),
    "hard_silu": (_hard_silu, -0.375, INF),
    "hard_swish": (_hard_silu, -0.375, INF),
    "gelu": (_gelu, -0.17, INF),
    "mish": (_mish, -0.31, INF),
    "exponential": (_exponential, 0.0, INF),
    "leaky_relu": (_leaky_relu, -INF, INF),
    "log_sigmoid": (_log_sigmoid, -INF, 0.0),
    "hard_tanh": (lambda x: np.clip(x, F32(-1.0), F32(1.0)), -1.0, 1.0),
    "tanh_shrink": (lambda x: x - np.tanh(x), -INF, INF),
    "squareplus": (_squareplus, 0.0, INF),
    "sparse_plus": (_sparse_plus, 0.0, INF),
    "sparse_sigmoid": (_sparse_sigmoid, 0.0, 1.0),
    "soft_shrink": (lambda x: _shrink(x, 0.5, True), -INF, INF),
    "hard_shrink": (lambda x: _shrink(x, 0.5, False), -INF, INF),
}

_ALIASES = {"gelu_approximate": "gelu_tanh", "none": "linear", "identity": "linear"}

def _softmax_last(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return (e / np.sum(e, axis=-1, keepdims=True)).astype(F32)


def _log_softmax_last(x: np.ndarray) -> np.ndarray:
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return (shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))).astype(F32)


def _sparsemax_last(x: np.ndarray) -> np.ndarray:
    """Sparsemax over the last axis exactly as Keras 3 computes it (every backend).

    Keras' threshold is (sum of the cumulative sums over the support - 1) / k, not the paper's
    (cumsum at k - 1) / k; the reference is Keras, so we reproduce its formula.
    """
    z = -np.sort(-x, axis=-1)
    cumsum = np.cumsum(z, axis=-1)
    r = np.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    support = z - (cumsum - 1) / r > 0
    k = np.sum(support, axis=-1, keepdims=True)
    tau = (np.sum(np.where(support, cumsum, 0.0), axis=-1, keepdims=True) - 1) / k
    return np.maximum(x - tau, 0.0).astype(F32)


# Keras accepts these for an LSTM too; they act across the units of each gate, so every unit's
# gate depends on all the others' pre-activations. The stepper applies them per gate block.
ACROSS_UNITS: dict[str, tuple[ArrayFn, float, float]] = {
    "softmax": (_softmax_last, 0.0, 1.0),
    "log_softmax": (_log_softmax_last, -INF, 0.0),
    "sparsemax": (_sparsemax_last, 0.0, 1.0),
}

NOT_ELEMENTWISE = {"glu"}


def keras_activation(name: str | None, *, hard_sigmoid: str = "keras3") -> Activation:
    """The activation a Keras file names; ``hard_sigmoid`` picks the writer's definition."""
    key = (name or "linear").lower()
    key = _ALIASES.get(key, key)
    if key == "hard_sigmoid" and hard_sigmoid == "keras2":
        return Activation("hard_sigmoid (Keras 2: clip(0.2x+0.5))", _hard_sigmoid_keras2, 0.0, 1.0)
    if key == "gelu_tanh":
        return Activation("gelu (tanh approximation)", _gelu_tanh, -0.17, INF)
    if key in NOT_ELEMENTWISE:
        raise UnsupportedModelError(
            f"activation '{name}' is not element-wise and cannot drive an LSTM gate")
    if key in ACROSS_UNITS:
        fn, lo, hi = ACROSS_UNITS[key]
        return Activation(key, fn, lo, hi, elementwise=False)
    if key not in _KERAS:
        known = ", ".join(sorted(_KERAS))
        raise UnsupportedModelError(f"unknown activation '{name}' (known: {known})")
    fn, lo, hi = _KERAS[key]
    return Activation(key, fn, lo, hi)


def onnx_activation(name: str, alpha: float | None = None, beta: float | None = None) -> Activation:
    """An ONNX RNN activation (``activations`` attribute) with its alpha/beta defaults."""
    key = name.lower()
    if key == "sigmoid":
        return Activation("Sigmoid", _sigmoid, 0.0, 1.0)
    if key == "tanh":
        return Activation("Tanh", np.tanh, -1.0, 1.0)
    if key == "relu":
        return Activation("Relu", lambda x: np.maximum(x, F32(0.0)), 0.0, INF)
    if key == "hardsigmoid":
        a, b = F32(0.2 if alpha is None else alpha), F32(0.5 if beta is None else beta)
        return Activation("HardSigmoid", lambda x: np.clip(a * x + b, F32(0), F32(1)), 0.0, 1.0)
    if key == "leakyrelu":
        a = F32(0.01 if alpha is None else alpha)
        return Activation("LeakyRelu", lambda x: np.where(x >= 0, x, a * x).astype(F32), -INF, INF)
    if key == "thresholdedrelu":
        a = F32(1.0 if alpha is None else alpha)
        return Activation("ThresholdedRelu", lambda x: np.where(x > a, x, F32(0)).astype(F32), 0.0, INF)
    if key == "scaledtanh":
        a, b = F32(1.0 if alpha is None else alpha), F32(1.0 if beta is None else beta)
        return Activation("ScaledTanh", lambda x: a * np.tanh(b * x), -abs(float(a)), abs(float(a)))
    if key == "affine":
        a, b = F32(1.0 if alpha is None else alpha), F32(0.0 if beta is None else beta)
        return Activation("Affine", lambda x: a * x + b, -INF, INF)
    if key == "elu":
        a = 1.0 if alpha is None else alpha
        return Activation("Elu", lambda x: _elu(x, a), -a, INF)
    if key == "softsign":
        return Activation("Softsign", _softsign, -1.0, 1.0)
    if key == "softplus":
        return Activation("Softplus", _softplus, 0.0, INF)
    raise UnsupportedModelError(f"unknown ONNX LSTM activation '{name}'")


SIGMOID = keras_activation("sigmoid")
TANH = keras_activation("tanh")
