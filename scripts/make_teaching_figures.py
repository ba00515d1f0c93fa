"""Remake the teaching views' figures in docs/ with the headless exporter (rerunnable).

    python scripts/make_teaching_figures.py

Each figure is one ``python main.py export`` run, the same command a user would type; the
inputs that no demo ships (a batch of bracket strings, a wave for a Bidirectional test model)
are made here from fixed seeds.
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


def export(*args: str) -> None:
    cmd = [sys.executable, str(ROOT / "main.py"), "export", *args]
    print(" ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def main() -> None:
    spec = importlib.util.spec_from_file_location("gen", ROOT / "resources" / "demos" / "generators.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "brackets.npy"
        np.save(batch, gen.bracket_strings(3, 40, seed=77)[0])
        wave = Path(tmp) / "wave.npy"
        t = np.arange(24, dtype=np.float32)[:, None]
        np.save(wave, np.sin(t * np.array([0.25, 0.4, 0.6], np.float32)).astype(np.float32))
        export("demo:counter", "--view", "unrolled", "--wrong", "--step", "30", "--width", "2400",
               "--title", "LSTM(units=6): six cells per step, coupled through U",
               "--out", str(DOCS / "teaching-unrolled.png"))
        export("demo:counter", "--view", "unrolled", "--steps", "20:34", "--fps", "3",
               "--out", str(DOCS / "teaching-unrolled.gif"))
        export("demo:code", "--view", "text", "--feature", "in_quotes", "--width", "2400",
               "--title", "Find units for… in_quotes", "--out", str(DOCS / "teaching-text.png"))
        export(BI_MODEL, "--input", str(wave), "--layer", "bi/forward", "--view", "directions",
               "--step", "15", "--width", "2400", "--out", str(DOCS / "teaching-directions.png"))
        export("demo:counter", "--input", str(batch), "--view", "samples", "--step", "25",
               "--width", "2400", "--out", str(DOCS / "teaching-samples.png"))


if __name__ == "__main__":
    main()
