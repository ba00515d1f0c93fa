"""``main.py bench``: the figures asked for (``--only``), a progress line per figure on stderr,
and one JSON object with every figure as the last line.

Each figure keeps its own same-run baseline (torch, ONNX Runtime, Keras, a bare pyqtgraph plot)
and ratio. The default set (``DEFAULT``) answers in about a minute on two cores; ``grid``,
``window``, ``startup`` and ``long`` run when named. The window's figures come from a function
the caller passes (``gui.bench`` from main.py), so the engine never imports the GUI.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from engine.errors import ScopeError

FIGURES = ("trace", "grad", "capture", "gru", "window", "long", "startup", "grid")
DEFAULT = ("trace", "grad", "capture")
"""What a bare ``bench`` measures: the trace and gradients against torch at the default points
and the capture cost against its framework."""

WindowFigures = Callable[..., dict[str, Any]]


def parse_only(text: str | None) -> tuple[str, ...]:
    """``--only trace,grad`` -> ("trace", "grad"); None -> the default set. Unknown names are
    one line naming the known ones."""
    if text is None:
        return DEFAULT
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FIGURES]
    if unknown or not names:
        raise ScopeError(f"bench --only: unknown figure {', '.join(map(repr, unknown)) or '(none)'}"
                         f"; choose from {', '.join(FIGURES)}")
    return names


def run_bench(*, units: int, steps: int, as_json: bool, repeat: int,
              only: Sequence[str] = DEFAULT,
              window_figures: Callable[[], Any] | None = None,
              long_budget: float = 30.0, out: TextIO = sys.stdout,
              err: TextIO = sys.stderr) -> int:
    """Print the figures named in ``only`` (in ``FIGURES`` order). ``window_figures`` imports
    the window benchmark module (``gui.bench``; None: the window and startup figures are
    reported unavailable); ``units``/``steps`` size the window benchmark (``--units``,
    ``--length``); ``long_budget`` bounds each long run's first pass."""
    figures: dict[str, Any] = {"units": units, "steps": steps}
    chosen = [name for name in FIGURES if name in only]

    def note(text: str) -> None:
        print(f"bench: {text}", file=err, flush=True)

    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "trace": lambda: _trace(repeat, note),
        "grad": lambda: _grad(repeat, note),
        "capture": lambda: _capture(repeat),
        "gru": lambda: _gru(repeat, note),
        "window": lambda: _window(window_figures, "window_figures", units, steps),
        "startup": lambda: _window(window_figures, "startup_figures"),
        "long": lambda: _long(long_budget),
        "grid": lambda: _grid(repeat, note),
    }
    started = time.perf_counter()
    for k, name in enumerate(chosen, 1):
        note(f"{name} ({k} of {len(chosen)}) ...")
        t0 = time.perf_counter()
        figures.update(runners[name]())
        note(f"{name} done in {time.perf_counter() - t0:.1f} s")
    note(f"all done in {time.perf_counter() - started:.1f} s")
    if not as_json:
        from engine.bench.grid import grid_table
        for key, value in figures.items():
            if key in ("grid", "trace", "gru") and isinstance(value, dict) and "skipped" not in value:
                print(f"{key}:\n{grid_table(value)}", file=out)
            else:
                print(f"{key:>22}: {value}", file=out)
    print(json.dumps(figures), file=out)
    return 0


def _trace(repeat: int, note) -> dict[str, Any]:
    from engine.bench.grid import trace_figures
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"trace": {"skipped": "torch is not installed: no baseline to compare with"}}
    return trace_figures(repeat=max(3, repeat), progress=note)


def _gru(repeat: int, note) -> dict[str, Any]:
    from engine.bench.gru_figures import gru_figures
    return gru_figures(repeat=max(3, repeat), progress=note)


def _grad(repeat: int, note) -> dict[str, Any]:
    from engine.bench.grad_figures import grad_figures
    return grad_figures(repeat=max(3, repeat), progress=note)


def _capture(repeat: int) -> dict[str, Any]:
    from engine.bench.capture_figures import capture_figures, keras_capture_figures
    return {**capture_figures(repeat=repeat), **keras_capture_figures(repeat=repeat)}


def _long(budget: float) -> dict[str, Any]:
    from engine.bench.long_runs import long_figures
    return long_figures(budget)


def _grid(repeat: int, note) -> dict[str, Any]:
    from engine.bench.grad_figures import grad_figures
    from engine.bench.grid import LENGTHS, UNITS, grid_figures
    out = grid_figures(repeat=max(3, repeat), progress=note)
    if "skipped" not in out["grid"]:
        points = tuple((n, t) for t in LENGTHS for n in UNITS)
        out["grid_grad"] = grad_figures(points, repeat=max(3, repeat), progress=note)["grad"]
    return out


def _window(load: Callable[[], Any] | None, name: str, *args: Any) -> dict[str, Any]:
    key = "window_error" if name == "window_figures" else "startup_error"
    if load is None:
        return {key: "window benchmark unavailable: not requested by this caller"}
    try:
        module = load()
    except ImportError as exc:  # the window is optional for headless engine work
        return {key: f"window benchmark unavailable: {exc}"}
    return getattr(module, name)(*args)
