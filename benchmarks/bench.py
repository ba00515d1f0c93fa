"""``main.py bench``: engine figures, then (unless --engine-only) the window's step timings.

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from .engine_bench import engine_figures


def run_bench(*, units: int, steps: int, engine_only: bool, as_json: bool, repeat: int,
              out: TextIO = sys.stdout) -> int:
    figures: dict[str, Any] = {"units": units, "steps": steps}
    figures.update(engine_figures(repeat=repeat))
    if not engine_only:
        try:
            from gui.bench import window_figures
        except ImportError as exc:  # the window is optional for headless engine work
            figures["window_error"] = f"window benchmark unavailable: {exc}"
        else:
            figures.update(window_figures(units=units, steps=steps))
    if not as_json:
        for key, value in figures.items():
            print(f"{key:>22}: {value}", file=out)
    print(json.dumps(figures), file=out)
    return 0
