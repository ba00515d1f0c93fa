"""Models whose input is not (batch, time, features): an image read by a CNN then a BiLSTM,
a waveform framed by a Conv1d then read by an LSTM (scripts/make_input_kind_fixtures.py). The
traces match torch; the model's input is told apart from the traced layer's own input; an
export writes its picture with nothing on stderr but the capture's warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.loaders import load_model
from engine.network.model_input import (
    ARRAY,
    IMAGE,
    LAYER,
    SEQUENCE,
    TOKENS,
    WAVEFORM,
    classify,
    model_input_kind,
    step_input,
)
from engine.session import Session
from tests.helpers import FIXTURES, check_captured_trace, image_of, read_npz, run_cli

CAP = FIXTURES / "capture"
CASES = {"image_bilstm": ("image", IMAGE, (1, 1, 16, 40), 20, 32),
         "audio_lstm": ("wave", WAVEFORM, (1, 800), 39, 8)}


@pytest.mark.parametrize("case", CASES)
def test_the_trace_matches_torch_and_the_layer_reads_its_own_input(case):
    name, kind, shape, steps, features = CASES[case]
    model, inputs, _ = check_captured_trace(CAP / f"{case}.onnx", CAP / f"{case}.input.npz",
                                            CAP / f"{case}.ref.npz")
    ref = read_npz(CAP / f"{case}.ref.npz")
    session = Session(model, inputs)
    found = model_input_kind(session)
    assert (found.kind, found.shape) == (kind, shape) and not found.is_layer_input
    assert step_input(session).shape == (steps, features)
    np.testing.assert_allclose(step_input(session), ref["layer0_x"][0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape, dtype, steps, kind", [
    ((2, 30), np.int64, 30, TOKENS), ((2, 30), np.float32, 30, SEQUENCE),
    ((2, 30, 3), np.float32, 30, SEQUENCE), ((1, 16000), np.float32, 50, WAVEFORM),
    ((1, 2, 16000), np.float32, 50, WAVEFORM), ((1, 1, 64, 160), np.float32, 40, IMAGE),
    ((1, 64, 160, 3), np.float32, 40, IMAGE), ((1, 32, 32), np.float32, 8, IMAGE),
    ((1, 3, 5, 7, 2), np.float32, 4, ARRAY),
])
def test_what_a_model_reads_is_told_by_its_shape(shape, dtype, steps, kind):
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 5, shape) if dtype == np.int64 else rng.normal(size=shape)).astype(dtype)
    found = classify(x, steps)
    assert found.kind == kind and found.shape == shape
    assert found.channels_first == (shape != (1, 64, 160, 3))


def test_a_layer_input_session_reads_its_own_input():
    model = load_model(CAP / "image_bilstm.onnx")
    x = read_npz(CAP / "image_bilstm.ref.npz")["layer0_x"]
    session = Session(model, x, layer_input=True)
    assert model_input_kind(session).kind == LAYER
    np.testing.assert_array_equal(step_input(session), x[0])


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("view", ["units", "window", "layer"])
def test_export_of_an_image_or_audio_model_is_clean(tmp_path, case, view):
    """Exit 0, no traceback (there were three, from the input views), the model's input named
    as what it is, and the reads strip a small share of the picture."""
    name, kind, shape, steps, features = CASES[case]
    out = tmp_path / f"{view}.png"
    proc = run_cli("export", str(CAP / f"{case}.onnx"), "--input", str(CAP / f"{case}.input.npz"),
                   "--view", view, "--out", str(out), "--width", "900")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr
    assert all(line.startswith("warning:") for line in proc.stderr.splitlines()), proc.stderr
    meta = json.loads(image_of(out).text["lstm-scope"])
    assert meta["steps"] == steps and meta["view"] == view
    if view == "units":
        assert _strip_share(out) < 0.12


def _strip_share(path) -> float:
    """The share of the picture's height the units view's input strip takes: the rows below
    the lanes (shaded bands alternate) and above the time axis that hold the heat strip's
    colours (saturated, not the lanes' pale shading)."""
    rgb = np.asarray(image_of(path).convert("RGB")).astype(int)
    saturation = rgb.max(-1) - rgb.min(-1)
    strong = (saturation > 60).mean(1)          # rows where many pixels are strongly coloured
    rows = np.nonzero(strong > 0.5)[0]           # lanes' curves never colour half a row
    return len(rows) / rgb.shape[0]
