"""Trust comes from the person at the keyboard, never from a file.

A TorchScript archive's code runs only with ``--trust``, the window's confirmation, or
``trust=True`` passed to the API. A session file records that its model was opened with trust,
but reopening it never turns trust on: it reopens without and says so in one line. A recorded
SHA-256 that differs is refused; a model file with none recorded opens with a one-line warning.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import ScopeError, Session, load_model
from engine.debugging import session_file
from engine.debugging.debugger import Debugger
from engine.debugging.session_file import open_session, read_session, save_session
from tests.helpers import record_code_runs, scripted_lstm_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return scripted_lstm_archive(tmp_path_factory.mktemp("trust") / "scripted.pt")


@pytest.fixture()
def jit_loads(monkeypatch) -> list[str]:
    return record_code_runs(monkeypatch)


def _x() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((1, 6, 3)).astype(np.float32)


def _save(path: Path, model_path: Path, **options) -> Path:
    model = load_model(str(model_path), **options)
    save_session(path, Debugger(Session(model, _x())))
    return path


def _edit(path: Path, change) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members["session.json"])
    change(meta)
    members["session.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_session_file_cannot_switch_on_trust(tmp_path, archive, jit_loads):
    session_path = _save(tmp_path / "s.lstmscope", archive)
    assert jit_loads == []

    def claim_trust(meta):
        meta["model"]["options"]["trust"] = True
        meta["model"]["sha256"] = None
    _edit(session_path, claim_trust)
    assert "trust" not in read_session(session_path).model_options
    session, _, _ = open_session(session_path)
    assert jit_loads == [], "a session file made LSTM Scope run its model's code"
    assert session_file.TRUST_NOTE in session.warnings
    no_hash = [w for w in session.warnings if "SHA-256" in w]
    assert len(no_hash) == 1 and str(archive) in no_hash[0], session.warnings


def test_a_session_saved_with_trust_reopens_without_it_and_says_so(tmp_path, archive, jit_loads):
    session_path = _save(tmp_path / "s.lstmscope", archive, trust=True)   # the person chose
    assert jit_loads == [str(archive)]
    data = read_session(session_path)
    assert data.trusted and "trust" not in data.model_options
    jit_loads.clear()
    session, _, _ = open_session(session_path)
    assert jit_loads == []
    assert session.warnings.count(session_file.TRUST_NOTE) == 1
    assert session_file.TRUST_NOTE == ("this session ran its model's own code with --trust; reopen with "
                          "--trust / the dialog's confirmation to do that again")
    # the person's own decision, through the API, runs it again
    session, _, _ = open_session(session_path, trust=True)
    assert jit_loads == [str(archive)]
    assert session_file.TRUST_NOTE not in session.warnings


def test_a_recorded_hash_that_differs_is_refused_even_with_trust(tmp_path, archive, jit_loads):
    session_path = _save(tmp_path / "s.lstmscope", archive)
    _edit(session_path, lambda meta: meta["model"].__setitem__("sha256", "0" * 64))
    with pytest.raises(ScopeError, match="changed since the session was saved"):
        open_session(session_path, trust=True)
    assert jit_loads == []


def test_no_recorded_hash_is_one_warning_except_for_demos(tmp_path, archive):
    session_path = _save(tmp_path / "s.lstmscope", archive)
    _edit(session_path, lambda meta: meta["model"].__setitem__("sha256", None))
    session, _, _ = open_session(session_path)
    assert [w for w in session.warnings if "SHA-256" in w] == [
        f"the session recorded no SHA-256 of its model file {archive}: LSTM Scope cannot tell "
        f"whether the file changed since the session was saved"]
    demo = load_model("demo:small")
    demo_path = tmp_path / "demo.lstmscope"
    save_session(demo_path, Debugger(Session(demo, np.zeros((1, 5, demo.input_features), np.float32))))
    _edit(demo_path, lambda meta: meta["model"].__setitem__("sha256", None))
    session, _, _ = open_session(demo_path)
    assert not [w for w in session.warnings if "SHA-256" in w]


def test_a_session_cannot_widen_the_checkpoint_memory(tmp_path):
    """A checkpointed run's interval (steps per recomputed chunk) comes from the file only up
    to what LSTM Scope would choose itself: a huge interval would be one chunk of the whole run."""
    from engine.runs.checkpoints import choose_interval
    model = load_model("demo:small")
    x = np.zeros((1, 600, model.input_features), np.float32)
    s = Session(model, x, checkpoint_above=0)
    path = tmp_path / "long.lstmscope"
    save_session(path, Debugger(s))
    _edit(path, lambda meta: meta["checkpoint"].__setitem__("interval", 2**30))
    s2, _, _ = open_session(path)
    assert s2.checkpointed
    assert s2.store.interval == choose_interval(s2.batch, s2.info.weights)


def test_a_config_a_session_names_is_shown(tmp_path):
    """A session of a weights-only .h5 names its --config: reopening reads it like every other
    file and says which file that is (a file may name only files the user is shown)."""
    import shutil

    import h5py

    from tests.helpers import FIXTURES
    weights, config = tmp_path / "w.h5", tmp_path / "w.json"
    shutil.copy(FIXTURES / "keras2" / "lstm_plain.h5", weights)
    with h5py.File(weights, "r+") as h5:
        text = h5.attrs["model_config"]
        config.write_text(text.decode() if isinstance(text, bytes) else str(text))
        del h5.attrs["model_config"]
    model = load_model(str(weights), config=str(config))
    path = tmp_path / "s.lstmscope"
    save_session(path, Debugger(Session(model, np.zeros((1, 8, 3), np.float32))))
    session, _, _ = open_session(path)
    assert f"the session opens its model with --config {config}" in session.warnings
