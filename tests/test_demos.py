"""Every bundled demo loads with its metadata, and the trained ones measurably learned.

Held-out data comes from resources/demos/generators.py with seeds the training never used;
the numbers are computed by the engine (no Keras), so this also checks the shipped files.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from engine import load_model
from engine.loaders.demos import DEMO_DIR, default_demo_input, demo_info, demo_names
from tests.helpers import assert_close

spec = importlib.util.spec_from_file_location("demo_generators", DEMO_DIR / "generators.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_all_demos_are_listed_with_sine_first():
    names = demo_names()
    assert names[0] == "sine"
    assert {"sine", "counter", "counter-gru", "text", "wide", "small"} <= set(names)
    assert load_model("demo").source == "demo:sine"


@pytest.mark.parametrize("name", ["sine", "counter", "counter-gru", "text", "code", "wide", "small"])
def test_demo_loads_with_metadata_and_default_input(name):
    model = load_model(f"demo:{name}")
    info = demo_info(name)
    assert info.title and len(info.description) > 80
    x = default_demo_input(info, model)
    result = model.trace(x)
    assert 0 <= info.suggested_step < result.layer(0).steps
    assert np.all(np.isfinite(result.layer(0).h))
    if info.suggested_unit is not None:
        assert 0 <= info.suggested_unit < model.traced_layers[0].units


def test_sine_demo_predicts_the_next_value():
    model = load_model("demo:sine")
    assert model.traced_layers[0].units == 12
    x, y = gen.noisy_sine(64, 80, seed=777)
    mse = float(np.mean((model.trace(x).output - y) ** 2))
    # a model that learned nothing predicts ~0: error about the variance of a sine (0.5)
    assert mse < 0.05, mse


def test_counter_demo_counts_depth_in_one_cell_state():
    model = load_model("demo:counter")
    info = demo_info("counter")
    ids, depth = gen.bracket_strings(128, 40, seed=888)
    result = model.trace(ids)
    accuracy = float(np.mean(np.round(result.output[..., 0]) == depth))
    assert accuracy > 0.95, accuracy
    c = result.layer(0).c[..., info.suggested_unit]
    corr = abs(np.corrcoef(c.ravel(), depth.ravel())[0, 1])
    assert corr > 0.9, corr
    assert info.vocabulary == ["<pad>", "(", ")"]


def test_counter_gru_demo_counts_depth_in_one_units_h():
    """The counter's task learned by a GRU: no C, so the unit the JSON names keeps the count in
    its h (on strings neither the training nor the script's measurement saw)."""
    model = load_model("demo:counter-gru")
    info = demo_info("counter-gru")
    assert model.traced_layers[0].weights.kind.name == "gru"
    ids, depth = gen.bracket_strings(128, 40, seed=888)
    result = model.trace(ids)
    accuracy = float(np.mean(np.round(result.output[..., 0]) == depth))
    assert accuracy > 0.95, accuracy
    layer = result.layer(0)
    assert layer.c.shape[-1] == 0                              # a GRU carries h alone
    h = layer.h[..., info.suggested_unit]
    corr = abs(np.corrcoef(h.ravel(), depth.ravel())[0, 1])
    assert corr > 0.9, corr
    assert info.suggested_unit == info.metrics["depth_unit"]
    assert f"unit {info.suggested_unit}" in info.description
    assert info.vocabulary == ["<pad>", "(", ")"]


def test_counter_gru_demo_matches_keras():
    """The shipped GRU demo traced by the engine equals Keras 3 running the same file: the
    model's output and the GRU layer's h, on the default input and on held-out strings."""
    import keras
    path = DEMO_DIR / demo_info("counter-gru").raw["model"]
    reference = keras.saving.load_model(path)
    gru_output = keras.Model(reference.inputs, reference.get_layer("gru").output)
    model = load_model("demo:counter-gru")
    default = default_demo_input(demo_info("counter-gru"), model)[None]
    held_out, _ = gen.bracket_strings(16, 50, seed=889)
    for ids in (default, held_out):
        result = model.trace(ids)
        assert_close(result.output, reference.predict(ids, verbose=0), "counter-gru output")
        assert_close(result.layer(0).h, gru_output.predict(ids, verbose=0), "counter-gru h")


def test_text_demo_beats_a_uniform_guess():
    model = load_model("demo:text")
    info = demo_info("text")
    text = (DEMO_DIR / "text_corpus.txt").read_text(encoding="utf-8").replace("\n", " ")
    ids = gen.encode(text, info.vocabulary)
    probs = model.trace(ids[None, :-1]).output[0]
    nll = float(-np.mean(np.log(probs[np.arange(len(ids) - 1), ids[1:]] + 1e-9)))
    assert nll < np.log(len(info.vocabulary)) - 1.0, nll
    assert 64 <= model.traced_layers[0].units <= 128


def test_code_demo_has_units_with_a_job_that_find_units_names():
    """The units the demo's description names follow their features on text the training and
    the script's own measurement never saw, and "Find units for…" ranks them first."""
    from engine.analyses.features import find_units
    model = load_model("demo:code")
    info = demo_info("code")
    found = info.metrics["units_found"]
    jobs = [v for v in found.values() if abs(v["corr"]) >= 0.8]
    assert len(jobs) >= 2, found
    text = gen.code_text(200, seed=4242)
    trace = model.trace(gen.encode(text, info.vocabulary)[None]).layer(0)
    for job in jobs:
        best = find_units(trace, text, job["feature"], top=1)[0]
        assert best.unit == job["unit"], (job, best)
        assert abs(best.r) >= 0.75, (job, best)      # held out again: a little slack
        assert f"unit {job['unit']}'s" in info.description and job["feature"] in info.description
    assert info.metrics["heldout_nll"] < info.metrics["uniform_nll"] - 2.0
