"""The open options (--config, --allow-length, --trust) work alike for every command that opens
a model: trace, info, export and grad take them from the one options table
(engine.network.model_options), and each option changes what each command does (refused without it,
run with it)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import main
from tests.helpers import FIXTURES

CAP = FIXTURES / "capture"
COMMANDS = ("trace", "info", "export", "grad")


def _run(capsys, *args) -> tuple[int, str]:
    code = main.main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


def _command(command: str, model: Path, x: Path, tmp: Path) -> list[str]:
    """``command`` on ``model`` and input ``x``, with whatever output the command needs."""
    args = [command, str(model), "--input", str(x)]
    if command == "trace":
        args += ["--out", str(tmp / f"{command}.npz")]
    elif command == "export":
        args += ["--out", str(tmp / "units.csv")]
    elif command == "grad":
        args += ["--target", "sumsq(h[:, last, :])", "--out", str(tmp / "grad.npz")]
    return args


def _refused(code: int, err: str, needle: str) -> None:
    """Exit 2, one error line, and ``needle`` said (in the error, or in the warning that
    explains it)."""
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and needle in err, err


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("open_options")
    keras.utils.set_random_seed(4)
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, return_sequences=True,
                                                                     name="lstm")])
    m.save_weights(tmp / "m.weights.h5")
    (tmp / "m.json").write_text(m.to_json())
    fixed = keras.Sequential([keras.Input((8, 3)), keras.layers.LSTM(4, name="lstm")])
    fixed.save(tmp / "fixed.keras")
    np.save(tmp / "x.npy", np.random.default_rng(0).standard_normal((1, 5, 3)).astype(np.float32))
    return {"weights": tmp / "m.weights.h5", "config": tmp / "m.json", "fixed": tmp / "fixed.keras",
            "x": tmp / "x.npy"}


@pytest.mark.parametrize("command", COMMANDS)
def test_config_opens_a_weights_only_h5(command, models, tmp_path, capsys):
    args = _command(command, models["weights"], models["x"], tmp_path)
    _refused(*_run(capsys, *args), "--config")
    code, err = _run(capsys, *args, "--config", models["config"])
    assert code == 0, err


@pytest.mark.parametrize("command", COMMANDS)
def test_allow_length_runs_another_length_with_a_warning(command, models, tmp_path, capsys):
    args = _command(command, models["fixed"], models["x"], tmp_path)
    _refused(*_run(capsys, *args), "--allow-length")
    code, err = _run(capsys, *args, "--allow-length")
    assert code == 0, err
    assert err.count("allowed by --allow-length") == 1, err


@pytest.mark.parametrize("command", COMMANDS)
def test_trust_runs_a_torchscript_archive(command, tmp_path, capsys):
    args = _command(command, CAP / "scripted_conv_lstm.pt", CAP / "scripted_conv_lstm.input.npz",
                    tmp_path)
    _refused(*_run(capsys, *args), "--trust")
    code, err = _run(capsys, *args, "--trust")
    assert code == 0, err
