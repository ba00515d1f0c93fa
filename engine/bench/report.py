"""``main.py bench``: the figures asked for (``--only``), a progress line per figure on stderr,
and one JSON object with every figure as the last line.

Each figure keeps its own same-run baseline (torch, ONNX Runtime, Keras, a bare pyqtgraph plot)
and ratio. The default set (``DEFAULT``) answers in under a minute on an idle two-core machine:
its trace and gradient points run at ``QUICK_STEPS`` steps and the capture on a shorter input;
``--full`` measures the same points at the grid's T=1000 (``FULL_STEPS``). ``grid``, ``gru``,
``slstm``, ``window``, ``startup`` and ``long`` run when named. The window's figures come from a function
the caller passes (``gui.bench`` from main.py), so the engine never imports the GUI.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from engine.errors import ScopeError

FIGURES = ("trace", "grad", "capture", "gru", "slstm", "window", "long", "startup", "grid")
DEFAULT = ("trace", "grad", "capture")
"""What a bare ``bench`` measures: the trace and gradients against torch at the default points
and the capture cost against its framework."""

QUICK_STEPS = 250
"""Steps of the default set's trace and gradient points and of its capture input: the per-step
ratios against the same-run baseline hold at any length, and the default answers in a minute."""
FULL_STEPS = 1000
"""The same figures' length with ``--full`` (the grid's shortest T, as the README's figures)."""
CAPTURE_STEPS = 500
"""The capture figures' input length with ``--full``."""


def figure_sizes(full: bool) -> dict[str, Any]:
    """What the trace, grad and capture figures measure: (batch, units, steps) trace points,
    (units, steps) batch-1 gradient points, and the capture input's length."""
    from engine.bench.grad_figures import GRAD_UNITS
    from engine.bench.grid import DEFAULT_POINTS
    steps = FULL_STEPS if full else QUICK_STEPS
    return {"trace": tuple((b, n, steps) for b, n, _ in DEFAULT_POINTS),
            "grad": tuple((n, steps) for n in GRAD_UNITS),
            "capture": CAPTURE_STEPS if full else QUICK_STEPS}


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
              long_budget: float = 30.0, full: bool = False, out: TextIO = sys.stdout,
              err: TextIO = sys.stderr) -> int:
    """Print the figures named in ``only`` (in ``FIGURES`` order). ``window_figures`` imports
    the window benchmark module (``gui.bench``; None: the window and startup figures are
    reported unavailable); ``units``/``steps`` size the window benchmark (``--units``,
    ``--length``); ``long_budget`` bounds each long run's first pass; ``full`` sizes the
    trace, grad and capture figures as ``figure_sizes`` says."""
    figures: dict[str, Any] = {"units": units, "steps": steps}
    chosen = [name for name in FIGURES if name in only]
    sizes = figure_sizes(full)

    def note(text: str) -> None:
        print(f"bench: {text}", file=err, flush=True)

    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "trace": lambda: _trace(sizes["trace"], repeat, note),
        "grad": lambda: _grad(sizes["grad"], repeat, note),
        "capture": lambda: _capture(sizes["capture"], repeat),
        "gru": lambda: _gru(repeat, note),
        "slstm": lambda: _slstm(repeat, note),
        "window": lambda: _window(window_figures, "window_figures", units, steps),
        "startup": lambda: _window(window_figures, "startup_figures"),
        "long": lambda: _long(long_budget),
        "grid": lambda: _grid(repeat, note),
    }
    started = time.perf_counter()
    for k, name in enumerate(chosen, 1):
        note(f"{name} ({k} of {len(chosen)}) ...")
        t0, cpu0 = time.perf_counter(), time.process_time()
        figures.update(runners[name]())
        note(f"{name} done in {time.perf_counter() - t0:.1f} s "
             f"(CPU {time.process_time() - cpu0:.1f} s in this process)")
    note(f"all done in {time.perf_counter() - started:.1f} s")
    if not as_json:
        from engine.bench.grid import grid_table
        for key, value in figures.items():
            if key in ("grid", "trace", "gru", "slstm") and isinstance(value, dict) and "skipped" not in value:
                print(f"{key}:\n{grid_table(value)}", file=out)
            else:
                print(f"{key:>22}: {value}", file=out)
    print(json.dumps(figures), file=out)
    return 0


def _trace(points, repeat: int, note) -> dict[str, Any]:
    from engine.bench.grid import trace_figures
    try:
        import torch  # noqa: F401
    except ImportError:
        return {"trace": {"skipped": "torch is not installed: no baseline to compare with"}}
    return trace_figures(points, repeat=max(3, repeat), progress=note)


def _gru(repeat: int, note) -> dict[str, Any]:
    from engine.bench.gru_figures import gru_figures
    return gru_figures(repeat=max(3, repeat), progress=note)


def _slstm(repeat: int, note) -> dict[str, Any]:
    from engine.bench.slstm_figures import slstm_figures
    return slstm_figures(repeat=max(3, repeat), progress=note)


def _grad(points, repeat: int, note) -> dict[str, Any]:
    from engine.bench.grad_figures import grad_figures
    return grad_figures(points, repeat=max(3, repeat), progress=note)


def _capture(steps: int, repeat: int) -> dict[str, Any]:
    from engine.bench.capture_figures import capture_figures, keras_capture_figures
    return {**capture_figures(steps, repeat=repeat),
            **keras_capture_figures(steps, repeat=repeat)}


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
