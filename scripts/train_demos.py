"""Train the bundled demo models (rerunnable, fixed seeds) into resources/demos/.

    pip install -e '.[train]'         # Keras 3 + JAX; the app itself never needs them
    KERAS_BACKEND=jax python scripts/train_demos.py [--only sine|counter|text]

Each demo gets NAME.keras (a Sequential of Embedding/LSTM/Dense, which the numpy engine reads),
NAME_input.npy (its default input) and NAME.json (title, description, suggested step and
unit, vocabulary, measured metrics). ``wide`` needs no training: the engine builds it from a
seed. Expect a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEMOS = ROOT / "resources" / "demos"
sys.path.insert(0, str(DEMOS))
import generators as gen  # noqa: E402
import keras  # noqa: E402


def _cell_states(layer, x: np.ndarray) -> np.ndarray:
    """C at every step, stepping Keras' own cell (for picking the unit worth looking at)."""
    cell = layer.cell
    b = x.shape[0]
    h = np.zeros((b, cell.units), np.float32)
    c = np.zeros((b, cell.units), np.float32)
    out = []
    for t in range(x.shape[1]):
        _, (h, c) = cell(x[:, t], [h, c])
        h, c = np.asarray(h), np.asarray(c)
        out.append(c)
    return np.stack(out, axis=1)


def _write(name: str, model, default_input: np.ndarray, meta: dict) -> None:
    model.save(DEMOS / f"{name}.keras")
    np.save(DEMOS / f"{name}_input.npy", default_input)
    meta = {"name": name, "model": f"{name}.keras", "default_input": f"{name}_input.npy",
            "keras_version": keras.__version__, **meta}
    (DEMOS / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(name, json.dumps(meta.get("metrics")))


def train_sine() -> None:
    keras.utils.set_random_seed(1)
    x, y = gen.noisy_sine(512, 80, seed=1)
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(12, return_sequences=True),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.fit(x, y, epochs=25, batch_size=64, verbose=0)
    xt, yt = gen.noisy_sine(128, 80, seed=1001)
    mse = float(np.mean((model.predict(xt, verbose=0) - yt) ** 2))
    default, _ = gen.noisy_sine(1, 120, seed=7)
    _write("sine", model, default[0], {
        "title": "Sine: 12 units predict the next value of a noisy sine",
        "description": "LSTM(units=12) reads a noisy sine wave one value per step and predicts the "
                       "next clean value. All 12 cells update together at every step; several "
                       "units settle into smooth oscillations that track the wave's phase, each "
                       "shifted from the others — watch h and C lanes line up with the input.",
        "suggested_step": 40, "suggested_unit": None, "vocabulary": None,
        "metrics": {"test_mse": round(mse, 5), "target_variance": round(float(yt.var()), 4)}})


def train_counter() -> None:
    keras.utils.set_random_seed(2)
    ids, depth = gen.bracket_strings(1024, 40, seed=2)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(3, 4),
                              keras.layers.LSTM(6, return_sequences=True), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    model.fit(ids, depth[..., None], epochs=30, batch_size=64, verbose=0)
    ti, td = gen.bracket_strings(256, 40, seed=2002)
    pred = model.predict(ti, verbose=0)[..., 0]
    acc = float(np.mean(np.round(pred) == td))
    emb = np.asarray(model.layers[0](ti))
    cs = _cell_states(model.layers[1], emb)
    corr = [abs(np.corrcoef(cs[..., u].ravel(), td.ravel())[0, 1]) for u in range(cs.shape[-1])]
    best = int(np.argmax(corr))
    default_ids, default_depth = gen.bracket_strings(1, 60, seed=9)
    step = int(np.argmax(default_depth[0]))
    _write("counter", model, default_ids[0], {
        "title": "Counter: a unit whose cell state counts bracket depth",
        "description": f"LSTM(units=6) reads a string of '(' and ')' and predicts the nesting depth "
                       f"after each bracket. Look at unit {best}: its cell state C goes up one "
                       f"notch at every '(' and down at every ')' — it is the counter, the classic "
                       f"proof that C is memory. The other units help, in parallel, at every step.",
        "suggested_step": step, "suggested_unit": best, "vocabulary": gen.BRACKETS,
        "metrics": {"heldout_accuracy": round(acc, 4), "depth_unit": best,
                    "depth_corr": round(float(corr[best]), 4)}})


def train_text() -> None:
    keras.utils.set_random_seed(3)
    text = (DEMOS / "text_corpus.txt").read_text(encoding="utf-8").replace("\n", " ")
    vocab = gen.text_vocabulary(text)
    ids = gen.encode(text, vocab)
    win = 48
    starts = np.arange(0, len(ids) - win - 1, 3)
    xs = np.stack([ids[s:s + win] for s in starts])
    ys = np.stack([ids[s + 1:s + win + 1] for s in starts])
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(len(vocab), 16),
                              keras.layers.LSTM(64, return_sequences=True),
                              keras.layers.Dense(len(vocab), activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(xs, ys, epochs=30, batch_size=32, verbose=0)
    probs = model.predict(ids[None, :-1], verbose=0)[0]
    nll = float(-np.mean(np.log(probs[np.arange(len(ids) - 1), ids[1:]] + 1e-9)))
    sample = "the forget gate decides how much of the old memory to keep."
    _write("text", model, gen.encode(sample, vocab), {
        "title": "Text: 64 units reading characters",
        "description": "A character-level LSTM(units=64) trained on a short text about LSTMs that "
                       "ships with it. Type your own text in the Input dock (Text tab); characters "
                       "outside its vocabulary are flagged. Watch which units react to spaces and "
                       "word boundaries, and which keep a slow memory across words.",
        "suggested_step": 10, "suggested_unit": None, "vocabulary": vocab,
        "metrics": {"train_nll": round(nll, 4), "uniform_nll": round(float(np.log(len(vocab))), 4),
                    "vocab_size": len(vocab)}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sine", "counter", "text"])
    args = parser.parse_args()
    DEMOS.mkdir(parents=True, exist_ok=True)
    jobs = {"sine": train_sine, "counter": train_counter, "text": train_text}
    for name, job in jobs.items():
        if args.only in (None, name):
            job()


if __name__ == "__main__":
    main()
