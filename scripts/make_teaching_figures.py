"""Remake every figure in docs/ that the README shows, with the headless exporter (rerunnable).

    python scripts/make_teaching_figures.py            # into docs/
    python scripts/make_teaching_figures.py OUT_DIR    # somewhere else (the test does this)

Each figure is one ``python main.py export`` run, the same command a user would type; the
inputs that no demo ships (a batch of bracket strings, a wave for a Bidirectional test model)
are made here from fixed seeds. ``figures`` is the one list both this script and
tests/test_teaching_figures.py run, so the README's images cannot drift from it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BI_MODEL = "tests/fixtures/keras3/bidirectional_concat.keras"       # relative: the figure names it
BI_STEPS = 7                     # that model's input length is fixed at 7 steps


def make_inputs(folder: Path) -> tuple[Path, Path]:
    """(a batch of three bracket strings for demo:counter, a 3-feature wave for BI_MODEL)."""
    spec = importlib.util.spec_from_file_location("gen", ROOT / "resources" / "demos" / "generators.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    batch = folder / "brackets.npy"
    np.save(batch, gen.bracket_strings(3, 40, seed=77)[0])
    wave = folder / "wave.npy"
    t = np.arange(BI_STEPS, dtype=np.float32)[:, None]
    np.save(wave, np.sin(t * np.array([0.7, 1.1, 1.6], np.float32)).astype(np.float32))
    return batch, wave


def figures(out: Path, batch: Path, wave: Path) -> list[list[str]]:
    """main.py's arguments for every README figure, written into ``out``."""
    return [
        ["export", "demo:counter", "--view", "window", "--step", "40",
         "--width", "1600", "--out", str(out / "screenshot.png")],
        ["export", "demo:counter", "--view", "unrolled", "--wrong", "--step", "30",
         "--width", "2400", "--title", "LSTM(units=6): six cells per step, coupled through U",
         "--out", str(out / "teaching-unrolled.png")],
        ["export", "demo:counter", "--view", "unrolled", "--steps", "20:34", "--fps", "3",
         "--out", str(out / "teaching-unrolled.gif")],
        ["export", "demo:code", "--view", "text", "--feature", "in_quotes", "--width", "2400",
         "--title", "Find units for… in_quotes", "--out", str(out / "teaching-text.png")],
        ["export", BI_MODEL, "--input", str(wave), "--layer", "bi/forward", "--view", "directions",
         "--step", "3", "--width", "2400", "--out", str(out / "teaching-directions.png")],
        ["export", "demo:counter", "--input", str(batch), "--view", "samples", "--step", "25",
         "--width", "2400", "--out", str(out / "teaching-samples.png")],
        ["export", "demo:counter", "--view", "grad", "--unit", "2", "--step", "40",
         "--width", "2400", "--out", str(out / "gradients.png")],
        ["export", "demo:counter", "--view", "units", "--step", "40", "--width", "2400",
         "--out", str(out / "export-units.png")],
    ]


def export(args: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "main.py"), *args]
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]).resolve() if argv else DOCS
    with tempfile.TemporaryDirectory() as tmp:
        batch, wave = make_inputs(Path(tmp))
        for args in figures(out, batch, wave):
            export(args)


if __name__ == "__main__":
    main()
