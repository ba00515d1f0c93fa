"""Train the bundled demo models into resources/demos/ (rerunnable, fixed seeds).

    pip install -e '.[train]'         # Keras 3 + JAX; the app itself never needs them
    python scripts/train_demos.py [--only sine|counter|counter-gru|text|code|wide] [--out resources/demos]
    python scripts/train_demos.py --check     # no training: reload the files, print what they do

For each demo this writes NAME.keras (a Keras 3 Sequential of InputLayer / Embedding / LSTM
(``counter-gru``: GRU) / Dense, saved without optimizer state, which the numpy engine reads), NAME_input.npy (the default
input) and NAME.json (title, description, suggested step and unit, vocabulary, measured
metrics). ``wide`` is not trained and ships no weights: its JSON tells the engine to build
1024 units from a fixed seed. The interesting unit of each demo is found here by stepping
Keras' own LSTM (or GRU) cell (``layer.cell``) over held-out data; ``code``'s units are scored with the
app's own feature language (engine.analyses.features), the one "Find units for…" uses. About five
minutes on two CPU cores (``code`` takes most of it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"  # the script is written for (and measured on) JAX
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMOS = ROOT / "resources" / "demos"

_spec = importlib.util.spec_from_file_location("demo_generators", DEMOS / "generators.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

import keras  # noqa: E402

NAMES = ["sine", "counter", "counter-gru", "text", "code", "wide"]


# --- helpers ------------------------------------------------------------------------------

def lstm_input(model, x: np.ndarray):
    """(what the model's LSTM reads, that LSTM's cell): ``x`` run through the layers before it."""
    layers = list(model.layers)
    k = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.LSTM))
    feed = x
    for layer in layers[:k]:
        feed = layer(feed)
    return np.asarray(feed, np.float32), layers[k].cell


def lstm_states(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c, h), each (B,T,N), stepping Keras' own LSTM cell over the model's LSTM input."""
    feed, cell = lstm_input(model, x)
    b, n = feed.shape[0], cell.units
    h = np.zeros((b, n), np.float32)
    c = np.zeros((b, n), np.float32)
    cs, hs = [], []
    for t in range(feed.shape[1]):
        _, (h, c) = cell(feed[:, t], [h, c])
        h, c = np.asarray(h), np.asarray(c)
        cs.append(c)
        hs.append(h)
    return np.stack(cs, axis=1), np.stack(hs, axis=1)


def lstm_gates(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """i, f, g, o (B,T,N) of the model's LSTM, from its weights and the h of ``lstm_states``."""
    feed, cell = lstm_input(model, x)
    kernel, recurrent, bias = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    _, h = lstm_states(model, x)
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    z = feed @ kernel + h_prev @ recurrent + bias
    zi, zf, zg, zo = np.split(z, 4, axis=-1)  # Keras order i, f, c(=g), o
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731  (the demos use the default sigmoid)
    return {"i": sig(zi), "f": sig(zf), "g": np.tanh(zg), "o": sig(zo)}


def check_cell_matches_layer(model, x: np.ndarray) -> float:
    """Max difference between our cell stepping and Keras' whole-layer h (sanity check)."""
    gru = any(isinstance(layer, keras.layers.GRU) for layer in model.layers)
    h = gru_states(model, x) if gru else lstm_states(model, x)[1]
    sub = keras.Sequential([layer for layer in model.layers[:-1]])
    ref = np.asarray(sub(x))
    return float(np.max(np.abs(h - ref)))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def sparkline(values: np.ndarray, width: int = 80) -> str:
    """One line of text for a series (no plotting library needed)."""
    bars = " .:-=+*#%@"
    v = np.asarray(values, np.float64)[:width]
    lo, hi = float(np.min(v)), float(np.max(v))
    if hi - lo < 1e-12:
        return bars[0] * len(v)
    return "".join(bars[int(round((x - lo) / (hi - lo) * (len(bars) - 1)))] for x in v)


def inference_copy(model):
    """The same Sequential, uncompiled and with dropout off (it only acts in training): the
    saved file then holds the weights and nothing the app would have to skip (no optimizer)."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] in ("LSTM", "GRU"):
            layer["config"].update(dropout=0.0, recurrent_dropout=0.0)
    clone = keras.Sequential.from_config(config)
    clone.build(model.input_shape)
    clone.set_weights(model.get_weights())
    return clone


def write_demo(out: Path, name: str, model, default_input: np.ndarray | None, meta: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if model is not None:
        inference_copy(model).save(out / f"{name}.keras")
    if default_input is not None:
        np.save(out / f"{name}_input.npy", default_input)
    full = {"name": name, "title": meta.pop("title"), "description": meta.pop("description"),
            "model": f"{name}.keras" if model is not None else None,
            "default_input": f"{name}_input.npy" if default_input is not None else None,
            "suggested_step": int(meta.pop("suggested_step")),
            "suggested_unit": meta.pop("suggested_unit"),
            "vocabulary": meta.pop("vocabulary"),
            "metrics": meta.pop("metrics"),
            "keras_version": keras.__version__,
            **meta}
    (out / f"{name}.json").write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    return full


def fit(model, x, y, *, epochs: int, batch_size: int, lr: float, loss: str,
        clipnorm: float | None = None) -> list[float]:
    model.compile(optimizer=keras.optimizers.Adam(lr, clipnorm=clipnorm), loss=loss)
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=True)
    return [float(v) for v in hist.history["loss"]]


# --- sine ---------------------------------------------------------------------------------

def sine_phase_fit(c_or_h: np.ndarray, angle: np.ndarray, warmup: int = 10):
    """Per unit: R² of ``a sin(angle) + b cos(angle) + k`` fitted to the signal, and the phase
    lead in degrees (0 = in step with the input wave, +90 = a quarter period ahead)."""
    s = np.sin(angle[:, warmup:]).ravel()
    co = np.cos(angle[:, warmup:]).ravel()
    design = np.stack([s, co, np.ones_like(s)], axis=1)
    r2, lead = [], []
    for u in range(c_or_h.shape[-1]):
        y = c_or_h[:, warmup:, u].ravel().astype(np.float64)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        r2.append(float(1 - resid.var() / max(y.var(), 1e-12)))
        # a sin θ + b cos θ = A sin(θ + φ) with φ = atan2(b, a)
        lead.append(float(np.degrees(np.arctan2(coef[1], coef[0]))))
    return np.array(r2), np.array(lead)


def train_sine(out: Path) -> dict:
    keras.utils.set_random_seed(1)
    x, y = gen.noisy_sine(1024, 80, seed=1)
    model = keras.Sequential([keras.Input((None, 1), name="wave"),
                              keras.layers.LSTM(12, return_sequences=True, name="lstm"),
                              keras.layers.Dense(1, name="next_value")], name="sine")
    losses = fit(model, x, y, epochs=30, batch_size=64, lr=0.01, loss="mse")
    xt, yt, angle = gen.noisy_sine(256, 80, seed=1001, return_angle=True)
    pred = np.asarray(model.predict(xt, verbose=0))
    mse = float(np.mean((pred - yt) ** 2))
    mse_after_warmup = float(np.mean((pred[:, 10:] - yt[:, 10:]) ** 2))
    naive = float(np.mean((xt - yt) ** 2))  # "the next value is the current one"
    c, h = lstm_states(model, xt)
    r2_h, lead_h = sine_phase_fit(h, angle)
    r2_c, lead_c = sine_phase_fit(c, angle)
    # a unit that follows the wave closely with a phase of its own, as near a quarter period
    # from the input as possible (not just a copy of the input), and the most in-step one
    score = r2_h * np.abs(np.sin(np.radians(lead_h)))
    unit = int(np.argmax(score))
    in_step = int(np.argmax(r2_h * np.cos(np.radians(lead_h))))
    tracking = int(np.sum(r2_h > 0.8))

    default, _, dangle = gen.noisy_sine(1, 120, seed=7, return_angle=True)
    # suggested step: after the warm-up, the first step where the chosen unit's h peaks
    _, dh = lstm_states(model, default)
    hu = dh[0, :, unit]
    peaks = [t for t in range(24, 119) if hu[t] >= hu[t - 1] and hu[t] >= hu[t + 1] and hu[t] > 0.5 * hu.max()]
    step = peaks[0] if peaks else 40
    freq = float((dangle[0, 1] - dangle[0, 0]) / (2 * np.pi))
    return write_demo(out, "sine", model, default[0], {
        "title": "Sine: 12 units predict the next value of a noisy sine",
        "description": (
            "LSTM(units=12) reads a noisy sine wave, one number per step, and predicts the next "
            "clean value (a Dense layer reads all 12 h values). Step it with F10 and one new "
            f"column appears in all 12 lanes at once. {tracking} of the 12 units settle into "
            "smooth waves of their own that lock onto the input after a few steps, each with its "
            f"own phase: unit {in_step} moves in step with the input, while unit {unit} runs "
            f"about {abs(lead_h[unit]):.0f} degrees {'ahead of' if lead_h[unit] > 0 else 'behind'} "
            "it. Two waves that far apart tell the Dense layer both where the wave is and which "
            f"way it is heading, which a single noisy value cannot. Step {step} is a peak of unit "
            f"{unit}'s h; compare it with the input there."),
        "suggested_step": step, "suggested_unit": unit, "vocabulary": None,
        "metrics": {"test_mse": round(mse, 5), "test_mse_after_step_10": round(mse_after_warmup, 5),
                    "naive_mse": round(naive, 5), "target_variance": round(float(yt.var()), 4),
                    "phase_unit": unit, "phase_unit_r2": round(float(r2_h[unit]), 4),
                    "phase_unit_lead_deg": round(float(lead_h[unit]), 1),
                    "units_tracking_phase": tracking, "in_step_unit": in_step,
                    "in_step_unit_lead_deg": round(float(lead_h[in_step]), 1),
                    "unit_phase_r2_h": [round(float(v), 3) for v in r2_h],
                    "unit_phase_lead_deg_h": [round(float(v), 1) for v in lead_h],
                    "unit_phase_r2_c": [round(float(v), 3) for v in r2_c],
                    "final_train_loss": round(losses[-1], 5),
                    "test_set": "generators.noisy_sine(256, 80, seed=1001)"},
        "default_input_info": {"frequency_cycles_per_step": round(freq, 4),
                               "made_by": "generators.noisy_sine(1, 120, seed=7)"},
    })


# --- counter ------------------------------------------------------------------------------

# A hand-written default input (62 brackets, balanced): climbs to depth 6 (the deepest the
# training strings go) once, with shallower bumps before and after, and ends at depth 0.
COUNTER_INPUT = "(()(()))((()(()))())()(((((())))))(()((()))())((()()))(((())))"
COUNTER_UNITS = 6
COUNTER_TASK = "per step: depth = round(Dense(h)); vocabulary ids 1 '(' and 2 ')'; id 0 unused"


@dataclass
class BracketCounter:
    """A bracket-depth counter as both counter demos train and score it: the fitted
    ``model``, the held-out strings ``ids`` and their ``depth``, and the metrics
    every counter reports, in the order its JSON lists them: ``accuracy`` first, ``provenance``
    last."""

    model: keras.Model
    ids: np.ndarray
    depth: np.ndarray
    accuracy: dict
    provenance: dict


def fit_bracket_counter(name: str, recurrent: type, layer_name: str, seed: int) -> BracketCounter:
    """Train Embedding -> ``recurrent``(6 units) -> Dense on the bracket strings and score it
    on held-out and on longer strings. The layer is made after the seed is set (a Keras layer
    draws its own seed when it is made), so a demo trains the same whichever cell it has."""
    keras.utils.set_random_seed(seed)
    ids, depth = gen.bracket_strings(2048, 40, seed=2)
    model = keras.Sequential([keras.Input((None,), dtype="int32", name="brackets"),
                              keras.layers.Embedding(3, 4, name="embedding"),
                              recurrent(COUNTER_UNITS, return_sequences=True, name=layer_name),
                              keras.layers.Dense(1, name="depth")], name=name)
    losses = fit(model, ids, depth[..., None], epochs=30, batch_size=64, lr=0.02, loss="mse")
    ti, td = gen.bracket_strings(512, 40, seed=2002)
    pred = np.asarray(model.predict(ti, verbose=0))[..., 0]
    acc = float(np.mean(np.round(pred) == td))
    seq_acc = float(np.mean(np.all(np.round(pred) == td, axis=1)))
    # longer strings than it was trained on (same depth range)
    li, ld = gen.bracket_strings(128, 120, seed=2003)
    lacc = float(np.mean(np.round(np.asarray(model.predict(li, verbose=0))[..., 0]) == ld))
    return BracketCounter(
        model, ti, td,
        accuracy={"heldout_accuracy": round(acc, 4), "heldout_sequence_accuracy": round(seq_acc, 4),
                  "long_strings_accuracy": round(lacc, 4)},
        provenance={"final_train_loss": round(losses[-1], 5),
                    "heldout_set": "generators.bracket_strings(512, 40, seed=2002)",
                    "long_set": "generators.bracket_strings(128, 120, seed=2003)"})


def train_counter(out: Path) -> dict:
    fitted = fit_bracket_counter("counter", keras.layers.LSTM, "lstm", seed=2)
    model, ti, td = fitted.model, fitted.ids, fitted.depth
    c, h = lstm_states(model, ti)
    corrs = [corr(c[..., u], td) for u in range(6)]
    unit = int(np.argmax(np.abs(corrs)))
    slope, intercept = np.polyfit(td.ravel(), c[..., unit].ravel(), 1)
    h_corrs = [corr(h[..., u], td) for u in range(6)]
    gates = lstm_gates(model, ti)
    f_mean = float(np.mean(gates["f"][..., unit]))
    f_min = float(np.quantile(gates["f"][..., unit], 0.01))

    default_ids, default_depth = gen.encode_brackets(COUNTER_INPUT)
    assert default_depth.min() >= 0 and default_depth.max() <= 6
    step = int(np.argmax(default_depth))  # first time it reaches the deepest level
    sign = "up" if slope > 0 else "down"
    other = "down" if slope > 0 else "up"
    return write_demo(out, "counter", model, default_ids, {
        "title": "Counter: one unit's cell state counts bracket depth",
        "description": (
            "LSTM(units=6) reads a string of '(' and ')' one bracket per step and predicts the "
            f"nesting depth after each one. Look at unit {unit}: its cell state C steps {sign} "
            f"by about {abs(slope):.2f} at every '(' and {other} again at every ')', a staircase "
            f"that follows the depth (correlation {abs(corrs[unit]):.3f} on held-out strings) — "
            f"the classic proof that C is memory. Its forget gate stays high (mean {f_mean:.2f}), "
            f"so the count is carried from step to step. At step {step} the input reaches depth "
            f"{int(default_depth[step])}, the deepest it goes; the other five units work in "
            "parallel at every step and read the counter through the recurrent kernel."),
        "suggested_step": step, "suggested_unit": unit, "vocabulary": list(gen.BRACKETS),
        "metrics": {**fitted.accuracy,
                    "depth_unit": unit, "depth_corr": round(abs(corrs[unit]), 4),
                    "depth_corr_signed": round(corrs[unit], 4),
                    "depth_unit_c_per_level": round(float(slope), 4),
                    "depth_unit_c_at_depth_0": round(float(intercept), 4),
                    "depth_unit_forget_mean": round(f_mean, 4),
                    "depth_unit_forget_p01": round(f_min, 4),
                    "unit_depth_corr_c": [round(v, 3) for v in corrs],
                    "unit_depth_corr_h": [round(v, 3) for v in h_corrs],
                    **fitted.provenance},
        "default_input_text": COUNTER_INPUT, "task": COUNTER_TASK,
    })


# --- counter-gru --------------------------------------------------------------------------

def gru_input(model, x: np.ndarray):
    """(what the model's GRU reads, that GRU's cell): ``x`` run through the layers before it."""
    layers = list(model.layers)
    k = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.GRU))
    feed = x
    for layer in layers[:k]:
        feed = layer(feed)
    return np.asarray(feed, np.float32), layers[k].cell


def gru_states(model, x: np.ndarray) -> np.ndarray:
    """h (B,T,N), stepping Keras' own GRU cell over the model's GRU input."""
    feed, cell = gru_input(model, x)
    h = np.zeros((feed.shape[0], cell.units), np.float32)
    hs = []
    for t in range(feed.shape[1]):
        h, _ = cell(feed[:, t], [h])
        h = np.asarray(h)
        hs.append(h)
    return np.stack(hs, axis=1)


def gru_gates(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """u (Keras' z, the update gate), r, n (B,T,N) of the model's GRU (``reset_after``, as
    Keras' default), from its weights and the h of ``gru_states``."""
    feed, cell = gru_input(model, x)
    assert cell.reset_after, "the demo's GRU is Keras' default reset_after=True"
    kernel, recurrent, bias = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    h = gru_states(model, x)
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    zx_u, zx_r, zx_n = np.split(feed @ kernel + bias[0], 3, axis=-1)   # Keras order z, r, h
    zh_u, zh_r, zh_n = np.split(h_prev @ recurrent + bias[1], 3, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731  (the demo uses the default sigmoid)
    u, r = sig(zx_u + zh_u), sig(zx_r + zh_r)
    return {"u": u, "r": r, "n": np.tanh(zx_n + r * zh_n)}


def train_counter_gru(out: Path) -> dict:
    """The counter's task and data, learned by a GRU: it has no C, so the count lives in a
    unit's h, carried from step to step by its update gate u (h = u·h_prev + (1 − u)·n)."""
    fitted = fit_bracket_counter("counter_gru", keras.layers.GRU, "gru", seed=5)
    model, ti, td, units = fitted.model, fitted.ids, fitted.depth, COUNTER_UNITS
    h = gru_states(model, ti)
    corrs = [corr(h[..., u], td) for u in range(units)]
    unit = int(np.argmax(np.abs(corrs)))
    slope, intercept = np.polyfit(td.ravel(), h[..., unit].ravel(), 1)
    gates = gru_gates(model, ti)
    u_mean = float(np.mean(gates["u"][..., unit]))
    u_min = float(np.quantile(gates["u"][..., unit], 0.01))
    n_corr = corr(gates["n"][..., unit], td)    # the candidate holds the count too: it reads h

    default_ids, default_depth = gen.encode_brackets(COUNTER_INPUT)
    step = int(np.argmax(default_depth))
    sign = "up" if slope > 0 else "down"
    other = "down" if slope > 0 else "up"
    return write_demo(out, "counter-gru", model, default_ids, {
        "title": "Counter (GRU): one unit's h counts bracket depth",
        "description": (
            f"The counter's task learned by GRU(units={units}) instead of an LSTM: it reads '(' "
            "and ')' one bracket per step and predicts the nesting depth after each one. A GRU "
            f"has no cell state C, so the count has to live in h itself. Look at unit {unit}: "
            f"its h steps {sign} by about {abs(slope):.2f} at every '(' and {other} again at "
            f"every ')' (correlation {abs(corrs[unit]):.3f} with the depth on held-out "
            "strings). It is carried two ways at once: h = u·h_prev + (1 − u)·n, and unit "
            f"{unit}'s update gate u averages {u_mean:.2f}, so each step keeps that share of the "
            "old h; the rest comes from the candidate n, which reads the whole previous h "
            f"through the recurrent kernel and follows the depth too (correlation "
            f"{abs(n_corr):.2f}). At step {step} the input reaches depth "
            f"{int(default_depth[step])}, the deepest it goes; compare it with demo:counter, "
            "where the same job is done by a C."),
        "suggested_step": step, "suggested_unit": unit, "vocabulary": list(gen.BRACKETS),
        "metrics": {**fitted.accuracy,
                    "depth_unit": unit, "depth_corr": round(abs(corrs[unit]), 4),
                    "depth_corr_signed": round(corrs[unit], 4),
                    "depth_unit_h_per_level": round(float(slope), 4),
                    "depth_unit_h_at_depth_0": round(float(intercept), 4),
                    "depth_unit_update_mean": round(u_mean, 4),
                    "depth_unit_update_p01": round(u_min, 4),
                    "depth_unit_candidate_corr_signed": round(n_corr, 4),
                    "unit_depth_corr_h": [round(v, 3) for v in corrs],
                    **fitted.provenance},
        "default_input_text": COUNTER_INPUT, "task": COUNTER_TASK,
    })


# --- text ---------------------------------------------------------------------------------

TEXT_INPUT = ("each unit is a small cell with a memory of its own, and all of them read the "
              "same input at the same step.")


def word_position(text: str) -> np.ndarray:
    """Characters since the last space (0 at a space)."""
    out, k = [], 0
    for ch in text:
        k = 0 if ch == " " else k + 1
        out.append(k)
    return np.array(out, np.float32)


def train_text(out: Path) -> dict:
    keras.utils.set_random_seed(3)
    corpus = DEMOS / "text_corpus.txt"
    if out.resolve() != DEMOS.resolve():
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus, out / "text_corpus.txt")
    text = gen.corpus_text(corpus)
    train_text_, heldout = gen.split_corpus(text, 0.1)
    vocab = gen.text_vocabulary(text)
    ids = gen.encode(train_text_, vocab)
    win = 64
    starts = np.arange(0, len(ids) - win - 1, 2)
    xs = np.stack([ids[s:s + win] for s in starts])
    ys = np.stack([ids[s + 1:s + win + 1] for s in starts])
    units = 64
    model = keras.Sequential([keras.Input((None,), dtype="int32", name="chars"),
                              keras.layers.Embedding(len(vocab), 16, name="embedding"),
                              keras.layers.LSTM(units, return_sequences=True, dropout=0.2,
                                                recurrent_dropout=0.2, name="lstm"),
                              keras.layers.Dense(len(vocab), activation="softmax", name="next_char")],
                             name="text")
    losses = fit(model, xs, ys, epochs=12, batch_size=64, lr=0.01, loss="sparse_categorical_crossentropy",
                 clipnorm=1.0)

    def nll(s: str) -> float:
        k = gen.encode(s, vocab)
        p = np.asarray(model.predict(k[None, :-1], verbose=0))[0]
        return float(-np.mean(np.log(p[np.arange(len(k) - 1), k[1:]] + 1e-9)))

    def top1(s: str) -> float:
        k = gen.encode(s, vocab)
        p = np.asarray(model.predict(k[None, :-1], verbose=0))[0]
        return float(np.mean(np.argmax(p, -1) == k[1:]))

    train_nll, heldout_nll, corpus_nll = nll(train_text_), nll(heldout), nll(text)
    # which unit knows where it is inside a word? (characters since the last space)
    c, h = lstm_states(model, gen.encode(text, vocab)[None])
    wp = word_position(text)
    is_space = (np.array(list(text)) == " ").astype(np.float32)
    wp_corr = [corr(c[0, :, u], wp) for u in range(units)]
    sp_corr = [corr(h[0, :, u], is_space) for u in range(units)]
    unit = int(np.argmax(np.abs(wp_corr)))
    space_unit = int(np.argmax(sp_corr))
    c_space = float(np.mean(c[0, wp == 0, unit]))
    c_inword = float(np.mean(c[0, wp >= 3, unit]))
    h_space = float(np.mean(h[0, wp == 0, space_unit]))
    h_else = float(np.mean(h[0, wp > 0, space_unit]))

    default = gen.encode(TEXT_INPUT, vocab)
    # suggested step: the space after the longest word in the default input
    dwp = word_position(TEXT_INPUT)
    step = int(np.argmax(dwp)) + 1
    longest = TEXT_INPUT[step - int(dwp[step - 1]):step]
    sample = _greedy(model, vocab, "the cell state ", 60)
    return write_demo(out, "text", model, default, {
        "title": "Text: 64 units reading characters",
        "description": (
            "A character-level LSTM(units=64) trained for half a minute on a short text about LSTMs "
            "that ships with it (resources/demos/text_corpus.txt). It reads one character per "
            "step and predicts the next; type your own text in the Input dock (lower-case "
            "letters, spaces and . , : — other characters are not in its vocabulary). 64 lanes "
            "fill in at every step. Look for units with a job: "
            f"unit {unit}'s C sits near {c_space:+.1f} at every space and swings to about "
            f"{c_inword:+.1f} a few letters into the next word (a memory of where the reader is "
            f"in a word), and unit {space_unit}'s h is high ({h_space:.1f} on average) at spaces "
            f"and low ({h_else:.1f}) elsewhere. Step {step} is the space after '{longest}', the "
            f"longest word of the default sentence: watch unit {unit}'s C jump there."),
        "suggested_step": step, "suggested_unit": unit, "vocabulary": vocab,
        "metrics": {"train_nll": round(train_nll, 4), "heldout_nll": round(heldout_nll, 4),
                    "corpus_nll": round(corpus_nll, 4),
                    "uniform_nll": round(float(np.log(len(vocab))), 4),
                    "train_top1": round(top1(train_text_), 4), "heldout_top1": round(top1(heldout), 4),
                    "vocab_size": len(vocab), "corpus_chars": len(text),
                    "heldout_chars": len(heldout),
                    "word_position_unit": unit, "word_position_corr": round(wp_corr[unit], 4),
                    "word_unit_c_at_spaces": round(c_space, 4),
                    "word_unit_c_3_letters_in": round(c_inword, 4),
                    "space_unit": space_unit, "space_corr": round(sp_corr[space_unit], 4),
                    "space_unit_h_at_spaces": round(h_space, 4),
                    "space_unit_h_elsewhere": round(h_else, 4),
                    "final_train_loss": round(losses[-1], 5),
                    "training": "12 epochs, windows of 64 chars, LSTM dropout 0.2 and recurrent "
                                "dropout 0.2 (saved with dropout 0: inference is unchanged)",
                    "greedy_sample": sample,
                    "nll_units": "nats per character; heldout = the last ~10% of the corpus, "
                                 "never trained on"},
        "default_input_text": TEXT_INPUT,
        "corpus": "text_corpus.txt (newlines read as spaces)",
    })


def _greedy(model, vocab: list[str], prompt: str, n: int) -> str:
    ids = list(gen.encode(prompt, vocab))
    for _ in range(n):
        p = np.asarray(model.predict(np.array([ids], np.int32), verbose=0))[0, -1]
        ids.append(int(np.argmax(p)))
    return gen.decode(ids, vocab)


# --- code ---------------------------------------------------------------------------------

CODE_INPUT = ('# add the step values and keep the total\n'
              'total = add(total, max(f("STEP ONE", n), len(items)))\n'
              'get("THE TOTAL IS", total)\n'
              'x = g(data, sum(size, min(k, abs(f(10)))))\n')
CODE_EPOCHS = int(os.environ.get("CODE_EPOCHS", "40"))
# (key, the feature in the app's own language (engine.analyses.features), what a unit following it knows)
CODE_FEATURES = [("quote", "in_quotes", "whether it is inside a string"),
                 ("depth", "depth('(', ')')", "how many brackets are open"),
                 ("inside", "depth('(', ')') > 0", "whether any bracket is open"),
                 ("column", "col", "how far along the line it is")]
INTERPRETABLE = 0.8       # |correlation| on held-out text for a unit to be named as having a job


def train_code(out: Path) -> dict:
    keras.utils.set_random_seed(4)
    vocab = gen.code_vocabulary()
    train_src = gen.code_text(2000, seed=4)
    ids = gen.encode(train_src, vocab)
    win = 128
    starts = np.array([0] + [k + 1 for k, ch in enumerate(train_src) if ch == "\n"])
    starts = starts[starts + win + 1 <= len(ids)][::2]    # windows begin at a line start
    xs = np.stack([ids[s:s + win] for s in starts])
    ys = np.stack([ids[s + 1:s + win + 1] for s in starts])
    model = keras.Sequential([keras.Input((None,), dtype="int32", name="chars"),
                              keras.layers.Embedding(len(vocab), 16, name="embedding"),
                              keras.layers.LSTM(32, return_sequences=True, name="lstm"),
                              keras.layers.Dense(len(vocab), activation="softmax", name="next_char")],
                             name="code")
    losses = fit(model, xs, ys, epochs=CODE_EPOCHS, batch_size=64, lr=0.01,
                 loss="sparse_categorical_crossentropy", clipnorm=1.0)
    return measure_code(out, model, train_src, losses[-1])


def measure_code(out: Path, model, train_src: str, final_loss: float) -> dict:
    """Held-out loss, and the units whose C or h follow each feature of the text, measured by
    stepping Keras' own cell and scored with the app's feature language (so "Find units for…"
    names the same units)."""
    sys.path.insert(0, str(ROOT))
    from engine.analyses.features import Feature
    vocab = gen.code_vocabulary()
    heldout = gen.code_text(300, seed=4004)

    def nll(s: str) -> tuple[float, float]:
        k = gen.encode(s, vocab)
        p = np.asarray(model.predict(k[None, :-1], verbose=0))[0]
        picked = p[np.arange(len(k) - 1), k[1:]]
        return float(-np.mean(np.log(picked + 1e-9))), float(np.mean(np.argmax(p, -1) == k[1:]))

    train_nll, train_top1 = nll(train_src[:20000])
    heldout_nll, heldout_top1 = nll(heldout)
    c, h = lstm_states(model, gen.encode(heldout, vocab)[None])
    units = c.shape[-1]
    found = {}
    for key, expr, meaning in CODE_FEATURES:
        f = Feature(expr).values(heldout)
        best = max(((abs(corr(sig[0, :, u], f)), corr(sig[0, :, u], f), u, sname)
                    for sname, sig in (("c", c), ("h", h)) for u in range(units)))
        found[key] = {"feature": expr, "unit": best[2], "signal": best[3],
                      "corr": round(best[1], 4), "meaning": meaning}
    jobs = [v for v in found.values() if abs(v["corr"]) >= INTERPRETABLE]
    weak = [v for v in found.values() if abs(v["corr"]) < INTERPRETABLE]
    said = "; ".join(f"unit {v['unit']}'s {'C' if v['signal'] == 'c' else 'h'} follows "
                     f"{v['feature']} (r = {v['corr']:+.2f}): {v['meaning']}" for v in jobs)
    weaker = ", ".join(f"{v['feature']} (best r = {v['corr']:+.2f}, unit {v['unit']})" for v in weak)
    first = jobs[0] if jobs else max(found.values(), key=lambda v: abs(v["corr"]))
    default = gen.encode(CODE_INPUT, vocab)
    # suggested step: the last character inside the first string of the default input
    step = CODE_INPUT.index('"', CODE_INPUT.index('"') + 1) - 1
    return write_demo(out, "code", model, default, {
        "title": f"Code: {units} units reading code-like text",
        "description": (
            f"A character-level LSTM(units={units}) trained for a few minutes on generated "
            "code-like text (nested calls, quoted strings in capitals, '#' comments wrapped at "
            f"{gen.CODE_WIDTH} columns; resources/demos/generators.py). It predicts the next "
            f"character (held-out loss {heldout_nll:.2f} nats, {100 * heldout_top1:.0f}% right "
            f"first guess; a uniform guess is {np.log(len(vocab)):.2f}). To do that it must "
            "remember what no single character shows. Measured on held-out text: " + said + "."
            + (f" Weaker: {weaker}." if weaker else "")
            + " Open the Text view and try Find units for… with these features. Step "
            f"{step} is inside the first string of the default input."),
        "suggested_step": step, "suggested_unit": first["unit"], "vocabulary": vocab,
        "metrics": {"train_nll": round(train_nll, 4), "heldout_nll": round(heldout_nll, 4),
                    "uniform_nll": round(float(np.log(len(vocab))), 4),
                    "train_top1": round(train_top1, 4), "heldout_top1": round(heldout_top1, 4),
                    "vocab_size": len(vocab), "train_chars": len(train_src),
                    "heldout_chars": len(heldout),
                    "units_found": found,
                    "interpretable": [v["feature"] for v in jobs],
                    "final_train_loss": round(float(final_loss), 5),
                    "training": f"{CODE_EPOCHS} epochs, windows of 128 chars from line starts, "
                                "Adam 0.01, batch 64",
                    "heldout_set": "generators.code_text(300, seed=4004)",
                    "train_set": "generators.code_text(2000, seed=4)",
                    "nll_units": "nats per character"},
        "default_input_text": CODE_INPUT,
    })


# --- wide ---------------------------------------------------------------------------------

def write_wide(out: Path) -> dict:
    # default input: 16 features, gentle sines of different frequencies plus a little noise
    rng = np.random.default_rng(1024)
    t = np.arange(200, dtype=np.float64)[:, None]
    freqs = np.linspace(0.01, 0.08, 16)[None, :]
    x = np.sin(2 * np.pi * freqs * t + np.arange(16)[None, :]) + rng.normal(0, 0.05, (200, 16))
    units, features = 1024, 16
    return write_demo(out, "wide", None, x.astype(np.float32), {
        "title": "Wide: 1024 units with random weights",
        "description": (
            "LSTM(units=1024) with fixed-seed random weights (not trained) reading 16 slow "
            "sine waves. It is here for speed and scrolling: press F10 and one new column "
            "appears in all 1024 lanes at once — 1024 cells running in parallel at every "
            "timestep, each reading the whole previous h of all 1024 through a recurrent "
            "kernel of shape (1024, 4096). Scroll the units panel, or open the layer view to "
            "see all of them as one heat-map."),
        "suggested_step": 100, "suggested_unit": None, "vocabulary": None,
        "metrics": {"parameters": 4 * (units * (features + units) + units) + units + 1},
        "builtin": "random", "units": units, "features": features, "seed": 1024,
    })


# --- check (no training) ------------------------------------------------------------------

def check(out: Path, names: list[str]) -> None:
    """Reload the saved files with Keras and print what the picked units do."""
    for name in names:
        meta = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        print(f"== {name}: {meta['title']}")
        print("   metrics:", json.dumps({k: v for k, v in meta["metrics"].items()
                                        if not isinstance(v, (list, dict))}))
        if not meta.get("model"):
            print("   (built from a seed by the engine; no weights file)")
            continue
        model = keras.saving.load_model(out / meta["model"])
        x = np.load(out / meta["default_input"])[None]
        print(f"   layers: {[type(layer).__name__ for layer in model.layers]}, "
              f"params {model.count_params()}, input {x.shape[1:]}")
        print(f"   cell stepping vs layer: max |dh| = {check_cell_matches_layer(model, x):.2e}")
        if any(isinstance(layer, keras.layers.GRU) for layer in model.layers):
            h = gru_states(model, x)
            c = h                       # a GRU has no C: its h is the memory
            g = gru_gates(model, x)
            h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
            print(f"   gates rebuild h: max |dh| = "
                  f"{np.max(np.abs(g['u'] * h_prev + (1 - g['u']) * g['n'] - h)):.2e}")
        else:
            c, h = lstm_states(model, x)
            g = lstm_gates(model, x)
            c_prev = np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], axis=1)
            print(f"   gates rebuild C: max |dc| = "
                  f"{np.max(np.abs(g['f'] * c_prev + g['i'] * g['g'] - c)):.2e}")
        y = np.asarray(model.predict(x, verbose=0))[0]
        u, s = meta["suggested_unit"], meta["suggested_step"]
        if name in ("text", "code"):
            vocab = meta["vocabulary"]
            print("   input :", gen.decode(x[0], vocab)[:80])
            print("   argmax:", " " + gen.decode(np.argmax(y, -1), vocab)[:79])
        else:
            print("   input :", sparkline(x[0, :, 0] if x.ndim == 3 else x[0]))
            print("   output:", sparkline(y[:, 0]))
        if u is not None:
            if c is not h:
                print(f"   C[{u}]  :", sparkline(c[0, :, u]))
            print(f"   h[{u}]  :", sparkline(h[0, :, u]))
            print(f"   step {s}: C[{u}] = {c[0, s, u]:+.3f}, h[{u}] = {h[0, s, u]:+.3f}"
                  if c is not h else f"   step {s}: h[{u}] = {h[0, s, u]:+.3f}")
        if name.startswith("counter"):
            _, depth = gen.encode_brackets(meta["default_input_text"])
            print("   depth :", sparkline(depth))
            print("   depth  ", "".join(str(int(v)) for v in depth))
            print("   pred   ", "".join(str(int(v)) for v in np.round(y[:, 0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=NAMES, help="train/write one demo only")
    parser.add_argument("--out", type=Path, default=DEMOS, help="output folder (default resources/demos)")
    parser.add_argument("--check", action="store_true", help="no training: reload and print")
    args = parser.parse_args()
    names = [args.only] if args.only else NAMES
    if args.check:
        check(args.out, names)
        return
    jobs = {"sine": train_sine, "counter": train_counter, "counter-gru": train_counter_gru,
            "text": train_text, "code": train_code, "wide": write_wide}
    for name in names:
        t0 = time.time()
        meta = jobs[name](args.out)
        small = {k: v for k, v in meta["metrics"].items() if not isinstance(v, (list, str, dict))}
        print(f"{name}: {time.time() - t0:.0f} s, suggested step {meta['suggested_step']}, "
              f"unit {meta['suggested_unit']}, {json.dumps(small)}", flush=True)


if __name__ == "__main__":
    main()
