"""Long-run figures (``main.py bench --long``): checkpointed runs too big for memory.

Each case runs in a fresh process, so its peak RSS (``ru_maxrss``) is that run's alone:
``first_window_s`` from an input in memory to the first 256 steps' values (session made, layer
input prepared, the first chunk computed), then the first pass (checkpoints and overview) for at
most ``budget_s`` seconds. Its speed is reported as a ratio to a plain in-memory trace of the
same layer on a prefix of the same input, measured in the same process just before.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE_PARENT = Path(__file__).resolve().parents[2]     # the folder holding ``engine``
CASES = ((1024, 100_000), (128, 1_000_000))      # (units, steps), batch 1, D=32


def measure(units: int, steps: int, budget_s: float, features: int = 32) -> dict[str, Any]:
    """One case, in this process (run it in a fresh one for a clean peak RSS)."""
    from engine import Session
    from engine.bench.engine_figures import bench_model
    from engine.stepper import DirectionRunner
    model = bench_model(units, features)
    x = np.random.default_rng(2).standard_normal((1, steps, features), dtype=np.float32)
    start = time.perf_counter()
    session = Session(model, x)
    session.seek(1)
    first = session.signal("h", 0, min(steps, 256))
    first_window_s = time.perf_counter() - start
    assert session.checkpointed and first.shape == (1, min(steps, 256), units)

    prefix = min(steps, max(2000, 4 * session.store.interval))
    w = model.traced_layers[0].weights
    plain = DirectionRunner("plain", w, x[:, :prefix], prefill=False)
    t0 = time.perf_counter()
    plain.run()
    plain_rate = prefix / (time.perf_counter() - t0)
    del plain

    t0 = time.perf_counter()
    done = session.first_pass(should_stop=lambda: time.perf_counter() - t0 > budget_s)
    elapsed = time.perf_counter() - t0
    passed = session.store.first_pass_done
    rate = passed / elapsed if elapsed > 0 else float("nan")
    window_t0 = time.perf_counter()
    mid = passed // 2
    session.signal("c", mid, min(steps, mid + 256))
    window_s = time.perf_counter() - window_t0
    return {"units": units, "steps": steps, "first_window_s": round(first_window_s, 2),
            "first_pass_steps": int(passed), "first_pass_complete": bool(done),
            "first_pass_steps_per_s": round(rate, 1), "plain_trace_steps_per_s": round(plain_rate, 1),
            "first_pass_vs_plain": round(rate / plain_rate, 2),
            "window_256_from_checkpoint_s": round(window_s, 3),
            "checkpoint_interval": session.store.interval,
            "kept_bytes": session.store.checkpoint_bytes(),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def long_figures(budget_s: float = 60.0) -> dict[str, Any]:
    """Every case in its own process; the figures keyed by case."""
    out: dict[str, Any] = {}
    for units, steps in CASES:
        cmd = [sys.executable, "-m", "engine.bench.long_runs", str(units), str(steps), str(budget_s)]
        path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path,
               "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        key = f"long_N{units}_T{steps}"
        if proc.returncode != 0:
            out[key] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
            continue
        out[key] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))))
