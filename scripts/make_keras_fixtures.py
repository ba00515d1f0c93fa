"""Write Keras 3 reference fixtures into tests/fixtures/keras3/ (or ``--out DIR``).

    KERAS_BACKEND=numpy python scripts/make_keras_fixtures.py [--out tests/fixtures/keras3]

Backend: **numpy** (``KERAS_BACKEND`` is set to ``numpy`` unless already set). Everything the
cases need (masking, Bidirectional, stateful predict, .keras and legacy .h5 saving) works with
it, so jax is not needed. Keras is only needed to *write* the fixtures; the tests read the
committed ``.npz`` files with numpy and the model files with zipfile/h5py (or Keras, live).

Rerunnable and deterministic: fixed seeds everywhere. Rerunning rewrites every ``.npz`` and
``.h5`` byte for byte. A fresh ``.keras`` archive differs from the last one only in
``metadata.json``'s ``date_saved``, a zip timestamp and the ``shared_object_id`` numbers of
``config.json`` (Python object ids), so an existing archive with the same config and weights is
left untouched.

For each case it writes

* ``NAME.keras`` -- the model saved by Keras 3 (``model.save("NAME.keras")``, native archive);
* ``NAME.h5``    -- for a few cases also ``model.save("NAME.h5")`` (Keras 3's legacy HDF5 writer);
* ``NAME.npz``   -- the reference numbers:

  - ``x``: the input fed: float32 (B,T,D), or int32 token ids (B,T) for an Embedding model;
  - ``output``: ``model.predict(x)``, the first output, float32 (``output_1``, ``output_2`` the
    further outputs where the model has several);
  - ``meta``: a JSON string (``np.array(json.dumps(...))``): keras_version, backend, case,
    description, ``layers`` (class_name + config of every layer), ``lstm_configs`` (the
    settings that matter, per traced layer), ``traced_layers``, ``masked_step_output``;
  - per traced LSTM direction ``k`` in model order: ``layer{k}_name`` (Keras layer name; a
    Bidirectional named ``bi`` gives ``bi/forward`` then ``bi/backward``),
    ``layer{k}_direction`` ('forward'/'backward'), float32 (B,T,N)
    ``layer{k}_{h,c,i,f,g,o}``, (B,T,4,N) ``layer{k}_zx`` / ``layer{k}_zh`` and (4,N)
    ``layer{k}_zb`` (pre-activation parts x.W, h_prev.U, b; gate axis i,f,g,o), (B,N)
    ``layer{k}_h0`` / ``layer{k}_c0``, (B,T) bool ``layer{k}_mask``, (B,T,D) ``layer{k}_x``
    (the layer's own input) and, for a plain LSTM layer, ``layer{k}_output`` (what that Keras
    layer itself returns, e.g. for ``--layer-input``);
  - initial-state cases: ``h0``, ``c0`` (B,N), ``output_with_state`` (the LSTM layer called
    directly on x with ``initial_state=[h0, c0]``) and ``state_layer0_*`` (same keys as
    ``layer0_*``, stepped from h0, c0);
  - stateful case: ``x_seg0..2``, ``output_seg0..2`` (predict on each segment in order,
    without a reset); x/output/layer0_* run across the concatenation.

TIME AXIS: index t holds the values computed when the cell read input position t, whatever
the direction (backward directions and go_backwards are re-aligned to input order). On a
masked step the gates and pre-activations are NaN and h, c carry the previous state.

h and c come from Keras itself: the layer's own cell is stepped,
``out, [h, c] = layer.cell(x[:, t], [h, c], training=False)``, in processing order. Gates come
from ``keras.ops`` and ``keras.activations.get(name)`` on the cell's kernel, recurrent_kernel
and bias (Keras gate order i, f, c, o); the script checks at every step that those gates
reproduce the cell's own c and h. It also asserts that the stepped h reproduces the layer's own
output (a Keras sub-model of the model) to 1e-6 (+1e-6 relative), and that every saved .keras /
.h5 reloaded by Keras predicts ``output`` again.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "numpy")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")
logging.getLogger("absl").setLevel(logging.ERROR)  # the "HDF5 is legacy" warning on every .h5

import keras  # noqa: E402
from keras import ops  # noqa: E402

L = keras.layers
ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras3"
KERAS_VERSION = keras.__version__
BACKEND = keras.backend.backend()
NOTES: list[str] = []
CASES: list[dict] = []

# Every activation name Keras 3 knows; the ones that cannot run inside an LSTM cell are
# recorded as refused (found by trying, not assumed).
ACTIVATIONS = [
    "tanh", "sigmoid", "hard_sigmoid", "relu", "linear", "softsign", "elu", "selu", "swish",
    "silu", "gelu", "exponential", "softplus", "relu6", "hard_silu", "hard_swish", "mish",
    "leaky_relu", "celu", "log_sigmoid", "hard_tanh", "tanh_shrink", "squareplus", "sparse_plus",
    "sparse_sigmoid", "soft_shrink", "hard_shrink", "softmax", "log_softmax", "sparsemax",
    "threshold", "glu",
]  # fmt: skip


# ---------------------------------------------------------------- helpers
def close(ours, ref, what, atol=1e-5, rtol=1e-5):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        raise AssertionError(f"{what}: shape {ours.shape} != {ref.shape}")
    if not np.array_equal(np.isnan(ours), np.isnan(ref)):
        raise AssertionError(f"{what}: NaN positions differ")
    if np.isinf(ours).any() or np.isinf(ref).any():
        raise AssertionError(f"{what}: Inf (weights too large for this activation?)")
    ok = ~np.isnan(ref)
    bad = np.abs(ours[ok] - ref[ok]) > atol + rtol * np.abs(ref[ok])
    if bad.any():
        raise AssertionError(f"{what}: max |diff| {np.max(np.abs(ours[ok] - ref[ok])):.3g}")


def tight(ours, ref, what):
    """Every fixture's self-check before it is written: h stepped by hand vs the layer's own
    output, to 1e-6 (tests compare against numbers Keras itself agreed with)."""
    close(ours, ref, what, atol=1e-6, rtol=1e-6)


def fresh(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)


def randomize(model, seed, scale=0.5):
    """Seeded random weights for every layer (scale ~0.5 keeps gates off saturation)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(0, scale, w.shape).astype(w.dtype) for w in ws])


def as_list(y):
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def predict(model, x, **kw):
    return as_list(model.predict(x, verbose=0, **kw))


def seq_x(rng, b, t, d):
    x = rng.normal(0, 1, (b, t, d)).astype(np.float32)
    x[x == 0] = 1e-3  # exact zeros only where masking is intended
    return x


# ---------------------------------------------------------------- stepping one direction
def step_direction(layer, x, mask, backward, h0=None, c0=None):
    """Step ``layer.cell`` (Keras' own code) over x (B,T,D); trace arrays input-aligned."""
    cell = layer.cell
    x = np.asarray(x, np.float32)
    b, t_len, _ = x.shape
    n = cell.units
    act = keras.activations.get(layer.get_config()["activation"])
    ract = keras.activations.get(layer.get_config()["recurrent_activation"])
    kernel = ops.convert_to_tensor(cell.kernel)
    rec = ops.convert_to_tensor(cell.recurrent_kernel)
    bias = ops.convert_to_tensor(cell.bias) if cell.use_bias else ops.zeros((4 * n,))
    h = np.zeros((b, n), np.float32) if h0 is None else np.asarray(h0, np.float32).copy()
    c = np.zeros((b, n), np.float32) if c0 is None else np.asarray(c0, np.float32).copy()
    mask = np.ones((b, t_len), bool) if mask is None else np.asarray(mask, bool)
    tr = {k: np.full((b, t_len, n), np.nan, np.float32) for k in "hcifgo"}
    tr["zx"] = np.full((b, t_len, 4, n), np.nan, np.float32)
    tr["zh"] = np.full((b, t_len, 4, n), np.nan, np.float32)
    tr["zb"] = np.asarray(bias, np.float32).reshape(4, n)
    tr["h0"], tr["c0"] = h.copy(), c.copy()
    order = range(t_len - 1, -1, -1) if backward else range(t_len)
    for t in order:
        xt = ops.convert_to_tensor(x[:, t])
        zx = ops.matmul(xt, kernel)
        zh = ops.matmul(ops.convert_to_tensor(h), rec)
        zi, zf, zg, zo = ops.split(zx + zh + bias, 4, axis=1)
        gates = {"i": ract(zi), "f": ract(zf), "g": act(zg), "o": ract(zo)}
        gates = {k: np.asarray(v, np.float32) for k, v in gates.items()}
        _, (hh, cc) = cell(xt, [h, c], training=False)
        hh, cc = np.asarray(hh, np.float32), np.asarray(cc, np.float32)
        keep = mask[:, t]
        # the gates must explain the cell's own c and h (catches a wrong gate order)
        c_ref = gates["f"] * c + gates["i"] * gates["g"]
        close(c_ref[keep], cc[keep], f"{layer.name} c from gates, t={t}")
        h_ref = gates["o"] * np.asarray(act(ops.convert_to_tensor(c_ref)))
        close(h_ref[keep], hh[keep], f"{layer.name} h from gates, t={t}")
        for k, v in gates.items():
            tr[k][keep, t] = v[keep]
        tr["zx"][keep, t] = np.asarray(zx).reshape(b, 4, n)[keep]
        tr["zh"][keep, t] = np.asarray(zh).reshape(b, 4, n)[keep]
        h = np.where(keep[:, None], hh, h).astype(np.float32)
        c = np.where(keep[:, None], cc, c).astype(np.float32)
        tr["h"][:, t], tr["c"][:, t] = h, c
    tr["mask"] = mask
    tr["x"] = x
    tr["direction"] = "backward" if backward else "forward"
    return tr


def final_h(tr):
    """The state after the last step in processing order."""
    return tr["h"][:, 0] if tr["direction"] == "backward" else tr["h"][:, -1]


def masked_behaviour(h, seq, mask, name):
    if mask.all():
        return None
    if np.allclose(seq[~mask], 0):
        return "zeros"
    tight(h[~mask], seq[~mask], f"{name} output (masked steps)")
    return "carried previous output"


def check_lstm(layer, tr, layer_out):
    """Stepped h must reproduce the LSTM layer's own output; returns masked-step behaviour."""
    h, mask = tr["h"], tr["mask"]
    if not layer.return_sequences:
        tight(final_h(tr), layer_out, f"{layer.name} output")
        return None
    seq = layer_out[:, ::-1] if tr["direction"] == "backward" else layer_out
    tight(h[mask], seq[mask], f"{layer.name} output (unmasked steps)")
    return masked_behaviour(h, seq, mask, layer.name)


MERGE = {
    "concat": lambda a, b: np.concatenate([a, b], -1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}


def check_bidirectional(bi, fw, bw, outs):
    """Stepped h of both directions must reproduce the Bidirectional's own output."""
    mask = fw["mask"]
    seqs = bi.return_sequences
    a, b = (fw["h"], bw["h"]) if seqs else (final_h(fw), final_h(bw))
    if bi.merge_mode is None:
        for mine, ref, what in ((a, outs[0], "forward"), (b, outs[1], "backward")):
            tight(mine[mask] if seqs else mine, ref[mask] if seqs else ref, f"bi {what}")
        merged, ref = a, outs[0]
    else:
        merged, ref = MERGE[bi.merge_mode](a, b), outs[0]
        tight(merged[mask] if seqs else merged, ref[mask] if seqs else ref, f"{bi.name} merged")
    return masked_behaviour(merged, ref, mask, bi.name) if seqs else None


# ---------------------------------------------------------------- tracing a whole model
def lstm_settings(layer, merge_mode=None):
    cfg = layer.get_config()
    keys = ("units", "activation", "recurrent_activation", "use_bias", "go_backwards",
            "return_sequences", "return_state", "stateful", "zero_output_for_mask", "unroll")  # fmt: skip
    out = {k: cfg.get(k) for k in keys}
    if merge_mode is not None or isinstance(layer, L.Bidirectional):
        out["merge_mode"] = merge_mode
    return out


def call_layer(layer, y, mask):
    kw = {}
    if getattr(layer, "_call_has_mask_arg", False) and mask is not None:
        kw["mask"] = mask
    if getattr(layer, "_call_has_training_arg", False):
        kw["training"] = False
    return layer(y, **kw)


def trace_model(model, x, walk=True):
    """Trace every LSTM (and both directions of every Bidirectional) in model order.

    A layer's input comes from a Keras sub-model ``keras.Model(model.inputs, layer.input)``.
    With ``walk`` (chain models) the model is also run eagerly layer by layer, masks
    propagated by Keras' own ``compute_mask``; the walked input must equal the sub-model's.
    """
    traced, behaviours, settings = [], {}, {}
    y, m = x, None
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        if isinstance(layer, (L.LSTM, L.Bidirectional)):
            inp = predict(keras.Model(model.inputs, layer.input), x)[0]
            if walk:
                close(np.asarray(y), inp, f"{layer.name}: walked input vs sub-model input")
            mask = None if (m is None or not walk) else np.asarray(m, bool)
            own = predict(keras.Model(model.inputs, layer.output), x)
            if isinstance(layer, L.LSTM):
                tr = step_direction(layer, inp, mask, layer.go_backwards)
                behaviours[layer.name] = check_lstm(layer, tr, own[0])
                tr["output"] = own[0]
                traced.append((layer.name, tr))
                settings[layer.name] = lstm_settings(layer)
            else:
                fw = step_direction(layer.forward_layer, inp, mask, False)
                bw = step_direction(layer.backward_layer, inp, mask, True)
                for sub_layer, tr in ((layer.forward_layer, fw), (layer.backward_layer, bw)):
                    # each wrapped layer called by Keras on the same input and mask
                    alone = as_list(call_layer(sub_layer, inp, mask))[0]
                    check_lstm(sub_layer, tr, alone)
                behaviours[layer.name] = check_bidirectional(layer, fw, bw, own)
                traced += [(f"{layer.name}/forward", fw), (f"{layer.name}/backward", bw)]
                for d, sub_layer in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
                    settings[f"{layer.name}/{d}"] = lstm_settings(sub_layer, layer.merge_mode)
                    settings[f"{layer.name}/{d}"]["merge_mode"] = layer.merge_mode
        if walk:
            out = call_layer(layer, y, m)
            m = layer.compute_mask(y, m)  # Keras' own mask propagation
            y = as_list(out)[0]
    return traced, behaviours, settings


def layer_configs(model):
    return [{"class_name": layer.__class__.__name__, "config": layer.get_config()} for layer in model.layers]


TRACE_KEYS = ("h", "c", "i", "f", "g", "o", "zx", "zh", "zb", "h0", "c0", "x")


def trace_arrays(prefix, tr):
    arrays = {f"{prefix}_direction": np.array(tr["direction"])}
    for key in TRACE_KEYS:
        arrays[f"{prefix}_{key}"] = np.ascontiguousarray(tr[key], np.float32)
    arrays[f"{prefix}_mask"] = np.asarray(tr["mask"], bool)
    if "output" in tr:
        arrays[f"{prefix}_output"] = np.asarray(tr["output"], np.float32)
    return arrays


def write_npz(out, name, x, outputs, traced, meta, extra=None):
    arrays = {"x": x, "output": outputs[0].astype(np.float32)}
    for j, o in enumerate(outputs[1:], 1):
        arrays[f"output_{j}"] = o.astype(np.float32)
    for k, (lname, tr) in enumerate(traced):
        arrays[f"layer{k}_name"] = np.array(lname)
        arrays.update(trace_arrays(f"layer{k}", tr))
    arrays.update(extra or {})
    meta = dict(
        meta,
        case=name,
        traced_layers=[n for n, _ in traced],
        keras_version=KERAS_VERSION,
        backend=BACKEND,
        hard_sigmoid="clip(x / 6 + 1 / 2, 0, 1)",
        time_axis="index t = values computed when the cell read input position t (all directions)",
    )
    arrays["meta"] = np.array(json.dumps(meta, default=str, sort_keys=True))
    np.savez_compressed(out / f"{name}.npz", **arrays)


def _keras_content(path):
    """A .keras archive's content without what changes on every save (date, Python ids)."""
    with zipfile.ZipFile(path) as z:
        config = re.sub(r'"shared_object_id": \d+', "", z.read("config.json").decode())
        return config, z.read("model.weights.h5")


def save(model, path):
    """model.save(path); an unchanged .keras archive already there is left as it is, so a
    rerun does not rewrite files whose only difference is the save date."""
    path = pathlib.Path(path)
    if path.suffix != ".keras" or not path.exists():
        model.save(str(path))
        return
    with tempfile.TemporaryDirectory() as tmp:
        new = pathlib.Path(tmp) / path.name
        model.save(str(new))
        if _keras_content(new) != _keras_content(path):
            shutil.copyfile(new, path)


def save_and_reload(model, path, x, outputs, **predict_kw):
    save(model, path)
    again = keras.models.load_model(str(path), compile=False)
    if predict_kw.get("stateful"):
        return again
    for a, b in zip(predict(again, x), outputs):
        tight(a, b, f"{path.name}: reloaded model predicts differently")
    return again


# ---------------------------------------------------------------- the cases
def case(out, name, description, build, x, seed, scale=0.5, h5=False, walk=True, extra_fn=None):
    fresh(seed)
    model = build()
    randomize(model, seed, scale)
    outputs = predict(model, x)
    traced, behaviours, settings = trace_model(model, x, walk=walk)
    meta = {
        "description": description,
        "layers": layer_configs(model),
        "lstm_configs": settings,
        "masked_step_output": {k: v for k, v in behaviours.items() if v},
        "weight_scale": scale,
        "seed": seed,
        "files": [f"{name}.keras"] + ([f"{name}.h5"] if h5 else []),
    }
    extra = extra_fn(model, x, meta) if extra_fn else None
    write_npz(out, name, x, outputs, traced, meta, extra)
    save_and_reload(model, out / f"{name}.keras", x, outputs)
    if h5:
        save_and_reload(model, out / f"{name}.h5", x, outputs)
    shapes = [tuple(o.shape) for o in outputs]
    CASES.append({"case": name, "x": x.shape, "dtype": str(x.dtype), "traced": [n for n, _ in traced],
                  "output": shapes, "h5": h5, "description": description})
    print(f"  {name}: traced {[n for n, _ in traced]} output {shapes}{' +h5' if h5 else ''}")
    return model


def seq_model(t, d, *layers, name=None):
    return keras.Sequential([keras.Input((t, d))] + list(layers), name=name)


def lstm(units, name="lstm", **kw):
    return L.LSTM(units, name=name, **kw)


def engine_core(out, rng):
    case(out, "units1", "LSTM(1, return_sequences) on (T=6, D=2)",
         lambda: seq_model(6, 2, lstm(1, return_sequences=True)), seq_x(rng, 2, 6, 2), 101)
    case(out, "units3_features1", "LSTM(3, return_sequences) on (T=8, D=1)",
         lambda: seq_model(8, 1, lstm(3, return_sequences=True)), seq_x(rng, 2, 8, 1), 102)
    case(out, "units7_features5", "LSTM(7, return_sequences) on (T=10, D=5), tanh/sigmoid defaults",
         lambda: seq_model(10, 5, lstm(7, return_sequences=True)), seq_x(rng, 2, 10, 5), 103, h5=True)
    case(out, "units256_features64",
         "LSTM(256, return_sequences) on (T=12, D=64), batch 2; weights scale 0.1 so gates are "
         "not saturated with fan-in 320",
         lambda: seq_model(12, 64, lstm(256, return_sequences=True)), seq_x(rng, 2, 12, 64), 104, scale=0.1)
    activation_cases(out, rng)
    case(out, "lstm_nobias", "LSTM(3, use_bias=False, return_sequences): kernel and recurrent_kernel only",
         lambda: seq_model(6, 2, lstm(3, use_bias=False, return_sequences=True)), seq_x(rng, 3, 6, 2), 110)
    case(out, "go_backwards_seq",
         "LSTM(4, go_backwards=True, return_sequences=True): output in processing order "
         "(output[:, s] was computed at input T-1-s, so output[:, ::-1] == layer0_h); "
         "trace arrays are input-aligned",
         lambda: seq_model(9, 3, lstm(4, go_backwards=True, return_sequences=True)), seq_x(rng, 2, 9, 3), 111)
    case(out, "go_backwards_last",
         "LSTM(4, go_backwards=True, return_sequences=False): output = h after reading input 0 "
         "= layer0_h[:, 0]",
         lambda: seq_model(9, 3, lstm(4, go_backwards=True)), seq_x(rng, 2, 9, 3), 112)
    case(out, "lstm_last", "LSTM(5, return_sequences=False): output = layer0_h[:, -1]",
         lambda: seq_model(8, 3, lstm(5)), seq_x(rng, 2, 8, 3), 113)
    case(out, "stacked2", "LSTM 'lstm_a'(5, seq) -> LSTM 'lstm_b'(3, last) -> Dense(2)",
         lambda: seq_model(8, 3, lstm(5, "lstm_a", return_sequences=True), lstm(3, "lstm_b"),
                           L.Dense(2, name="dense")),
         seq_x(rng, 2, 8, 3), 114)
    case(out, "stacked3",
         "LSTM 'lstm'(6, seq) -> LSTM 'lstm_1'(4, seq) -> LSTM 'lstm_2'(3, seq) (Keras' default names)",
         lambda: seq_model(7, 3, lstm(6, "lstm", return_sequences=True),
                           lstm(4, "lstm_1", return_sequences=True), lstm(3, "lstm_2", return_sequences=True)),
         seq_x(rng, 2, 7, 3), 115)
    case(out, "batch3", "LSTM(4, return_sequences) with batch 3",
         lambda: seq_model(11, 3, lstm(4, return_sequences=True)), seq_x(rng, 3, 11, 3), 116)
    tokens = rng.integers(0, 20, (2, 10)).astype(np.int32)
    case(out, "embedding_lstm_dense",
         "Embedding(20, 6) (no mask; token 0 is an ordinary token) -> LSTM(5) -> Dense(3); "
         "x is int32 token ids, layer0_x the embedded vectors",
         lambda: keras.Sequential([keras.Input((10,), dtype="int32"), L.Embedding(20, 6, name="embedding"),
                                   lstm(5), L.Dense(3, name="dense")]),
         tokens, 117)
    case(out, "lstm_dense_activation_dropout",
         "LSTM(4, seq) -> Dense(3) -> Activation('relu') -> Dropout(0.5) (inactive at inference) -> Dense(2)",
         lambda: seq_model(8, 3, lstm(4, return_sequences=True), L.Dense(3, name="dense"),
                           L.Activation("relu", name="activation"), L.Dropout(0.5, name="dropout"),
                           L.Dense(2, name="dense_1")),
         seq_x(rng, 2, 8, 3), 118)
    initial_state_case(out, rng)
    x = seq_x(rng, 2, 7, 3)

    def return_state_model():
        inp = keras.Input((7, 3), name="seq")
        seq, h, c = L.LSTM(5, return_sequences=True, return_state=True, name="lstm")(inp)
        return keras.Model(inp, [seq, h, c], name="return_state")

    case(out, "return_state",
         "Functional: Input(7,3) -> LSTM(5, return_sequences=True, return_state=True) with outputs "
         "[sequence, state_h, state_c]: output = sequence, output_1 = h = layer0_h[:, -1], "
         "output_2 = c = layer0_c[:, -1]",
         return_state_model, x, 119)


def activation_cases(out, rng):
    refused = {}
    for j, name in enumerate(ACTIVATIONS):
        for role in ("activation", "recurrent_activation"):
            prefix = "act" if role == "activation" else "ract"
            x = seq_x(rng, 2, 8, 3)
            cname = f"{prefix}_{name}"
            # exp(z) > 0 makes c grow every step and h = o * exp(c) feeds back: keep it small
            scale = {("exponential", "activation"): 0.1, ("exponential", "recurrent_activation"): 0.25}.get(
                (name, role), 0.4
            )
            try:
                fresh(200 + j)
                probe = seq_model(8, 3, lstm(4, return_sequences=True, **{role: name}))
                randomize(probe, 200 + j, scale)
                probe.predict(x, verbose=0)
            except Exception as exc:  # noqa: BLE001 - Keras refusing is the finding
                msg = str(exc).strip().splitlines()
                msg = next((s for s in msg if s.strip() and "Exception encountered" not in s), "")
                msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)  # Keras bolds the message
                refused[cname] = f"{type(exc).__name__}: {msg.strip()[:160]}"
                print(f"  {cname}: refused by Keras ({refused[cname]})")
                continue
            acts = (f"activation='{name}', recurrent_activation='sigmoid'" if role == "activation"
                    else f"activation='tanh', recurrent_activation='{name}'")
            case(out, cname,
                 f"LSTM(4, {acts}, return_sequences), weights scale {scale}"
                 + ("; Keras 3 hard_sigmoid = clip(x/6 + 1/2, 0, 1)" if name == "hard_sigmoid" else "")
                 + ("; axis-wise over the units (couples units)" if "soft" in name and "max" in name else ""),
                 lambda role=role, name=name: seq_model(8, 3, lstm(4, return_sequences=True, **{role: name})),
                 x, 200 + j, scale=scale, h5=(cname == "ract_hard_sigmoid"))
    NOTES.append(f"activations Keras refused inside an LSTM: {refused}")
    return refused


def initial_state_case(out, rng):
    b, t, d, n = 2, 7, 3, 4
    x = seq_x(rng, b, t, d)
    h0 = rng.normal(0, 0.5, (b, n)).astype(np.float32)
    c0 = rng.normal(0, 0.5, (b, n)).astype(np.float32)

    def extra(model, x, meta):
        layer = model.get_layer("lstm")
        with_state = np.asarray(layer(x, initial_state=[h0, c0], training=False), np.float32)
        tr = step_direction(layer, x, None, False, h0, c0)
        check_lstm(layer, tr, with_state)
        arrays = {"h0": h0, "c0": c0, "output_with_state": with_state}
        arrays.update({k.replace("layer0", "state_layer0", 1): v
                       for k, v in trace_arrays("layer0", tr).items()})
        arrays["state_layer0_name"] = np.array("lstm")
        return arrays

    case(out, "initial_state",
         "LSTM(4, return_sequences) alone. output / layer0_* from zero state; h0, c0 (B,N) and "
         "output_with_state = layer(x, initial_state=[h0, c0]) with state_layer0_* stepped from them",
         lambda: seq_model(t, d, lstm(n, return_sequences=True)), x, 130, extra_fn=extra)


def around_the_lstm(out, rng):
    """What surrounds an LSTM in real models: masks (Masking, mask_zero Embedding), Bidirectional,
    functional graphs, TimeDistributed."""
    x = seq_x(rng, 3, 10, 3)
    x[0, 3:5] = 0.0  # gaps
    x[0, 8:] = 0.0  # trailing padding
    x[1, 6:] = 0.0  # trailing padding
    x[2, 0] = 0.0  # leading masked step
    case(out, "masking_gaps",
         "Masking(0.0) -> LSTM(4, return_sequences): gaps, trailing padding, a leading masked step; "
         "the LSTM returns the previous output on masked steps (h0 = zeros before the first)",
         lambda: seq_model(10, 3, L.Masking(0.0, name="masking"), lstm(4, return_sequences=True)),
         x, 300, h5=True)
    case(out, "masking_zero_output",
         "Masking(0.0) -> LSTM(4, return_sequences, zero_output_for_mask=True): zeros on masked "
         "steps (the flag is in the Keras 3 config)",
         lambda: seq_model(10, 3, L.Masking(0.0, name="masking"),
                           lstm(4, return_sequences=True, zero_output_for_mask=True)),
         x, 301)
    case(out, "masking_go_backwards",
         "Masking(0.0) -> LSTM(4, go_backwards=True, return_sequences): masked steps with a "
         "reversed run; output in processing order",
         lambda: seq_model(10, 3, L.Masking(0.0, name="masking"),
                           lstm(4, go_backwards=True, return_sequences=True)),
         x, 302)
    case(out, "masking_last",
         "Masking(0.0) -> LSTM(4) (last output) -> Dense(2): output uses h after the last unmasked step",
         lambda: seq_model(10, 3, L.Masking(0.0, name="masking"), lstm(4), L.Dense(2, name="dense")),
         x, 303)

    tokens = rng.integers(1, 12, (3, 9)).astype(np.int32)
    tokens[0, 6:] = 0  # trailing padding
    tokens[1, 3] = 0  # a gap
    tokens[2, 0] = 0  # a leading pad
    case(out, "embedding_mask_zero",
         "Embedding(12, 4, mask_zero=True) -> LSTM(5) (last output) -> Dense(3); token 0 masked "
         "(trailing, a gap and a leading pad)",
         lambda: keras.Sequential([keras.Input((9,), dtype="int32"),
                                   L.Embedding(12, 4, mask_zero=True, name="embedding"),
                                   lstm(5), L.Dense(3, name="dense")]),
         tokens, 310, h5=True)
    case(out, "embedding_mask_zero_seq",
         "Embedding(12, 4, mask_zero=True) -> LSTM(5, return_sequences): previous output repeated "
         "on masked steps",
         lambda: keras.Sequential([keras.Input((9,), dtype="int32"),
                                   L.Embedding(12, 4, mask_zero=True, name="embedding"),
                                   lstm(5, return_sequences=True)]),
         tokens, 311)

    for j, mode in enumerate(["concat", "sum", "mul", "ave", None]):
        x = seq_x(rng, 2, 7, 3)
        case(out, f"bidirectional_{mode if mode else 'none'}",
             f"Bidirectional(LSTM(4, return_sequences=True), merge_mode={mode!r}) named 'bi'"
             + ("; functional model with two outputs [forward, backward]: output is the forward "
                "sequence, output_1 the backward one (processing order reversed back by Keras)"
                if mode is None else ""),
             lambda mode=mode: bidirectional_model(mode), x, 320 + j, h5=mode in ("concat", None))

    x = seq_x(rng, 2, 8, 3)
    x[0, 5:] = 0.0
    x[1, 2] = 0.0
    case(out, "bidirectional_masked",
         "Masking(0.0) -> Bidirectional(LSTM(3, return_sequences=True), concat) named 'bi' -> "
         "Dense(2): Bidirectional returns zeros on masked steps (it forces zero_output_for_mask "
         "on both wrapped layers), so the Dense sees zeros there",
         lambda: seq_model(8, 3, L.Masking(0.0, name="masking"),
                           L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi"),
                           L.Dense(2, name="dense")),
         x, 330, h5=True)
    case(out, "bidirectional_masked_seq",
         "Masking(0.0) -> Bidirectional(LSTM(3, return_sequences=True), concat) named 'bi' (the "
         "Bidirectional's own output is the model output: zeros on masked steps)",
         lambda: seq_model(8, 3, L.Masking(0.0, name="masking"),
                           L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi")),
         x, 331)
    x = seq_x(rng, 2, 6, 3)
    case(out, "bidirectional_last",
         "Bidirectional(LSTM(3)) named 'bi', return_sequences=False, concat: "
         "[forward h after input T-1, backward h after input 0]",
         lambda: seq_model(6, 3, L.Bidirectional(L.LSTM(3), name="bi")), x, 332)

    stateful_case(out, rng)

    def functional():
        inp = keras.Input((12, 4), name="features")
        z = L.Dense(3, activation="tanh", name="proj")(inp)
        z = L.LSTM(4, return_sequences=True, name="encoder")(z)
        z = L.LSTM(3, return_sequences=True, name="decoder")(z)
        z = L.Dense(2, name="head")(z)
        return keras.Model(inp, z, name="functional_chain")

    case(out, "functional_chain",
         "Functional: Input(12,4) 'features' -> Dense 'proj'(3, tanh) -> LSTM 'encoder'(4, seq) "
         "-> LSTM 'decoder'(3, seq) -> Dense 'head'(2)",
         functional, seq_x(rng, 2, 12, 4), 340, h5=True)
    case(out, "time_distributed",
         "LSTM(4, return_sequences=True) -> TimeDistributed(Dense(2)) named 'td'",
         lambda: seq_model(9, 3, lstm(4, return_sequences=True), L.TimeDistributed(L.Dense(2), name="td")),
         seq_x(rng, 2, 9, 3), 341, h5=True)

    def branches():
        inp = keras.Input((8, 3), name="seq")
        a = L.Dense(4, activation="tanh", name="proj")(inp)
        a = L.LSTM(5, return_sequences=True, name="lstm")(a)
        b = L.Dense(2, name="skip")(inp)
        z = L.Concatenate(name="concat")([a, b])
        z = L.Dense(3, name="head")(z)
        return keras.Model(inp, z, name="branches")

    case(out, "functional_branches",
         "Non-chain functional model: Input 'seq'(8,3) -> [Dense 'proj'(4, tanh) -> LSTM 'lstm'(5, seq)]"
         " and [Dense 'skip'(2)] -> Concatenate 'concat' -> Dense 'head'(3). The LSTM cannot be run "
         "from the model input as a chain: for --layer-input, layer0_x is its own input (proj's "
         "output) and layer0_output what the LSTM returns; output is the whole model's",
         branches, seq_x(rng, 2, 8, 3), 342, h5=True, walk=False)


def bidirectional_model(mode):
    if mode is None:  # two outputs: a functional model
        inp = keras.Input((7, 3), name="seq")
        outs = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=None, name="bi")(inp)
        return keras.Model(inp, outs, name="bidirectional_none")
    return seq_model(7, 3, L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=mode, name="bi"))


def stateful_case(out, rng):
    """Three segments predicted in order without reset; references across the concatenation."""
    name, seed, b, t, d = "stateful", 350, 2, 5, 3
    fresh(seed)
    model = keras.Sequential(
        [keras.Input(batch_shape=(b, t, d)), lstm(4, stateful=True, return_sequences=True),
         L.Dense(2, name="dense")]
    )
    randomize(model, seed)
    layer = model.get_layer("lstm")
    segs = [seq_x(rng, b, t, d) for _ in range(3)]
    layer.reset_states()
    outs, states = [], []
    for s in segs:
        states.append([np.asarray(v) for v in layer.states])
        outs.append(predict(model, s, batch_size=b)[0])
    x_all = np.concatenate(segs, axis=1)
    tr = step_direction(layer, x_all, None, False)
    layer.reset_states()
    sub = keras.Model(model.inputs, layer.output)
    own = np.concatenate([predict(sub, s, batch_size=b)[0] for s in segs], axis=1)
    tight(tr["h"], own, "stateful: stepped h vs layer output across segments")
    for k, (h0, c0) in enumerate(states):
        tight(h0, tr["h0"] if k == 0 else tr["h"][:, k * t - 1], f"stateful h at segment {k}")
        tight(c0, tr["c0"] if k == 0 else tr["c"][:, k * t - 1], f"stateful c at segment {k}")
    tr["output"] = own
    layer.reset_states()
    extra = {f"x_seg{k}": s for k, s in enumerate(segs)}
    extra.update({f"output_seg{k}": o for k, o in enumerate(outs)})
    meta = {
        "description": "LSTM(4, stateful=True, return_sequences=True), Input batch_shape=(2,5,3), "
        "-> Dense(2). x_seg0..2 predicted in that order without reset_states give "
        "output_seg0..2. x/output are the concatenations (B, 15, D); layer0_* are stepped "
        "from zero state across the whole concatenation, so segment k starts from "
        "layer0_h[:, 5k-1], layer0_c[:, 5k-1]",
        "layers": layer_configs(model),
        "lstm_configs": {"lstm": lstm_settings(layer)},
        "masked_step_output": {},
        "segments": 3,
        "segment_length": t,
        "batch_size": b,
        "seed": seed,
        "weight_scale": 0.5,
        "files": [f"{name}.keras", f"{name}.h5"],
    }
    write_npz(out, name, x_all, [np.concatenate(outs, axis=1)], [("lstm", tr)], meta, extra)
    for suffix in (".keras", ".h5"):
        again = save_and_reload(model, out / f"{name}{suffix}", x_all, None, stateful=True)
        again.get_layer("lstm").reset_states()
        for k, s in enumerate(segs):
            tight(predict(again, s, batch_size=b)[0], outs[k], f"stateful reload {suffix} seg {k}")
    CASES.append({"case": name, "x": x_all.shape, "dtype": "float32", "traced": ["lstm"],
                  "output": [np.concatenate(outs, axis=1).shape], "h5": True, "description": meta["description"]})
    print(f"  {name}: 3 segments of {segs[0].shape} +h5")


def other_files(out):
    """Recurrent layers that are not LSTM: the loader must refuse them with a clear message."""

    def save_only(name, build, seed):
        fresh(seed)
        model = build()
        randomize(model, seed)
        for suffix in (".keras", ".h5"):
            save(model, out / f"{name}{suffix}")
        print(f"  {name}.keras / .h5 (no reference)")

    save_only("gru", lambda: seq_model(6, 3, L.GRU(4, return_sequences=True, name="gru")), 400)
    save_only("simple_rnn", lambda: seq_model(6, 3, L.SimpleRNN(4, name="simple_rnn")), 401)
    save_only("conv_lstm1d", lambda: keras.Sequential(
        [keras.Input((4, 8, 2)), L.ConvLSTM1D(2, 3, padding="same", name="conv_lstm1d")]), 402)
    save_only("conv_lstm2d", lambda: keras.Sequential(
        [keras.Input((4, 6, 6, 1)), L.ConvLSTM2D(2, (3, 3), padding="same", name="conv_lstm2d")]), 403)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=OUT, help="output directory")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"Keras {KERAS_VERSION} (backend {BACKEND}) -> {out}")
    probe = np.array([-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0], np.float32)
    close(keras.activations.get("hard_sigmoid")(probe), np.clip(probe / 6 + 0.5, 0, 1),
          "Keras 3 hard_sigmoid is clip(x/6 + 1/2, 0, 1)")
    rng = np.random.default_rng(20240612)
    engine_core(out, rng)
    around_the_lstm(out, rng)
    other_files(out)
    for note in NOTES:
        print("NOTE:", note)
    (out / "cases.json").write_text(json.dumps(
        {"keras_version": KERAS_VERSION, "backend": BACKEND, "notes": NOTES, "cases": CASES},
        indent=1, default=str) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{len(CASES)} cases, total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
