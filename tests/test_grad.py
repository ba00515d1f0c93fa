"""Gradients through a recorded run: finite differences (float64, a third reference besides
jax and torch), the target grammar, the API on results and sessions, and ``main.py grad``."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from engine import Session, load_model
from engine.gradients.grad_target import TargetError, parse_target
from tests.grad_refs import NumpyBackend, forward, params_for
from tests.helpers import FIXTURES, assert_close, load_reference, run_cli, run_cli_process

FD_CASES = [("onnx/peephole_clip.onnx", "sumsq(output[last])"),
            ("torch/lstm_proj.pt", "sumsq(output[:, last])"),
            ("keras3/masking_gaps.keras", "sumsq(output[:, last])")]


@pytest.mark.parametrize("path,target", FD_CASES)
def test_dx_matches_central_differences(path, target):
    """d target / d x by central differences of a float64 numpy forward (no autodiff at all)."""
    ref = load_reference(FIXTURES / (path.rsplit(".", 1)[0] + ".npz"))
    model = load_model(FIXTURES / path)
    result = model.trace(ref["x"])
    be = NumpyBackend()
    base = params_for(model, result, result.input)
    fn_sel = {"sumsq(output[last])": lambda o: np.sum(o[-1] ** 2),
              "sumsq(output[:, last])": lambda o: np.sum(o[:, -1] ** 2)}[target]

    def value(x):
        p = dict(base, x=x)
        return fn_sel(forward(be, model, p, concrete_x=result.input)[0])
    assert np.allclose(forward(be, model, base, concrete_x=result.input)[0], ref["output"], atol=1e-5)
    x0 = base["x"]
    fd = np.zeros_like(x0)
    eps = 1e-6
    for idx in np.ndindex(x0.shape):
        if path.startswith("keras3/masking") and not np.any(x0[idx[:2]] != 0):
            continue        # a masked step: moving x there would unmask it (no derivative)
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd[idx] = (value(xp) - value(xm)) / (2 * eps)
    ours = result.grad(target)
    assert_close(ours.dx_model, fd, f"{path}: dx_model vs finite differences")


def test_target_grammar_and_errors():
    t = parse_target("sumsq(output[:, last])")
    assert (t.array, t.reduce) == ("output", "sumsq")
    assert parse_target("h[0, -1, 2]").index == (0, -1, 2)
    assert parse_target("c[last, 3]").index == ("last", 3)
    for bad, words in [("h[1.5, 0]", "integer"), ("foo[1]", "not a target"),
                       ("exec(h[0, 0])", "unknown function"), ("h[0, 0", "cannot parse"),
                       ("", "empty"), ("h.x", "not a target"), ("sum(h[0,0], c[0,0])", "one selection")]:
        with pytest.raises(TargetError, match=words):
            parse_target(bad)


def test_last_and_batchless_targets_follow_the_contracts():
    """'last' is the final processed position (0 for a backward direction); h[t, j] is the
    sum over samples, so each sample's gradient is its own."""
    ref = load_reference(FIXTURES / "keras3/go_backwards_seq.npz")
    result = load_model(FIXTURES / "keras3/go_backwards_seq.keras").trace(ref["x"])
    tr = result.layer(0)
    assert tr.backward
    g_last = result.grad("h[1, last, 0]")
    g_zero = result.grad("h[1, 0, 0]")
    assert np.array_equal(g_last.dx, g_zero.dx)
    assert g_last.value == pytest.approx(float(tr.h[1, 0, 0]))
    both = result.grad("h[0, 2]")
    one = [result.grad(f"h[{b}, 0, 2]") for b in range(tr.batch)]
    for b in range(tr.batch):
        assert_close(both.dx[b], one[b].dx[b], "per-sample gradient")
    assert np.all(one[0].dx[1] == 0)
    with pytest.raises(TargetError, match="out of range"):
        result.grad("h[0, 99, 0]")
    with pytest.raises(TargetError, match="time step"):
        result.grad("output[last, 0, 0]")


def test_session_grad_matches_result_grad_and_is_cached():
    model = load_model("demo:counter")
    from engine.cli.commands import resolve_input
    x = resolve_input(model, None, None)
    s = Session(model, x)
    g = s.grad("c[last, 1]")
    assert g is s.grad("c[last, 1]")
    ref = model.trace(x).grad("c[last, 1]")
    assert np.array_equal(g.dc, ref.dc)
    assert g.dx_model is not None and g.dx_model.shape == (1, s.steps, 4)
    sal = g.saliency(0)
    assert sal.shape == (s.steps,) and np.all(sal >= 0)


def test_cli_grad_writes_the_arrays(tmp_path):
    out = tmp_path / "g.npz"
    ref = FIXTURES / "keras3/stacked2"
    np.save(tmp_path / "x.npy", load_reference(ref.with_suffix(".npz"))["x"])
    proc = run_cli_process("grad", str(ref.with_suffix(".keras")), "--input", str(tmp_path / "x.npy"),
                   "--layer", "1", "--target", "sumsq(output)", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as d:
        names = set(d.files)
        meta = json.loads(str(d["meta"]))
    layers = meta["layers"]
    assert {"dx", "dx_model", "dh", "dc", "dh0", "dc0"} <= names
    assert {f"{n}/dh0" for n in layers} | {f"{n}/dc0" for n in layers} <= names
    names_in_model = load_model(ref.with_suffix(".keras")).layer_names
    assert meta["layer"] == names_in_model[1] and sorted(layers) == sorted(names_in_model)
    bad = run_cli("grad", str(ref.with_suffix(".keras")), "--input", str(tmp_path / "x.npy"),
                  "--target", "h[0, 0", "--out", str(out))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    same = run_cli("grad", str(ref.with_suffix(".keras")), "--input", str(tmp_path / "x.npy"),
                   "--target", "h[0, 0, 0]", "--out", str(tmp_path / "x.npy"))
    assert same.returncode == 2 and "input" in same.stderr


def test_gradients_in_watches_and_breakpoints():
    """grad(c) / grad_norm(c) read the debugger's gradient target through the whole run: for
    a target at step k of a forward layer nothing after k matters, so the gradient is 0 there."""
    from engine.debugging.debugger import Debugger
    from engine.debugging.expr import ExprError
    model = load_model("demo:counter")
    from engine.cli.commands import resolve_input
    s = Session(model, resolve_input(model, None, None))
    dbg = Debugger(s, sample=0)
    k = 20
    dbg.set_grad_target(f"h[0, {k}, 2]")
    w = dbg.add_watch("grad_norm(c)")
    series = dbg.watch_series(w.id, full=True)
    g = s.grad(f"h[0, {k}, 2]")
    assert_close(series[0], np.linalg.norm(g.dc[0], axis=-1),
                 "grad_norm(c) watch")
    bp = dbg.add_breakpoint("grad_norm(c) < 1e-6")
    assert list(dbg.all_hits()[bp.id]) == [k + 1]
    dbg.add_watch("grad(c)[2] + grad_norm(x)")
    with pytest.raises(ExprError, match="takes h, c or x"):
        dbg.add_watch("grad(f)")


def _counter_session():
    from engine.cli.commands import resolve_input
    model = load_model("demo:counter")
    return Session(model, resolve_input(model, None, None))


def test_forget_product_and_memory_horizon():
    from engine.gradients.grad_views import forget_product, memory_horizon, target_position
    s = _counter_session()
    tr = s.full()
    k = 30
    fp = forget_product(tr, 0, k)
    assert np.all(np.isnan(fp[k + 1:])) and np.all(fp[k] == 1.0)
    assert_close(fp[10], np.prod(tr.f[0, 11:k + 1].astype(np.float64), axis=0), "product of f")
    # one factor at a time back from the target, as the definition reads: the same bits
    run, want = np.ones(tr.units), np.full(fp.shape, np.nan)
    for t in range(k, -1, -1):
        want[t], run = run, run * tr.f[0, t].astype(np.float64)
    assert np.array_equal(fp, want, equal_nan=True)
    for j in range(tr.units):              # one unit's product is that unit's column
        assert np.array_equal(forget_product(tr, 0, k, unit=j), fp[:, j], equal_nan=True)
    assert target_position("h[0, last, 2]", tr) == tr.steps - 1
    assert target_position("c[5, 1]", tr) == 5 and target_position("sum(output)", tr) is None
    # a made-up gradient: unit 0 decays by 10x a step behind the target, unit 1 never does
    dc = np.zeros((tr.steps, 2))
    dc[:k + 1, 0] = 10.0 ** -(k - np.arange(k + 1))
    dc[:k + 1, 1] = 1.0
    hz = memory_horizon(dc, tr, k)
    assert hz[0] == 3 and np.isinf(hz[1])
    assert np.isnan(memory_horizon(np.zeros((tr.steps, 1)), tr, k)[0])


def test_grad_health_flags_vanishing_and_exploding():
    from engine.gradients.grad_views import grad_health
    s = _counter_session()
    tr = s.full()
    g = s.grad("h[0, last, 2]")
    assert grad_health(g, tr, 0, tr.steps - 1).status == "ok"
    small = dataclasses.replace(g, dc=g.dc * 1e-9)
    assert grad_health(small, tr, 0, tr.steps - 1).status == "vanishing"
    big = dataclasses.replace(g, dc=g.dc * 1e6)
    assert grad_health(big, tr, 0, tr.steps - 1).status == "exploding"


def test_fork_gradient_cuts_hand_set_states():
    """Setting h and c of every unit at step k by hand: nothing before k reaches a later
    target. Setting h alone: the cell state still carries the gradient back."""
    from engine.debugging.debugger import Debugger
    from engine.gradients.grad_views import fork_gradient
    s = _counter_session()
    dbg = Debugger(s)
    k = 20
    target = f"h[0, {k + 10}, 2]"
    s.seek(k + 1)
    fh = dbg.fork_state("h", value=0.0, position=k)
    g_h = fork_gradient(s, fh, target)
    assert np.abs(g_h.dx[0, :k]).max() > 1e-4
    fhc = dbg.fork_state("c", value=0.0, position=k, parent=fh.name)
    g_hc = fork_gradient(s, fhc, target)
    assert np.all(g_hc.dx[0, :k + 1] == 0) and np.abs(g_hc.dx[0, k + 1:]).max() > 0
    # a perturbation cuts nothing: the fork's own run, differentiated like any run
    fp = dbg.perturb(2, 0.3, position=k)
    g_p = fork_gradient(s, fp, target)
    from engine.gradients.grad_layer import layer_backward
    from engine.gradients.grad_target import parse_target
    tr = fp.to_trace()
    seed, _ = parse_target(target).seed(tr.h, tr.steps - 1, 1)
    assert np.array_equal(g_p.dx, layer_backward(tr, seed).dx)


def test_models_trained_to_fail_show_vanishing_and_exploding_gradients():
    """scripts/make_failing_models.py: a forget gate saturated shut, a recurrent kernel that
    feeds the state with a gain above one. The verdict comes from the engine's gradients."""
    from engine.gradients.grad_views import grad_health
    verdicts = {}
    for name in ("saturated_forget", "exploding"):
        model = load_model(FIXTURES / "failing" / f"{name}.keras")
        x = np.load(FIXTURES / "failing" / f"{name}_input.npy")
        result = model.trace(x)
        g = result.grad("h[0, last, 0]")
        tr = result.layer(0)
        verdicts[name] = grad_health(g, tr, 0, tr.steps - 1).status
    assert verdicts == {"saturated_forget": "vanishing", "exploding": "exploding"}


def test_counter_depth_unit_remembers_the_whole_run():
    """The counter demo's depth unit (2): |d h_last[2] / d C_t[2]| never falls below 1 % of its
    peak, back to the first bracket, while its own forget gates multiply to well under 1 %:
    the memory is carried through the recurrent kernel too."""
    from engine.gradients.grad_views import forget_product, memory_horizon
    s = _counter_session()
    tr = s.full()
    g = s.grad("h[0, last, 2]")
    assert np.isinf(memory_horizon(g.dc[0], tr, tr.steps - 1)[2])
    assert forget_product(tr, 0, tr.steps - 1)[0, 2] < 0.01


@pytest.mark.parametrize("recurrent_activation", ["sigmoid", "hard_sigmoid"])
def test_a_step_masked_in_every_sample_passes_gradients_through(recurrent_activation):
    """Masking with the whole batch masked at some steps (the loop's shortcut) and the output
    read there (a plain LSTM repeats the carried h): equal to torch autograd."""
    from engine.cells.activations import keras_activation
    from engine.cells.cell import CellWeights
    from engine.network.layers import LSTM, Masking
    from engine.network.model import Model
    from tests.grad_refs import TorchBackend
    rng = np.random.default_rng(5)
    cell = CellWeights(rng.normal(0, .6, (2, 12)), rng.normal(0, .6, (3, 12)), rng.normal(0, .3, 12),
                       gate_activation=keras_activation(recurrent_activation))
    model = Model([Masking("m"), LSTM("lstm", cell, return_sequences=True)], source="masked")
    x = rng.normal(size=(2, 7, 2)).astype(np.float32)
    x[:, 3] = 0.0
    x[:, 5] = 0.0
    x[1, 1] = 0.0
    result = model.trace(x)
    ours = result.grad("sumsq(output)")
    be = TorchBackend()
    base = params_for(model, result, result.input)

    def fn(p):
        out, _ = forward(be, model, p, concrete_x=result.input)
        return (out * out).sum()
    g = be.grad(fn, base)
    assert_close(ours.dx_model, g["x"], "dx_model")
    assert_close(ours.dh, g["eh"]["lstm"], "dh")
    assert_close(ours.dc, g["ec"]["lstm"], "dc")
    assert_close(ours.dh0, g["h0"]["lstm"], "dh0")


def test_an_op_without_a_derivative_stops_the_gradient_with_a_warning():
    """An op the engine runs but cannot differentiate (a framework-captured op, say) before the
    LSTM: dx is still exact, dx_model is not written, and the result says where it stopped;
    after the LSTM it makes an output target an error, not a wrong number."""
    from dataclasses import dataclass

    from engine.cells.cell import CellWeights
    from engine.gradients.grad_target import TargetError
    from engine.network.layers import LSTM, Op
    from engine.network.model import Model

    @dataclass
    class Doubler(Op):
        name: str = "captured"
        kind: str = "captured op"

        def apply(self, x, mask, ctx):
            return x * np.float32(2.0), mask

    rng = np.random.default_rng(0)
    cell = CellWeights(rng.normal(0, .5, (2, 12)), rng.normal(0, .5, (3, 12)), np.zeros(12))
    x = rng.normal(size=(1, 5, 2)).astype(np.float32)
    before = Model([Doubler(), LSTM("lstm", cell, return_sequences=True)], source="m")
    g = before.trace(x).grad("h[0, last, 1]")
    assert g.dx_model is None and any("captured" in w for w in g.warnings)
    plain = Model([LSTM("lstm", cell, return_sequences=True)], source="m").trace(2 * x)
    assert_close(g.dx, plain.grad("h[0, last, 1]").dx, "dx through the LSTM alone")
    after = Model([LSTM("lstm", cell, return_sequences=True), Doubler()], source="m")
    with pytest.raises(TargetError, match="captured"):
        after.trace(x).grad("sum(output)")


def test_the_backward_pass_copies_a_seed_unless_it_is_handed_over():
    """layer_backward leaves the caller's seed alone; a target's own fresh seed
    (``own_seeds``) becomes the totals in place, the same numbers without a T x H copy."""
    from engine.gradients.grad_layer import layer_backward
    tr = _counter_session().full()
    seed = np.zeros((tr.batch, tr.steps, tr.weights.state_size), np.float32)
    seed[0, tr.steps - 1, 2] = 1.0
    kept = seed.copy()
    copied = layer_backward(tr, seed)
    assert np.array_equal(seed, kept) and not np.shares_memory(copied.dh, seed)
    owned = layer_backward(tr, seed, own_seeds=True)
    assert owned.dh is seed or np.shares_memory(owned.dh, seed)
    for key in ("dx", "dh", "dc", "dh0", "dc0"):
        assert np.array_equal(getattr(owned, key), getattr(copied, key)), key


def test_the_gradient_views_read_the_forget_gates_through_the_runs_store():
    """forget_record asks the run's store for f: a run in memory answers with its own gates
    (no copy), a checkpointed one recomputes them; the carousel is the same either way."""
    from engine.gradients.grad_views import forget_product, forget_record
    s = _counter_session()
    held = forget_record(s)
    assert np.shares_memory(held.f, s.full().gates) and forget_record(s) is held
    ck = forget_record(Session(s.model, s.x, checkpoint_above=0))
    for record in (held, ck):
        assert np.array_equal(forget_product(record, 0, 30), forget_product(s.full(), 0, 30),
                              equal_nan=True)
