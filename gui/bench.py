"""Window figures for ``main.py bench``: per-step time until every visible view has repainted.

The real MainWindow is opened offscreen with its default panels, all lanes in view, on a
fixed-seed random model (N units, 16 features) fed a sine input of T steps. Each sample times
``step()`` plus event processing until the paint it caused has happened (counted with an event
filter on the units view, so a step that did not repaint would be noticed, not flattered).
Startup is measured in a fresh process: spawn -> first painted window -> exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings

ROOT = Path(__file__).resolve().parents[1]


class _PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


def window_figures(units: int, steps: int, features: int = 16) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from engine import Session
    from engine.loaders.demos import random_model
    from gui.app import make_app
    from gui.loader_worker import LoadResult
    from gui.main_window import MainWindow

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "bench.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, report_error=lambda *_: None)
        window.resize(1600, 1000)
        window.show()
        model = random_model(units, features, seed=units)
        x = np.sin(np.arange(steps, dtype=np.float32)[:, None] * np.linspace(0.02, 0.3, features,
                                                                                dtype=np.float32))
        session = Session(model, x)
        session.full()
        session.result()
        window.show_loaded(LoadResult(session, f"bench:{units}", "sine"))
        app.processEvents()
        viewport = window.units_panel.glw.viewport()
        counter = _PaintCounter()
        viewport.installEventFilter(counter)
        times = []
        missed = 0
        for _ in range(steps):
            before = counter.count
            start = time.perf_counter()
            window.session_model.step(1)
            app.processEvents()
            # The scene may schedule its repaint one event-loop turn later: keep turning the
            # loop until the units view has painted (bounded, and counted if it never does).
            deadline = start + 2.0
            while counter.count == before and time.perf_counter() < deadline:
                app.processEvents()
            times.append((time.perf_counter() - start) * 1000.0)
            if counter.count == before:
                missed += 1
        lanes = window.units_panel.lane_count()
        window.close()
    arr = np.array(times)
    return {
        "lanes_in_view": lanes,
        "step_ms_median": round(float(np.median(arr)), 2),
        "step_ms_p95": round(float(np.percentile(arr, 95)), 2),
        "steps_without_repaint": missed,
        "startup_ms": startup_ms(),
    }


def startup_ms(repeat: int = 3) -> float:
    """Median of fresh-process start to first painted window on the default demo."""
    samples = []
    for _ in range(repeat):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LSTM_SCOPE_STARTUP_PROBE=repr(time.time()))
        proc = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True,
                              text=True, timeout=120)
        for line in proc.stdout.splitlines():
            if line.startswith("startup_ms="):
                samples.append(float(line.split("=", 1)[1]))
    return round(float(np.median(samples)), 1) if samples else float("nan")
