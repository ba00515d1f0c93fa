"""The stepper's fast and general paths against the written spec, ``cell.lstm_step`` and
``cell.lstm_step_extended``: every recorded step, from the state the runner recorded before it,
with masks, go_backwards, peepholes, clip, projection and coupled input-forget. The backward
pass's two paths (``grad_layer``: the classic cell's whole-array loop and the general step)
against the backward spec, ``cell.lstm_step_vjp`` and ``cell.lstm_step_extended_vjp``, chained
over the run in reverse processing order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cells.activations import keras_activation
from engine.cells.cell import (
    CellWeights,
    lstm_step,
    lstm_step_extended,
    lstm_step_extended_vjp,
    lstm_step_vjp,
)
from engine.gradients.grad_layer import layer_backward
from engine.runs.stepper import DirectionRunner
from tests.generative import generative_settings
from tests.helpers import assert_close

ACTS = ["tanh", "sigmoid", "hard_sigmoid", "relu", "softsign", "linear", "softmax"]


@st.composite
def cells(draw, extended: bool):
    n = draw(st.integers(1, 9))
    d = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    extras = {}
    if extended:
        if draw(st.booleans()):
            extras["peephole"] = rng.normal(0, 0.7, (3, n)).astype(np.float32)
        if draw(st.booleans()):
            extras["cell_clip"] = float(draw(st.sampled_from([0.5, 1.0, 3.0])))
        if draw(st.booleans()):
            extras["projection"] = rng.normal(0, 0.5, (n, draw(st.integers(1, n)))).astype(np.float32)
        extras["input_forget"] = draw(st.booleans())
    h = extras["projection"].shape[1] if "projection" in extras else n
    act = keras_activation(draw(st.sampled_from(ACTS)))
    if not extended and draw(st.booleans()):       # the backward pass's specialised path
        return CellWeights(rng.normal(0, 0.6, (d, 4 * n)), rng.normal(0, 0.6, (h, 4 * n)),
                           rng.normal(0, 0.3, 4 * n))
    return CellWeights(rng.normal(0, 0.6, (d, 4 * n)), rng.normal(0, 0.6, (h, 4 * n)),
                       rng.normal(0, 0.3, 4 * n),
                       gate_activation=keras_activation(draw(st.sampled_from(["sigmoid", "hard_sigmoid", "tanh"]))),
                       cell_activation=act, output_activation=act, **extras)


@st.composite
def runs(draw, extended: bool = False):
    w = draw(cells(extended))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    b, t = draw(st.integers(1, 3)), draw(st.integers(1, 12))
    x = rng.normal(size=(b, t, w.input_dim)).astype(np.float32)
    mask = rng.random((b, t)) > 0.3 if draw(st.booleans()) else None
    h0 = rng.normal(0, 0.5, (b, w.state_size)).astype(np.float32)
    c0 = rng.normal(0, 0.5, (b, w.units)).astype(np.float32)
    runner = DirectionRunner("spec", w, x, backward=draw(st.booleans()), mask=mask, h0=h0, c0=c0)
    if draw(st.booleans()):
        runner.run()
    else:                          # the debugger's way: one step at a time, same buffers
        for p in range(t):
            runner.step(p)
    return runner


def check_against_spec(r: DirectionRunner, spec) -> None:
    for p in range(r.steps):
        t = r.position(p)
        h_prev, c_prev = r.state_before(p)
        valid = r.mask[:, t]
        i, f, g, o, c, h = spec(r.weights, r.x[:, t], h_prev, c_prev)
        for k, (name, ref) in enumerate(zip("ifgo", (i, f, g, o))):
            assert_close(r.gates[valid, t, k], ref[valid], f"{name} at p={p}")
            assert np.all(np.isnan(r.gates[~valid, t, k])), f"{name} masked at p={p}"
        assert_close(r.c[valid, t], c[valid], f"c at p={p}")
        assert_close(r.h[valid, t], h[valid], f"h at p={p}")
        assert np.array_equal(r.c[~valid, t], c_prev[~valid]), "a masked step carries c"
        assert np.array_equal(r.h[~valid, t], h_prev[~valid]), "a masked step carries h"


@settings(max_examples=80, deadline=None, derandomize=True)
@given(runs())
def test_fast_path_is_the_spec(runner):
    assert runner.weights.is_plain
    check_against_spec(runner, lstm_step)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(runs(extended=True))
def test_general_path_is_the_extended_spec(runner):
    check_against_spec(runner, lstm_step_extended)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(runs())
def test_the_extended_spec_reduces_to_the_plain_one(runner):
    w, h0, c0 = runner.weights, runner.h0, runner.c0
    for a, b in zip(lstm_step(w, runner.x[:, 0], h0, c0), lstm_step_extended(w, runner.x[:, 0], h0, c0)):
        assert np.array_equal(a, b)


def test_peephole_terms_are_recorded_and_part_of_z():
    rng = np.random.default_rng(0)
    n, d = 3, 2
    w = CellWeights(rng.normal(size=(d, 4 * n)), rng.normal(size=(n, 4 * n)), rng.normal(size=4 * n),
                    peephole=rng.normal(size=(3, n)).astype(np.float32))
    r = DirectionRunner("p", w, rng.normal(size=(1, 4, d)))
    r.run()
    tr = r.to_trace()
    c_prev = np.concatenate([tr.c0[:, None], tr.c[:, :-1]], axis=1)
    assert_close(tr.zp[:, :, 0], w.peephole[0] * c_prev, "p_i * c_prev")
    assert_close(tr.zp[:, :, 1], w.peephole[1] * c_prev, "p_f * c_prev")
    assert_close(tr.zp[:, :, 3], w.peephole[2] * tr.c, "p_o * c")
    assert_close(w.gate_activation(tr.signal("z_o")), tr.o, "o = act(z_o), peephole included")


def test_one_unit_batch_with_sigmoid_candidate():
    """A (B, 1) gate block is a strided view: every in-place ufunc must honour its strides."""
    sig = keras_activation("sigmoid")
    w = CellWeights(np.array([[0.075, -0.079, 0.384, 0.063]]), np.array([[-0.32, 0.22, 0.78, 0.57]]),
                    np.zeros(4), gate_activation=sig, cell_activation=sig, output_activation=sig)
    r = DirectionRunner("one", w, np.array([[[-0.7]], [[-1.27]]], np.float32))
    r.run()
    check_against_spec(r, lstm_step)


def test_the_classic_cell_is_known_by_its_functions_whatever_the_framework_names_them():
    from engine.cells.activations import onnx_activation
    rng = np.random.default_rng(0)
    k, u, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), np.zeros(8)
    assert CellWeights(k, u, b).is_classic
    onnx = CellWeights(k, u, b, gate_activation=onnx_activation("Sigmoid"),
                       cell_activation=onnx_activation("Tanh"), output_activation=onnx_activation("Tanh"))
    assert onnx.is_classic
    assert not CellWeights(k, u, b, gate_activation=keras_activation("hard_sigmoid")).is_classic
    assert not CellWeights(k, u, b, output_activation=keras_activation("relu")).is_classic
    assert not CellWeights(k, u, b, peephole=np.zeros((3, 2), np.float32)).is_classic


def spec_backward(r: DirectionRunner, dh_ext: np.ndarray, dc_ext: np.ndarray, vjp):
    """The layer's backward built from the one-step spec alone: in reverse processing order,
    each step gets dL/dh_t (from outside plus the next step) and the gradient reaching c_t from
    outside h_t; a masked step passes both through unchanged."""
    b, t_len = r.batch, r.steps
    dx = np.zeros((b, t_len, r.weights.input_dim), np.float32)
    dh_all, dc_all = np.zeros_like(dh_ext), np.zeros_like(dc_ext)
    carry_h = np.zeros((b, r.weights.state_size), np.float32)
    carry_c = np.zeros((b, r.units), np.float32)
    for p in reversed(range(t_len)):
        t = r.position(p)
        h_prev, c_prev = r.state_before(p)
        dh, dc_in = dh_ext[:, t] + carry_h, dc_ext[:, t] + carry_c
        dx_t, dh_prev, dc_prev, dc_t = vjp(r.weights, r.x[:, t], h_prev, c_prev, dh, dc_in)
        valid = r.mask[:, t][:, None]
        dx[:, t] = np.where(valid, dx_t, 0.0)
        dh_all[:, t], dc_all[:, t] = dh, np.where(valid, dc_t, dc_in)
        carry_h, carry_c = np.where(valid, dh_prev, dh), np.where(valid, dc_prev, dc_in)
    return dx, dh_all, dc_all, carry_h, carry_c


def check_backward_against_spec(r: DirectionRunner, seed: int, vjp) -> None:
    rng = np.random.default_rng(seed)
    dh_ext = rng.normal(size=(r.batch, r.steps, r.weights.state_size)).astype(np.float32)
    dc_ext = rng.normal(size=(r.batch, r.steps, r.units)).astype(np.float32)
    ours = layer_backward(r.to_trace(), dh_ext, dc_ext)
    dx, dh, dc, dh0, dc0 = spec_backward(r, dh_ext, dc_ext, vjp)
    assert_close(ours.dx, dx, "dx")
    assert_close(ours.dh, dh, "dh (total)")
    assert_close(ours.dc, dc, "dc (total)")
    assert_close(ours.dh0, dh0, "dh0")
    assert_close(ours.dc0, dc0, "dc0")


@pytest.mark.generative
@generative_settings(60)
@given(runs(), st.integers(0, 2**31 - 1))
def test_backward_paths_are_the_vjp_spec(runner, seed):
    check_backward_against_spec(runner, seed, lstm_step_vjp)


@pytest.mark.generative
@generative_settings(60)
@given(runs(extended=True), st.integers(0, 2**31 - 1))
def test_general_backward_path_is_the_extended_vjp_spec(runner, seed):
    check_backward_against_spec(runner, seed, lstm_step_extended_vjp)


@pytest.mark.generative
@generative_settings(60)
@given(st.one_of(runs(), runs(extended=True)), st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_a_backward_pass_in_blocks_of_steps_is_the_vjp_spec(runner, seed, block):
    """A long run's backward pass holds its local derivatives and dL/dz a block of steps at a
    time (``grad_layer.BLOCK_STEPS``): cut into blocks of 1 to 5 steps, both paths still
    follow the spec, carries crossing every block edge (either direction, masked steps)."""
    from unittest import mock

    import engine.gradients.grad_layer as grad_layer
    with mock.patch.object(grad_layer, "BLOCK_STEPS", block):
        check_backward_against_spec(runner, seed, lstm_step_extended_vjp)


@pytest.mark.generative
@generative_settings(30)
@given(runs(), st.integers(0, 2**31 - 1))
def test_the_extended_vjp_spec_reduces_to_the_plain_one(runner, seed):
    rng = np.random.default_rng(seed)
    w, h0, c0 = runner.weights, runner.h0, runner.c0
    dh = rng.normal(size=h0.shape).astype(np.float32)
    dc = rng.normal(size=c0.shape).astype(np.float32)
    for a, b in zip(lstm_step_vjp(w, runner.x[:, 0], h0, c0, dh, dc),
                    lstm_step_extended_vjp(w, runner.x[:, 0], h0, c0, dh, dc)):
        assert np.array_equal(a, b)


def _central_differences(spec, w, args, dh_new, dc_new, eps=1e-5):
    """d(dh_new . h_t + dc_new . c_t)/d(each of x, h, c), by central differences."""
    def loss(x, h, c):
        *_, c_t, h_t = spec(w, x, h, c)
        return float(np.dot(dh_new, h_t) + np.dot(dc_new, c_t))
    grads = []
    for k, arg in enumerate(args):
        grad = np.zeros_like(arg)
        for e in range(arg.size):
            hi, lo = list(args), list(args)
            hi[k], lo[k] = arg.copy(), arg.copy()
            hi[k][e] += eps
            lo[k][e] -= eps
            grad[e] = (loss(*hi) - loss(*lo)) / (2 * eps)
        grads.append(grad)
    return grads


def test_the_vjp_spec_is_the_derivative_of_the_step():
    """Central differences of the forward spec in float64: the backward spec is its
    derivative, not a copy of the fast paths' arithmetic."""
    rng = np.random.default_rng(3)
    n, d = 3, 2
    for gate in ("sigmoid", "hard_sigmoid"):
        for extras in ({}, {"peephole": rng.normal(0, 0.5, (3, n)), "cell_clip": 2.0},
                       {"input_forget": True, "projection": rng.normal(0, 0.5, (n, 2))}):
            w = CellWeights(rng.normal(0, 0.6, (d, 4 * n)),
                            rng.normal(0, 0.6, (2 if "projection" in extras else n, 4 * n)),
                            rng.normal(0, 0.3, 4 * n), gate_activation=keras_activation(gate),
                            **extras)
            pairs = [(lstm_step_extended, lstm_step_extended_vjp)]
            if not extras:
                pairs.append((lstm_step, lstm_step_vjp))
            for spec, vjp in pairs:
                args = (rng.normal(size=d), rng.normal(size=w.state_size), rng.normal(size=n))
                dh_new, dc_new = rng.normal(size=w.state_size), rng.normal(size=n)
                ours = vjp(w, *args, dh_new, dc_new)[:3]
                for name, grad, fd in zip("xhc", ours, _central_differences(spec, w, args, dh_new, dc_new)):
                    assert np.allclose(grad, fd, rtol=1e-4, atol=1e-4), f"{spec.__name__} {extras} d{name}"
