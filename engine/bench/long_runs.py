"""Long-run figures (``main.py bench --long``): checkpointed runs too big for memory.

Each case runs in a fresh process, so its peak RSS (``ru_maxrss``) is that run's alone:
``first_window_s`` from an input in memory to the first 256 steps' values (session made, layer
input prepared, the first chunk computed), then the first pass (checkpoints and overview) for at
most ``budget_s`` seconds. Its speed is reported as a ratio to a plain in-memory trace of the
same layer on a prefix of the same input, measured in the same process just before. Then the
cost of moving the cursor (one step, and a jump to a random position) in the engine, and the
process's own peak RSS (``VmHWM``).
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
    from engine.runs.stepper import DirectionRunner
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
    step_ms, jump_ms = _cursor_moves(session, max(passed, 1))
    return {"units": units, "steps": steps, "first_window_s": round(first_window_s, 2),
            "first_pass_steps": int(passed), "first_pass_complete": bool(done),
            "first_pass_steps_per_s": round(rate, 1), "plain_trace_steps_per_s": round(plain_rate, 1),
            "first_pass_vs_plain": round(rate / plain_rate, 2),
            "window_256_from_checkpoint_s": round(window_s, 3),
            "cursor_step_ms_p95": round(float(np.percentile(step_ms, 95)), 2),
            "cursor_jump_ms_p95": round(float(np.percentile(jump_ms, 95)), 2),
            "cursor_jump_ms_median": round(float(np.median(jump_ms)), 2),
            "checkpoint_interval": session.store.interval,
            "kept_bytes": session.store.checkpoint_bytes(),
            "peak_rss_mb": round(peak_rss_bytes() / 2**20, 1)}


def _cursor_moves(session, reach: int, steps: int = 200, jumps: int = 12):
    """What moving the cursor costs the engine: the new position, its read-outs (every
    unit's h and c there) and the inspector's one step. Steps forward from the middle of the
    part computed so far, then jumps to random positions in it (a jump lands in a chunk that
    is recomputed from its checkpoint)."""
    def move(k: int) -> float:
        t0 = time.perf_counter()
        session.seek(k)
        pos = session.cursor
        session.signal("h", pos, pos + 1)
        session.signal("c", pos, pos + 1)
        session.window(pos, pos + 1)
        return (time.perf_counter() - t0) * 1000.0
    start = reach // 2
    step_ms = [move(start + i) for i in range(1, min(steps, reach - start) + 1)]
    rng = np.random.default_rng(0)
    jump_ms = [move(int(k)) for k in rng.integers(1, reach + 1, jumps)]
    return step_ms, jump_ms


def peak_rss_bytes() -> int:
    """This process's own peak RSS: /proc's VmHWM (its address space only). ``ru_maxrss`` is
    not: Linux carries it across exec, so a child started from a big parent reports the
    parent's RSS at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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
