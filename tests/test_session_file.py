"""Saving and reopening a debugging session: round trip, atomic writes, refusals."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import ScopeError, Session, load_model
from engine.debugging.debugger import Breakpoint, Debugger, change_token
from engine.debugging.session_file import VERSION, open_session, read_session, save_session

ROOT = Path(__file__).resolve().parents[1]
BI = ROOT / "tests" / "fixtures" / "keras3" / "bidirectional_concat.keras"
EMB = ROOT / "tests" / "fixtures" / "keras3" / "embedding_lstm_dense.keras"


@pytest.fixture()
def model_copy(tmp_path):
    path = tmp_path / "model.keras"
    shutil.copy(BI, path)
    return path


def build(model_path, t=17):
    model = load_model(str(model_path), allow_length=True)   # T=30 > the file's 7
    x = np.random.default_rng(4).normal(size=(2, 30, 3)).astype(np.float32)
    s = Session(model, x, layer="bi/backward")
    s.seek(t)
    dbg = Debugger(s, sample=1)
    dbg.add_breakpoint("any(abs(c) > 0.3)")
    dbg.add_breakpoint(Breakpoint.nan_inf())
    bp = dbg.add_breakpoint(Breakpoint.c_exceeds(2.0))
    dbg.set_enabled(bp.id, False)
    dbg.add_breakpoint("f[1] < 0.2", every_step=True)
    dbg.add_watch("mean(f)")
    dbg.add_watch("h[0:2]")
    dbg.perturb(2, 0.25, name="p")
    dbg.fork_state("c", value=np.linspace(0, 1, s.units), position=5, parent="p", name="q")
    dbg.fork_input([1.0, 2.0, 3.0], position=3, name="x3")
    dbg.decouple(name="dec")
    return s, dbg


def test_round_trip(tmp_path, model_copy):
    s, dbg = build(model_copy)
    out = tmp_path / "debug.lstmscope"
    view = {"zoom": [0, 12], "theme": "print", "panels": {"units": True}}
    other = s.x + 1
    save_session(out, dbg, view=view, compare_input=other)
    s2, dbg2, data = open_session(out)
    assert data.view == view and data.version == VERSION
    assert np.array_equal(data.compare_input, other)
    assert s2.t == s.t and s2.layer_index == s.layer_index and s2.info.name == "bi/backward"
    assert np.array_equal(s2.x, s.x)
    assert dbg2.sample == 1
    assert [b.to_dict() for b in dbg2.breakpoints] == [b.to_dict() for b in dbg.breakpoints]
    assert [w.expression for w in dbg2.watches] == [w.expression for w in dbg.watches]
    assert dbg2.forks.names() == dbg.forks.names()
    for name in dbg.forks.names():
        a, b = dbg.forks.get(name), dbg2.forks.get(name)
        assert a.edit == b.edit
        assert np.array_equal(a.signal("h"), b.signal("h"), equal_nan=True), name
    assert dbg2.forks.parent_name(dbg2.forks.get("q")) == "p"
    assert {k: list(v) for k, v in dbg2.all_hits().items()} == {k: list(v) for k, v in dbg.all_hits().items()}
    assert np.array_equal(s2.trace.h, s.trace.h, equal_nan=True)
    for a, b in zip(dbg.watch_values(), dbg2.watch_values(), strict=True):
        assert np.array_equal(a, b)


def test_round_trip_demo_tokens_and_deleted_parent(tmp_path):
    model = load_model(str(EMB), allow_length=True)
    x = np.random.default_rng(0).integers(1, model.vocab_size, (1, 12))
    s = Session(model, x)
    s.seek(6)
    dbg = Debugger(s)
    dbg.perturb(0, 1.0, name="a")
    dbg.perturb(1, -1.0, position=8, parent="a", name="b")
    dbg.delete_fork("a")                         # b keeps its deleted parent's edit
    out = tmp_path / "tok.lstmscope"
    save_session(out, dbg, compare_input=change_token(s.x, 3, 5))
    s2, dbg2, data = open_session(out)
    assert s2.x.dtype.kind in "iu" and np.array_equal(s2.x, s.x)
    assert dbg2.forks.names() == ["b"]
    assert np.array_equal(dbg2.forks.get("b").signal("h"), dbg.forks.get("b").signal("h"))
    assert data.compare_input[0, 3] == 5

    demo = load_model("demo:wide")
    sd = Session(demo, np.zeros((5, demo.input_features), np.float32))
    out2 = tmp_path / "demo.lstmscope"
    save_session(out2, Debugger(sd))
    assert read_session(out2).model_source == "demo:wide"


def test_changed_model_file_is_refused(tmp_path, model_copy):
    s, dbg = build(model_copy)
    out = tmp_path / "s.lstmscope"
    save_session(out, dbg)
    with open(model_copy, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ScopeError, match="changed since the session was saved"):
        open_session(out)
    os.unlink(model_copy)
    with pytest.raises(ScopeError, match="missing"):
        open_session(out)


def _rewrite(path: Path, mutate) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    mutate(members)
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_newer_version_and_corrupt_files_are_refused(tmp_path, model_copy):
    s, dbg = build(model_copy)
    out = tmp_path / "s.lstmscope"
    save_session(out, dbg)

    newer = tmp_path / "newer.lstmscope"
    shutil.copy(out, newer)

    def bump(m):
        meta = json.loads(m["session.json"])
        meta["version"] = VERSION + 1
        m["session.json"] = json.dumps(meta).encode()
    _rewrite(newer, bump)
    with pytest.raises(ScopeError, match="newer"):
        open_session(newer)

    cases = {
        "truncated": lambda p: p.write_bytes(out.read_bytes()[:100]),
        "garbage": lambda p: p.write_bytes(b"not a zip at all"),
        "empty": lambda p: p.write_bytes(b""),
        "no json": lambda p: (shutil.copy(out, p), _rewrite(p, lambda m: m.pop("session.json"))),
        "bad json": lambda p: (shutil.copy(out, p),
                               _rewrite(p, lambda m: m.__setitem__("session.json", b"{nope"))),
        "other format": lambda p: (shutil.copy(out, p), _rewrite(
            p, lambda m: m.__setitem__("session.json", b'{"format": "x", "version": 1}'))),
        "bad array": lambda p: (shutil.copy(out, p),
                                _rewrite(p, lambda m: m.__setitem__("input.npy", b"\x93NUMPY junk"))),
        "no input": lambda p: (shutil.copy(out, p), _rewrite(p, lambda m: m.pop("input.npy"))),
        "bad fork": lambda p: (shutil.copy(out, p), _rewrite(p, _bad_fork)),
        "bad expr": lambda p: (shutil.copy(out, p), _rewrite(p, _bad_expr)),
    }
    for name, make in cases.items():
        p = tmp_path / f"{name}.lstmscope"
        make(p)
        with pytest.raises(ScopeError) as info:
            open_session(p)
        assert str(p) in str(info.value), name
    with pytest.raises(ScopeError, match="no such session"):
        open_session(tmp_path / "missing.lstmscope")


def _bad_fork(m):
    meta = json.loads(m["session.json"])
    meta["forks"][0]["edit"]["unit"] = 10_000
    m["session.json"] = json.dumps(meta).encode()


def _bad_expr(m):
    meta = json.loads(m["session.json"])
    meta["breakpoints"][0]["expression"] = "__import__('os').system('echo hi')"
    m["session.json"] = json.dumps(meta).encode()


def test_interrupted_save_leaves_the_old_file(tmp_path, model_copy, monkeypatch):
    s, dbg = build(model_copy)
    out = tmp_path / "s.lstmscope"
    save_session(out, dbg, view={"v": 1})
    old = out.read_bytes()
    dbg.add_watch("sum(h)")

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ScopeError, match="disk full.*old file is unchanged"):
        save_session(out, dbg, view={"v": 2})
    assert out.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "s.lstmscope"]  # no temp left
    monkeypatch.undo()
    _, dbg2, data = open_session(out)
    assert data.view == {"v": 1} and len(dbg2.watches) == 2


def test_a_checkpointed_run_reopens_checkpointed_at_its_cursor(tmp_path):
    """Input, cursor, breakpoints, watches and forks of a checkpointed run round-trip (the
    run is recomputed on open) and the reopened run reads the same numbers, bit for bit."""
    from engine.runs.stepper import XW_BLOCK
    model = load_model("demo:counter")
    x = np.random.default_rng(3).integers(1, model.vocab_size, (1, 700))
    s = Session(model, x, checkpoint_above=0, checkpoint_interval=XW_BLOCK)
    assert s.checkpointed
    s.seek(600)
    dbg = Debugger(s)
    dbg.add_breakpoint("any(abs(c) > 1.0)")
    dbg.add_watch("max(h)")
    dbg.perturb(1, 0.5, position=590, name="nudge")
    out = tmp_path / "long.lstmscope"
    save_session(out, dbg)
    assert read_session(out).checkpoint == {"above": 0, "interval": XW_BLOCK}
    s2, dbg2, _ = open_session(out)
    assert s2.checkpointed and s2.t == 600 and s2.cursor == s.cursor
    assert s2.store.interval == XW_BLOCK
    np.testing.assert_array_equal(s2.signal("c", 500, 700), s.signal("c", 500, 700))
    assert [b.expression for b in dbg2.breakpoints] == ["any(abs(c) > 1.0)"]
    assert [w.expression for w in dbg2.watches] == ["max(h)"]
    assert dbg2.forks.names() == ["nudge"]
    # an in-memory run's file has no checkpoint entry and reopens in memory
    mem = Session(model, x)
    save_session(tmp_path / "mem.lstmscope", Debugger(mem))
    assert read_session(tmp_path / "mem.lstmscope").checkpoint is None
    assert not open_session(tmp_path / "mem.lstmscope")[0].checkpointed
    # a damaged checkpoint entry is refused by name

    def bad(m):
        meta = json.loads(m["session.json"])
        meta["checkpoint"] = {"above": -1, "interval": "x"}
        m["session.json"] = json.dumps(meta).encode()
    _rewrite(out, bad)
    with pytest.raises(ScopeError, match="checkpoint"):
        open_session(out)
