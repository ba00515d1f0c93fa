"""Element-wise activation functions by the names frameworks use, in float32.

Each activation knows its output range, which the GUI needs for shared gate scales and the
debugger needs for "saturated" (within 5 % of either end), and its derivative, which the
backward pass through a recorded run needs (``engine.gradients.grad``): flat regions (hard_sigmoid's
clip, relu's negative side) have derivative 0 there, kinks take the side the frameworks' own
autograd takes (the open interval). Keras 3 and Keras 2 disagree on ``hard_sigmoid``; loaders
pass ``hard_sigmoid="keras2"`` for files written by Keras 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedModelError

ArrayFn = Callable[[np.ndarray], np.ndarray]
DerivFn = Callable[[np.ndarray, np.ndarray], np.ndarray]        # (x, y=fn(x)) -> dy/dx
VjpFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (x, y, dy) -> dx
F32 = np.float32


@dataclass(frozen=True)
class Activation:
    """A named element-wise function with its output range (lo, hi; inf where unbounded)."""

    name: str
    fn: ArrayFn
    lo: float
    hi: float
    elementwise: bool = True    # False: acts across the units of one gate (softmax family)
    d: DerivFn | None = None    # element-wise derivative from (x, y)
    vjp_fn: VjpFn | None = None  # across-units ones: vector-Jacobian product on the last axis

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)

    def derivative(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dy/dx element-wise at pre-activation x with output y (y saves recomputing)."""
        if self.d is None:
            raise UnsupportedModelError(f"activation '{self.name}' has no derivative")
        return self.d(x, y)

    def vjp(self, x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """dL/dx from dL/dy: element-wise, or across the last axis for the softmax family."""
        if self.vjp_fn is not None:
            return self.vjp_fn(x, y, dy)
        return dy * self.derivative(x, y)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    @property
    def is_sigmoid(self) -> bool:
        """The logistic sigmoid, by whichever name its framework gave it (Keras ``sigmoid``,
        ONNX ``Sigmoid``): the one the fast paths compute with their own in-place formulas."""
        return self.name in ("sigmoid", "Sigmoid")

    @property
    def is_tanh(self) -> bool:
        """tanh, by whichever name its framework gave it (Keras ``tanh``, ONNX ``Tanh``)."""
        return self.name in ("tanh", "Tanh")


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


# --- derivatives (x, y) -> dy/dx, in x's dtype -------------------------------------------------
def _ones(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def _inside(lo: float, hi: float, slope: float) -> DerivFn:
    """Derivative of a clip-shaped function: ``slope`` on the open interval (lo, hi), else 0."""
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where((x > lo) & (x < hi), slope, 0.0).astype(x.dtype)
    return d


def _d_sigmoid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y * (1 - y)


def _d_tanh(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1 - y * y


def _sigmoid_of(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _d_softplus(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _sigmoid_of(x)


def _d_elu(alpha: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype)
    return d


def _d_selu(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return (scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))).astype(x.dtype)


def _d_celu(alpha: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha)).astype(x.dtype)
    return d


def _d_silu(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = _sigmoid_of(x)
    return s * (1 + x * (1 - s))


def _d_hard_silu(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    hs = np.clip(x / 6 + 0.5, 0, 1)
    return hs + x * np.where((x > -3) & (x < 3), 1 / 6, 0.0)


def _d_gelu(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    cdf = 0.5 * (1.0 + _erf(x64 / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2.0 * math.pi)
    return (cdf + x64 * pdf).astype(x.dtype)


def _d_gelu_tanh(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    c = math.sqrt(2.0 / math.pi)
    u = np.tanh(c * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + u) + 0.5 * x * (1 - u * u) * c * (1 + 3 * 0.044715 * x * x)


def _d_mish(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = np.tanh(np.logaddexp(x, 0))
    return t + x * (1 - t * t) * _sigmoid_of(x)


def _d_softsign(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.abs(x)) ** 2


def _d_exponential(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y


def _d_leaky(slope: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(x >= 0, 1.0, slope).astype(x.dtype)
    return d


def _d_log_sigmoid(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return _sigmoid_of(-x)


def _d_tanh_shrink(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return t * t


def _d_squareplus(b: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 0.5 * (1 + x / np.sqrt(x * x + b))
    return d


def _d_sparse_plus(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, (x + 1) / 2)).astype(x.dtype)


def _d_shrink(thr: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.abs(x) > thr).astype(x.dtype)
    return d


def _d_relu(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x > 0).astype(x.dtype)


def _d_thresholded(alpha: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x > alpha).astype(x.dtype)
    return d


def _d_scaled_tanh(a: float, b: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = np.tanh(b * x)
        return a * b * (1 - t * t)
    return d


def _d_const(v: float) -> DerivFn:
    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.full_like(x, v)
    return d


# across the last axis (the softmax family): vector-Jacobian products
def _vjp_softmax(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def _vjp_log_softmax(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    return dy - np.exp(y) * np.sum(dy, axis=-1, keepdims=True)


def _vjp_sparsemax(x: np.ndarray, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Through Keras' own threshold tau = (sum_{r<=k} cumsum_r - 1) / k (see _sparsemax_last),
    k the size of *its* support (which may exceed the outputs above 0):
    d tau / d x_j = (k - rank_j + 1) / k for the j ranked in the top k (rank from 1), else 0."""
    z = -np.sort(-x, axis=-1)
    r = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    k = np.sum(z - (np.cumsum(z, axis=-1) - 1) / r > 0, axis=-1, keepdims=True)
    order = np.argsort(-x, axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(1, x.shape[-1] + 1), order.shape),
                      axis=-1)
    dtau = np.where(rank <= k, (k - rank + 1) / np.maximum(k, 1), 0.0)
    on = y > 0
    return np.where(on, dy, 0.0) - dtau * np.sum(np.where(on, dy, 0.0), axis=-1, keepdims=True)


INF = math.inf

_KERAS: dict[str, tuple[ArrayFn, float, float, DerivFn]] = {
    "tanh": (np.tanh, -1.0, 1.0, _d_tanh),
    "sigmoid": (_sigmoid, 0.0, 1.0, _d_sigmoid),
    "hard_sigmoid": (_hard_sigmoid_keras3, 0.0, 1.0, _inside(-3.0, 3.0, 1 / 6)),
    "relu": (lambda x: np.maximum(x, F32(0.0)), 0.0, INF, _d_relu),
    "relu6": (lambda x: np.clip(x, F32(0.0), F32(6.0)), 0.0, 6.0, _inside(0.0, 6.0, 1.0)),
    "linear": (lambda x: x, -INF, INF, _ones),
    "softsign": (_softsign, -1.0, 1.0, _d_softsign),
    "softplus": (_softplus, 0.0, INF, _d_softplus),
    "elu": (_elu, -1.0, INF, _d_elu(1.0)),
    "selu": (_selu, -1.7580993408473766, INF, _d_selu),
    "celu": (_celu, -1.0, INF, _d_celu(1.0)),
    "silu": (_silu, -0.2784645427610738, INF, _d_silu),
    "swish": (_silu, -0.2784645427610738, INF, _d_silu),
    "hard_silu": (_hard_silu, -0.375, INF, _d_hard_silu),
    "hard_swish": (_hard_silu, -0.375, INF, _d_hard_silu),
    "gelu": (_gelu, -0.17, INF, _d_gelu),
    "mish": (_mish, -0.31, INF, _d_mish),
    "exponential": (_exponential, 0.0, INF, _d_exponential),
    "leaky_relu": (_leaky_relu, -INF, INF, _d_leaky(0.2)),
    "log_sigmoid": (_log_sigmoid, -INF, 0.0, _d_log_sigmoid),
    "hard_tanh": (lambda x: np.clip(x, F32(-1.0), F32(1.0)), -1.0, 1.0, _inside(-1.0, 1.0, 1.0)),
    "tanh_shrink": (lambda x: x - np.tanh(x), -INF, INF, _d_tanh_shrink),
    "squareplus": (_squareplus, 0.0, INF, _d_squareplus(4.0)),
    "sparse_plus": (_sparse_plus, 0.0, INF, _d_sparse_plus),
    "sparse_sigmoid": (_sparse_sigmoid, 0.0, 1.0, _inside(-1.0, 1.0, 0.5)),
    "soft_shrink": (lambda x: _shrink(x, 0.5, True), -INF, INF, _d_shrink(0.5)),
    "hard_shrink": (lambda x: _shrink(x, 0.5, False), -INF, INF, _d_shrink(0.5)),
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
ACROSS_UNITS: dict[str, tuple[ArrayFn, float, float, VjpFn]] = {
    "softmax": (_softmax_last, 0.0, 1.0, _vjp_softmax),
    "log_softmax": (_log_softmax_last, -INF, 0.0, _vjp_log_softmax),
    "sparsemax": (_sparsemax_last, 0.0, 1.0, _vjp_sparsemax),
}

NOT_ELEMENTWISE = {"glu"}


def keras_activation(name: str | None, *, hard_sigmoid: str = "keras3") -> Activation:
    """The activation a Keras file names; ``hard_sigmoid`` picks the writer's definition."""
    key = (name or "linear").lower()
    key = _ALIASES.get(key, key)
    if key == "hard_sigmoid" and hard_sigmoid == "keras2":
        return Activation("hard_sigmoid (Keras 2: clip(0.2x+0.5))", _hard_sigmoid_keras2, 0.0, 1.0,
                          d=_inside(-2.5, 2.5, 0.2))
    if key == "gelu_tanh":
        return Activation("gelu (tanh approximation)", _gelu_tanh, -0.17, INF, d=_d_gelu_tanh)
    if key in NOT_ELEMENTWISE:
        raise UnsupportedModelError(
            f"activation '{name}' is not element-wise and cannot drive an LSTM gate")
    if key in ACROSS_UNITS:
        fn, lo, hi, vjp = ACROSS_UNITS[key]
        return Activation(key, fn, lo, hi, elementwise=False, vjp_fn=vjp)
    if key not in _KERAS:
        known = ", ".join(sorted(_KERAS))
        raise UnsupportedModelError(f"unknown activation '{name}' (known: {known})")
    fn, lo, hi, d = _KERAS[key]
    return Activation(key, fn, lo, hi, d=d)


def onnx_activation(name: str, alpha: float | None = None, beta: float | None = None) -> Activation:
    """An ONNX RNN activation (``activations`` attribute) with its alpha/beta defaults."""
    key = name.lower()
    if key == "sigmoid":
        return Activation("Sigmoid", _sigmoid, 0.0, 1.0, d=_d_sigmoid)
    if key == "tanh":
        return Activation("Tanh", np.tanh, -1.0, 1.0, d=_d_tanh)
    if key == "relu":
        return Activation("Relu", lambda x: np.maximum(x, F32(0.0)), 0.0, INF, d=_d_relu)
    if key == "hardsigmoid":
        a, b = F32(0.2 if alpha is None else alpha), F32(0.5 if beta is None else beta)
        lo, hi = sorted(((0 - float(b)) / float(a), (1 - float(b)) / float(a))) if a else (INF, -INF)
        return Activation("HardSigmoid", lambda x: np.clip(a * x + b, F32(0), F32(1)), 0.0, 1.0,
                          d=_inside(lo, hi, float(a)))
    if key == "leakyrelu":
        a = F32(0.01 if alpha is None else alpha)
        return Activation("LeakyRelu", lambda x: np.where(x >= 0, x, a * x).astype(F32), -INF, INF,
                          d=_d_leaky(float(a)))
    if key == "thresholdedrelu":
        a = F32(1.0 if alpha is None else alpha)
        return Activation("ThresholdedRelu", lambda x: np.where(x > a, x, F32(0)).astype(F32), 0.0, INF,
                          d=_d_thresholded(float(a)))
    if key == "scaledtanh":
        a, b = F32(1.0 if alpha is None else alpha), F32(1.0 if beta is None else beta)
        return Activation("ScaledTanh", lambda x: a * np.tanh(b * x), -abs(float(a)), abs(float(a)),
                          d=_d_scaled_tanh(float(a), float(b)))
    if key == "affine":
        a, b = F32(1.0 if alpha is None else alpha), F32(0.0 if beta is None else beta)
        return Activation("Affine", lambda x: a * x + b, -INF, INF, d=_d_const(float(a)))
    if key == "elu":
        a = 1.0 if alpha is None else alpha
        return Activation("Elu", lambda x: _elu(x, a), -a, INF, d=_d_elu(a))
    if key == "softsign":
        return Activation("Softsign", _softsign, -1.0, 1.0, d=_d_softsign)
    if key == "softplus":
        return Activation("Softplus", _softplus, 0.0, INF, d=_d_softplus)
    raise UnsupportedModelError(f"unknown ONNX LSTM activation '{name}'")


SIGMOID = keras_activation("sigmoid")
TANH = keras_activation("tanh")
