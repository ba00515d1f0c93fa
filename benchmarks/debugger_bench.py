"""Debugger numbers at scale: fork memory vs a full copy, run-to-hit and all_hits speed.

    python -m benchmarks.debugger_bench [--units 1024] [--steps 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from engine import Session
from engine.debugging.debugger import Debugger
from engine.loaders.demos import random_model


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--features", type=int, default=16)
    args = ap.parse_args(argv)
    n, t = args.units, args.steps
    model = random_model(n, args.features, seed=0)
    x = np.random.default_rng(0).normal(size=(1, t, args.features)).astype(np.float32)
    s = Session(model, x)
    dbg = Debugger(s, sample=0)

    t0 = time.perf_counter()
    runner = s.full_runner()
    full_time = time.perf_counter() - t0
    full_bytes = sum(a.nbytes for a in (runner.gates, runner.zx, runner.zh,
                                        runner.c, runner.h, runner.x))
    print(f"N={n} T={t}: full run {full_time:.2f} s, its buffers {mb(full_bytes)}")

    for where in (t // 2, int(t * 0.9)):
        s.seek(where, notify=False)
        fork = dbg.perturb(0, 0.5)
        t0 = time.perf_counter()
        fork.run()
        print(f"fork at step {where}: owns {mb(fork.nbytes)} ({fork.nbytes / full_bytes:.1%} of a "
              f"full copy), computed in {time.perf_counter() - t0:.2f} s")
    dec = dbg.decouple()
    t0 = time.perf_counter()
    dec.run()
    print(f"decouple fork (whole run): owns {mb(dec.nbytes)} ({dec.nbytes / full_bytes:.1%}), "
          f"{time.perf_counter() - t0:.2f} s")

    for text in (f"t == {t - 1}", "count(abs(h - prev(h)) > 0.5) >= 3 and t < 0"):
        s.seek(0, notify=False)
        bp = dbg.add_breakpoint(text)
        t0 = time.perf_counter()
        r = dbg.run_to_hit(+1)
        dt = time.perf_counter() - t0
        print(f"run_to_hit '{text}': {r.steps_scanned} steps in {dt:.2f} s "
              f"({r.steps_scanned / dt:.0f} steps/s), stopped at t={s.t}")
        t0 = time.perf_counter()
        dbg._hits_cache = None
        dbg.all_hits()
        print(f"  all_hits over the full run: {time.perf_counter() - t0:.3f} s")
        t0 = time.perf_counter()
        r = dbg.run_to_hit(-1)
        print(f"  run_to_hit backward over {r.steps_scanned} steps: {time.perf_counter() - t0:.3f} s")
        dbg.remove_breakpoint(bp.id)
    s.seek(0, notify=False)
    t0 = time.perf_counter()
    s.seek(t, notify=False)
    print(f"plain stepping 0 -> {t}: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
