"""Bundled demo models: ``demo`` (the default) and ``demo:NAME``.

Trained demos ship as ``resources/demos/NAME.keras`` with ``NAME.json`` metadata (made by
``scripts/train_demos.py``). ``wide`` is built here from a fixed seed: 1024 units of weights
would be ~20 MB in the repository for nothing a seed cannot give.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cells.cell import CellWeights
from ..errors import ModelFileError, describe
from ..network.layers import LSTM, Dense
from ..network.model import Model


def _resources_dir() -> Path:
    """The bundled resources: inside the engine package once installed (package data mapped
    from the repository's top-level ``resources/``, see pyproject.toml), or that folder itself in
    a checkout (docs/architecture.md, "Packaging")."""
    engine_dir = Path(__file__).resolve().parents[1]
    installed = engine_dir / "resources"
    return installed if installed.is_dir() else engine_dir.parent / "resources"


DEMO_DIR = _resources_dir() / "demos"
DEFAULT_DEMO = "sine"
_DEMO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")   # a name, never a path


@dataclass
class DemoInfo:
    """What the start page and Help show about a demo, and its default input."""

    name: str
    title: str = ""
    description: str = ""
    suggested_step: int = 0
    suggested_unit: int | None = None
    vocabulary: list[str] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    default_input: np.ndarray | None = None
    raw: dict[str, Any] = field(default_factory=dict)


# Demos that need no file: fixed-seed random weights are enough to show N parallel cells and
# to measure speed; the trained demos (resources/demos) teach more when they are present.
BUILTIN = {
    "wide": {"builtin": "random", "units": 1024, "features": 16, "seed": 1024,
             "title": "Wide: 1024 random units",
             "description": "1024 units with fixed-seed random weights, for speed and scrolling: "
                            "one step still fills in one column for all 1024 lanes at once."},
    "small": {"builtin": "random", "units": 8, "features": 2, "seed": 8,
              "title": "Small: 8 random units",
              "description": "LSTM(units=8) with fixed-seed random weights reading two sine waves. "
                             "Press F10: one new column appears in all 8 lanes at once — 8 cells "
                             "running in parallel at every timestep, each reading the whole "
                             "previous h of all 8 through the recurrent kernel.",
              "suggested_step": 20},
}


def default_demo_name() -> str:
    return DEFAULT_DEMO if (DEMO_DIR / f"{DEFAULT_DEMO}.json").exists() else "small"


def demo_names() -> list[str]:
    """Every demo that can be opened, default first."""
    names = sorted(p.stem for p in DEMO_DIR.glob("*.json")) if DEMO_DIR.exists() else []
    names += [n for n in BUILTIN if n not in names]
    default = default_demo_name()
    names.sort(key=lambda n: (n != default, n))
    return names


def demo_info(name: str) -> DemoInfo:
    if not _DEMO_NAME.fullmatch(name):
        raise ModelFileError(f"demo:{describe(name)}: a demo is named by a plain name "
                             f"(available: {', '.join(demo_names())})")
    meta_path = DEMO_DIR / f"{name}.json"
    if not meta_path.exists():
        if name in BUILTIN:
            raw = BUILTIN[name]
            return DemoInfo(name, raw["title"], raw["description"], int(raw.get("suggested_step", 0)),
                            raw=dict(raw))
        raise ModelFileError(f"demo:{name}: no such demo (available: {', '.join(demo_names())})")
    raw = json.loads(meta_path.read_text(encoding="utf-8"))
    default = None
    if raw.get("default_input"):
        path = DEMO_DIR / raw["default_input"]
        if path.exists():
            default = np.load(path)
    return DemoInfo(name, raw.get("title", name), raw.get("description", ""),
                    int(raw.get("suggested_step") or 0), raw.get("suggested_unit"),
                    raw.get("vocabulary"), raw.get("metrics", {}), default, raw)


def random_model(units: int, features: int, seed: int, *, steps_hint: int = 200,
                 name: str = "random") -> Model:
    """A fixed-seed random LSTM -> Dense(1) model, scaled so gates stay in their working range."""
    rng = np.random.default_rng(seed)
    kernel = rng.normal(0.0, 1.0 / np.sqrt(features), (features, 4 * units)).astype(np.float32)
    recurrent = rng.normal(0.0, 1.0 / np.sqrt(units), (units, 4 * units)).astype(np.float32)
    bias = np.zeros(4 * units, np.float32)
    bias[units:2 * units] = 1.0  # Keras' unit_forget_bias
    cell = CellWeights(kernel, recurrent, bias)
    head = Dense("dense", rng.normal(0, 1 / np.sqrt(units), (units, 1)).astype(np.float32),
                 np.zeros(1, np.float32))
    return Model([LSTM("lstm", cell, return_sequences=True), head], source=f"demo:{name}",
                 format="demo", name=name, input_length=steps_hint)


def default_demo_input(info: DemoInfo, model: Model, steps: int = 120) -> np.ndarray:
    """The demo's shipped input, or a gentle multi-frequency sine when it ships none."""
    if info.default_input is not None:
        return info.default_input
    d = model.input_features or 1
    t = np.arange(steps, dtype=np.float32)[:, None]
    freqs = np.linspace(0.03, 0.09, d, dtype=np.float32)[None, :]
    return np.sin(2 * np.pi * freqs * t + np.arange(d, dtype=np.float32)).astype(np.float32)


def load_demo(name: str | None) -> Model:
    name = name or default_demo_name()
    info = demo_info(name)
    raw = info.raw
    if raw.get("builtin") == "random":
        model = random_model(int(raw.get("units", 1024)), int(raw.get("features", 16)),
                             int(raw.get("seed", 1024)), name=name)
    else:
        from .keras3 import load_keras3
        path = DEMO_DIR / raw.get("model", f"{name}.keras")
        if not path.exists():
            raise ModelFileError(f"demo:{name}: model file {path} is missing; run "
                                 f"scripts/train_demos.py to recreate it")
        model = load_keras3(path, trusted=True)
        model.source = f"demo:{name}"
    model.metadata["demo"] = info
    return model
