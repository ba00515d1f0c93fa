"""GIF export of the counter demo: ``python -m benchmarks.gif_bench [--demo counter]``.

Writes the units panel's animation of the whole run (62 frames for the counter demo) at the
export's default width, as ``main.py export`` does, and times it end to end. Then, on the very
same rendered frames, compares the encoding (one shared palette, 5-bit lookup, delta frames:
``gui.export.gif``) with the baseline it replaced, a per-frame adaptive palette (Pillow's
``convert("P", ADAPTIVE)``), both measured in this run. Figures for notes, not unit tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path


def gif_figures(demo: str = "counter") -> dict[str, float | str]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("KERAS_BACKEND", "numpy")
    from PIL import Image
    from PySide6.QtCore import QSettings

    from engine import Session, load_model
    from engine.cli.commands import resolve_input
    from gui.app import make_app
    from gui.export import gif
    from gui.export.figure import Figure, FigureOptions, export_view
    from gui.main_window import MainWindow

    app = make_app()
    model = load_model(f"demo:{demo}")
    session = Session(model, resolve_input(model, None, None))
    session.full()
    session.result()
    out: dict[str, float | str] = {"demo": demo, "frames": session.steps}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        window = MainWindow(settings=QSettings(str(folder / "s.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.show_session(session, source=f"demo:{demo}", input_source="(default input)")
        window.show()
        app.processEvents()
        positions = range(0, session.steps)
        start = time.perf_counter()
        export_view(window, "units", folder / "a.gif", positions=positions)
        out["export_s"] = round(time.perf_counter() - start, 2)
        out["export_mb"] = round((folder / "a.gif").stat().st_size / 1e6, 3)
        with Figure(window, "units", FigureOptions()) as fig:
            start = time.perf_counter()
            width = fig.size().width()              # as the export: on-screen width
            images = [gif.rgb_array(image) for image in fig.frames(positions, width)]
            out["render_s"] = round(time.perf_counter() - start, 2)
        out["width"] = images[0].shape[1]
        start = time.perf_counter()
        palette = gif.shared_palette([images[0], images[-1]])
        table = gif.colour_table(palette)
        data = gif.encode([gif.index_frame(f, table) for f in images], palette, 125)
        out["encode_shared_s"] = round(time.perf_counter() - start, 2)
        out["encode_shared_mb"] = round(len(data) / 1e6, 3)
        start = time.perf_counter()               # the baseline: one adaptive palette a frame
        frames = [Image.fromarray(f, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
                  for f in images]
        buffer = io.BytesIO()
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                       duration=125, loop=0)
        out["encode_adaptive_s"] = round(time.perf_counter() - start, 2)
        out["encode_adaptive_mb"] = round(len(buffer.getvalue()) / 1e6, 3)
        window.close()
        window.deleteLater()
        app.processEvents()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default="counter")
    args = parser.parse_args()
    print(json.dumps(gif_figures(args.demo)))


if __name__ == "__main__":
    main()
