"""The command line as a user meets it: trace and info work, bad input gives one line, exit 2.

What crosses the process boundary runs ``python main.py`` in a fresh interpreter
(``run_cli_process``: ``--version``, a whole trace, a refused file's exit code and single line);
the commands' own logic runs in this process through ``main.main`` (``run_cli``), which captures
the same exit code, stdout and stderr without an interpreter's start-up per call."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from tests.helpers import assert_clean_error, run_cli, run_cli_process


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    from tests.keras_ref import randomize
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(5, return_sequences=True),
                              keras.layers.LSTM(4), keras.layers.Dense(2)])
    randomize(model, seed=1)
    path = tmp_path_factory.mktemp("models") / "two.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    np.save(path.parent / "x.npy", x)
    return path, model, x


def test_trace_writes_every_contract_array(keras_file, tmp_path):
    path, model, x = keras_file
    out = tmp_path / "t.npz"
    proc = run_cli_process("trace", str(path), "--input", str(path.parent / "x.npy"), "--layer", "1",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        for name in ("i", "f", "g", "o", "c", "h", "zx", "zh", "zb", "h0", "c0", "mask", "x", "output"):
            assert name in data.files, name
        assert data["h"].shape == (1, 8, 4) and data["zx"].shape == (1, 8, 4, 4)
        assert data["x"].shape == (1, 8, 5)          # layer 1 reads layer 0's h
        ref = model.predict(x[None], verbose=0)
        assert np.allclose(data["output"], ref, atol=1e-5)
        meta = json.loads(str(data["meta"]))
        assert meta["layer"] == model.layers[1].name and meta["direction"] == "forward"


def test_trace_reads_csv_with_header_and_layer_by_name(keras_file, tmp_path):
    path, model, x = keras_file
    csv = tmp_path / "x.csv"
    csv.write_text("a,b,c\n" + "\n".join(",".join(f"{v:.9g}" for v in row) for row in x) + "\n\n")
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(path), "--input", str(csv), "--layer", model.layers[0].name,
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        assert np.allclose(data["x"][0], x, atol=1e-6)


def test_info_text_and_json(keras_file):
    path, model, _ = keras_file
    proc = run_cli("info", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["params"] == model.count_params()
    first = info["traced_layers"][0]
    assert first["shapes"] == {"kernel": [3, 20], "recurrent_kernel": [5, 20], "bias": [20]}
    assert first["params"] == 4 * (5 * (3 + 5) + 5)
    text = run_cli("info", str(path)).stdout
    assert "kernel=(3, 20)" in text and "recurrent=(5, 20)" in text


def test_version():
    proc = run_cli_process("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("lstm-scope ")


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "random", "no_config",
                                  "bad_json", "directory", "unknown_suffix"])
def test_bad_model_files_fail_cleanly(case, keras_file, tmp_path):
    path, _, _ = keras_file
    good = path.read_bytes()
    target = {
        "missing": lambda: tmp_path / "nope.keras",
        "empty": lambda: _write(tmp_path / "e.keras", b""),
        "truncated": lambda: _write(tmp_path / "t.keras", good[: len(good) // 2]),
        "random": lambda: _write(tmp_path / "r.keras", np.random.default_rng(0).bytes(4096)),
        "no_config": lambda: _zip(tmp_path / "n.keras", {"other.txt": "x"}),
        "bad_json": lambda: _zip(tmp_path / "j.keras", {"config.json": "{nope",
                                                        "model.weights.h5": "x"}),
        "directory": lambda: tmp_path,
        "unknown_suffix": lambda: _write(tmp_path / "m.xyz", b"hello"),
    }[case]()
    # one case through a fresh interpreter: exit code 2 and one line at the process boundary
    run = run_cli_process if case == "truncated" else run_cli
    assert_clean_error(run("info", str(target)), str(target))


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_model_without_lstm(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "dense.keras"
    model.save(path)
    assert_clean_error(run_cli("info", str(path)), "no LSTM")


@pytest.mark.parametrize("case,needle", [
    ("wrong_features", "expects 3 features"), ("wrong_rank", "shape"),
    ("csv_not_number", "not a number"), ("csv_ragged", "columns"), ("missing", "no such file"),
    ("bad_npz_key", "no array"), ("text_npy", "not a readable")])
def test_bad_inputs_fail_cleanly(case, needle, keras_file, tmp_path):
    path, _, _ = keras_file
    rng = np.random.default_rng(0)
    f = tmp_path / "in.npy"
    extra: list[str] = []
    if case == "wrong_features":
        np.save(f, rng.normal(size=(6, 4)).astype(np.float32))
    elif case == "wrong_rank":
        np.save(f, rng.normal(size=(2, 2, 6, 3)).astype(np.float32))
    elif case == "csv_not_number":
        f = tmp_path / "in.csv"
        f.write_text("1,2,3\n4,five,6\n")
    elif case == "csv_ragged":
        f = tmp_path / "in.csv"
        f.write_text("1,2,3\n4,5\n")
    elif case == "missing":
        f = tmp_path / "absent.npy"
    elif case == "bad_npz_key":
        f = tmp_path / "in.npz"
        np.savez(f, a=rng.normal(size=(6, 3)))
        extra = ["--key", "b"]
    elif case == "text_npy":
        f.write_text("not numpy at all")
    proc = run_cli("trace", str(path), "--input", str(f), *extra, "--out", str(tmp_path / "o.npz"))
    assert_clean_error(proc, needle, str(f))


def test_nan_in_input_propagates_with_a_warning(keras_file, tmp_path):
    path, _, x = keras_file
    bad = x.copy()
    bad[3, 1] = np.nan
    f = tmp_path / "nan.npy"
    np.save(f, bad)
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(path), "--input", str(f), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "warning:" in proc.stderr and "NaN" in proc.stderr
    with np.load(out) as data:
        assert np.all(np.isfinite(data["h"][0, :3])) and np.all(np.isnan(data["h"][0, 3:]))


def test_nan_weights_warn_in_info_and_trace(tmp_path):
    model = keras.Sequential([keras.Input((None, 2)), keras.layers.LSTM(3)])
    kernel, rec, bias = model.layers[0].get_weights()
    kernel[0, 0] = np.nan
    model.layers[0].set_weights([kernel, rec, bias])
    path = tmp_path / "nan.keras"
    model.save(path)
    proc = run_cli("info", str(path))
    assert proc.returncode == 0 and "warning:" in proc.stderr and "NaN" in proc.stderr
    np.save(tmp_path / "x.npy", np.ones((4, 2), np.float32))
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0 and "weights hold NaN" in proc.stderr
