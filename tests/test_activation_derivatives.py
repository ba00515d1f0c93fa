"""Every activation's derivative (engine/cells/activations.py) against jax.grad in float64, on points
away from kinks and on both sides of every flat region (hard_sigmoid's clip in both Keras
variants, relu6, hard_tanh ...). The across-units ones (softmax family) by their
vector-Jacobian product."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from engine.cells.activations import keras_activation, onnx_activation

jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
nn = jax.nn

# points avoiding every kink (0, +-0.5, +-1, +-2.5, +-3, 6) and covering every flat region
X = np.array([-7.3, -4.1, -2.9, -2.2, -1.3, -0.7, -0.3, 0.2, 0.6, 0.9, 1.7, 2.7, 3.4, 5.1, 7.8])

KERAS = {
    "tanh": jnp.tanh, "sigmoid": nn.sigmoid, "hard_sigmoid": nn.hard_sigmoid, "relu": nn.relu,
    "relu6": nn.relu6, "linear": lambda x: x, "softsign": nn.soft_sign, "softplus": nn.softplus,
    "elu": nn.elu, "selu": nn.selu, "celu": nn.celu, "silu": nn.silu, "swish": nn.silu,
    "hard_silu": nn.hard_silu, "hard_swish": nn.hard_silu,
    "gelu": lambda x: nn.gelu(x, approximate=False), "mish": nn.mish, "exponential": jnp.exp,
    "leaky_relu": lambda x: nn.leaky_relu(x, 0.2), "log_sigmoid": nn.log_sigmoid,
    "hard_tanh": nn.hard_tanh, "tanh_shrink": lambda x: x - jnp.tanh(x),
    "squareplus": lambda x: nn.squareplus(x, 4.0), "sparse_plus": nn.sparse_plus,
    "sparse_sigmoid": nn.sparse_sigmoid,
    "soft_shrink": lambda x: jnp.where(jnp.abs(x) > 0.5, x - jnp.sign(x) * 0.5, 0.0),
    "hard_shrink": lambda x: jnp.where(jnp.abs(x) > 0.5, x, 0.0),
    "gelu_approximate": lambda x: nn.gelu(x, approximate=True),
}


def _check(act, ref, what: str) -> None:
    x = X.astype(np.float64)
    want = np.asarray(jax.vmap(jax.grad(ref))(jnp.asarray(x)))
    got = act.derivative(x, np.asarray(act(x), np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=what)


@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_activation_derivative(name):
    _check(keras_activation(name), KERAS[name], name)


def test_legacy_hard_sigmoid_has_its_own_flat_regions():
    act = keras_activation("hard_sigmoid", hard_sigmoid="keras2")
    _check(act, lambda x: jnp.clip(0.2 * x + 0.5, 0.0, 1.0), "keras2 hard_sigmoid")
    d = act.derivative(X, act(X))
    assert np.all(d[np.abs(X) > 2.5] == 0) and np.all(d[np.abs(X) < 2.5] == np.float64(0.2))


@pytest.mark.parametrize("name,alpha,beta,ref", [
    ("Sigmoid", None, None, nn.sigmoid), ("Tanh", None, None, jnp.tanh), ("Relu", None, None, nn.relu),
    ("HardSigmoid", 0.3, 0.4, lambda x: jnp.clip(0.3 * x + 0.4, 0, 1)),
    ("LeakyRelu", 0.05, None, lambda x: nn.leaky_relu(x, 0.05)),
    ("ThresholdedRelu", 0.8, None, lambda x: jnp.where(x > 0.8, x, 0.0)),
    ("ScaledTanh", 1.7, 0.6, lambda x: 1.7 * jnp.tanh(0.6 * x)),
    ("Affine", 2.0, 0.5, lambda x: 2.0 * x + 0.5), ("Elu", 0.7, None, lambda x: nn.elu(x, 0.7)),
    ("Softsign", None, None, nn.soft_sign), ("Softplus", None, None, nn.softplus)])
def test_onnx_activation_derivative(name, alpha, beta, ref):
    _check(onnx_activation(name, alpha, beta), ref, name)


def _keras_sparsemax(x):
    """Keras 3's own sparsemax formula (see engine.cells.activations._sparsemax_last), in jax."""
    z = -jnp.sort(-x)
    cumsum = jnp.cumsum(z)
    r = jnp.arange(1, x.shape[-1] + 1)
    support = z - (cumsum - 1) / r > 0
    k = jnp.sum(support)
    tau = (jnp.sum(jnp.where(support, cumsum, 0.0)) - 1) / k
    return jnp.maximum(x - tau, 0.0)


@pytest.mark.parametrize("name,ref", [("softmax", nn.softmax), ("log_softmax", nn.log_softmax),
                                      ("sparsemax", _keras_sparsemax)])
def test_across_units_vjp(name, ref):
    act = keras_activation(name)
    x = np.array([0.31, -0.42, 0.27, 0.05, -0.9, 0.6])
    dy = np.array([0.3, -1.2, 0.7, 0.25, -0.4, 1.1])
    _, pullback = jax.vjp(ref, jnp.asarray(x))
    want = np.asarray(pullback(jnp.asarray(dy))[0])
    got = act.vjp(x, np.asarray(act(x), np.float64), dy)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9, err_msg=name)
