"""Forks: edits of h, c, x_t, perturb and decouple against an independent numpy LSTM; the
original stays bit-identical; forks share their parent's prefix and x . W."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ScopeError, Session
from engine.cells.cell import CellWeights
from engine.debugging.debugger import Debugger
from engine.loaders.demos import random_model
from engine.network.layers import LSTM
from engine.network.model import Model
from engine.what_if.forks import decoupled_kernel
from tests import reference
from tests.helpers import assert_close

N, D, T = 10, 4, 60


def make(backward=False, batch=2, seed=1, steps=T):
    w = random_model(N, D, seed=seed).ops[0].weights
    model = Model([LSTM("lstm", w, return_sequences=True, go_backwards=backward)], source="test")
    x = np.random.default_rng(seed).normal(0, 1.5, (batch, steps, D)).astype(np.float32)
    return model, x, w


def ref(model, x, w, **kw):
    return reference.lstm(x, w.kernel, w.recurrent_kernel, w.bias, **kw)


def snapshot(s: Session):
    full = s.full()
    out = {k: getattr(full, k).tobytes() for k in ("gates", "zx", "zh", "c", "h", "x")}
    out.update({"live_" + k: getattr(s.trace, k).tobytes() for k in ("gates", "zx", "zh", "c", "h", "x")})
    out["U"] = s.info.weights.recurrent_kernel.tobytes()
    out["model_U"] = model_u(s).tobytes()
    return out


def model_u(s):
    return s.model.ops[0].weights.recurrent_kernel


@pytest.mark.parametrize("backward", [False, True])
def test_state_edits_match_numpy_and_leave_the_original_alone(backward):
    model, x, w = make(backward)
    s = Session(model, x)
    s.seek(25)
    dbg = Debugger(s)
    before = snapshot(s)
    pos = s.cursor
    assert pos == (T - 25 if backward else 24)

    f_h = dbg.fork_state("h", unit=3, value=0.75)
    f_c = dbg.fork_state("c", value=np.linspace(-2, 2, N))
    f_x = dbg.fork_input([0.5, -1.0, 2.0, 0.0], position=10)
    f_p = dbg.perturb(7, -0.4)
    f_d = dbg.decouple()

    def set_h(h, c):
        h[:, 3] = 0.75
        return h, c

    def set_c(h, c):
        c[:] = np.linspace(-2, 2, N).astype(np.float32)
        return h, c

    def bump(h, c):
        h[:, 7] += np.float32(-0.4)
        return h, c

    x_edit = x.copy()
    x_edit[:, 10] = [0.5, -1.0, 2.0, 0.0]
    u_dec = decoupled_kernel(w).astype(np.float64)
    cases = {
        f_h: ref(model, x, w, backward=backward, edits={pos: set_h}),
        f_c: ref(model, x, w, backward=backward, edits={pos: set_c}),
        f_x: ref(model, x_edit, w, backward=backward),
        f_p: ref(model, x, w, backward=backward, edits={pos: bump}),
        f_d: reference.lstm(x, w.kernel, u_dec, w.bias, backward=backward),
    }
    for fork, (h_ref, c_ref) in cases.items():
        assert_close(fork.signal("h"), h_ref, fork.name + " h")
        assert_close(fork.signal("c"), c_ref, fork.name + " c")
    # the decoupled U really has only each gate block's diagonal
    for k in range(4):
        block = u_dec[:, k * N:(k + 1) * N]
        assert np.array_equal(block, np.diag(np.diag(block)))
    assert not np.array_equal(u_dec, w.recurrent_kernel)
    for fork in cases:
        fork.to_trace()
    for name in list(dbg.forks.names()):
        dbg.delete_fork(name)
    assert snapshot(s) == before          # original run, live buffers and model: bit-identical


def test_diff_is_zero_before_the_edit_and_nonzero_after():
    model, x, _ = make()
    s = Session(model, x)
    s.seek(30)
    dbg = Debugger(s)
    fork = dbg.perturb(2, 0.5)
    d = fork.diff("h")
    assert np.all(d[:, :29] == 0)
    np.testing.assert_allclose(d[:, 29, 2], 0.5, rtol=1e-6)
    assert np.abs(d[:, 31:]).max() > 0
    for name in ("f", "z_i", "zh_o", "c", "x"):
        dd = fork.diff(name)
        assert np.all(dd[:, :29] == 0), name
    assert np.all(fork.diff("x") == 0)
    assert np.all(fork.diff("zx_f") == 0)


def peephole_model(seed=3):
    """The make() cell with ONNX-style peepholes (i, f, o), which LayerTrace.z includes."""
    w = random_model(N, D, seed=seed).ops[0].weights
    rng = np.random.default_rng(seed)
    w = CellWeights(w.kernel, w.recurrent_kernel, w.bias,
                    peephole=rng.normal(0, 0.8, (3, N)).astype(np.float32))
    model = Model([LSTM("lstm", w, return_sequences=True)], source="test")
    x = rng.normal(0, 1.5, (2, 20, D)).astype(np.float32)
    return model, x


def test_peephole_fork_signals_include_the_peephole_term():
    model, x = peephole_model()
    s = Session(model, x)
    s.seek(8)
    fork = Debugger(s).perturb(1, 0.5, position=7)
    for name in ("z_i", "z_f", "z_o", "zx_i", "zh_f", "i", "c", "h"):
        d = fork.diff(name)
        assert np.all(d[:, :7] == 0), name          # the docstring's promise: exactly 0 before
        assert np.array_equal(fork.signal(name)[:, :7], s.full().signal(name)[:, :7]), name
    tr = fork.to_trace()
    assert tr.zp is not None
    assert np.array_equal(tr.z[:, :7], s.full().z[:, :7])
    assert np.abs(fork.diff("z_o")[:, 8:]).max() > 0


def test_fork_tree_delete_and_undo():
    model, x, w = make()
    s = Session(model, x)
    s.seek(20)
    dbg = Debugger(s)
    dbg.fork_state("h", unit=0, value=1.0, name="a")
    b = dbg.fork_state("c", unit=5, value=-3.0, position=40, parent="a", name="b")
    c = dbg.fork_input(np.ones(D), position=45, parent="b", name="c")
    sib = dbg.perturb(1, 0.2, position=50, parent="a", name="sib")
    h_b, h_c, h_sib = b.signal("h").copy(), c.signal("h").copy(), sib.signal("h").copy()

    def h0_edit(h, cc):
        h[:, 0] = 1.0
        return h, cc

    def c5_edit(h, cc):
        cc[:, 5] = -3.0
        return h, cc
    xc = x.copy()
    xc[:, 45] = 1.0
    assert_close(h_c, ref(model, xc, w, edits={19: h0_edit, 40: c5_edit})[0], "chain")
    # b's window covers the input edit of its child only through the child (no CoW needed)
    assert np.shares_memory(b.window.zx, s.full_runner().zx)
    # deleting a parent never touches a child or a sibling
    dbg.delete_fork("a")
    assert dbg.forks.names() == ["b", "c", "sib"]
    assert np.array_equal(b.signal("h"), h_b) and np.array_equal(c.signal("h"), h_c)
    assert np.array_equal(sib.signal("h"), h_sib)
    assert dbg.forks.parent_name(b) is None and [e.kind for e in dbg.forks.hidden_chain(b)] == ["h"]
    # undo c's edit: c goes, its parent b is where the user is back to
    assert dbg.undo("c") == "b"
    assert dbg.forks.names() == ["b", "sib"]
    assert np.array_equal(b.signal("h"), h_b)
    with pytest.raises(ScopeError):
        dbg.forks.get("c")
    with pytest.raises(ScopeError, match="exists"):
        dbg.perturb(1, 0.1, name="b")


def test_child_with_ancestor_input_edit_inside_window_copies_on_write():
    model, x, w = make()
    s = Session(model, x)
    dbg = Debugger(s)
    xin = dbg.fork_input(np.full(D, 3.0), position=40, name="x40")
    child = dbg.fork_state("h", unit=2, value=0.0, position=10, parent="x40", name="child")
    assert not np.shares_memory(child.window.zx, s.full_runner().zx)
    xe = x.copy()
    xe[:, 40] = 3.0

    def edit(h, c):
        h[:, 2] = 0.0
        return h, c
    assert_close(child.signal("h"), ref(model, xe, w, edits={10: edit})[0], "cow")
    assert_close(xin.signal("x"), xe, "x")
    assert_close(child.signal("x"), xe, "x child")


def test_edits_of_a_decoupled_fork_keep_its_kernel():
    model, x, w = make()
    s = Session(model, x)
    dbg = Debugger(s)
    dec = dbg.decouple(name="dec")
    p = dbg.perturb(4, 1.0, position=30, parent="dec")
    u = decoupled_kernel(w).astype(np.float64)

    def bump(h, c):
        h[:, 4] += 1.0
        return h, c
    h_ref, _ = reference.lstm(x, w.kernel, u, w.bias, edits={30: bump})
    assert_close(p.signal("h"), h_ref, "perturbed decoupled")
    assert dec.weights is p.weights
    assert model_u(s) is w.recurrent_kernel


def test_incremental_fork_follows_the_cursor():
    model, x, _ = make()
    s = Session(model, x)
    s.seek(10)
    dbg = Debugger(s)
    fork = dbg.perturb(0, 0.3)
    assert fork.computed == 10                      # nothing after the edit computed yet
    fork.ensure(25)
    assert fork.computed == 25
    partial = fork.signal("h", computed_only=True)
    assert np.isnan(partial[:, 25:]).all() and not np.isnan(partial[:, :25]).any()
    full = fork.signal("h")
    assert np.array_equal(full[:, :25], partial[:, :25])
    fork2 = dbg.perturb(0, 0.3, position=9)
    stopped = []
    assert fork2.run(progress=lambda a, b: stopped.append(a), chunk=7)
    assert np.array_equal(fork2.signal("h"), full)     # same edit, same numbers


def test_edits_are_validated():
    model, x, _ = make()
    s = Session(model, x)
    dbg = Debugger(s)
    with pytest.raises(ScopeError, match="read a step"):
        dbg.perturb(0, 1.0)
    s.seek(5)
    with pytest.raises(ScopeError, match="unit"):
        dbg.perturb(N, 1.0)
    with pytest.raises(ScopeError, match="shape"):
        dbg.fork_state("h", value=[1.0, 2.0])
    with pytest.raises(ScopeError, match="outside"):
        dbg.fork_input(np.zeros(D), position=T)
    with pytest.raises(ScopeError):
        dbg.fork_state("g", value=0.0)
    assert dbg.forks.names() == []


def test_forks_vanish_when_the_run_changes():
    model, x, _ = make()
    s = Session(model, x)
    s.seek(5)
    dbg = Debugger(s)
    heard = []
    dbg.listeners.append(heard.append)
    dbg.perturb(0, 1.0)
    s.set_input(x * 2)
    assert dbg.forks.names() == [] and "forks" in heard


def test_fork_memory_shares_the_prefix_and_x_w():
    model, x, _ = make(batch=1, steps=400)
    s = Session(model, x)
    runner = s.full_runner()
    dbg = Debugger(s)
    s.seek(300)
    fork = dbg.perturb(0, 0.1)
    fork.run()
    state_per_step = runner.gates[:, 0].nbytes * 2 + runner.c[:, 0].nbytes + runner.h[:, 0].nbytes
    assert fork.nbytes <= state_per_step * 101 + 4096
    assert np.shares_memory(fork.window.zx, runner.zx)
    full_copy = sum(a.nbytes for a in (runner.gates, runner.zx, runner.zh, runner.c,
                                       runner.h, runner.x))
    assert fork.nbytes < full_copy / 5


def test_series_is_one_lane_of_signal():
    model, x, _ = make(backward=True)
    s = Session(model, x)
    s.seek(20)
    dbg = Debugger(s)
    a = dbg.perturb(3, 0.5, name="a")
    b = dbg.fork_input(np.zeros(D), position=10, parent="a", name="b")
    for fork in (a, b):
        for name in ("h", "c", "f", "g"):
            assert np.array_equal(fork.series(name, 1, 3, computed_only=False),
                                  fork.signal(name)[1, :, 3], equal_nan=True), (fork.name, name)
