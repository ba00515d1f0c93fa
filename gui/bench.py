"""Window figures for ``main.py bench``: per-step time until every visible view has repainted.

The real MainWindow is opened offscreen with its default panels, all lanes in view, on a
fixed-seed random model (N units, 16 features) fed a sine input of T steps. Each sample times
``step()`` plus event processing until the paint it caused has happened (counted with an event
filter on the units view, so a step that did not repaint would be noticed, not flattered).
Samples are single steps taken from up to ``MAX_SAMPLES`` positions spread over the run.

Beside it, in the same run and process, a *bare pyqtgraph baseline*: the same lanes as one
batched NaN-separated curve per shown signal (``connect="finite"``) in a plain plot of the same
size, where a sample moves a cursor line and waits for the repaint. ``step_ratio`` is ours over
the baseline with the units panel held on curves (below 1: the window draws a step faster than
naively repainting every lane); ``dense_step_ratio`` the same with its heat-map strips.
Startup is measured in a fresh process: spawn -> first painted window -> exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSettings

ROOT = Path(__file__).resolve().parents[1]
MAX_SAMPLES = 60


class _PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Paint:
            self.count += 1
        return False


@contextmanager
def _bench_window() -> Iterator[tuple[Any, Any]]:
    """(app, window): the real MainWindow offscreen at 1600x1000, with throwaway settings."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_app
    from gui.main_window import MainWindow
    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "bench.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.resize(1600, 1000)
        window.show()
        try:
            yield app, window
        finally:
            window.close()


def window_figures(units: int, steps: int, features: int = 16) -> dict[str, Any]:
    from engine import Session
    from engine.loaders.demos import random_model
    from gui.loader_worker import LoadResult
    with _bench_window() as (app, window):
        model = random_model(units, features, seed=units)
        x = np.sin(np.arange(steps, dtype=np.float32)[:, None] * np.linspace(0.02, 0.3, features,
                                                                                dtype=np.float32))
        session = Session(model, x)
        session.full()
        session.result()
        window.show_loaded(LoadResult(session, f"bench:{units}", "sine"))
        app.processEvents()
        panel = window.units_panel
        viewport = panel.glw.viewport()
        positions = _sample_positions(steps)
        sm = window.session_model
        panel.mode_combo.setCurrentText("lanes")          # curves, whatever the density
        app.processEvents()
        times, missed = _timed(app, viewport, positions, sm.seek, lambda: sm.step(1))
        panel.mode_combo.setCurrentText("heat map")       # the dense mode's strips
        app.processEvents()
        dense, dense_missed = _timed(app, viewport, positions, sm.seek, lambda: sm.step(1))
        panel.mode_combo.setCurrentText("auto")
        app.processEvents()
        auto_mode = panel.mode
        lanes = panel.lane_count()
        size = viewport.size()
        signals = sorted(panel.visible_signals)
        base = _baseline(app, session.full(), signals, size, positions)
    arr = np.array(times)
    ours = float(np.median(arr))
    dense_ms = float(np.median(dense))
    return {
        "lanes_in_view": lanes,
        "auto_mode": auto_mode,
        "step_ms_median": round(ours, 2),
        "step_ms_p95": round(float(np.percentile(arr, 95)), 2),
        "baseline_ms_median": round(base, 2),
        "step_ratio": round(ours / base, 3) if base > 0 else float("nan"),
        "dense_step_ms_median": round(dense_ms, 2),
        "dense_step_ratio": round(dense_ms / base, 3) if base > 0 else float("nan"),
        "steps_without_repaint": missed + dense_missed,
        **unrolled_figures(),
        **span_figures(),
    }


def _sample_positions(steps: int) -> list[int]:
    """Cursor counts to time a single step from (every one for short runs)."""
    if steps <= MAX_SAMPLES:
        return list(range(steps))
    return sorted({int(k) for k in np.linspace(0, steps - 1, MAX_SAMPLES)})


def _timed(app, viewport, positions, seek, act) -> tuple[list[float], int]:
    """Time ``act`` from each of ``positions`` until ``viewport`` has painted."""
    counter = _PaintCounter()
    viewport.installEventFilter(counter)
    times: list[float] = []
    missed = 0
    for k in positions:
        seek(k)
        app.processEvents()
        before = counter.count
        start = time.perf_counter()
        act()
        app.processEvents()
        # The scene may schedule its repaint one event-loop turn later: keep turning the
        # loop until the view has painted (bounded, and counted if it never does).
        deadline = start + 2.0
        while counter.count == before and time.perf_counter() < deadline:
            app.processEvents()
        times.append((time.perf_counter() - start) * 1000.0)
        if counter.count == before:
            missed += 1
    viewport.removeEventFilter(counter)
    return times, missed


def _baseline(app, full, signals: list[str], size, positions: list[int]) -> float:
    """Median ms for a bare pyqtgraph plot to repaint the same lanes after a cursor move."""
    import pyqtgraph as pg

    from gui.panels.lanes import LaneScaler, row_lines

    widget = pg.GraphicsLayoutWidget()
    widget.resize(size)
    plot = widget.addPlot()
    plot.getViewBox().invertY(True)
    scaler = LaneScaler(full, 0, False)
    order = np.arange(full.units)
    for name in signals:
        x, y = row_lines(scaler.to_lane(name, full.signal(name)[0], order))
        plot.addItem(pg.PlotCurveItem(x, y, connect="finite", pen=pg.mkPen("k")))
    cursor = pg.InfiniteLine(angle=90, movable=False)
    plot.addItem(cursor)
    plot.setRange(xRange=(-0.5, full.steps - 0.5), yRange=(0, full.units), padding=0)
    widget.show()
    app.processEvents()
    position = {"k": 0}

    def seek(k: int) -> None:
        position["k"] = k
        cursor.setPos(k - 1)

    def move() -> None:
        cursor.setPos(position["k"])

    times, _ = _timed(app, widget.viewport(), positions, seek, move)
    widget.close()
    return float(np.median(times))


def startup_figures() -> dict[str, Any]:
    """``bench --only startup``: a fresh process to the first painted window."""
    return {"startup_ms": startup_ms()}


def startup_ms(repeat: int = 3) -> float:
    """Median of fresh-process start to first painted window on the default demo, as a user
    meets it: compiled bytecode cached (an environment that forbids writing it would time
    Python compiling every module instead), after one start that is not counted."""
    samples = []
    for attempt in range(repeat + 1):
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", LSTM_SCOPE_STARTUP_PROBE=repr(time.time()))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True,
                              text=True, timeout=120)
        for line in proc.stdout.splitlines():
            if line.startswith("startup_ms=") and attempt > 0:
                samples.append(float(line.split("=", 1)[1]))
    return round(float(np.median(samples)), 1) if samples else float("nan")


def _step_times(app, window, watched, steps: int) -> list[float]:
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


def unrolled_figures(units: int = 64, steps: int = 200, features: int = 16) -> dict[str, Any]:
    """Stepping with the unrolled view open (N=64, T=200), as a ratio to the same window and
    run without it: the same steps timed twice until every watched view has painted."""
    from engine import Session
    from engine.loaders.demos import random_model
    from gui.loader_worker import LoadResult
    from gui.teaching.docks import teaching_widget
    with _bench_window() as (app, window):
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
    b, w = float(np.median(base)), float(np.median(with_view))
    return {"unrolled_units": units, "unrolled_steps": steps,
            "baseline_step_ms_median": round(b, 2),
            "unrolled_step_ms_median": round(w, 2),
            "unrolled_step_ms_p95": round(float(np.percentile(with_view, 95)), 2),
            "unrolled_step_ratio": round(w / b, 2) if b > 0 else float("nan")}


def span_figures(units: int = 1024, steps: int = 16384, features: int = 32,
                 jumps: int = 12) -> dict[str, Any]:
    """Cursor jumps across spans of a checkpointed run in the window (first pass done): the
    time to update the cursor, read-outs and inspector (``seek`` and its slots), until the
    units view has painted, until the span around the cursor has arrived from the worker thread
    and been drawn, and the longest single event-loop turn meanwhile (how long a key press
    could wait). Beside them, in the same run, the time to recompute one span on the GUI
    thread: what each jump blocked for when spans were computed there."""
    from engine import Session
    from engine.loaders.demos import random_model
    from gui.loader_worker import LoadResult
    with _bench_window() as (app, window):
        x = np.random.default_rng(5).standard_normal((1, steps, features), dtype=np.float32)
        session = Session(random_model(units, features, seed=units), x, checkpoint_above=0)
        window.show_loaded(LoadResult(session, f"bench:{units}", "noise"))
        deadline = time.perf_counter() + 600
        while not window.first_pass.complete and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.01)
        sm = window.session_model
        viewport = window.units_panel.glw.viewport()
        counter = _PaintCounter()
        viewport.installEventFilter(counter)
        width = sm.span()[1] - sm.span()[0]
        update, painted, ready, stall, direct = [], [], [], [], []
        for k in np.random.default_rng(6).integers(width, steps - width, jumps).tolist():
            before = counter.count
            start = time.perf_counter()
            sm.seek(int(k))                         # the cursor, read-outs and inspector
            update.append((time.perf_counter() - start) * 1000.0)
            longest = 0.0
            while time.perf_counter() < start + 60:
                turn = time.perf_counter()
                app.processEvents()
                longest = max(longest, time.perf_counter() - turn)
                if counter.count > before and not painted[len(update) - 1:]:
                    painted.append((time.perf_counter() - start) * 1000.0)
                if sm.span_settled() and counter.count > before:
                    break
                time.sleep(0.001)
            ready.append((time.perf_counter() - start) * 1000.0)
            stall.append(longest * 1000.0)
            session.store._cache.clear()          # a span recomputed as the jump's was
            t0 = time.perf_counter()
            session.window(*sm.span())
            direct.append((time.perf_counter() - t0) * 1000.0)
        viewport.removeEventFilter(counter)
    return {"span_units": units, "span_steps": steps, "span_width": width,
            "span_jump_update_ms_p95": round(float(np.percentile(update, 95)), 1),
            "span_jump_painted_ms_median": round(float(np.median(painted)), 1),
            "span_ready_ms_median": round(float(np.median(ready)), 1),
            "span_longest_stall_ms_p95": round(float(np.percentile(stall, 95)), 1),
            "span_compute_on_gui_thread_ms_median": round(float(np.median(direct)), 1)}
