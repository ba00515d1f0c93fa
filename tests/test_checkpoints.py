"""Checkpointed runs: every recomputed window is bit-identical to the full in-memory trace, and
the session, breakpoints, watches and forks give the same answers on both kinds of run."""

from __future__ import annotations

import numpy as np
import pytest

from engine import ScopeError, Session
from engine.cells.cell import CellWeights
from engine.debugging.debugger import Debugger
from engine.network.layers import LSTM, Masking
from engine.network.model import Model
from engine.runs.checkpoints import MIN_SUB, CheckpointedRun, Overview
from engine.runs.stepper import XW_BLOCK, DirectionRunner

ARRAYS = ("gates", "zx", "zh", "c", "h")


def cell(n=12, d=5, seed=0, **extras):
    rng = np.random.default_rng(seed)
    return CellWeights(rng.normal(0, 0.5, (d, 4 * n)), rng.normal(0, 0.5, (n, 4 * n)),
                       rng.normal(0, 0.3, 4 * n), **extras)


def same(a, b, what=""):
    assert a.shape == b.shape, what
    assert np.array_equal(a, b, equal_nan=True), what


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("kind", ["plain", "peephole", "projection"])
def test_windows_are_bit_identical_to_the_full_trace(backward, kind):
    rng = np.random.default_rng(1)
    n = 12
    extras = {"peephole": {"peephole": rng.normal(size=(3, n)).astype(np.float32)},
              "projection": {"projection": rng.normal(0, 0.5, (n, 7)).astype(np.float32)},
              "plain": {}}[kind]
    w = cell(n, seed=2, **extras)
    if kind == "projection":
        w = CellWeights(w.kernel, rng.normal(0, 0.5, (7, 4 * n)), w.bias, **extras)
    t_len = 2 * XW_BLOCK + 37                        # a partial last block and chunk
    x = rng.normal(size=(2, t_len, 5)).astype(np.float32)
    mask = rng.random((2, t_len)) > 0.15
    full = DirectionRunner("l", w, x, backward=backward, mask=mask)
    full.run()
    ft = full.to_trace()
    run = CheckpointedRun("l", w, x, backward=backward, mask=mask, interval=XW_BLOCK)
    for a, b in [(0, t_len), (300, 301), (255, 520), (t_len - 40, t_len), (512, 512)]:
        wt = run.window_trace(a, b)
        for key in ARRAYS + (("zp",) if kind == "peephole" else ()):
            same(getattr(wt, key), getattr(ft, key)[:, a:b], f"{key} {a}:{b}")
        for name in ("z_i", "zx_o", "f", "h"):
            same(run.signal(name, a, b), ft.signal(name)[:, a:b], f"{name} {a}:{b}")
        if b > a:   # h0, c0: the state just before the window's first processed step
            first = b - 1 if backward else a
            for got, want in zip((wt.h0, wt.c0), ft.state_before(first)):
                same(got, want, "state before the window")
    for p in (0, 256, 511, t_len):
        for got, want in zip(run.state_before(p), full.state_before(p)):
            same(got, want, f"state before p={p}")
    assert run.first_pass()
    ref = Overview.of(ft, run.overview.bucket)
    for name in ref.lo:
        same(run.overview.lo[name], ref.lo[name], f"overview lo {name}")
        same(run.overview.hi[name], ref.hi[name], f"overview hi {name}")


def test_overview_is_min_max_per_bucket():
    w = cell()
    x = np.random.default_rng(3).normal(size=(1, 1000, 5)).astype(np.float32)
    full = DirectionRunner("l", w, x)
    full.run()
    ov = Overview.of(full.to_trace(), 64)
    assert ov.buckets == 16
    np.testing.assert_array_equal(ov.hi["c"][0, 3], full.c[0, 192:256].max(axis=0))
    np.testing.assert_array_equal(ov.lo["f"][0, 15], full.gates[0, 960:, 1].min(axis=0))


def test_first_pass_resumes_after_a_stop_and_reports_progress():
    w = cell()
    x = np.random.default_rng(4).normal(size=(1, 5 * XW_BLOCK, 5)).astype(np.float32)
    run = CheckpointedRun("l", w, x, interval=XW_BLOCK)
    seen = []
    assert not run.first_pass(progress=lambda k, total: seen.append(k),
                              should_stop=lambda: len(seen) >= 2)
    assert seen == [256, 512] and run.first_pass_done == 512
    assert np.isnan(run.overview.hi["h"][0, -1]).all()
    assert run.first_pass(progress=lambda k, total: seen.append(k))
    assert seen[-1] == 5 * XW_BLOCK and not np.isnan(run.overview.hi["h"]).any()


def model_and_input(backward=False, masked=False, t_len=700, seed=5, batch=2):
    w = cell(10, 4, seed=seed)
    ops = ([Masking("m")] if masked else []) + [LSTM("lstm", w, return_sequences=True,
                                                     go_backwards=backward)]
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1.5, (batch, t_len, 4)).astype(np.float32)
    if masked:
        x[rng.random((2, t_len)) < 0.1] = 0.0
    return Model(ops, source="test"), x


def both(backward=False, masked=False, **kw):
    model, x = model_and_input(backward, masked, **kw)
    mem = Session(model, x)
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert ck.checkpointed and not mem.checkpointed
    return mem, ck


@pytest.mark.parametrize("backward", [False, True])
def test_session_windows_and_moves_agree(backward):
    mem, ck = both(backward, masked=True)
    for s in (mem, ck):
        s.seek(300)
        s.step(5)
        s.back(2)
    assert mem.t == ck.t == 303 and mem.cursor == ck.cursor
    for a, b in [(0, 700), (250, 520)]:
        for name in ("f", "c", "z_g", "x"):
            same(ck.signal(name, a, b), mem.signal(name, a, b), name)
            same(ck.signal(name, a, b, known_only=True), mem.signal(name, a, b, known_only=True))
        same(ck.window(a, b).h0, mem.window(a, b).h0)
    for pos in (0, 299, 699):
        for got, want in zip(ck.state_before(pos), mem.state_before(pos)):
            same(got, want)
    known = mem.signal("h", 0, 700, known_only=True)
    live = mem.trace.h
    same(known, live, "known_only is what the live trace shows")
    assert ck.first_pass()
    for name in ("i", "h"):
        same(ck.overview().hi[name], Overview.of(mem.full(), ck.overview().bucket).hi[name])
    with pytest.raises(ScopeError, match="checkpointed"):
        _ = ck.trace
    with pytest.raises(ScopeError, match="outside"):
        ck.signal("h", 5, 701)


@pytest.mark.parametrize("backward", [False, True])
def test_breakpoints_and_watches_agree(backward):
    mem, ck = both(backward, masked=True)
    dbgs = [Debugger(s) for s in (mem, ck)]
    for d in dbgs:
        d.add_breakpoint("any(abs(c) > 1.2)")
        d.add_breakpoint("h[3] * prev(h[3]) < 0")
        d.add_watch("mean(f)")
        d.add_watch("prev(prev(c))")
    hits = [d.all_hits() for d in dbgs]
    assert hits[0].keys() == hits[1].keys()
    for k in hits[0]:
        same(hits[1][k], hits[0][k], "all hits")
        assert hits[0][k].size > 3
    for direction, count in ((+1, 6), (-1, 4)):
        for _ in range(count):
            r = [d.run_to_hit(direction) for d in dbgs]
            assert (r[0].hit, r[0].t, r[0].position, r[0].breakpoints) == \
                   (r[1].hit, r[1].t, r[1].position, r[1].breakpoints)
            assert mem.t == ck.t
            assert dbgs[0].hits_at() == dbgs[1].hits_at()
            for w0, w1 in zip(dbgs[0].watch_values(), dbgs[1].watch_values()):
                same(np.asarray(w1), np.asarray(w0), "watch value")
    for key in (0, 1):
        w = dbgs[0].watches[key].id
        same(dbgs[1].watch_series(w), dbgs[0].watch_series(w), "watch series so far")
        same(dbgs[1].watch_series(w, full=True), dbgs[0].watch_series(w, full=True))
    mem.seek(650)
    ck.seek(650)
    r = [d.run_to_hit(-1) for d in dbgs]
    assert r[0].hit and (r[0].t, r[0].position) == (r[1].t, r[1].position)


@pytest.mark.parametrize(("backward", "batch"), [(False, 2), (True, 2), (False, 8)])
def test_forks_agree(backward, batch):
    """Batch 8 is a full group of the compiled product's register tile (``lstm_kernels._tile``)."""
    mem, ck = both(backward, batch=batch)
    dbgs = [Debugger(s) for s in (mem, ck)]
    for s in (mem, ck):
        s.seek(400)
    forks = [d.perturb(2, 0.7) for d in dbgs]
    inputs = [d.fork_input(np.full(4, 0.5, np.float32), position=600 if not backward else 100,
                           parent=f.name) for d, f in zip(dbgs, forks)]
    decoupled = [d.decouple() for d in dbgs]
    for pair in (forks, inputs, decoupled):
        for name in ("h", "c", "z_f", "x"):
            same(pair[1].signal(name), pair[0].signal(name), name)
            same(pair[1].diff(name), pair[0].diff(name), f"diff {name}")
        same(pair[1].series("f", 1, 3), pair[0].series("f", 1, 3), "series")


@pytest.mark.parametrize("backward", [False, True])
def test_exports_of_a_window_equal_the_in_memory_run(backward, tmp_path):
    """What the window exports from a checkpointed run (the span it shows, or one cell) is the
    in-memory run's export at the same positions."""
    from engine.output.export import ViewContext, export_data
    mem, ck = both(backward, masked=True)
    for s in (mem, ck):
        s.seek(400)
    a, b = 256, 600
    ctx = ViewContext(view="units", model="m", layer="lstm", direction=mem.info.direction,
                      sample=1, t=mem.t, steps=mem.steps, cursor=mem.cursor, units=[3, 0, 7])
    export_data(tmp_path / "mem.npz", mem.full(), ctx)
    export_data(tmp_path / "ck.npz", ck.window(a, b), ctx)
    with np.load(tmp_path / "mem.npz") as m, np.load(tmp_path / "ck.npz") as c:
        assert int(c["first_position"]) == a
        for name in ("i", "f", "g", "o", "c", "h", "zx", "zh", "x", "mask", "read"):
            same(c[name], m[name][:, a:b] if name != "read" else m[name][a:b], name)
    export_data(tmp_path / "mem.csv", mem.full(), ctx)
    export_data(tmp_path / "ck.csv", ck.window(a, b), ctx)
    mem_rows = (tmp_path / "mem.csv").read_text().splitlines()
    ck_rows = (tmp_path / "ck.csv").read_text().splitlines()
    assert ck_rows[0] == mem_rows[0]
    assert ck_rows[1:] == [r for r in mem_rows[1:] if a <= int(r.split(",")[0]) < b]
    cell_ctx = ViewContext(view="cell", model="m", layer="lstm", direction=mem.info.direction,
                           sample=0, t=mem.t, steps=mem.steps, cursor=mem.cursor, unit=4,
                           position=mem.cursor)
    export_data(tmp_path / "mem_cell.npz", mem.full(), cell_ctx)
    export_data(tmp_path / "ck_cell.npz", ck.window(a, b), cell_ctx)
    with np.load(tmp_path / "mem_cell.npz") as m, np.load(tmp_path / "ck_cell.npz") as c:
        for name in m.files:
            if name != "meta":
                same(c[name], m[name], name)


@pytest.mark.parametrize("backward", [False, True])
def test_a_jump_recomputes_from_the_nearest_kept_state_to_the_same_bits(backward):
    """Once a chunk has been computed, a read of a few steps in it (a cursor jump, the
    inspector) runs from the state kept every ``sub`` steps, not the whole chunk."""
    rng = np.random.default_rng(3)
    w = cell(9, seed=4)
    t_len = 3 * XW_BLOCK + 21
    x = rng.normal(size=(2, t_len, 5)).astype(np.float32)
    mask = rng.random((2, t_len)) > 0.1
    full = DirectionRunner("l", w, x, backward=backward, mask=mask)
    full.run()
    run = CheckpointedRun("l", w, x, backward=backward, mask=mask, interval=2 * XW_BLOCK)
    assert run.sub == MIN_SUB < run.interval
    assert run.first_pass()
    run._cache.clear()                              # nothing held: only kept states
    run._first_pass_latest.clear()
    for p in rng.integers(0, t_len - 3, 25).tolist() + [0, 16, t_len - 1]:
        for key in ARRAYS:
            same(run.columns(key, p, min(p + 3, t_len)), full.columns(key, p, min(p + 3, t_len)),
                 f"{key} at {p}")
        for got, want in zip(run.state_before(p), full.state_before(p)):
            same(got, want, f"state before {p}")
    assert not run._cache, "a few steps never recompute a whole chunk"
    assert len(run._minis) > 0


def test_a_window_computed_on_another_thread_blocks_neither_small_reads_nor_the_first_pass():
    """A span recomputed on a worker thread (the window's next span) runs outside the run's
    lock: a read of a few steps answers while it computes, and a first pass running beside it
    computes each chunk once (it waits for, or reuses, the reader's chunks), to the same bits."""
    import threading
    rng = np.random.default_rng(5)
    w = cell(8, seed=6)
    t_len = 6 * XW_BLOCK + 9
    x = rng.normal(size=(1, t_len, 5)).astype(np.float32)
    full = DirectionRunner("l", w, x)
    full.run()
    ft = full.to_trace()
    # 1) a slow chunk on a worker thread; small reads elsewhere answer meanwhile
    run = CheckpointedRun("l", w, x, interval=XW_BLOCK)
    assert run.first_pass()
    run._cache.clear()
    run._first_pass_latest.clear()
    run._minis.clear()
    release = threading.Event()
    started = threading.Event()
    plain = run._run_chunk

    def slow(j):
        if j == 4:
            started.set()
            assert release.wait(20)
        return plain(j)
    run._run_chunk = slow
    worker = threading.Thread(target=run.window_trace, args=(4 * XW_BLOCK, 4 * XW_BLOCK + 50))
    worker.start()
    assert started.wait(20)
    answered = []
    reader = threading.Thread(target=lambda: answered.append(run.signal("c", 100, 103)))
    reader.start()
    reader.join(10)
    assert answered, "a read of three steps waited for a chunk computed on another thread"
    same(answered[0], ft.signal("c")[:, 100:103])
    release.set()
    worker.join(20)
    # 2) a far window read on a thread while the first pass runs: each chunk computed once
    run = CheckpointedRun("l", w, x, interval=XW_BLOCK)
    calls = []
    counted = run._run_chunk

    def count(j):
        calls.append(j)
        return counted(j)
    run._run_chunk = count
    got = {}
    far = threading.Thread(target=lambda: got.setdefault("t", run.window_trace(t_len - 30, t_len)))
    far.start()
    assert run.first_pass()
    far.join(30)
    assert sorted(calls) == list(range(run.chunks)), f"chunks computed {sorted(calls)}"
    for key in ARRAYS:
        same(getattr(got["t"], key), getattr(ft, key)[:, t_len - 30:], key)
    ov = Overview.of(ft, run.overview.bucket)
    for name in ("f", "c", "h"):
        same(run.overview.lo[name], ov.lo[name], name)


def test_a_window_read_beside_the_first_pass_takes_the_chunk_it_just_computed():
    """The first pass computes each chunk without taking the readers' cache. A window read on
    another thread needing the chunk the first pass had just finished computed it again (under
    load, CI saw "chunks computed [0, 1, 2, 3, 4, 5, 5, 6]"): the first pass keeps its latest
    chunks where a reader finds them. Here the pass is held inside the last chunk while a window
    of the one before it is read."""
    import threading
    rng = np.random.default_rng(5)
    w = cell(8, seed=6)
    t_len = 6 * XW_BLOCK + 9
    x = rng.normal(size=(1, t_len, 5)).astype(np.float32)
    full = DirectionRunner("l", w, x)
    full.run()
    ft = full.to_trace()
    run = CheckpointedRun("l", w, x, interval=XW_BLOCK)
    calls = []
    in_last_chunk, release = threading.Event(), threading.Event()
    plain = run._run_chunk

    def held_in_the_last_chunk(j):
        calls.append(j)
        if j == run.chunks - 1:
            in_last_chunk.set()
            assert release.wait(20)
        return plain(j)
    run._run_chunk = held_in_the_last_chunk
    passed = []
    first_pass = threading.Thread(target=lambda: passed.append(run.first_pass()))
    first_pass.start()
    try:
        assert in_last_chunk.wait(20)
        # inside chunk 5, more steps than the states kept inside it serve: read from the chunk
        a, b = 5 * XW_BLOCK + 60, 6 * XW_BLOCK
        assert b - a > 2 * run.sub
        window = run.window_trace(a, b)
    finally:
        release.set()
        first_pass.join(20)
    assert passed == [True]
    assert sorted(calls) == list(range(run.chunks)), f"chunks computed {sorted(calls)}"
    for key in ARRAYS:
        same(getattr(window, key), getattr(ft, key)[:, a:b], key)


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("target", ["sumsq(h[:, last, :])", "c[1, 300, 2]", "mean(h[:, 100:650, 4])"])
def test_gradients_through_checkpoints_equal_the_in_memory_gradient(backward, target):
    mem, ck = both(backward, masked=True)
    want = mem.grad(target)
    got = ck.grad(target)
    assert got.value == pytest.approx(want.value, rel=1e-6)
    for name in ("dh", "dc", "dh0", "dc0"):          # the same per-step code: the same bits
        same(getattr(got, name), getattr(want, name), name)
    # dx is one (T, 4N) x (4N, D) product in memory, one per chunk here
    np.testing.assert_allclose(got.dx, want.dx, rtol=1e-5, atol=1e-5)
    with pytest.raises(ScopeError, match="model output"):
        ck.grad("sumsq(output[:, last])")


def test_a_checkpointed_gradient_stops_between_chunks_when_asked():
    """A gradient nobody wants any more (the cursor moved on) stops at the next chunk, caches
    nothing, and the same target asked again gives the full answer."""
    from engine.errors import Cancelled
    rng = np.random.default_rng(8)
    w = cell(5, seed=9)
    model = Model([LSTM("l", w, return_sequences=True)], source="test")
    x = rng.normal(size=(1, 4 * XW_BLOCK, 5)).astype(np.float32)
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2
    with pytest.raises(Cancelled):
        ck.grad("h[0, 900, 1]", stop_after_two)
    assert 2 < len(asked) < ck.store.chunks + 1
    g = ck.grad("h[0, 900, 1]", lambda: False)
    mem = Session(model, x)
    np.testing.assert_array_equal(g.dc, mem.grad("h[0, 900, 1]").dc)



def test_a_hit_scan_of_a_checkpointed_run_equals_memory_and_stops_when_asked():
    """The window counts a checkpointed run's hits on a worker thread: every breakpoint per
    chunk (each chunk recomputed once), the in-memory hits exactly, and it stops between
    chunks once nobody wants the answer."""
    from engine.errors import Cancelled
    rng = np.random.default_rng(10)
    w = cell(6, seed=11)
    model = Model([LSTM("l", w, return_sequences=True)], source="test")
    x = rng.normal(size=(1, 3 * XW_BLOCK + 40, 5)).astype(np.float32)
    mem = Session(model, x)
    ck = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    found = []
    for session in (mem, ck):
        dbg = Debugger(session, sample=0)
        dbg.add_breakpoint("any(abs(c) > 0.8)")
        dbg.add_breakpoint("h[2] < -0.3")
        found.append(dbg.scan_hits())
        assert {k: v.tolist() for k, v in dbg.all_hits().items()} == \
            {k: v.tolist() for k, v in found[-1].items()}
    assert {k: v.tolist() for k, v in found[0].items()} == {k: v.tolist() for k, v in found[1].items()}
    assert all(len(v) for v in found[0].values())
    calls = []
    computed = ck.store._run_chunk
    ck.store._cache.clear()
    ck.store._run_chunk = lambda j: (calls.append(j), computed(j))[1]
    assert dbg.scan_hits() and sorted(calls) == list(range(ck.store.chunks))   # once each
    with pytest.raises(Cancelled):
        dbg.scan_hits(lambda: True)
