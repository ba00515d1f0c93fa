"""Write the small input and session fixtures the fuzz suite mutates (tests/fixtures/inputs,
tests/fixtures/sessions). Fixed seed; rerunnable: ``python scripts/make_fuzz_fixtures.py``.

The model fixtures it also mutates are written by the other scripts/make_*_fixtures.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from engine import Session, load_model
    from engine.debugging.debugger import Debugger
    from engine.debugging.session_file import save_session

    inputs = ROOT / "tests" / "fixtures" / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    x = np.sin(np.arange(10)[:, None] * np.array([0.3, 0.5, 0.7])) + rng.normal(0, 0.05, (10, 3))
    x = x.astype(np.float32)
    np.save(inputs / "sine3.npy", x)
    np.savez_compressed(inputs / "sine3.npz", x=x, mask=np.ones(10, bool))
    with open(inputs / "sine3.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write("a,b,c\n")
        for row in x:
            fh.write(",".join(f"{v:.6g}" for v in row) + "\n")
    np.save(inputs / "tokens.npy", np.array([3, 1, 4, 1, 5, 0, 2, 6], np.int64))

    sessions = ROOT / "tests" / "fixtures" / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    small = np.sin(np.arange(24)[:, None] * np.array([0.2, 0.45])).astype(np.float32)
    dbg = Debugger(Session(load_model("demo:small"), small))
    dbg.session.seek(12)
    dbg.add_breakpoint("any(abs(c) > 0.5)")
    dbg.add_watch("mean(h)")
    dbg.perturb(2, 0.25, position=5)
    save_session(sessions / "small.lstmscope", dbg, view={"sample": 0, "theme": "dark"})
    print("wrote", inputs, sessions)


if __name__ == "__main__":
    main()
