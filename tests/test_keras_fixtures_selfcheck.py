"""The committed Keras 3 fixtures (tests/fixtures/keras3, scripts/make_keras_fixtures.py) are
consistent in themselves: keys, shapes, dtypes, time-axis alignment, masked steps, and the
relations between a traced layer and what Keras returned. numpy, zipfile and h5py only: no
engine, no Keras, so a broken fixture is told apart from a broken engine."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest

from tests.helpers import FIXTURES, assert_close, load_reference, reference_layers
from tests.reference import sigmoid

DIR = FIXTURES / "keras3"
NPZ = sorted(DIR.glob("*.npz"))
IDS = [p.stem for p in NPZ]
GATES = ("i", "f", "g", "o")
MERGE = {
    "concat": lambda a, b: np.concatenate([a, b], -1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}
REFUSED_ONLY = ("gru", "simple_rnn", "conv_lstm1d", "conv_lstm2d")



def test_the_keras3_fixtures_are_committed():
    assert NPZ, "no Keras 3 fixtures under tests/fixtures/keras3 (scripts/ writes them)"


def _order(direction, t_len):
    return range(t_len - 1, -1, -1) if direction == "backward" else range(t_len)


def _final(ref, k):
    h = ref[f"layer{k}_h"]
    return h[:, 0] if str(ref[f"layer{k}_direction"]) == "backward" else h[:, -1]


def _seq_in_input_order(ref, k, seq):
    return seq[:, ::-1] if str(ref[f"layer{k}_direction"]) == "backward" else seq


def test_fixture_set_is_complete_and_small():
    names = set(IDS)
    for needed in ("units1", "units3_features1", "units7_features5", "units256_features64",
                   "act_hard_sigmoid", "ract_hard_sigmoid", "lstm_nobias", "go_backwards_seq",
                   "go_backwards_last", "lstm_last", "stacked2", "stacked3", "batch3",
                   "embedding_lstm_dense", "lstm_dense_activation_dropout", "initial_state",
                   "return_state", "masking_gaps", "embedding_mask_zero", "bidirectional_concat",
                   "bidirectional_sum", "bidirectional_mul", "bidirectional_ave", "bidirectional_none",
                   "stateful", "functional_chain", "time_distributed", "functional_branches"):
        assert needed in names, needed
    for stem in IDS:
        assert (DIR / f"{stem}.keras").is_file(), stem
    for stem in REFUSED_ONLY:
        assert (DIR / f"{stem}.keras").is_file() and (DIR / f"{stem}.h5").is_file(), stem
    assert len(list(DIR.glob("*.h5"))) >= 8
    sizes = [p.stat().st_size for p in DIR.iterdir() if p.is_file()]
    assert max(sizes) < 1.5e6 and sum(sizes) < 8e6


@pytest.mark.parametrize("path", NPZ, ids=IDS)
def test_keys_shapes_and_meta(path):
    ref = load_reference(path)
    meta = ref["meta"]
    assert meta["case"] == path.stem
    assert meta["keras_version"].startswith("3.")
    x, out = ref["x"], ref["output"]
    assert out.dtype == np.float32 and np.isfinite(out).all()
    if x.ndim == 2:
        assert x.dtype == np.int32
    else:
        assert x.dtype == np.float32 and x.ndim == 3
    b, t_len = x.shape[:2]
    ks = reference_layers(ref)
    assert ks and [str(ref[f"layer{k}_name"]) for k in ks] == meta["traced_layers"]
    assert set(meta["lstm_configs"]) == set(meta["traced_layers"])
    assert not any(key.startswith(f"layer{len(ks)}_") for key in ref)
    for k in ks:
        name = str(ref[f"layer{k}_name"])
        cfg = meta["lstm_configs"][name]
        n = cfg["units"]
        direction = str(ref[f"layer{k}_direction"])
        expected = "backward" if (cfg["go_backwards"] or name.endswith("/backward")) else "forward"
        assert direction == expected, name
        for key in ("h", "c", *GATES):
            arr = ref[f"layer{k}_{key}"]
            assert arr.shape == (b, t_len, n) and arr.dtype == np.float32, (name, key)
        for key in ("zx", "zh"):
            assert ref[f"layer{k}_{key}"].shape == (b, t_len, 4, n), (name, key)
        assert ref[f"layer{k}_zb"].shape == (4, n)
        if not cfg["use_bias"]:
            assert not ref[f"layer{k}_zb"].any()
        assert ref[f"layer{k}_h0"].shape == ref[f"layer{k}_c0"].shape == (b, n)
        mask = ref[f"layer{k}_mask"]
        assert mask.shape == (b, t_len) and mask.dtype == bool
        lx = ref[f"layer{k}_x"]
        assert lx.dtype == np.float32 and lx.shape[:2] == (b, t_len) and lx.ndim == 3


@pytest.mark.parametrize("path", NPZ, ids=IDS)
def test_recurrence_and_masked_steps(path):
    """c = f*c_prev + i*g at every read step (previous = in processing order), z = zx+zh+zb
    gives the gates for sigmoid gates, and masked steps are NaN gates with h, c carried."""
    ref = load_reference(path)
    for k in reference_layers(ref):
        name = str(ref[f"layer{k}_name"])
        cfg = ref["meta"]["lstm_configs"][name]
        h, c, mask = ref[f"layer{k}_h"], ref[f"layer{k}_c"], ref[f"layer{k}_mask"]
        assert np.isfinite(h).all() and np.isfinite(c).all(), name
        h_prev, c_prev = ref[f"layer{k}_h0"], ref[f"layer{k}_c0"]
        for t in _order(str(ref[f"layer{k}_direction"]), h.shape[1]):
            keep = mask[:, t]
            for key in (*GATES, "zx", "zh"):
                arr = ref[f"layer{k}_{key}"][:, t]
                assert np.isnan(arr[~keep]).all() and np.isfinite(arr[keep]).all(), (name, key, t)
            g = {key: ref[f"layer{k}_{key}"][keep, t] for key in GATES}
            assert_close(c[keep, t], g["f"] * c_prev[keep] + g["i"] * g["g"], f"{name} c t={t}")
            if cfg["recurrent_activation"] == "sigmoid":
                z = ref[f"layer{k}_zx"][keep, t] + ref[f"layer{k}_zh"][keep, t] + ref[f"layer{k}_zb"]
                for j, key in enumerate(GATES):
                    if key != "g":
                        assert_close(g[key], sigmoid(z[:, j]), f"{name} {key} t={t}")
            if cfg["activation"] == "tanh":
                assert_close(h[keep, t], g["o"] * np.tanh(c[keep, t]), f"{name} h t={t}")
            assert np.array_equal(h[~keep, t], h_prev[~keep]), (name, t)
            assert np.array_equal(c[~keep, t], c_prev[~keep]), (name, t)
            h_prev, c_prev = h[:, t], c[:, t]


@pytest.mark.parametrize("path", NPZ, ids=IDS)
def test_layer_output_matches_trace(path):
    """What each plain LSTM layer returned is its h (re-aligned), also on masked steps."""
    ref = load_reference(path)
    behaviours = ref["meta"]["masked_step_output"]
    for k in reference_layers(ref):
        name = str(ref[f"layer{k}_name"])
        if "/" in name:
            assert f"layer{k}_output" not in ref
            continue
        cfg = ref["meta"]["lstm_configs"][name]
        own = ref[f"layer{k}_output"]
        if not cfg["return_sequences"]:
            assert_close(own, _final(ref, k), f"{name} last output")
            continue
        seq, mask, h = _seq_in_input_order(ref, k, own), ref[f"layer{k}_mask"], ref[f"layer{k}_h"]
        assert_close(seq[mask], h[mask], f"{name} sequence")
        if behaviours.get(name) == "zeros":
            assert cfg["zero_output_for_mask"] and not seq[~mask].any()
        else:
            assert_close(seq[~mask], h[~mask], f"{name} masked steps carry the previous output")


@pytest.mark.parametrize("path", NPZ, ids=IDS)
def test_model_output_when_the_lstm_is_last(path):
    ref = load_reference(path)
    meta = ref["meta"]
    last = meta["layers"][-1]
    if last["class_name"] == "LSTM":
        k = meta["traced_layers"].index(last["config"]["name"])
        assert_close(ref["output"], ref[f"layer{k}_output"], "model output is the LSTM's")
        if not last["config"]["return_sequences"]:
            assert_close(ref["output"], _final(ref, k), "output = h after the last read step")
    elif last["class_name"] == "Bidirectional":
        bi = last["config"]["name"]
        kf, kb = meta["traced_layers"].index(f"{bi}/forward"), meta["traced_layers"].index(f"{bi}/backward")
        seqs = meta["lstm_configs"][f"{bi}/forward"]["return_sequences"]
        a, b = (ref[f"layer{kf}_h"], ref[f"layer{kb}_h"]) if seqs else (_final(ref, kf), _final(ref, kb))
        mode = last["config"]["merge_mode"]
        merged = a if mode is None else MERGE[mode](a, b)
        mask = ref[f"layer{kf}_mask"]
        if mode is None:  # the backward sequence comes back input-aligned
            second = ref["output_1"][mask] if seqs else ref["output_1"]
            assert_close(second, b[mask] if seqs else b, "second output = backward direction")
        if seqs:
            assert_close(ref["output"][mask], merged[mask], "merged output")
            assert meta["masked_step_output"].get(bi) == ("zeros" if (~mask).any() else None)
            assert not ref["output"][~mask].any(), "Bidirectional returns zeros on masked steps"
        else:
            assert_close(ref["output"], merged, "merged last output")


def test_go_backwards_output_is_in_processing_order():
    ref = load_reference(DIR / "go_backwards_seq.npz")
    assert_close(ref["output"][:, ::-1], ref["layer0_h"], "output reversed = input-aligned h")
    ref = load_reference(DIR / "go_backwards_last.npz")
    assert_close(ref["output"], ref["layer0_h"][:, 0], "last output = h after reading input 0")


def test_lstm_last_output():
    ref = load_reference(DIR / "lstm_last.npz")
    assert ref["meta"]["lstm_configs"]["lstm"]["return_sequences"] is False
    assert_close(ref["layer0_h"][:, -1], ref["output"], "h after input T-1 is the output")


def test_stacked_layers_feed_each_other():
    for stem in ("stacked2", "stacked3", "functional_chain"):
        ref = load_reference(DIR / f"{stem}.npz")
        for k in reference_layers(ref)[1:]:
            assert_close(ref[f"layer{k}_x"], ref[f"layer{k - 1}_h"], f"{stem}: layer{k} input")
    ref = load_reference(DIR / "lstm_dense_activation_dropout.npz")
    assert_close(ref["layer0_x"], ref["x"], "first layer reads the model input")


def test_return_state_outputs():
    ref = load_reference(DIR / "return_state.npz")
    assert_close(ref["output"], ref["layer0_h"], "sequence")
    assert_close(ref["output_1"], ref["layer0_h"][:, -1], "state_h")
    assert_close(ref["output_2"], ref["layer0_c"][:, -1], "state_c")


def test_initial_state_references():
    ref = load_reference(DIR / "initial_state.npz")
    assert ref["h0"].shape == ref["c0"].shape == ref["layer0_h0"].shape
    assert not ref["layer0_h0"].any() and not ref["layer0_c0"].any()
    assert np.array_equal(ref["state_layer0_h0"], ref["h0"])
    assert np.array_equal(ref["state_layer0_c0"], ref["c0"])
    assert_close(ref["output_with_state"], ref["state_layer0_h"], "output with initial state")
    g = {key: ref[f"state_layer0_{key}"][:, 0] for key in GATES}
    assert_close(ref["state_layer0_c"][:, 0], g["f"] * ref["c0"] + g["i"] * g["g"], "first step from c0")
    assert np.abs(ref["output_with_state"] - ref["output"]).max() > 1e-3  # the state matters


def test_stateful_segments():
    ref = load_reference(DIR / "stateful.npz")
    meta = ref["meta"]
    segs = [ref[f"x_seg{k}"] for k in range(meta["segments"])]
    assert np.array_equal(np.concatenate(segs, axis=1), ref["x"])
    outs = [ref[f"output_seg{k}"] for k in range(meta["segments"])]
    assert np.array_equal(np.concatenate(outs, axis=1), ref["output"])
    assert_close(ref["layer0_output"], ref["layer0_h"], "LSTM output across segments")
    seg_len = meta["segment_length"]
    assert ref["layer0_h"].shape[1] == seg_len * meta["segments"]


def test_masking_inputs_have_zeros_exactly_where_masked():
    for stem in ("masking_gaps", "masking_zero_output", "masking_go_backwards", "bidirectional_masked"):
        ref = load_reference(DIR / f"{stem}.npz")
        assert np.array_equal(ref["layer0_mask"], (ref["x"] != 0).any(-1)), stem
        assert not ref["layer0_mask"].all()
    ref = load_reference(DIR / "embedding_mask_zero.npz")
    assert np.array_equal(ref["layer0_mask"], ref["x"] != 0)
    ref = load_reference(DIR / "embedding_lstm_dense.npz")
    assert ref["layer0_mask"].all() and (ref["x"] == 0).any()  # no mask_zero: 0 is a token
    for path in NPZ:  # no accidental masks elsewhere
        ref = load_reference(path)
        if "mask" not in path.stem:
            assert all(ref[f"layer{k}_mask"].all() for k in reference_layers(ref)), path.stem


def test_hard_sigmoid_is_the_keras3_one():
    ref = load_reference(DIR / "ract_hard_sigmoid.npz")
    z = ref["layer0_zx"] + ref["layer0_zh"] + ref["layer0_zb"]
    for j, key in ((0, "i"), (1, "f"), (3, "o")):
        assert_close(ref[f"layer0_{key}"], np.clip(z[:, :, j] / 6 + 0.5, 0, 1), key)
    assert (np.abs(z) > 2.5).any()  # where 0.2x+0.5 and x/6+1/2 differ by more than the tolerance


@pytest.mark.parametrize("path", sorted(DIR.glob("*.keras")), ids=lambda p: p.stem)
def test_keras_archives_are_keras3(path):
    with zipfile.ZipFile(path) as z:
        assert {"metadata.json", "config.json", "model.weights.h5"} <= set(z.namelist())
        assert json.loads(z.read("metadata.json"))["keras_version"].startswith("3.")


@pytest.mark.parametrize("path", sorted(DIR.glob("*.h5")), ids=lambda p: p.stem)
def test_h5_files_are_written_by_keras3(path):
    with h5py.File(path, "r") as f:
        version = f.attrs["keras_version"]
        version = version.decode() if isinstance(version, bytes) else str(version)
        assert version.startswith("3.")
        assert "model_config" in f.attrs and "model_weights" in f
