"""Write Keras 2 (tf-keras) reference fixtures into tests/fixtures/keras2/.

Run with a SEPARATE virtual environment that holds ``tensorflow-cpu`` and ``tf-keras`` of
matching versions, wherever you keep one (``$TF_VENV`` below: any folder outside the project's
own environment), with ``TF_USE_LEGACY_KERAS=1``::

    python3 -m venv "$TF_VENV"
    "$TF_VENV/bin/pip" install tensorflow-cpu tf-keras
    TF_USE_LEGACY_KERAS=1 "$TF_VENV/bin/python" scripts/make_tfkeras_fixtures.py

This script is never part of the project's test extra and never runs in CI: TensorFlow is
only needed to *write* the fixtures. The tests read the committed ``.h5`` / ``.npz`` files
with h5py and numpy alone.

``python scripts/make_tfkeras_fixtures.py gru`` writes only the GRU and SimpleRNN cases
(``gru_cases``) into tests/fixtures/keras2/gru/: ``NAME.h5`` and ``NAME.npz`` with ``x``,
``output``, ``meta`` and per traced direction ``layer{k}_name``, ``layer{k}_direction``,
``layer{k}_h`` (B,T,N) and, for a GRU, ``layer{k}_{u,r,n}`` (the update gate, the frameworks'
z; the reset gate; the candidate), input-aligned, NaN on masked steps, as
scripts/make_gru_fixtures.py writes Keras 3's. h comes from the layer's own cell stepped in
processing order; the gates from TensorFlow ops on the cell's weights, checked to explain
that h (h = u·h_prev + (1 − u)·n). A stateful case adds ``x_seg{k}``/``output_seg{k}``; the
CuDNNGRU case's reference is tf-keras' own GRU(reset_after=True) after ``load_weights``
converted the CuDNNGRU file.

It is rerunnable and deterministic (fixed seeds; a rerun rewrote the .h5 and .npz files
byte for byte, only the SavedModel's protobuf may differ slightly). For each case it writes

* ``NAME.h5``  — the model saved by tf-keras itself (``model.save("NAME.h5")``, HDF5 format);
* ``NAME.npz`` — the reference numbers:

  - ``x``: float32 (B,T,D), or int32 tokens (B,T) for an Embedding model;
  - ``output``: ``model.predict(x)`` (the first output; ``output_1`` holds a second one);
  - ``meta``: a JSON string (``np.array(json.dumps(...))``): keras_version, tf_version,
    description, layer configs, ``traced_layers``, and what Keras returns on masked steps;
  - per traced LSTM direction ``k`` in model order: ``layer{k}_name`` (Keras layer name;
    a Bidirectional named ``bi`` gives ``bi/forward`` then ``bi/backward``),
    ``layer{k}_direction``, float32 (B,T,N) ``layer{k}_{h,c,i,f,g,o}``, (B,T,4,N)
    ``layer{k}_zx``/``layer{k}_zh`` and (4,N) ``layer{k}_zb`` (pre-activation parts, gate
    order i,f,g,o), (B,N) ``layer{k}_h0``/``layer{k}_c0``, (B,T) bool ``layer{k}_mask`` and
    ``layer{k}_x`` (the layer's own input).

TIME AXIS: index t holds the values computed when the cell read input position t, whatever
the direction (backward directions are re-aligned to input order). On a masked step the
gates and pre-activations are NaN and h, c carry over.

h and c come from tf-keras itself: the layer's own cell is stepped,
``out, [h, c] = layer.cell(x[:, t], [h, c], training=False)``, in processing order. Gates
come from TensorFlow ops and ``tf.keras.activations.get(name)`` on the cell's kernel,
recurrent_kernel and bias (Keras gate order i, f, c, o). Every stepped h is checked against
the layer's own output (from a sub-model of the saved model) to 1e-5, and every .h5 is
reloaded with tf-keras and must predict the same ``output``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
if not keras.__name__.startswith("tf_keras"):
    sys.exit("tf.keras is not tf-keras: install tf-keras and set TF_USE_LEGACY_KERAS=1")
import tf_keras  # noqa: E402

tf.get_logger().setLevel("ERROR")

L = keras.layers
ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras2"
KERAS_VERSION = tf_keras.__version__
TF_VERSION = tf.__version__
SAVEDMODEL_LIMIT = 2 * 1024 * 1024
NOTES: list[str] = []


def close(ours, ref, what):
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        raise AssertionError(f"{what}: shape {ours.shape} != {ref.shape}")
    bad = np.abs(ours - ref) > 1e-5 + 1e-5 * np.abs(ref)
    if bad.any():
        raise AssertionError(f"{what}: max |diff| {np.nanmax(np.abs(ours - ref)):.3g}")


def fresh(seed):
    keras.backend.clear_session()
    tf.random.set_seed(seed)
    np.random.seed(seed)


def randomize(model, seed, scale=0.5):
    """Seeded random weights for every layer (scale ~0.5 keeps gates off saturation)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([rng.normal(0, scale, w.shape).astype(w.dtype) for w in ws])


def first(y):
    return y[0] if isinstance(y, (list, tuple)) else y


def predict(model, x, **kw):
    y = model.predict(x, verbose=0, **kw)
    return [np.asarray(v) for v in y] if isinstance(y, list) else [np.asarray(y)]


# ---------------------------------------------------------------- stepping one direction
def step_direction(layer, x, mask, backward, h0=None, c0=None):
    """Step ``layer.cell`` (tf-keras' code) over x (B,T,D); arrays input-aligned."""
    cell = layer.cell
    cfg = layer.get_config()
    x = np.asarray(x, np.float32)
    b, t_len, _ = x.shape
    n = cell.units
    act = keras.activations.get(cfg["activation"])
    ract = keras.activations.get(cfg["recurrent_activation"])
    kernel = tf.convert_to_tensor(cell.kernel)
    rec = tf.convert_to_tensor(cell.recurrent_kernel)
    bias = tf.convert_to_tensor(cell.bias) if cell.use_bias else tf.zeros([4 * n])
    h = np.zeros((b, n), np.float32) if h0 is None else np.asarray(h0, np.float32)
    c = np.zeros((b, n), np.float32) if c0 is None else np.asarray(c0, np.float32)
    mask = np.ones((b, t_len), bool) if mask is None else np.asarray(mask, bool)
    tr = {k: np.full((b, t_len, n), np.nan, np.float32) for k in "hcifgo"}
    tr["zx"] = np.full((b, t_len, 4, n), np.nan, np.float32)
    tr["zh"] = np.full((b, t_len, 4, n), np.nan, np.float32)
    tr["zb"] = np.asarray(bias).reshape(4, n).astype(np.float32)
    tr["h0"], tr["c0"] = h.copy(), c.copy()
    order = range(t_len - 1, -1, -1) if backward else range(t_len)
    for t in order:
        xt = tf.constant(x[:, t])
        zx = tf.matmul(xt, kernel)
        zh = tf.matmul(tf.constant(h), rec)
        z = zx + zh + bias
        zi, zf, zg, zo = tf.split(z, 4, axis=1)
        gates = {"i": ract(zi), "f": ract(zf), "g": act(zg), "o": ract(zo)}
        _, (hh, cc) = cell(xt, [tf.constant(h), tf.constant(c)], training=False)
        keep = mask[:, t]
        # the gates must explain the cell's own h and c (catches a wrong gate order)
        gi, gf, gg, go = (np.asarray(gates[k]) for k in "ifgo")
        c_ref = gf * c + gi * gg
        close(c_ref[keep], np.asarray(cc)[keep], f"{layer.name} c from gates, t={t}")
        close(
            (go * np.asarray(act(tf.constant(c_ref))))[keep],
            np.asarray(hh)[keep],
            f"{layer.name} h from gates, t={t}",
        )
        for k, v in gates.items():
            tr[k][keep, t] = np.asarray(v)[keep]
        tr["zx"][keep, t] = np.asarray(zx).reshape(b, 4, n)[keep]
        tr["zh"][keep, t] = np.asarray(zh).reshape(b, 4, n)[keep]
        h = np.where(keep[:, None], np.asarray(hh), h).astype(np.float32)
        c = np.where(keep[:, None], np.asarray(cc), c).astype(np.float32)
        tr["h"][:, t], tr["c"][:, t] = h, c
    tr["mask"] = mask
    tr["x"] = x
    tr["direction"] = "backward" if backward else "forward"
    return tr


def final_h(tr):
    """The state after the last step in processing order."""
    return tr["h"][:, 0] if tr["direction"] == "backward" else tr["h"][:, -1]


def check_lstm(layer, tr, layer_out):
    """Stepped h must reproduce the LSTM layer's own output; returns masked-step behaviour."""
    h, mask = tr["h"], tr["mask"]
    if not layer.return_sequences:
        close(final_h(tr), layer_out, f"{layer.name} output")
        return None
    seq = layer_out[:, ::-1] if tr["direction"] == "backward" else layer_out
    close(h[mask], seq[mask], f"{layer.name} output (unmasked steps)")
    return masked_behaviour(h, seq, mask, layer.name)


def masked_behaviour(h, seq, mask, name):
    if mask.all():
        return None
    if np.allclose(seq[~mask], 0):
        return "zeros"
    close(h[~mask], seq[~mask], f"{name} output (masked steps)")
    return "carried previous output"


MERGE = {
    "concat": lambda a, b: np.concatenate([a, b], -1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}


def check_bidirectional(bi, fw, bw, out):
    """Stepped h of both directions must reproduce the Bidirectional's own output."""
    outs = out if isinstance(out, list) else [out]
    mask = fw["mask"]
    if bi.return_sequences:
        a, b = fw["h"], bw["h"]
    else:
        a, b = final_h(fw), final_h(bw)
    if bi.merge_mode is None:
        close(a if a.ndim == 2 else a[mask], outs[0] if a.ndim == 2 else outs[0][mask], "bi fw")
        close(b if b.ndim == 2 else b[mask], outs[1] if b.ndim == 2 else outs[1][mask], "bi bw")
        merged, ref = a, outs[0]
    else:
        merged, ref = MERGE[bi.merge_mode](a, b), outs[0]
        if merged.ndim == 2:
            close(merged, ref, f"{bi.name} merged output")
        else:
            close(merged[mask], ref[mask], f"{bi.name} merged output (unmasked steps)")
    if merged.ndim == 3:
        return masked_behaviour(merged, ref, mask, bi.name)
    return None


# ---------------------------------------------------------------- tracing a whole model
def trace_model(model, x):
    """Eager layer-by-layer run (masks propagate as tf-keras does); trace every LSTM."""
    traced, behaviours = [], {}
    y = tf.constant(x)
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        m = getattr(y, "_keras_mask", None)
        mask = None if m is None else np.asarray(m)
        if isinstance(layer, L.LSTM):
            tr = step_direction(layer, np.asarray(y), mask, layer.go_backwards)
            sub = keras.Model(model.inputs, layer.output)
            behaviours[layer.name] = check_lstm(layer, tr, predict(sub, x)[0])
            traced.append((layer.name, tr))
        elif isinstance(layer, L.Bidirectional):
            fw = step_direction(layer.forward_layer, np.asarray(y), mask, False)
            bw = step_direction(layer.backward_layer, np.asarray(y), mask, True)
            # each wrapped layer alone, called by tf-keras on the same input and mask
            for sub_layer, tr in ((layer.forward_layer, fw), (layer.backward_layer, bw)):
                own = np.asarray(sub_layer(y, mask=m, training=False))
                check_lstm(sub_layer, tr, own)
            sub = keras.Model(model.inputs, layer.output)
            behaviours[layer.name] = check_bidirectional(layer, fw, bw, predict(sub, x))
            traced += [(f"{layer.name}/forward", fw), (f"{layer.name}/backward", bw)]
        y = first(layer(y, training=False))
    return traced, behaviours


def layer_configs(model):
    return [{"class_name": layer.__class__.__name__, "config": layer.get_config()} for layer in model.layers]


def write_npz(name, x, outputs, traced, meta, extra=None):
    arrays = {"x": x, "output": outputs[0].astype(np.float32)}
    for j, o in enumerate(outputs[1:], 1):
        arrays[f"output_{j}"] = o.astype(np.float32)
    for k, (lname, tr) in enumerate(traced):
        arrays[f"layer{k}_name"] = np.array(lname)
        arrays[f"layer{k}_direction"] = np.array(tr["direction"])
        for key in ("h", "c", "i", "f", "g", "o", "zx", "zh", "zb", "h0", "c0", "x"):
            arrays[f"layer{k}_{key}"] = np.ascontiguousarray(tr[key], np.float32)
        arrays[f"layer{k}_mask"] = tr["mask"].astype(bool)
    arrays.update(extra or {})
    meta = dict(
        meta, traced_layers=[n for n, _ in traced], keras_version=KERAS_VERSION, tf_version=TF_VERSION
    )
    arrays["meta"] = np.array(json.dumps(meta, default=str, sort_keys=True))
    np.savez_compressed(OUT / f"{name}.npz", **arrays)


def save_and_reload(model, name, x, outputs, **predict_kw):
    path = OUT / f"{name}.h5"
    model.save(str(path))  # .h5 suffix: the legacy HDF5 format
    again = keras.models.load_model(str(path), compile=False)
    if predict_kw.get("stateful"):
        return
    for a, b in zip(predict(again, x), outputs):
        close(a, b, f"{name}: reloaded .h5 predicts differently")


# ---------------------------------------------------------------- the cases
def seq_x(rng, b, t, d):
    return rng.normal(0, 1, (b, t, d)).astype(np.float32)


def case(name, description, build, x, seed, compile_fit=False):
    fresh(seed)
    model = build()
    randomize(model, seed)
    if compile_fit:
        model.compile(optimizer="adam", loss="mse")
        y = np.zeros((x.shape[0],) + tuple(model.output_shape[1:]), np.float32)
        model.fit(x, y, epochs=1, batch_size=x.shape[0], verbose=0)
    outputs = predict(model, x)
    traced, behaviours = trace_model(model, x)
    meta = {
        "case": name,
        "description": description,
        "layers": layer_configs(model),
        "masked_step_output": {k: v for k, v in behaviours.items() if v},
    }
    write_npz(name, x, outputs, traced, meta)
    save_and_reload(model, name, x, outputs)
    print(f"  {name}: traced {[n for n, _ in traced]} output {outputs[0].shape}")
    return model


def bidirectional_model(mode):
    if mode is None:  # two outputs: Sequential refuses them, so a functional model
        inp = keras.Input((7, 3), name="seq")
        outs = L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=None, name="bi")(inp)
        return keras.Model(inp, outs, name="bidirectional_none")
    return keras.Sequential(
        [L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode=mode, input_shape=(7, 3), name="bi")]
    )


def build_cases():
    rng = np.random.default_rng(20240611)

    x = seq_x(rng, 2, 8, 3)
    case(
        "lstm_plain",
        "Sequential Input(8,3) -> LSTM(4, return_sequences=True), sigmoid/tanh",
        lambda: keras.Sequential(
            [L.InputLayer(input_shape=(8, 3)), L.LSTM(4, return_sequences=True, name="lstm")]
        ),
        x,
        1,
    )

    x = seq_x(rng, 2, 10, 3)
    case(
        "lstm_hard_sigmoid",
        "LSTM(5, recurrent_activation='hard_sigmoid'): tf-keras uses clip(0.2x+0.5, 0, 1)",
        lambda: keras.Sequential(
            [
                L.LSTM(
                    5,
                    recurrent_activation="hard_sigmoid",
                    return_sequences=True,
                    input_shape=(10, 3),
                    name="lstm",
                )
            ]
        ),
        x,
        2,
    )

    x = seq_x(rng, 2, 7, 3)
    case(
        "lstm_relu",
        "LSTM(4, activation='relu') (g and act(c) are relu)",
        lambda: keras.Sequential(
            [L.LSTM(4, activation="relu", return_sequences=True, input_shape=(7, 3), name="lstm")]
        ),
        x,
        3,
    )

    x = seq_x(rng, 3, 6, 2)
    case(
        "lstm_nobias",
        "LSTM(3, use_bias=False): only kernel and recurrent_kernel",
        lambda: keras.Sequential(
            [L.LSTM(3, use_bias=False, return_sequences=True, input_shape=(6, 2), name="lstm")]
        ),
        x,
        4,
    )

    x = seq_x(rng, 2, 9, 3)
    case(
        "lstm_go_backwards",
        "LSTM(4, go_backwards=True, return_sequences=True): output in processing order "
        "(output[:, s] was computed at input T-1-s); trace arrays are input-aligned",
        lambda: keras.Sequential(
            [L.LSTM(4, go_backwards=True, return_sequences=True, input_shape=(9, 3), name="lstm")]
        ),
        x,
        5,
    )

    x = seq_x(rng, 2, 8, 3)
    case(
        "lstm_stacked",
        "Two stacked LSTMs: lstm_a(5, seq) -> lstm_b(3, last) -> Dense(2)",
        lambda: keras.Sequential(
            [
                L.LSTM(5, return_sequences=True, input_shape=(8, 3), name="lstm_a"),
                L.LSTM(3, name="lstm_b"),
                L.Dense(2, name="dense"),
            ]
        ),
        x,
        6,
    )

    tokens = rng.integers(1, 12, (3, 9)).astype(np.int32)
    tokens[0, 6:] = 0  # trailing padding
    tokens[1, 3] = 0  # a gap
    tokens[2, 0] = 0  # a leading pad
    case(
        "embedding_mask_zero",
        "Embedding(12, 4, mask_zero=True) -> LSTM(5) (last output) -> Dense(3); token 0 masked "
        "(trailing, a gap and a leading pad)",
        lambda: keras.Sequential(
            [
                L.Embedding(12, 4, mask_zero=True, input_length=9, name="embedding"),
                L.LSTM(5, name="lstm"),
                L.Dense(3, name="dense"),
            ]
        ),
        tokens,
        7,
    )

    x = seq_x(rng, 3, 10, 3)
    x[0, 3:5] = 0.0  # gaps
    x[0, 8:] = 0.0  # trailing padding
    x[1, 6:] = 0.0  # trailing padding
    x[2, 0] = 0.0  # leading masked step
    case(
        "masking_gaps",
        "Masking(0.0) -> LSTM(4, return_sequences=True): gaps and trailing padding; "
        "the LSTM returns the previous output on masked steps",
        lambda: keras.Sequential(
            [
                L.Masking(0.0, input_shape=(10, 3), name="masking"),
                L.LSTM(4, return_sequences=True, name="lstm"),
            ]
        ),
        x,
        8,
    )

    for j, mode in enumerate(["concat", "sum", "mul", "ave", None]):
        x = seq_x(rng, 2, 7, 3)
        case(
            f"bidirectional_{mode if mode else 'none'}",
            f"Bidirectional(LSTM(4, return_sequences=True), merge_mode={mode!r}) named 'bi'"
            + (
                "; two outputs [forward, backward]: output is the first, output_1 the second"
                if mode is None
                else ""
            ),
            lambda mode=mode: bidirectional_model(mode),
            x,
            10 + j,
        )

    x = seq_x(rng, 2, 8, 3)
    x[0, 5:] = 0.0
    x[1, 2] = 0.0
    case(
        "bidirectional_masked",
        "Masking(0.0) -> Bidirectional(LSTM(3, return_sequences=True), concat) named 'bi' -> "
        "Dense(2): masked steps",
        lambda: keras.Sequential(
            [
                L.Masking(0.0, input_shape=(8, 3), name="masking"),
                L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi"),
                L.Dense(2, name="dense"),
            ]
        ),
        x,
        16,
    )

    x = seq_x(rng, 2, 6, 3)
    case(
        "bidirectional_last",
        "Bidirectional(LSTM(3)) named 'bi', return_sequences=False, concat: "
        "[forward h after input T-1, backward h after input 0]",
        lambda: keras.Sequential([L.Bidirectional(L.LSTM(3), input_shape=(6, 3), name="bi")]),
        x,
        17,
    )

    def functional():
        inp = keras.Input((12, 4), name="features")
        z = L.Dense(3, activation="tanh", name="proj")(inp)
        z = L.LSTM(4, return_sequences=True, name="encoder")(z)
        z = L.LSTM(3, return_sequences=True, name="decoder")(z)
        z = L.Dense(2, name="head")(z)
        return keras.Model(inp, z, name="functional_chain")

    x = seq_x(rng, 2, 12, 4)
    case(
        "functional_chain",
        "Functional: Input(12,4) -> Dense 'proj' -> LSTM 'encoder'(4) -> LSTM 'decoder'(3) "
        "-> Dense 'head'(2)",
        functional,
        x,
        20,
    )

    x = seq_x(rng, 2, 9, 3)
    case(
        "time_distributed",
        "LSTM(4, return_sequences=True) -> TimeDistributed(Dense(2))",
        lambda: keras.Sequential(
            [
                L.LSTM(4, return_sequences=True, input_shape=(9, 3), name="lstm"),
                L.TimeDistributed(L.Dense(2), name="td"),
            ]
        ),
        x,
        21,
    )

    x = seq_x(rng, 2, 7, 3)
    case(
        "batch_input_shape",
        "Sequential whose first layer has batch_input_shape=(2, 7, 3) (fixed batch) -> "
        "LSTM(4) -> Dense(1, sigmoid)",
        lambda: keras.Sequential(
            [
                L.LSTM(4, batch_input_shape=(2, 7, 3), name="lstm"),
                L.Dense(1, activation="sigmoid", name="dense"),
            ]
        ),
        x,
        22,
    )

    x = seq_x(rng, 3, 6, 2)
    case(
        "lstm_compiled",
        "LSTM(3) -> Dense(1), compiled with adam and fitted one step: the .h5 holds "
        "training_config and optimizer_weights as real training files do",
        lambda: keras.Sequential([L.LSTM(3, input_shape=(6, 2), name="lstm"), L.Dense(1, name="dense")]),
        x,
        23,
        compile_fit=True,
    )

    stateful_case(rng)


def stateful_case(rng):
    """Three segments predicted in order without reset; references across the concatenation."""
    name, seed, b, t, d = "stateful", 30, 2, 5, 3
    fresh(seed)
    model = keras.Sequential(
        [
            L.LSTM(4, stateful=True, return_sequences=True, batch_input_shape=(b, t, d), name="lstm"),
            L.Dense(2, name="dense"),
        ]
    )
    randomize(model, seed)
    layer = model.get_layer("lstm")
    segs = [seq_x(rng, b, t, d) for _ in range(3)]
    layer.reset_states()
    outs, states = [], []
    for s in segs:
        states.append([np.asarray(v) for v in layer.states])
        outs.append(predict(model, s, batch_size=b)[0])
    # stepped across the concatenation, from zero state
    x_all = np.concatenate(segs, axis=1)
    tr = step_direction(layer, x_all, None, False)
    # the layer's own output per segment (sub-model shares the stateful layer)
    layer.reset_states()
    sub = keras.Model(model.inputs, layer.output)
    own = np.concatenate([predict(sub, s, batch_size=b)[0] for s in segs], axis=1)
    close(tr["h"], own, "stateful: stepped h vs layer output across segments")
    for k, (h0, c0) in enumerate(states):
        close(h0, tr["h0"] if k == 0 else tr["h"][:, k * t - 1], f"stateful h at segment {k}")
        close(c0, tr["c0"] if k == 0 else tr["c"][:, k * t - 1], f"stateful c at segment {k}")
    layer.reset_states()
    extra = {f"x_seg{k}": s for k, s in enumerate(segs)}
    extra.update({f"output_seg{k}": o for k, o in enumerate(outs)})
    meta = {
        "case": name,
        "description": "LSTM(4, stateful=True, return_sequences=True, batch_input_shape=(2,5,3))"
        " -> Dense(2). x_seg0..2 predicted in that order without reset_states "
        "give output_seg0..2. x/output are the concatenation (B, 15, D); layer0_* "
        "are stepped from zero state across the whole concatenation, so "
        "segment k starts from layer0_h[:, 5k-1].",
        "layers": layer_configs(model),
        "segments": 3,
        "segment_length": t,
    }
    write_npz(name, x_all, [np.concatenate(outs, axis=1)], [("lstm", tr)], meta, extra)
    model.save(str(OUT / f"{name}.h5"))
    again = keras.models.load_model(str(OUT / f"{name}.h5"), compile=False)
    close(predict(again, segs[0], batch_size=b)[0], outs[0], "stateful reload")
    print(f"  {name}: 3 segments of {segs[0].shape}")


# ---------------------------------------------------------------- non-LSTM / other formats
def other_files():
    rng = np.random.default_rng(99)

    def save_only(name, build, seed):
        fresh(seed)
        model = build()
        randomize(model, seed)
        model.save(str(OUT / f"{name}.h5"))
        print(f"  {name}.h5 (no reference)")
        return model

    save_only(
        "gru", lambda: keras.Sequential([L.GRU(4, return_sequences=True, input_shape=(6, 3), name="gru")]), 40
    )
    save_only(
        "simple_rnn", lambda: keras.Sequential([L.SimpleRNN(4, input_shape=(6, 3), name="simple_rnn")]), 41
    )
    save_only(
        "conv_lstm2d",
        lambda: keras.Sequential(
            [L.ConvLSTM2D(2, (3, 3), padding="same", input_shape=(4, 6, 6, 1), name="conv_lstm2d")]
        ),
        42,
    )
    cudnn_file(rng)
    savedmodel(rng)


def cudnn_file(rng):
    """A CuDNNLSTM .h5 (built and saved on CPU; its kernel cannot run here).

    The reference is what tf-keras itself makes of the file: an LSTM of the same shape
    loads it with ``load_weights`` (tf-keras converts the cuDNN layout while loading).
    """
    name, seed = "cudnn_lstm", 43
    fresh(seed)
    try:
        cudnn_cls = tf.compat.v1.keras.layers.CuDNNLSTM
        model = keras.Sequential([cudnn_cls(4, return_sequences=True, input_shape=(6, 3), name="cu_dnnlstm")])
        randomize(model, seed)
        model.save(str(OUT / f"{name}.h5"))
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with a note
        NOTES.append(f"CuDNNLSTM skipped: {type(exc).__name__}: {exc}")
        print("  " + NOTES[-1])
        return
    raw = model.get_weights()
    fresh(seed)
    twin = keras.Sequential([L.LSTM(4, return_sequences=True, input_shape=(6, 3), name="cu_dnnlstm")])
    twin.load_weights(str(OUT / f"{name}.h5"))
    n, d = 4, 3
    conv_k = np.hstack([k.reshape(n, d).T for k in np.hsplit(raw[0], 4)])
    conv_r = np.hstack([r.T for r in np.hsplit(raw[1], 4)])
    conv_b = raw[2][: 4 * n] + raw[2][4 * n :]
    for a, b, what in zip(
        twin.get_weights(), (conv_k, conv_r, conv_b), ("kernel", "recurrent_kernel", "bias")
    ):
        close(a, b, f"cuDNN conversion of {what}")
    x = seq_x(rng, 2, 6, 3)
    outputs = predict(twin, x)
    traced, _ = trace_model(twin, x)
    meta = {
        "case": name,
        "description": "CuDNNLSTM(4, return_sequences=True) saved by tf-keras on CPU. Weights "
        "in the file: kernel (D,4N), recurrent_kernel (N,4N), bias (8N,) in cuDNN "
        "layout. output/trace are from tf-keras' own LSTM after its load_weights "
        "conversion: per gate kernel_k -> kernel_k.reshape(N, D).T, "
        "recurrent_k -> recurrent_k.T, bias -> bias[:4N] + bias[4N:]. "
        "(The cuDNN kernel itself cannot run on CPU.)",
        "layers": layer_configs(model),
    }
    write_npz(name, x, outputs, traced, meta)
    print(f"  {name}: CuDNNLSTM .h5, reference via tf-keras' conversion")


def savedmodel(rng):
    name, seed = "savedmodel_lstm", 44
    path = OUT / name
    if path.exists():
        shutil.rmtree(path)
    x = seq_x(rng, 2, 5, 3)
    fresh(seed)
    model = keras.Sequential([L.LSTM(3, return_sequences=True, input_shape=(5, 3), name="lstm")])
    randomize(model, seed)
    model.save(str(path), save_format="tf")
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if size > SAVEDMODEL_LIMIT:
        shutil.rmtree(path)
        NOTES.append(f"SavedModel skipped: {size} bytes > {SAVEDMODEL_LIMIT}")
        print("  " + NOTES[-1])
        return
    outputs = predict(model, x)
    traced, _ = trace_model(model, x)
    meta = {
        "case": name,
        "layers": layer_configs(model),
        "description": "TensorFlow SavedModel directory savedmodel_lstm/ "
        "(model.save(dir, save_format='tf')) of LSTM(3, return_sequences=True)",
    }
    write_npz(name, x, outputs, traced, meta)
    print(f"  {name}/: SavedModel, {size} bytes")


# ---------------------------------------------------------------- GRU and SimpleRNN
GRU_OUT = OUT / "gru"


def step_recurrent(layer, x, mask, backward, h0=None):
    """Step a GRU's or SimpleRNN's own cell over x (B,T,D), input-aligned; a GRU's gates
    u, r, n from TensorFlow ops on its weights, checked to explain the cell's h."""
    cell = layer.cell
    x = np.asarray(x, np.float32)
    b, t_len, _ = x.shape
    n = cell.units
    gru = isinstance(layer, L.GRU)
    h = np.zeros((b, n), np.float32) if h0 is None else np.asarray(h0, np.float32)
    mask = np.ones((b, t_len), bool) if mask is None else np.asarray(mask, bool)
    tr = {k: np.full((b, t_len, n), np.nan, np.float32) for k in ("h", "u", "r", "n")}
    tr["h0"] = h.copy()
    if gru:
        def act(v, f=cell.activation):
            return np.asarray(f(tf.constant(v, tf.float32)))

        def ract(v, f=cell.recurrent_activation):
            return np.asarray(f(tf.constant(v, tf.float32)))
        kernel = np.asarray(cell.kernel)
        rec = np.asarray(cell.recurrent_kernel)
        bias = np.asarray(cell.bias) if cell.use_bias else np.zeros(3 * n, np.float32)
        b_in, b_rec = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros(3 * n, np.float32))
    for t in (range(t_len - 1, -1, -1) if backward else range(t_len)):
        out, state = cell(tf.constant(x[:, t]), [tf.constant(h)], training=False)
        new = np.asarray(state[0] if isinstance(state, (list, tuple)) else state, np.float32)
        keep = mask[:, t]
        if gru:
            zx = x[:, t] @ kernel + b_in
            xz, xr, xh = np.split(zx, 3, axis=1)
            if cell.reset_after:
                hz, hr, hh = np.split(h @ rec + b_rec, 3, axis=1)
                u, r = np.asarray(ract(xz + hz)), np.asarray(ract(xr + hr))
                cand = np.asarray(act(xh + r * hh))
            else:
                u = np.asarray(ract(xz + h @ rec[:, :n]))
                r = np.asarray(ract(xr + h @ rec[:, n:2 * n]))
                cand = np.asarray(act(xh + (r * h) @ rec[:, 2 * n:]))
            close((u * h + (1 - u) * cand)[keep], new[keep], f"{layer.name} h from gates, t={t}")
            for key, v in (("u", u), ("r", r), ("n", cand)):
                tr[key][keep, t] = v[keep]
        h = np.where(keep[:, None], new, h).astype(np.float32)
        tr["h"][:, t] = h
    tr["mask"], tr["x"] = mask, x
    tr["direction"] = "backward" if backward else "forward"
    return tr


def trace_recurrent(model, x):
    """Eager layer-by-layer run (masks as tf-keras propagates them); every GRU/SimpleRNN
    direction stepped and checked against the layer's own output on unmasked steps."""
    traced = []
    y = tf.constant(x)
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        m = getattr(y, "_keras_mask", None)
        mask = None if m is None else np.asarray(m)
        if isinstance(layer, (L.GRU, L.SimpleRNN)):
            parts = [(layer.name, layer, layer.go_backwards)]
        elif isinstance(layer, L.Bidirectional):
            parts = [(f"{layer.name}/forward", layer.forward_layer, False),
                     (f"{layer.name}/backward", layer.backward_layer, True)]
        else:
            parts = []
        for name, rnn, backward in parts:
            tr = step_recurrent(rnn, np.asarray(y), mask, backward)
            own = np.asarray(rnn(y, mask=m, training=False))
            keep = tr["mask"]
            if rnn.return_sequences:
                seq = own[:, ::-1] if backward else own
                close(tr["h"][keep], seq[keep], f"{name} output (unmasked steps)")
            else:
                close(final_h(tr), own, f"{name} output")
            traced.append((name, tr))
        y = first(layer(y, training=False))
    return traced


def write_recurrent_npz(name, x, outputs, traced, meta, extra=None):
    arrays = {"x": x, "output": outputs[0].astype(np.float32)}
    for k, (lname, tr) in enumerate(traced):
        arrays[f"layer{k}_name"] = np.array(lname)
        arrays[f"layer{k}_direction"] = np.array(tr["direction"])
        arrays[f"layer{k}_h"] = tr["h"]
        if not np.isnan(tr["u"]).all():
            arrays.update({f"layer{k}_{key}": tr[key] for key in ("u", "r", "n")})
    arrays.update(extra or {})
    meta = dict(meta, traced_layers=[n for n, _ in traced], keras_version=KERAS_VERSION,
                tf_version=TF_VERSION)
    arrays["meta"] = np.array(json.dumps(meta, default=str, sort_keys=True))
    np.savez_compressed(GRU_OUT / f"{name}.npz", **arrays)


def recurrent_case(name, description, build, x, seed):
    fresh(seed)
    model = build()
    randomize(model, seed)
    outputs = predict(model, x)
    traced = trace_recurrent(model, x)
    meta = {"case": name, "description": description, "layers": layer_configs(model)}
    write_recurrent_npz(name, x, outputs, traced, meta)
    path = GRU_OUT / f"{name}.h5"
    model.save(str(path))
    again = keras.models.load_model(str(path), compile=False)
    close(predict(again, x)[0], outputs[0], f"{name}: reloaded .h5 predicts differently")
    print(f"  gru/{name}: traced {[n for n, _ in traced]} output {outputs[0].shape}")


def gru_cases():
    GRU_OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261207)

    x = seq_x(rng, 3, 8, 3)
    x[0, 6:] = 0.0   # trailing padding
    x[1, 2] = 0.0    # a gap
    recurrent_case(
        "gru_reset_after_masked",
        "Masking(0.0) -> GRU(5, return_sequences, reset_after=True: tf-keras' default, bias "
        "(2, 3N)) -> Dense(2); padding and a gap masked",
        lambda: keras.Sequential([L.Masking(0.0, input_shape=(8, 3), name="masking"),
                                  L.GRU(5, return_sequences=True, name="gru"),
                                  L.Dense(2, name="dense")]),
        x, 50)

    x = seq_x(rng, 2, 7, 3)
    recurrent_case(
        "gru_reset_before",
        "GRU(4, reset_after=False, go_backwards=True, recurrent_activation='hard_sigmoid', "
        "return_sequences): bias (3N,), Keras 2's hard_sigmoid clip(0.2x+0.5, 0, 1)",
        lambda: keras.Sequential([L.GRU(4, reset_after=False, go_backwards=True,
                                        recurrent_activation="hard_sigmoid",
                                        return_sequences=True, input_shape=(7, 3), name="gru")]),
        x, 51)

    x = seq_x(rng, 2, 6, 3)
    x[0, 4:] = 0.0
    recurrent_case(
        "bidirectional_gru",
        "Masking(0.0) -> Bidirectional(GRU(4, return_sequences), concat) named 'bi' -> "
        "GRU(3, reset_after=False) named 'top' (last output)",
        lambda: keras.Sequential([L.Masking(0.0, input_shape=(6, 3), name="masking"),
                                  L.Bidirectional(L.GRU(4, return_sequences=True), name="bi"),
                                  L.GRU(3, reset_after=False, name="top")]),
        x, 52)

    x = seq_x(rng, 2, 7, 3)
    recurrent_case(
        "simplernn_relu",
        "SimpleRNN(4, activation='relu', return_sequences) -> SimpleRNN(3) (tanh, last output)",
        lambda: keras.Sequential([L.SimpleRNN(4, activation="relu", return_sequences=True,
                                              input_shape=(7, 3), name="rnn_a"),
                                  L.SimpleRNN(3, name="rnn_b")]),
        x, 53)

    x = seq_x(rng, 2, 6, 3)
    recurrent_case(
        "bidirectional_simplernn",
        "Bidirectional(SimpleRNN(3, return_sequences), merge_mode='sum') named 'bi'",
        lambda: keras.Sequential([L.Bidirectional(L.SimpleRNN(3, return_sequences=True),
                                                  merge_mode="sum", input_shape=(6, 3),
                                                  name="bi")]),
        x, 54)

    stateful_gru_case(rng)
    cudnn_gru_case(rng)


def stateful_gru_case(rng):
    """Three segments predicted in order without reset; references across the concatenation."""
    name, seed, b, t, d = "gru_stateful", 55, 2, 5, 3
    fresh(seed)
    model = keras.Sequential([
        L.GRU(4, stateful=True, return_sequences=True, batch_input_shape=(b, t, d), name="gru"),
        L.Dense(2, name="dense")])
    randomize(model, seed)
    layer = model.get_layer("gru")
    segs = [seq_x(rng, b, t, d) for _ in range(3)]
    layer.reset_states()
    outs, states = [], []
    for s in segs:
        states.append(np.asarray(layer.states[0]))
        outs.append(predict(model, s, batch_size=b)[0])
    x_all = np.concatenate(segs, axis=1)
    tr = step_recurrent(layer, x_all, None, False)
    for k, h0 in enumerate(states):
        close(h0, tr["h0"] if k == 0 else tr["h"][:, k * t - 1], f"stateful h at segment {k}")
    layer.reset_states()
    extra = {f"x_seg{k}": s for k, s in enumerate(segs)}
    extra.update({f"output_seg{k}": o for k, o in enumerate(outs)})
    meta = {"case": name, "layers": layer_configs(model), "segments": 3, "segment_length": t,
            "description": "GRU(4, stateful=True, return_sequences, batch_input_shape=(2,5,3)) "
            "-> Dense(2). x_seg0..2 predicted in that order without reset_states give "
            "output_seg0..2; layer0_* are stepped from zero across the concatenation x."}
    write_recurrent_npz(name, x_all, [np.concatenate(outs, axis=1)], [("gru", tr)], meta, extra)
    model.save(str(GRU_OUT / f"{name}.h5"))
    again = keras.models.load_model(str(GRU_OUT / f"{name}.h5"), compile=False)
    close(predict(again, segs[0], batch_size=b)[0], outs[0], "stateful GRU reload")
    print(f"  gru/{name}: 3 segments of {segs[0].shape}")


def cudnn_gru_case(rng):
    """A CuDNNGRU .h5 built and saved on CPU (its kernel cannot run here). The reference is
    what tf-keras makes of the file: a GRU(reset_after=True) of the same shape loads it with
    ``load_weights``, which converts the cuDNN layout (``_convert_rnn_weights``); the script
    checks that conversion against the formula the engine implements."""
    name, seed, n, d = "cudnn_gru", 56, 4, 3
    fresh(seed)
    cudnn_cls = tf.compat.v1.keras.layers.CuDNNGRU
    model = keras.Sequential([cudnn_cls(n, return_sequences=True, input_shape=(6, d), name="cu_dnngru"),
                              L.Dense(2, name="dense")])
    randomize(model, seed)
    model.save(str(GRU_OUT / f"{name}.h5"))
    raw = model.get_weights()
    fresh(seed)
    twin = keras.Sequential([L.GRU(n, return_sequences=True, reset_after=True, input_shape=(6, d),
                                   name="cu_dnngru"), L.Dense(2, name="dense")])
    twin.load_weights(str(GRU_OUT / f"{name}.h5"))
    conv_k = np.hstack([k.reshape(n, d).T for k in np.hsplit(raw[0], 3)])
    conv_r = np.hstack([r.T for r in np.hsplit(raw[1], 3)])
    conv_b = raw[2].reshape(2, 3 * n)
    for a, b, what in zip(twin.get_weights(), (conv_k, conv_r, conv_b),
                          ("kernel", "recurrent_kernel", "bias")):
        close(a, b, f"cuDNN GRU conversion of {what}")
    x = seq_x(rng, 2, 6, d)
    outputs = predict(twin, x)
    traced = trace_recurrent(twin, x)
    meta = {"case": name, "layers": layer_configs(model),
            "description": "CuDNNGRU(4, return_sequences) -> Dense(2) saved by tf-keras on CPU: "
            "kernel (D,3N), recurrent_kernel (N,3N), bias (6N,) in cuDNN layout. output and "
            "trace are tf-keras' own GRU(reset_after=True) after its load_weights conversion: "
            "per gate kernel_k -> kernel_k.reshape(N, D).T, recurrent_k -> recurrent_k.T, "
            "bias -> bias.reshape(2, 3N) (input row, recurrent row)."}
    write_recurrent_npz(name, x, outputs, traced, meta)
    print(f"  gru/{name}: CuDNNGRU .h5, reference via tf-keras' conversion")
    cudnn_bidirectional_gru_case(rng)


def cudnn_bidirectional_gru_case(rng):
    """Bidirectional(CuDNNGRU) saved on CPU; the reference is tf-keras' Bidirectional(GRU)
    after ``load_weights`` converted both directions."""
    name, seed, n, d = "cudnn_bidirectional_gru", 57, 3, 2
    fresh(seed)
    cudnn_cls = tf.compat.v1.keras.layers.CuDNNGRU
    model = keras.Sequential([L.Bidirectional(cudnn_cls(n, return_sequences=True),
                                              input_shape=(5, d), name="bi")])
    randomize(model, seed)
    model.save(str(GRU_OUT / f"{name}.h5"))
    fresh(seed)
    twin = keras.Sequential([L.Bidirectional(L.GRU(n, return_sequences=True, reset_after=True),
                                             input_shape=(5, d), name="bi")])
    twin.load_weights(str(GRU_OUT / f"{name}.h5"))
    raw = model.get_weights()
    for half, (k, r, b) in enumerate((raw[:3], raw[3:])):
        conv = (np.hstack([g.reshape(n, d).T for g in np.hsplit(k, 3)]),
                np.hstack([g.T for g in np.hsplit(r, 3)]), b.reshape(2, 3 * n))
        for a, want in zip(twin.get_weights()[3 * half:3 * half + 3], conv):
            close(a, want, f"{name}: cuDNN GRU conversion, direction {half}")
    x = seq_x(rng, 2, 5, d)
    outputs = predict(twin, x)
    traced = trace_recurrent(twin, x)
    meta = {"case": name, "layers": layer_configs(model),
            "description": "Bidirectional(CuDNNGRU(3, return_sequences)) named 'bi' saved by "
            "tf-keras on CPU; output and trace from tf-keras' Bidirectional(GRU(reset_after="
            "True)) after load_weights converted both directions."}
    write_recurrent_npz(name, x, outputs, traced, meta)
    print(f"  gru/{name}: Bidirectional(CuDNNGRU) .h5, reference via tf-keras' conversion")


def main():
    if sys.argv[1:] == ["gru"]:
        print(f"tf-keras {KERAS_VERSION}, TensorFlow {TF_VERSION} -> {GRU_OUT}")
        gru_cases()
        return
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"tf-keras {KERAS_VERSION}, TensorFlow {TF_VERSION} -> {OUT}")
    hs = keras.activations.get("hard_sigmoid")(tf.constant([-3.0, -1.0, 0.0, 1.0, 3.0]))
    close(
        hs,
        np.clip(0.2 * np.array([-3.0, -1.0, 0.0, 1.0, 3.0]) + 0.5, 0, 1),
        "tf-keras hard_sigmoid is clip(0.2x + 0.5, 0, 1)",
    )
    build_cases()
    other_files()
    gru_cases()
    for note in NOTES:
        print("NOTE:", note)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
