"""``main.py bench``: engine figures, then (unless --engine-only) the window's step timings.

The last line printed is one JSON object with every figure. The window's figures come from a
function the caller passes (``gui.bench.window_figures`` from main.py), so the engine never
imports the GUI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from engine.bench.capture_figures import capture_figures, keras_capture_figures
from engine.bench.engine_figures import engine_figures
from engine.bench.grad_figures import grad_figures

WindowFigures = Callable[[int, int], dict[str, Any]]


def run_bench(*, units: int, steps: int, as_json: bool, repeat: int,
              window_figures: Callable[[], WindowFigures] | None = None, long: bool = False,
              long_budget: float = 60.0, out: TextIO = sys.stdout) -> int:
    """Print the figures; ``window_figures`` imports the window benchmark (None: engine only);
    ``steps`` is the window benchmark's sequence length (``--length``); ``long`` adds the
    checkpointed long runs (``engine.bench.long_runs``)."""
    figures: dict[str, Any] = {"units": units, "steps": steps}
    figures.update(engine_figures(repeat=repeat))
    figures.update(capture_figures(repeat=repeat))
    figures.update(keras_capture_figures(repeat=repeat))
    figures.update(grad_figures(repeat=repeat))
    if long:
        from engine.bench.long_runs import long_figures
        figures.update(long_figures(long_budget))
    if window_figures is not None:
        try:
            window = window_figures()
        except ImportError as exc:  # the window is optional for headless engine work
            figures["window_error"] = f"window benchmark unavailable: {exc}"
        else:
            figures.update(window(units, steps))
    if not as_json:
        for key, value in figures.items():
            print(f"{key:>22}: {value}", file=out)
    print(json.dumps(figures), file=out)
    return 0
