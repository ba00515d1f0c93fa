"""Export costs: ``python -m benchmarks.export_bench [--units N] [--steps T]``.

Times a units-panel PNG at twice the on-screen width, an SVG (and its size), a 20-frame GIF,
and the CSV/NPZ of every lane, on a random model offscreen. Figures for notes, not unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def export_figures(units: int = 256, steps: int = 500) -> dict[str, float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from engine import Session
    from engine.loaders.demos import random_model
    from gui.app import make_app
    from gui.export.figure import export_view
    from gui.main_window import MainWindow

    app = make_app()
    out: dict[str, float] = {"units": units, "steps": steps}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        window = MainWindow(settings=QSettings(str(folder / "s.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.resize(1400, 900)
        window.show()
        x = np.repeat(np.sin(np.arange(steps, dtype=np.float32)[:, None] * np.float32(0.05)), 4, axis=1)
        session = Session(random_model(units, 4, 1), x)
        session.full()
        session.result()
        window.show_session(session, source="bench", input_source="sine")
        window.session_model.seek(steps // 2)
        app.processEvents()

        def timed(name: str, path: str, **kw) -> None:
            start = time.perf_counter()
            result = export_view(window, "units", folder / path, **kw)
            out[f"{name}_ms"] = round((time.perf_counter() - start) * 1000, 1)
            out[f"{name}_bytes"] = (folder / path).stat().st_size
            if "width" in result and name == "png":
                out["png_width"] = result["width"]
        timed("png", "u.png")
        timed("svg", "u.svg")
        timed("gif20", "u.gif", positions=range(10, 30))
        timed("csv", "u.csv")
        timed("npz", "u.npz")
        out["gif_ms_per_frame"] = round(out["gif20_ms"] / 20, 1)
        window.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps(export_figures(args.units, args.steps)))


if __name__ == "__main__":
    main()
