"""The engine against the committed Keras 3 fixtures: files and numbers Keras itself wrote.

Every ``NAME.keras`` with a reference ``NAME.npz`` is loaded with no Keras import, traced on the
fixture's input, and compared with Keras' own output and stepped cell — h, c and every gate of
every traced direction, within the Contracts' tolerance. (Legacy ``.h5`` files are covered by
the HDF5 loader's tests.)
"""

from __future__ import annotations

import pytest

from engine import load_model
from tests.helpers import FIXTURES, assert_close, load_reference, reference_layers

KERAS3 = FIXTURES / "keras3"
CASES = sorted(p.stem for p in KERAS3.glob("*.npz") if (KERAS3 / f"{p.stem}.keras").exists())
LAYER_INPUT_ONLY = {"functional_branches"}   # not a chain: traced through --layer-input


def test_fixtures_are_present():
    assert len(CASES) >= 80, "the Keras 3 fixtures are missing; run scripts/make_keras_fixtures.py"


@pytest.mark.parametrize("case", [c for c in CASES if c not in LAYER_INPUT_ONLY])
def test_keras3_fixture(case):
    ref = load_reference(KERAS3 / f"{case}.npz")
    model = load_model(KERAS3 / f"{case}.keras")
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], f"{case}: output")
    extra = 1
    while f"output_{extra}" in ref:
        assert_close(result.outputs[extra], ref[f"output_{extra}"], f"{case}: output_{extra}")
        extra += 1
    layers = reference_layers(ref)
    assert result.names == [str(ref[f"layer{k}_name"]) for k in layers]
    for k in layers:
        tr = result.layer(k)
        assert tr.direction == str(ref[f"layer{k}_direction"])
        assert (tr.mask == ref[f"layer{k}_mask"]).all(), f"{case}: mask"
        for key in ("x", "i", "f", "g", "o", "c", "h"):
            assert_close(getattr(tr, key), ref[f"layer{k}_{key}"], f"{case}: layer{k}.{key}")
        for key in ("zx", "zh"):
            if f"layer{k}_{key}" in ref:
                assert_close(getattr(tr, key), ref[f"layer{k}_{key}"], f"{case}: layer{k}.{key}")


def test_initial_state_fixture():
    ref = load_reference(KERAS3 / "initial_state.npz")
    model = load_model(KERAS3 / "initial_state.keras")
    result = model.trace(ref["x"], initial_state=(ref["h0"], ref["c0"]))
    assert_close(result.layer(0).h, ref["state_layer0_h"], "h with initial state")
    assert_close(result.layer(0).c, ref["state_layer0_c"], "c with initial state")
