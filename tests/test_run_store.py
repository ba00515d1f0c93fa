"""The run store's contract (engine/runs/run_store.py; docs/architecture.md, "Long runs"): a window
reads the same bits whether the run is held as one chunk or checkpointed; the cursor is only a
"known up to" mark over it; the whole model's run reuses the store's run of its layer; the
budget check counts what a held run really holds."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session
from engine.cells.cell import CellWeights
from engine.errors import ScopeError
from engine.network.layers import LSTM, Dense, Masking
from engine.network.model import Model
from engine.runs.checkpoints import CheckpointedRun
from engine.runs.run_store import RunStore, held_bytes
from engine.runs.stepper import XW_BLOCK, DirectionRunner

SHOWN = ("gates", "zx", "zh", "c", "h")
STEPS = 2 * XW_BLOCK + 37                    # a partial last block and chunk


def _model(backward: bool, *, peephole: bool = False, dense: bool = True) -> Model:
    rng = np.random.default_rng(7)
    n, d = 10, 3
    extras = {"peephole": rng.normal(size=(3, n)).astype(np.float32)} if peephole else {}
    cell = CellWeights(rng.normal(0, 0.5, (d, 4 * n)), rng.normal(0, 0.5, (n, 4 * n)),
                       rng.normal(0, 0.3, 4 * n), **extras)
    ops = [Masking("masking"), LSTM("lstm", cell, return_sequences=True, go_backwards=backward)]
    if dense:
        ops.append(Dense("dense", rng.normal(0, 0.5, (n, 2)).astype(np.float32),
                         np.zeros(2, np.float32)))
    return Model(ops, source="run-store test")


def _input(batch: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(batch, STEPS, 3)).astype(np.float32)
    x[rng.random((batch, STEPS)) < 0.1] = 0.0          # masked steps carry the state
    return x


def _same(a, b, what=""):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("peephole", [False, True])
def test_a_window_reads_the_same_bits_held_or_checkpointed(backward, peephole):
    model, x = _model(backward, peephole=peephole), _input()
    held = Session(model, x)
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert not held.checkpointed and ck.checkpointed
    arrays = SHOWN + (("zp",) if peephole else ())
    for a, b in [(0, STEPS), (300, 301), (255, 520), (STEPS - 40, STEPS), (512, 512)]:
        hw, cw = held.window(a, b), ck.window(a, b)
        assert hw.start == cw.start == a
        for key in arrays + ("x", "mask") + (("h0", "c0") if b > a else ()):
            _same(getattr(hw, key), getattr(cw, key), f"{key} {a}:{b}")
        for name in ("i", "f", "c", "h", "z_g", "zx_o", "zh_f"):
            _same(held.signal(name, a, b), ck.signal(name, a, b), f"{name} {a}:{b}")
    for position in (0, 1, 256, STEPS - 1):
        for got, want in zip(held.state_before(position), ck.state_before(position)):
            _same(got, want, f"state before {position}")
    # and both are the model's own trace of that layer
    full = model.trace(x).layer(0)
    for key in arrays:
        _same(getattr(held.window(0, STEPS), key), getattr(full, key), key)


def test_a_held_run_is_one_chunk_computed_once_and_its_whole_window_is_the_run():
    model, x = _model(False), _input()
    s = Session(model, x)
    store = s._run
    assert store.held and store.chunks.chunks == 1 and not store.computed
    computed = store.chunks._run_chunk
    calls = []
    store.chunks._run_chunk = lambda j: (calls.append(j), computed(j))[1]
    whole = s.window(0, STEPS)
    assert whole is s.full() is s.window(0, STEPS)          # no copy, one object
    s.signal("h", 10, 20)
    s.state_before(100)
    s.overview()
    assert calls == [0] and store.computed
    assert np.shares_memory(s.window(5, 50).h, whole.h)     # a part of it is a view
    assert store.bytes_held() == sum(a.nbytes for a in (whole.gates, whole.zx, whole.zh, whole.c,
                                                        whole.h, whole.x, whole.mask))


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("peephole", [False, True])       # the fast path and the general one
def test_a_held_run_reports_how_far_it_is_every_few_steps_with_the_same_bits(
        monkeypatch, backward, peephole):
    import engine.runs.stepper as stepper
    monkeypatch.setattr(stepper, "PROGRESS_STEPS", 100)
    model, x = _model(backward, peephole=peephole), _input()
    told: list[tuple[int, int]] = []
    s = Session(model, x)
    s.prepare_view(lambda done, steps: told.append((done, steps)))
    dones = [done for done, _ in told]
    assert {steps for _, steps in told} == {STEPS}
    assert dones == sorted(set(dones)) and dones[-1] == STEPS
    assert STEPS // 200 <= len(told) <= STEPS // 100 + 2      # every chunk of steps, not per step
    quiet = Session(model, x)
    quiet.prepare_view()
    for name in SHOWN:
        _same(getattr(s.full(), name), getattr(quiet.full(), name), name)


@pytest.mark.parametrize("backward", [False, True])
def test_the_cursor_is_a_mark_moving_it_computes_nothing(backward):
    model, x = _model(backward), _input()
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    runs = []
    plain = ck.store._run_chunk
    ck.store._run_chunk = lambda j: (runs.append(j), plain(j))[1]
    ck.seek(400)
    ck.back(7)
    ck.step(3)
    assert runs == [] and ck.t == 396
    known = ck.known()
    assert known.stop - known.start == 396
    assert known == (slice(0, 396) if not backward else slice(STEPS - 396, STEPS))
    assert ck.cursor == (395 if not backward else STEPS - 396)
    shown = ck.signal("c", 0, STEPS, known_only=True)
    whole = ck.signal("c", 0, STEPS)
    read = np.zeros(STEPS, bool)
    read[known] = True
    _same(shown[:, read], whole[:, read])
    assert np.isnan(shown[:, ~read]).all()


@pytest.mark.parametrize("checkpointed", [False, True])
def test_as_read_follows_the_mark_column_by_column(checkpointed):
    model, x = _model(True), _input()
    s = Session(model, x, checkpoint_above=0 if checkpointed else None,
                checkpoint_interval=XW_BLOCK if checkpointed else None)
    a, b = 200, 500
    window = s.window(a, b)
    first = s.as_read(window)
    for k in (0, 150, 450, 90, STEPS, 3):
        s.seek(k)
        shown = s.as_read(window)
        assert shown is first                              # one copy, updated in place
        read = np.zeros(b - a, bool)
        known = s.known()
        read[max(known.start - a, 0):max(known.stop - a, 0)] = True
        for key in ("gates", "zh", "c", "h"):
            _same(getattr(shown, key)[:, read], getattr(window, key)[:, read], f"{key} t={k}")
            assert np.isnan(getattr(shown, key)[:, ~read]).all(), f"{key} t={k}"
        # x . W is known up front in memory (as the stepping runner always had it)
        if (~read).any():
            assert np.isnan(shown.zx[:, ~read]).all() == checkpointed


@pytest.mark.parametrize("checkpointed", [False, True])
def test_holds_whole_run_says_whether_the_whole_run_reads_without_a_recompute(checkpointed):
    """The question readers ask instead of the kind of run: held, the whole run is the store's
    own arrays (no copy, no recompute); checkpointed, asking for it whole is refused."""
    s = Session(_model(False), _input(), checkpoint_above=0 if checkpointed else None,
                checkpoint_interval=XW_BLOCK if checkpointed else None)
    assert s.holds_whole_run is (not checkpointed) is (not s.checkpointed)
    if checkpointed:
        with pytest.raises(ScopeError, match="not kept in memory"):
            s.full()
    else:
        assert np.shares_memory(s.window(0, STEPS).h, s.full().h)


def test_the_model_run_reuses_the_layer_run_instead_of_computing_it_again(monkeypatch):
    model, x = _model(False), _input()
    s = Session(model, x)
    runs = []
    plain = DirectionRunner.run

    def counting(self, start=0, stop=None):
        runs.append(self.name)
        return plain(self, start, stop)
    monkeypatch.setattr(DirectionRunner, "run", counting)
    full = s.full()
    s.seek(s.steps)
    trace = s.trace
    result = s.result()
    assert runs == ["lstm"]                                 # one run of the layer in all
    layer = result.layer("lstm")
    assert layer.h is full.h and np.shares_memory(layer.gates, full.gates)
    _same(trace.h, full.h)
    want = model.trace(x)                                   # a fresh run gives the same bits
    assert runs == ["lstm", "lstm"]
    _same(result.output, want.output)
    for key in SHOWN:
        _same(getattr(layer, key), getattr(want.layer(0), key), key)


def test_a_layer_returning_its_sequence_hands_on_the_runs_own_h():
    """The model's run reads the layer's output sequence from the store's run: a read-only
    view of its h where the framework returns h as it is (forward, nothing zeroed), a copy
    in processing order for a backward direction."""
    model, x = _model(False, dense=False), _input()
    s = Session(model, x)
    out = s.result().output
    assert np.shares_memory(out, s.full().h) and not out.flags.writeable
    _same(out, s.full().h)
    back = Session(_model(True, dense=False), x)
    out = back.result().output
    assert not np.shares_memory(out, back.full().h)
    _same(out, back.full().h[:, ::-1])


def test_a_run_with_another_state_is_computed_not_reused(monkeypatch):
    model, x = _model(False, dense=False), _input()
    s = Session(model, x)
    rng = np.random.default_rng(5)
    other = (rng.normal(size=(2, 10)).astype(np.float32), rng.normal(size=(2, 10)).astype(np.float32))
    result = model.trace(x, initial_state={"lstm": other}, reuse=s.full_runner())
    assert result.layer(0).h is not s.full().h
    _same(result.layer(0).h, Session(model, x, initial_state=other).full().h)


def _nbytes_of_arrays(runner: DirectionRunner) -> int:
    """Bytes of the arrays a held run's runner really keeps, each counted once (whatever the
    formula says): its buffers, its input and its mask."""
    arrays = [getattr(runner, k) for k in ("gates", "zx", "zh", "c", "h", "zp", "x", "mask")]
    return sum(a.nbytes for a in {id(a): a for a in arrays if a is not None}.values())


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("peephole", [False, True])
def test_the_budget_counts_what_a_held_run_really_holds(batch, peephole):
    model, x = _model(False, peephole=peephole), _input(batch=batch)
    weights = model.traced_layers[0].weights
    s = Session(model, x)
    s.full()
    really = _nbytes_of_arrays(s.full_runner())
    assert held_bytes(batch, STEPS, weights) == really
    assert s._run.bytes_held() == really
    assert not Session(model, x, checkpoint_above=really).checkpointed    # exactly fits
    assert Session(model, x, checkpoint_above=really - 1).checkpointed
    ck = RunStore(model.run_args(0, x), budget=0, interval=XW_BLOCK)
    assert isinstance(ck.chunks, CheckpointedRun) and ck.chunks.chunks == 3 and not ck.held


@pytest.mark.parametrize("kind", ["gru", "rnn"])
def test_the_budget_counts_a_gru_or_rnn_run_as_it_is_held(kind):
    from tests.test_gru_runs import weights as cell_weights
    w = cell_weights(kind)
    x = np.random.default_rng(2).normal(size=(2, STEPS, w.input_dim)).astype(np.float32)
    runner = DirectionRunner("l", w, x)
    runner.run()
    assert held_bytes(2, STEPS, w) == _nbytes_of_arrays(runner)
