"""Legacy .h5 files (Keras 2 via tf-keras, and Keras 3's HDF5 writer), stateful segments,
non-chain graphs and the clear refusals — against numbers the writing library computed."""

from __future__ import annotations

import numpy as np
import pytest

from engine import load_model
from tests.helpers import (
    FIXTURES,
    assert_clean_error,
    assert_close,
    load_reference,
    reference_layers,
    run_cli,
)

KERAS2 = FIXTURES / "keras2"
KERAS3 = FIXTURES / "keras3"
NO_OUTPUT_KERAS2 = {"keras21_list"}    # traced up to layers not computed (test_saved_weights)
H5_CASES = sorted(
    [("keras2", p.stem) for p in KERAS2.glob("*.npz")
     if (KERAS2 / f"{p.stem}.h5").exists() and p.stem not in NO_OUTPUT_KERAS2]
    + [("keras3", p.stem) for p in KERAS3.glob("*.npz")
       if (KERAS3 / f"{p.stem}.h5").exists() and p.stem != "functional_branches"])


def test_fixtures_are_present():
    assert len([c for c in H5_CASES if c[0] == "keras2"]) >= 18
    assert len([c for c in H5_CASES if c[0] == "keras3"]) >= 10


@pytest.mark.parametrize("writer,case", H5_CASES)
def test_h5_fixture(writer, case):
    folder = KERAS2 if writer == "keras2" else KERAS3
    ref = load_reference(folder / f"{case}.npz")
    model = load_model(folder / f"{case}.h5")
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], f"{case}: output")
    if "output_1" in ref:
        assert_close(result.outputs[1], ref["output_1"], f"{case}: output_1")
    for k in reference_layers(ref):
        tr = result.layer(k)
        assert tr.name == str(ref[f"layer{k}_name"])
        assert tr.direction == str(ref[f"layer{k}_direction"])
        assert np.array_equal(tr.mask, ref[f"layer{k}_mask"])
        for key in ("i", "f", "g", "o", "c", "h"):
            assert_close(getattr(tr, key), ref[f"layer{k}_{key}"], f"{case}: layer{k}.{key}")


def test_keras2_hard_sigmoid_is_keras2s():
    model = load_model(KERAS2 / "lstm_hard_sigmoid.h5")
    assert "0.2x" in model.traced_layers[0].weights.gate_activation.name
    keras3_model = load_model(KERAS3 / "ract_hard_sigmoid.h5")
    assert keras3_model.traced_layers[0].weights.gate_activation.name == "hard_sigmoid"


@pytest.mark.parametrize("folder,ext", [(KERAS3, ".keras"), (KERAS3, ".h5"), (KERAS2, ".h5")])
def test_stateful_segments_equal_one_long_run(folder, ext):
    ref = load_reference(folder / "stateful.npz")
    model = load_model(folder / f"stateful{ext}")
    states = None
    hs = []
    for k in range(3):
        result = model.trace(ref[f"x_seg{k}"], initial_state=states)
        assert_close(result.output, ref[f"output_seg{k}"], f"segment {k} output")
        states = result.states
        hs.append(result.layer(0).h)
    assert_close(np.concatenate(hs, axis=1), ref["layer0_h"], "carried h over three segments")
    assert model.traced_layers[0].stateful


def test_stateful_session_starts_from_carried_state():
    from engine import Session
    ref = load_reference(KERAS3 / "stateful.npz")
    model = load_model(KERAS3 / "stateful.keras")
    first = model.trace(ref["x_seg0"])
    s = Session(model, ref["x_seg1"], initial_state=first.states)
    s.to_end()
    seg = ref["x_seg1"].shape[1]
    assert_close(s.trace.h, ref["layer0_h"][:, seg:2 * seg], "session over segment 1")


def test_initial_state_file_on_the_cli(tmp_path):
    ref = load_reference(KERAS3 / "stateful.npz")
    model = load_model(KERAS3 / "stateful.keras")
    first = model.trace(ref["x_seg0"])
    h, c = first.states[model.layer_names[0]]
    np.savez(tmp_path / "state.npz", h0=h, c0=c)
    np.save(tmp_path / "x.npy", ref["x_seg1"])
    proc = run_cli("trace", str(KERAS3 / "stateful.keras"), "--input", str(tmp_path / "x.npy"),
                   "--initial-state", str(tmp_path / "state.npz"), "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["output"], ref["output_seg1"], "CLI segment with --initial-state")
    np.savez(tmp_path / "bad.npz", h=h)
    proc = run_cli("trace", str(KERAS3 / "stateful.keras"), "--input", str(tmp_path / "x.npy"),
                   "--initial-state", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "t.npz"))
    assert_clean_error(proc, "h0", "c0")


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_non_chain_graph_traces_with_layer_input(ext, tmp_path):
    ref = load_reference(KERAS3 / "functional_branches.npz")
    path = KERAS3 / f"functional_branches{ext}"
    model = load_model(path)
    assert not model.chain and model.warnings
    np.save(tmp_path / "lx.npy", ref["layer0_x"])
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "lx.npy"), "--layer-input",
                   "--out", str(tmp_path / "t.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "t.npz") as data:
        assert_close(data["h"], ref["layer0_h"], "layer-input h")
        assert_close(data["c"], ref["layer0_c"], "layer-input c")
    np.save(tmp_path / "x.npy", ref["x"])     # the whole model: Keras runs it, the LSTM is captured
    proc = run_cli("trace", str(path), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "u.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "u.npz") as data:
        assert_close(data["x"], ref["layer0_x"], "captured layer input")
        assert_close(data["h"], ref["layer0_h"], "captured h")


@pytest.mark.parametrize("path,needle", [
    (KERAS2 / "conv_lstm2d.h5", "ConvLSTM2D"),
    (KERAS2 / "savedmodel_lstm", "SavedModel"), (KERAS3 / "conv_lstm1d.keras", "ConvLSTM1D")])
def test_unsupported_layers_are_refused_clearly(path, needle):
    assert_clean_error(run_cli("info", str(path)), needle, str(path))


@pytest.mark.parametrize("path,cell", [
    (KERAS2 / "gru.h5", "GRU"), (KERAS2 / "simple_rnn.h5", "RNN"),
    (KERAS3 / "gru.keras", "GRU"), (KERAS3 / "simple_rnn.h5", "RNN")])
def test_gru_and_simple_rnn_files_open_as_their_cells(path, cell):
    """Once refused, now traced (tests/test_gru_keras.py checks the numbers against Keras)."""
    proc = run_cli("info", str(path))
    assert proc.returncode == 0, proc.stderr
    assert f" {cell} " in proc.stdout.split("traced layers:")[1]


def test_weights_only_h5_is_refused(tmp_path):
    import h5py
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"lstm"])
        f.create_dataset("lstm/kernel:0", data=np.zeros((2, 8)))
    assert_clean_error(run_cli("info", str(path)), "weights only")
