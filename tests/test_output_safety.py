"""Nothing is lost: every output goes through one atomic writer, an output is never an input,
an output that cannot be written is refused before the work, and a write that fails midway
leaves the old file exactly as it was."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import main
from engine.errors import ScopeError
from engine.system.files import atomic_write, check_output
from tests.helpers import FIXTURES, ROOT, assert_clean_error, run_cli_unprivileged

MODEL = FIXTURES / "keras2" / "lstm_plain.h5"
INPUT = FIXTURES / "keras2" / "lstm_plain.npz"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])


@pytest.fixture
def work(tmp_path):
    model = tmp_path / "model.h5"
    shutil.copy(MODEL, model)
    x = tmp_path / "x.npz"
    shutil.copy(INPUT, x)
    return tmp_path, model, x


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


def test_trace_output_equal_to_input_is_refused(work, capsys):
    tmp, model, x = work
    before = snapshot(tmp)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", x)
    assert_one_line(code, err, "--input file", "x.npz")
    assert snapshot(tmp) == before


def test_trace_output_symlinked_to_the_model_is_refused(work, capsys):
    tmp, model, x = work
    link = tmp / "out.npz"
    link.symlink_to(model)
    before = snapshot(tmp)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", link)
    assert_one_line(code, err, "model")
    assert snapshot(tmp) == before


def test_output_reached_through_another_spelling_or_hard_link_is_refused(work, capsys):
    tmp, model, x = work
    (tmp / "sub").mkdir()
    spelled = tmp / "sub" / ".." / "x.npz"
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", spelled)
    assert_one_line(code, err, "--input file")
    hard = tmp / "hard.npz"
    os.link(x, hard)
    code, _, err = cli(capsys, "trace", model, "--input", hard, "--key", "x", "--out", x)
    assert_one_line(code, err, "--input file")


def test_state_out_equal_to_initial_state_is_refused(work, capsys):
    tmp, model, x = work
    state = tmp / "s.npz"
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", tmp / "t.npz",
                       "--state-out", state)
    assert code == 0, err
    before = snapshot(tmp)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", tmp / "u.npz",
                       "--initial-state", state, "--state-out", state)
    assert_one_line(code, err, "--initial-state file")
    assert snapshot(tmp) == before
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", tmp / "u.npz",
                       "--state-out", tmp / "u.npz")
    assert_one_line(code, err, "--out file")


def test_export_output_equal_to_input_is_refused(work, capsys):
    tmp, _, _ = work
    csv = tmp / "a.csv"
    csv.write_text("0.1,0.2\n0.3,0.4\n")
    before = snapshot(tmp)
    code, _, err = cli(capsys, "export", "demo:small", "--input", csv, "--out", csv)
    assert_one_line(code, err, "--input file")
    assert snapshot(tmp) == before


def test_trace_refuses_a_suffix_numpy_would_change(work, capsys):
    tmp, model, x = work
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", tmp / "X.dat")
    assert_one_line(code, err, ".npz", "X.dat.npz")
    assert not (tmp / "X.dat").exists() and not (tmp / "X.dat.npz").exists()


@pytest.mark.parametrize("where", ["missing-folder", "folder", "read-only-folder", "dev-null",
                                   "fifo", "proc", "long-name"])
def test_unwritable_outputs_are_refused_before_the_work(work, capsys, monkeypatch, where):
    tmp, model, x = work
    out = {"missing-folder": tmp / "nope" / "t.npz", "folder": tmp / "dir.npz",
           "read-only-folder": tmp / "ro" / "t.npz", "dev-null": Path("/dev/null"),
           "fifo": tmp / "pipe.npz", "proc": Path("/proc/self/status"),
           "long-name": tmp / ("n" * 300 + ".npz")}[where]
    if where == "folder":
        out.mkdir()
    if where == "read-only-folder":
        out.parent.mkdir()
        out.parent.chmod(0o500)
        if os.access(out.parent, os.W_OK):     # root: only a child without the override is denied
            proc = run_cli_unprivileged("trace", model, "--input", x, "--key", "x", "--out", out)
            assert_clean_error(proc, "permission")
            assert not out.exists()
            return
    if where == "fifo":
        os.mkfifo(out)
    loaded = []
    import engine.cli.commands
    monkeypatch.setattr(engine.cli.commands, "load_model", lambda spec: loaded.append(spec))
    suffixed = ["--out", out] if where not in ("dev-null", "proc") else ["--out", out]
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", *suffixed)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert loaded == [], "the model was loaded before the output was checked"


def test_read_only_file_is_refused_before_the_work(work, capsys):
    tmp, model, x = work
    out = tmp / "t.npz"
    out.write_bytes(b"old")
    out.chmod(0o400)
    if os.access(out, os.W_OK):     # root: only a child without the override is denied
        assert_clean_error(run_cli_unprivileged("trace", model, "--input", x, "--key", "x",
                                                "--out", out), "read-only")
    else:
        code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", out)
        assert_one_line(code, err, "read-only")
    assert out.read_bytes() == b"old"


def test_output_symlink_is_followed_and_kept(work, capsys):
    tmp, model, x = work
    real = tmp / "real.npz"
    real.write_bytes(b"old")
    link = tmp / "link.npz"
    link.symlink_to(real)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", link)
    assert code == 0, err
    assert link.is_symlink() and np.load(real)["h"].shape == (2, 8, 4)


def test_atomic_write_cleans_up_and_keeps_the_old_file_when_the_writer_fails(tmp_path):
    out = tmp_path / "a.csv"
    out.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(out, text=True) as fh:
            fh.write("new, half")
            raise RuntimeError("the data ran out")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_atomic_write_accepts_chunks_and_keeps_the_file_mode(tmp_path):
    out = tmp_path / "b.bin"
    out.write_bytes(b"x")
    out.chmod(0o640)
    with atomic_write(out) as fh:
        for k in range(100):
            fh.write(bytes([k]) * 1000)
    assert out.read_bytes() == b"".join(bytes([k]) * 1000 for k in range(100))
    assert (out.stat().st_mode & 0o777) == 0o640


def test_check_output_names_a_newline_on_one_line(tmp_path):
    with pytest.raises(ScopeError) as info:
        check_output(tmp_path / "no\nfolder" / "t.npz")
    assert "\n" not in str(info.value) and "\\n" in str(info.value)


# --- a write that fails midway: the file-size limit of the process (disk full, quota) ------
LIMITED = """
import resource, sys
sys.path.insert(0, {root!r})
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
import main
sys.exit(main.main({argv!r}))
"""


def run_limited(argv: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    code = LIMITED.format(root=str(ROOT), limit=limit, argv=[str(a) for a in argv])
    env = dict(os.environ, HOME=str(cwd))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("kind", ["trace", "export-npz", "export-csv"])
def test_a_write_failing_midway_leaves_the_old_file(work, kind):
    tmp, model, x = work
    base = ["trace", model, "--input", x, "--key", "x"]
    if kind == "trace":
        target, argv = tmp / "t.npz", [*base, "--out", tmp / "t.npz"]
    elif kind == "export-npz":
        target, argv = tmp / "e.npz", ["export", "demo:small", "--out", tmp / "e.npz"]
    else:
        target, argv = tmp / "e.csv", ["export", "demo:small", "--out", tmp / "e.csv"]
    old = b"the old file: precious" * 10
    target.write_bytes(old)
    proc = run_limited(argv, 2000, tmp)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write" in lines[0] and "unchanged" in lines[0], lines
    assert target.read_bytes() == old
    assert not [p for p in tmp.iterdir() if p.name.endswith(".part")]


def test_state_out_failing_midway_leaves_the_old_file(work, capsys, monkeypatch):
    tmp, model, x = work
    state = tmp / "s.npz"
    old = b"the old state"
    state.write_bytes(old)
    real = np.savez
    calls = []

    def savez(fh, **arrays):   # the trace is written; the state file fills the disk halfway
        calls.append(sorted(arrays))
        if len(calls) == 2:
            fh.write(b"PK\x03\x04 half a zip")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fh, **arrays)
    monkeypatch.setattr(np, "savez", savez)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", tmp / "t.npz",
                       "--state-out", state)
    assert_one_line(code, err, "s.npz", "no space left", "unchanged")
    assert state.read_bytes() == old
    assert not [p for p in tmp.iterdir() if p.name.endswith(".part")]


def test_window_export_refuses_the_shown_model_and_input(work):
    from types import SimpleNamespace

    from gui.export.figure import export_view
    tmp, model, x = work
    before = snapshot(tmp)
    for target in (model, x):
        host = SimpleNamespace(session_model=SimpleNamespace(source=str(model), input_source=str(x)))
        with pytest.raises(ScopeError, match="destroy"):
            export_view(host, "units", target.with_suffix(".npz") if target == x else target)
    assert snapshot(tmp) == before


def test_atomic_write_also_takes_a_function_writing_a_path(tmp_path):
    out = tmp_path / "c.txt"
    out.write_text("old")
    atomic_write(out, lambda tmp: tmp.write_text("new"))
    assert out.read_text() == "new"
    with pytest.raises(ScopeError, match="unchanged"):
        atomic_write(out, lambda tmp: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    assert out.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


# --- the outputs of one command commit together; every file a command reads is an input --------
def _fill_disk_on(monkeypatch, nth: int) -> list[list[str]]:
    """np.savez fills the disk halfway through its ``nth`` call."""
    real = np.savez
    calls: list[list[str]] = []

    def savez(fh, **arrays):
        calls.append(sorted(arrays))
        if len(calls) == nth:
            fh.write(b"PK\x03\x04 half a zip")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fh, **arrays)
    monkeypatch.setattr(np, "savez", savez)
    return calls


def test_trace_and_state_out_commit_together(work, capsys, monkeypatch):
    """--state-out cannot be written: --out must not have replaced its old file either."""
    tmp, model, x = work
    trace, state = tmp / "t.npz", tmp / "s.npz"
    trace.write_bytes(b"the old trace")
    state.write_bytes(b"the old state")
    _fill_disk_on(monkeypatch, 2)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", trace,
                       "--state-out", state)
    assert_one_line(code, err, "s.npz", "no space left", "nothing was written")
    assert trace.read_bytes() == b"the old trace" and state.read_bytes() == b"the old state"
    assert not [p for p in tmp.iterdir() if p.name.endswith(".part")]


def test_a_rename_failing_midway_says_which_outputs_are_new(work, capsys, monkeypatch):
    tmp, model, x = work
    trace, state = tmp / "t.npz", tmp / "s.npz"
    state.write_bytes(b"the old state")
    real = os.replace

    def replace(src, dst):
        if Path(dst).name == "s.npz":
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--out", trace,
                       "--state-out", state)
    assert_one_line(code, err, f"{state}: could not write (Input/output error)",
                    f"{trace} is new", f"{state} is unchanged")
    assert state.read_bytes() == b"the old state" and np.load(trace)["h"].size
    assert not [p for p in tmp.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("command", ["trace", "grad", "export"])
def test_config_is_an_input(tmp_path, capsys, command):
    import keras
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, name="lstm")])
    m.save_weights(tmp_path / "w.weights.h5")
    config = tmp_path / "cfg.npz"             # a config file with the output's suffix
    config.write_text(m.to_json())
    np.save(tmp_path / "x.npy", np.zeros((1, 5, 3), np.float32))
    before = snapshot(tmp_path)
    extra = ["--target", "sum(h)"] if command == "grad" else []
    code, _, err = cli(capsys, command, tmp_path / "w.weights.h5", "--input", tmp_path / "x.npy",
                       "--config", config, *extra, "--out", config)
    assert_one_line(code, err, "--config file", "cfg.npz")
    assert snapshot(tmp_path) == before


def test_onnx_external_data_is_an_input(tmp_path, capsys):
    import onnx

    from tests.helpers import onnx_lstm_model
    rng = np.random.default_rng(0)
    proto = onnx_lstm_model(rng.standard_normal((1, 16, 3)), rng.standard_normal((1, 16, 4)))
    onnx.save_model(proto, str(tmp_path / "m.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.npz", size_threshold=0)
    np.save(tmp_path / "x.npy", np.zeros((5, 1, 3), np.float32))
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "trace", tmp_path / "m.onnx", "--input", tmp_path / "x.npy",
                       "--out", tmp_path / "weights.npz")
    assert_one_line(code, err, "external data", "weights.npz")
    assert snapshot(tmp_path) == before


def test_save_session_refuses_the_files_the_session_reads(tmp_path):
    import keras

    from engine import Session, load_model
    from engine.debugging.debugger import Debugger
    from engine.debugging.session_file import save_session
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, name="lstm")])
    m.save_weights(tmp_path / "w.weights.h5")
    config = tmp_path / "m.json"
    config.write_text(m.to_json())
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 5, 3), np.float32))
    model = load_model(str(tmp_path / "w.weights.h5"), config=str(config))
    dbg = Debugger(Session(model, np.load(x)))
    before = snapshot(tmp_path)
    with pytest.raises(ScopeError, match="--config file"):
        save_session(config, dbg)
    with pytest.raises(ScopeError, match="input file"):
        save_session(x, dbg, inputs=[("input file", x)])
    assert snapshot(tmp_path) == before


def test_a_full_model_h5_refuses_config(work, capsys):
    tmp, model, x = work
    garbage = tmp / "garbage.json"
    garbage.write_text("this is not a config")
    code, _, err = cli(capsys, "trace", model, "--input", x, "--key", "x", "--config", garbage,
                       "--out", tmp / "t.npz")
    assert_one_line(code, err, "model.h5", "holds its own model config", "--config")
