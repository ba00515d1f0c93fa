"""Train two small LSTMs that fail on purpose, for the gradient views (rerunnable, seeded).

    pip install -e '.[train]'            # Keras 3 + JAX
    python scripts/make_failing_models.py [--out tests/fixtures/failing]

Task: read T=60 steps of noise, answer at the last step the sign of the *first* input (a
60-step memory). Both models train with Adam and no gradient clipping, and fail it, each for a
reason the Gradients view shows:

* ``saturated_forget.keras`` (12 epochs): the forget gate's bias starts at -8 (f ~ 0.0003):
  the cell forgets everything at every step; |d output / d C_t| vanishes within a few steps
  back, the badge says "vanishing" and training cannot repair it (its gradient has vanished).
* ``exploding.keras`` (3 epochs): a linear cell (``activation="linear"``), gates biased open
  and a candidate recurrent block of 0.6 x an orthogonal matrix: the state feeds itself with a
  gain above one, c reaches ~1e8, and |d h_last / d C_t| grows by orders of magnitude going
  back: the badge says "exploding".

Writes NAME.keras, NAME_input.npy (one held-out batch of 4 sequences) and NAME.json
(what was measured: accuracy, forget-gate mean, the gradient's size at the first step).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STEPS, UNITS = 60, 8
EPOCHS = {"saturated_forget": 12, "exploding": 3}


def task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, STEPS, 1)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.float32)[:, None]
    return x, y


def build(kind: str, seed: int):
    import keras
    keras.utils.set_random_seed(seed)
    if kind == "saturated_forget":
        def bias(shape, dtype=None):
            b = np.zeros(shape, np.float32)
            b[UNITS:2 * UNITS] = -8.0           # Keras gate order i, f, c, o: the f block
            return b
        lstm = keras.layers.LSTM(UNITS, unit_forget_bias=False, bias_initializer=bias)
    else:
        def recurrent(shape, dtype=None):
            u = np.zeros(shape, np.float32)
            q = np.linalg.qr(np.random.default_rng(3).normal(size=(UNITS, UNITS)))[0]
            u[:, 2 * UNITS:3 * UNITS] = 0.6 * q     # only the candidate block: h feeds c
            return u

        def bias(shape, dtype=None):
            b = np.zeros(shape, np.float32)
            b[:UNITS], b[UNITS:2 * UNITS], b[3 * UNITS:] = 2.0, 3.0, 2.0   # i, f, o open
            return b
        lstm = keras.layers.LSTM(UNITS, activation="linear", recurrent_initializer=recurrent,
                                 bias_initializer=bias, unit_forget_bias=False)
    model = keras.Sequential([keras.Input((STEPS, 1)), lstm,
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "failing"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import sys
    sys.path.insert(0, str(ROOT))
    from engine import load_model
    x, y = task(2048, 1)
    xh, yh = task(512, 2)
    for k, kind in enumerate(("saturated_forget", "exploding")):
        model = build(kind, 10 + k)
        model.fit(x, y, epochs=EPOCHS[kind], batch_size=64, verbose=0)
        with np.errstate(all="ignore"):
            acc = float(np.mean((model.predict(xh, verbose=0) > 0.5) == yh))
        path = out / f"{kind}.keras"
        model.save(path)
        sample = xh[:4]
        np.save(out / f"{kind}_input.npy", sample)
        ours = load_model(path)                       # what LSTM Scope sees in the file
        result = ours.trace(sample)
        g = result.grad("h[0, last, 0]")            # the window's default kind of target
        dc_first = float(np.linalg.norm(g.dc[0, 0]))
        dc_max = float(np.abs(g.dc[0]).max())
        facts = {"task": f"sign of the first of {STEPS} noisy inputs, answered at the last step",
                 "epochs": EPOCHS[kind], "heldout_accuracy": round(acc, 3),
                 "forget_mean": round(float(np.nanmean(result.layer(0).f)), 5),
                 "target": "h[0, last, 0]", "dc_norm_first_step": dc_first, "dc_max": dc_max}
        (out / f"{kind}.json").write_text(json.dumps(facts, indent=2) + "\n")
        print(kind, facts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
