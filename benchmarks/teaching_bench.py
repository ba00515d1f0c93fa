"""Stepping with the unrolled view open: ``python -m benchmarks.teaching_bench``.

The same window, model (N=64 random units) and input (T=200) are stepped twice in one run:
once with the default panels (the baseline: the units panel's own step budget), once with the
unrolled view's dock shown beside them. Each step is timed until every watched view has
painted. Reported as milliseconds and as the ratio to the baseline.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _step_times(app, window, watched, steps: int) -> list[float]:
    from gui.bench import _PaintCounter
    counters = []
    for widget in watched:
        counter = _PaintCounter()
        widget.installEventFilter(counter)
        counters.append((widget, counter))
    model = window.session_model
    model.seek(0)
    app.processEvents()
    times = []
    for _ in range(steps):
        before = [c.count for _, c in counters]
        start = time.perf_counter()
        model.step(1)
        app.processEvents()
        deadline = start + 2.0
        while any(c.count == b for (_, c), b in zip(counters, before, strict=True)) and \
                time.perf_counter() < deadline:
            app.processEvents()
        times.append((time.perf_counter() - start) * 1000.0)
    for widget, counter in counters:
        widget.removeEventFilter(counter)
    return times


def teaching_figures(units: int = 64, steps: int = 200, features: int = 16) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from engine import Session
    from engine.loaders.demos import random_model
    from gui.app import make_app
    from gui.loader_worker import LoadResult
    from gui.main_window import MainWindow
    from gui.teaching.docks import teaching_widget

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "b.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.resize(1600, 1000)
        window.show()
        x = np.sin(np.arange(steps, dtype=np.float32)[:, None]
                   * np.linspace(0.02, 0.3, features, dtype=np.float32))
        session = Session(random_model(units, features, seed=units), x)
        session.full()
        session.result()
        window.show_loaded(LoadResult(session, f"bench:{units}", "sine"))
        app.processEvents()
        lanes = window.units_panel.glw.viewport()
        base = _step_times(app, window, [lanes], steps)
        view = teaching_widget(window, "unrolled", show=True)
        app.processEvents()
        with_view = _step_times(app, window, [lanes, view.canvas], steps)
        window.close()
    b, w = float(np.median(base)), float(np.median(with_view))
    return {"unrolled_units": units, "unrolled_steps": steps,
            "baseline_step_ms_median": round(b, 2),
            "unrolled_step_ms_median": round(w, 2),
            "unrolled_step_ms_p95": round(float(np.percentile(with_view, 95)), 2),
            "unrolled_step_ratio": round(w / b, 2) if b > 0 else float("nan")}


if __name__ == "__main__":
    for key, value in teaching_figures().items():
        print(f"{key:>26}: {value}")
