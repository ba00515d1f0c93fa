"""Fuzz: mutated copies of every committed fixture format through ``main.py info|trace|export``
and the session API. Each run must succeed (exit 0) or fail with exit 2 and exactly one stderr
line; never a traceback, never past its time limit, never changing an output when it fails,
never writing outside its temporary folder.

Hypothesis runs derandomized (fixed examples, no database) with a bounded number of examples,
so the whole suite stays well under a minute on two cores. Runs are in-process through
``main.main`` for speed, plus a few real subprocesses.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

import main
from engine import ScopeError
from tests.generative import generative_settings
from tests.helpers import FIXTURES, ROOT

RUN_LIMIT = 60.0          # seconds for one run on a busy 2-core machine (the reader's own: 4 s of CPU)
FUZZ = generative_settings(24, suppress_health_check=list(HealthCheck))
pytestmark = pytest.mark.generative

MODELS = {
    "keras3": FIXTURES / "keras3" / "lstm_last.keras",
    "h5": FIXTURES / "keras2" / "lstm_plain.h5",
    "torch": FIXTURES / "torch" / "lstm_1layer.pt",
    "safetensors": FIXTURES / "torch" / "lstm_safetensors.safetensors",
    "onnx": FIXTURES / "onnx" / "forward.onnx",
    "keras3-gru": FIXTURES / "gru" / "keras_bidirectional_gru.keras",   # GRU and RNN loaders
    "torch-gru": FIXTURES / "gru" / "torch_gru_2layer_bidirectional.pt",
    "onnx-gru": FIXTURES / "gru" / "onnx_gru_lbr1_bidirectional.onnx",
    "onnx-rnn": FIXTURES / "gru" / "onnx_rnn_bidirectional.onnx",
    "h5-gru": FIXTURES / "keras2" / "gru" / "bidirectional_gru.h5",      # Keras 2 GRU, CuDNNGRU
    "h5-cudnn-gru": FIXTURES / "keras2" / "gru" / "cudnn_gru.h5",
    "torch-xlstm": FIXTURES / "xlstm" / "slstm_h4.pt",                  # with its --config
}
MODEL_ARGS = {"torch-xlstm": ["--config", FIXTURES / "xlstm" / "slstm_h4.yaml"]}
"""What a model is opened with besides itself (``info`` and ``trace`` alike)."""
XLSTM_CONFIG = FIXTURES / "xlstm" / "slstm_h4.yaml"
MODEL_INPUTS = {   # an input each model accepts: a failure is the mutation's doing
    "keras3": (FIXTURES / "keras3" / "lstm_last.npz", "x"),
    "h5": (FIXTURES / "keras2" / "lstm_plain.npz", "x"),
    "torch": (FIXTURES / "torch" / "lstm_1layer.npz", "x"),
    "safetensors": (FIXTURES / "torch" / "lstm_safetensors.npz", "x"),
    "onnx": (FIXTURES / "onnx" / "forward.npz", "x"),
    "keras3-gru": (FIXTURES / "gru" / "keras_bidirectional_gru.npz", "x"),
    "torch-gru": (FIXTURES / "gru" / "torch_gru_2layer_bidirectional.npz", "x"),
    "onnx-gru": (FIXTURES / "gru" / "onnx_gru_lbr1_bidirectional.npz", "x"),
    "onnx-rnn": (FIXTURES / "gru" / "onnx_rnn_bidirectional.npz", "x"),
    "h5-gru": (FIXTURES / "keras2" / "gru" / "bidirectional_gru.npz", "x"),
    "h5-cudnn-gru": (FIXTURES / "keras2" / "gru" / "cudnn_gru.npz", "x"),
    "torch-xlstm": (FIXTURES / "xlstm" / "slstm_h4.npz", "x"),
}
INPUTS = {
    "npy": FIXTURES / "inputs" / "sine3.npy",
    "npz": FIXTURES / "inputs" / "sine3.npz",
    "csv": FIXTURES / "inputs" / "sine3.csv",
}
INPUT_MODEL = FIXTURES / "keras2" / "lstm_plain.h5"        # reads 3 features
SESSION = FIXTURES / "sessions" / "small.lstmscope"
HOSTILE_VALUES = [None, "seven", -1, 0, 2**63, 1e308, float("nan"), [], {}, [[[[1]]]], True,
                  "../../etc", "x" * 300]


# --- mutations ----------------------------------------------------------------------------------
@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    out = bytearray(data)
    kind = draw(st.sampled_from(["flip", "flip", "truncate", "zero", "insert", "splice"]))
    n = len(out)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            k = draw(st.integers(0, n - 1))
            out[k] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del out[draw(st.integers(0, n - 1)):]
    elif kind == "zero":
        a = draw(st.integers(0, n - 1))
        b = min(n, a + draw(st.integers(1, 512)))
        out[a:b] = bytes(b - a)
    elif kind == "insert":
        k = draw(st.integers(0, n))
        out[k:k] = draw(st.binary(min_size=1, max_size=64))
    else:                                  # a chunk of the file copied over another place
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        size = draw(st.integers(1, 256))
        out[b:b + size] = out[a:a + size]
    return bytes(out)


@st.composite
def bad_member_name(draw, data: bytes) -> bytes:
    """A zip with one member renamed so that its name, marked UTF-8, is not UTF-8."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    renamed = draw(st.sampled_from(sorted(members)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr("\u00e9" + name if name == renamed else name, content)
    return buf.getvalue().replace("\u00e9".encode(), b"\xff\xfe")


def zip_mutation(data: bytes) -> st.SearchStrategy[bytes]:
    """A byte-level mutation of a zip, or one member name that is not UTF-8."""
    return st.one_of(byte_mutation(data), bad_member_name(data))


def _json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _json_paths(v, (*prefix, k))


@st.composite
def json_member_mutation(draw, data: bytes, member: str) -> bytes:
    """A zip (a .keras or a session file) whose JSON member has one value replaced."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    doc = json.loads(members[member])
    paths = list(_json_paths(doc))
    path = draw(st.sampled_from(paths[1:] if len(paths) > 1 else paths))
    value = draw(st.sampled_from(HOSTILE_VALUES))
    if not path:
        doc = value
    else:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    members[member] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


# --- running ------------------------------------------------------------------------------------
@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary HOME and cache folders, a working folder inside, and what lies outside."""
    for var in ("HOME", "XDG_CACHE_HOME", "KERAS_HOME", "TORCH_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("LSTM_SCOPE_READ_TIMEOUT", "4")
    before = _outside_snapshot()
    yield work
    assert _outside_snapshot() == before, "a run wrote outside its temporary folder"


def _outside_snapshot() -> dict[str, float]:
    """Modification times of the repository's files (outside .git and caches)."""
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__", ".pytest_cache",
                                                ".hypothesis", ".ruff_cache")]
        for name in files:
            p = os.path.join(folder, name)
            out[p] = os.stat(p).st_mtime
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def run_cli(capsys, args: list) -> tuple[int, str]:
    capsys.readouterr()
    start = time.monotonic()
    code = main.main([str(a) for a in args])
    elapsed = time.monotonic() - start
    _, err = capsys.readouterr()
    assert elapsed < RUN_LIMIT, f"{args[0]} took {elapsed:.1f} s"
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lstm-scope: error: "), err
        assert "a bug in LSTM Scope" not in lines[0], lines[0]      # the last-resort line
    else:
        assert all(line.startswith("warning: ") for line in err.strip().splitlines()), err
    return code, err


def run_with_output(capsys, work: Path, args: list, out_name: str) -> int:
    """Run a command writing ``out_name`` over an existing file: a failure must leave it."""
    out = work / out_name
    out.write_bytes(b"precious old output")
    old = _digest(out)
    code, _ = run_cli(capsys, [*args, "--out", out])
    if code == 2:
        assert _digest(out) == old, "a failed run changed its output file"
    assert not [p for p in work.iterdir() if p.name.endswith(".part")]
    return code


def write(work: Path, name: str, data: bytes) -> Path:
    path = work / name
    path.write_bytes(data)
    return path


# --- the fuzz tests -------------------------------------------------------------------------------
@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(MODELS)))
def test_mutated_models(sandbox, capsys, data, kind):
    source = MODELS[kind]
    raw = source.read_bytes()
    if kind.startswith("keras3") and data.draw(st.booleans()):
        mutated = data.draw(json_member_mutation(raw, "config.json"))
    elif raw.startswith(b"PK"):
        mutated = data.draw(zip_mutation(raw))
    else:
        mutated = data.draw(byte_mutation(raw))
    model = write(sandbox, "model" + source.suffix, mutated)
    extra = MODEL_ARGS.get(kind, [])
    code, _ = run_cli(capsys, ["info", model, *extra])
    if code == 0:
        x, key = MODEL_INPUTS[kind]
        run_with_output(capsys, sandbox, ["trace", model, *extra, "--input", x, "--key", key],
                        "t.npz")


@st.composite
def config_mutation(draw) -> tuple[str, bytes]:
    """The xLSTM fixture's config with one value replaced (written as YAML or JSON), or its
    YAML text mutated byte by byte: (suffix, content)."""
    import yaml
    text = XLSTM_CONFIG.read_bytes()
    if draw(st.booleans()):
        return ".yaml", draw(byte_mutation(text))
    doc = yaml.safe_load(text)
    path = draw(st.sampled_from(list(_json_paths(doc))))
    value = draw(st.sampled_from(HOSTILE_VALUES))
    if not path:
        doc = value
    else:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    if draw(st.booleans()):
        return ".json", json.dumps(doc).encode()
    return ".yaml", yaml.safe_dump(doc).encode()


@FUZZ
@given(mutation=config_mutation())
def test_mutated_xlstm_configs(sandbox, capsys, mutation):
    """An xLSTM state dict's --config, mutated: info and trace open it or refuse in one line
    (a drawn size builds nothing past the memory budget, a drawn block count nothing at all)."""
    suffix, content = mutation
    cfg = write(sandbox, "cfg" + suffix, content)
    model = MODELS["torch-xlstm"]
    code, _ = run_cli(capsys, ["info", model, "--config", cfg])
    if code == 0:
        x, key = MODEL_INPUTS["torch-xlstm"]
        run_with_output(capsys, sandbox, ["trace", model, "--config", cfg, "--input", x,
                                          "--key", key], "t.npz")


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(INPUTS)), command=st.sampled_from(
    ["trace", "export"]))
def test_mutated_inputs(sandbox, capsys, data, kind, command):
    source = INPUTS[kind]
    raw = source.read_bytes()
    x = write(sandbox, "x" + source.suffix,
              data.draw(zip_mutation(raw) if raw.startswith(b"PK") else byte_mutation(raw)))
    if command == "trace":
        run_with_output(capsys, sandbox, ["trace", INPUT_MODEL, "--input", x], "t.npz")
    else:
        out = data.draw(st.sampled_from(["e.csv", "e.npz"]))
        run_with_output(capsys, sandbox, ["export", INPUT_MODEL, "--input", x], out)


@FUZZ
@given(data=st.data())
def test_mutated_session_files(sandbox, data):
    from engine.debugging.session_file import open_session
    raw = SESSION.read_bytes()
    if data.draw(st.booleans()):
        mutated = data.draw(json_member_mutation(raw, "session.json"))
    else:
        mutated = data.draw(zip_mutation(raw))
    path = write(sandbox, "s.lstmscope", mutated)
    start = time.monotonic()
    try:
        session, dbg, _ = open_session(path)
    except ScopeError as exc:
        assert "\n" not in str(exc)
        return
    finally:
        assert time.monotonic() - start < RUN_LIMIT
    # what opens also works: step, evaluate watches and breakpoints, read every fork
    session.seek(session.steps)
    dbg.watch_values()
    dbg.all_hits()
    for fork in list(dbg.forks.forks.values()):
        fork.signal("h")


# --- a few real processes: the same promise seen from outside ----------------------------------
@pytest.mark.parametrize("kind", ["h5", "keras3", "npz-input"])
def test_mutated_files_in_a_real_process(tmp_path, kind):
    import random
    rng = random.Random(16)
    env = dict(os.environ)
    for var in ("HOME", "XDG_CACHE_HOME", "KERAS_HOME", "TORCH_HOME"):
        env[var] = str(tmp_path)
    for trial in range(3):
        source = INPUTS["npz"] if kind == "npz-input" else MODELS[kind]
        data = bytearray(source.read_bytes())
        for _ in range(4):
            k = rng.randrange(len(data))
            data[k] ^= 1 << rng.randrange(8)
        path = write(tmp_path, f"m{trial}{source.suffix}", bytes(data))
        args = (["trace", INPUT_MODEL, "--input", path, "--out", tmp_path / "t.npz"]
                if kind == "npz-input" else ["info", path])
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=RUN_LIMIT + 30)
        assert proc.returncode in (0, 2), proc.stderr
        assert "Traceback" not in proc.stderr
        if proc.returncode == 2:
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
