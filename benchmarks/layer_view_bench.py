"""Layer view cost per step at N=1024, T=10000: ``python -m benchmarks.layer_view_bench``.

Times the layer view's column update plus an offscreen render for 30 steps from step 500
(the engine step itself is excluded). A figure for notes, not a unit test.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np


def layer_view_ms(units: int = 1024, steps: int = 10000, samples: int = 30) -> float:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from engine import Session
    from engine.loaders.demos import random_model
    from gui.app import make_app
    from gui.loader_worker import LoadResult
    from gui.main_window import MainWindow

    make_app()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.show()
        x = np.repeat(np.sin(np.arange(steps, dtype=np.float32)[:, None] * np.float32(0.05)), 4, axis=1)
        session = Session(random_model(units, 4, 1), x)
        session.full()
        session.result()
        window.show_loaded(LoadResult(session, "bench", "sine"))
        window.session_model.step(500)
        view = window.layer_view
        times = []
        for _ in range(samples):
            session.step(1)
            start = time.perf_counter()
            view.on_position(session.t)
            view.glw.grab()
            times.append(time.perf_counter() - start)
        window.close()
    return 1000.0 * float(np.median(times))


if __name__ == "__main__":
    print(f"layer view update + paint per step, N=1024 T=10000: median {layer_view_ms():.1f} ms")
