"""Input generators that make an LSTM easy to read: simple signals shaped to the model.

Every preset returns float32 (T, D): feature d gets the same kind of signal, phase-shifted by
``d * spread`` so that several features stay distinguishable. All randomness is seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputFileError
from .budget import DEFAULT_BUDGET, BudgetError, memory_budget
from .budget import format_bytes as format_bytes  # re-exported: the input editor shows sizes

F32 = np.float32


@dataclass(frozen=True)
class Preset:
    """A named signal with its parameters and their defaults (for the input panel's form)."""

    name: str
    label: str
    params: dict[str, float] = field(default_factory=dict)
    tooltip: str = ""


def _time(steps: int) -> np.ndarray:
    return np.arange(steps, dtype=np.float64)[:, None]


def _phases(features: int, spread: float) -> np.ndarray:
    return (np.arange(features, dtype=np.float64) * spread)[None, :]


def sine(steps: int, features: int, *, frequency: float = 0.05, phase: float = 0.0,
         amplitude: float = 1.0, spread: float = 0.5) -> np.ndarray:
    t = _time(steps)
    return (amplitude * np.sin(2 * np.pi * frequency * t + phase + _phases(features, spread))).astype(F32)


def square(steps: int, features: int, *, frequency: float = 0.05, phase: float = 0.0,
           amplitude: float = 1.0, spread: float = 0.5) -> np.ndarray:
    return (amplitude * np.sign(sine(steps, features, frequency=frequency, phase=phase,
                                     spread=spread) + 1e-12)).astype(F32)


def step(steps: int, features: int, *, at: float = 10, amplitude: float = 1.0) -> np.ndarray:
    out = np.zeros((steps, features), F32)
    out[int(max(0, at)):] = amplitude
    return out


def impulse(steps: int, features: int, *, at: float = 10, amplitude: float = 1.0) -> np.ndarray:
    out = np.zeros((steps, features), F32)
    if 0 <= int(at) < steps:
        out[int(at)] = amplitude
    return out


def ramp(steps: int, features: int, *, start: float = -1.0, stop: float = 1.0) -> np.ndarray:
    return np.repeat(np.linspace(start, stop, steps, dtype=F32)[:, None], features, axis=1)


def noise(steps: int, features: int, *, seed: float = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(int(seed)).normal(0.0, scale, (steps, features))).astype(F32)


def constant(steps: int, features: int, *, value: float = 0.5) -> np.ndarray:
    return np.full((steps, features), value, F32)


def repeat_pattern(steps: int, features: int, *, period: float = 8, seed: float = 0) -> np.ndarray:
    """A random pattern of ``period`` steps repeated: an LSTM that learned it shows it in C."""
    period = max(1, int(period))
    pattern = np.random.default_rng(int(seed)).uniform(-1, 1, (period, features)).astype(F32)
    reps = -(-steps // period)
    return np.tile(pattern, (reps, 1))[:steps]


GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "sine": sine, "square": square, "step": step, "impulse": impulse, "ramp": ramp,
    "noise": noise, "constant": constant, "repeat": repeat_pattern,
}

PRESETS: list[Preset] = [
    Preset("sine", "Sine", {"frequency": 0.05, "phase": 0.0, "amplitude": 1.0},
           "A smooth periodic input: watch units lock onto its phase."),
    Preset("square", "Square wave", {"frequency": 0.05, "phase": 0.0, "amplitude": 1.0},
           "Abrupt switches: watch the input and forget gates react at each edge."),
    Preset("step", "Step", {"at": 10, "amplitude": 1.0},
           "Zero, then constant from step 'at': how long until the state settles?"),
    Preset("impulse", "Impulse", {"at": 10, "amplitude": 1.0},
           "One nonzero step: how long does the cell state remember it?"),
    Preset("ramp", "Ramp", {"start": -1.0, "stop": 1.0}, "A linear sweep through the input range."),
    Preset("noise", "White noise", {"seed": 0, "scale": 1.0}, "Seeded Gaussian noise."),
    Preset("constant", "Constant", {"value": 0.5}, "The same input at every step."),
    Preset("repeat", "Repeat a pattern", {"period": 8, "seed": 0},
           "A random pattern repeated: periodic structure in every gate."),
]


def generate(name: str, steps: int, features: int, **params: Any) -> np.ndarray:
    """A preset by name as float32 (T, D)."""
    if name not in GENERATORS:
        raise InputFileError(f"unknown preset '{name}' (presets: {', '.join(GENERATORS)})")
    if steps < 1 or features < 1:
        raise InputFileError(f"a preset needs at least one step and one feature, got T={steps}, "
                             f"D={features}")
    return GENERATORS[name](steps, features, **params)


@dataclass(frozen=True)
class Tokenized:
    """Text mapped through a vocabulary; ``unknown`` lists (position, char) not in it."""

    ids: np.ndarray
    unknown: list[tuple[int, str]]


def encode_text(text: str, vocabulary: list[str], *, unknown_id: int | None = None) -> Tokenized:
    """Characters to token ids. Characters outside the vocabulary are flagged, never dropped
    silently: they map to ``unknown_id`` (default: the id of '?' or ' ' if present, else 0)."""
    lookup = {tok: k for k, tok in enumerate(vocabulary)}
    if unknown_id is None:
        unknown_id = lookup.get("?", lookup.get(" ", 0))
    ids = np.empty(len(text), np.int32)
    unknown = []
    for pos, char in enumerate(text):
        k = lookup.get(char)
        if k is None:
            unknown.append((pos, char))
            k = unknown_id
        ids[pos] = k
    return Tokenized(ids, unknown)


def decode_tokens(ids: np.ndarray, vocabulary: list[str]) -> str:
    return "".join(vocabulary[int(k)] if 0 <= int(k) < len(vocabulary) else "?" for k in ids)


def parse_token_ids(text: str, vocab_size: int | None = None) -> np.ndarray:
    """'3 14 15, 9' -> array of ids, with a clear error for anything else."""
    pieces = text.replace(",", " ").split()
    if not pieces:
        raise InputFileError("no token ids given")
    try:
        ids = np.array([int(p) for p in pieces], np.int32)
    except ValueError:
        bad = next(p for p in pieces if not p.lstrip("-").isdigit())
        raise InputFileError(f"'{bad}' is not a token id (whole numbers only)") from None
    if vocab_size is not None and (ids.min() < 0 or ids.max() >= vocab_size):
        raise InputFileError(f"token ids must be in 0..{vocab_size - 1}, found "
                             f"{int(ids.min())}..{int(ids.max())}")
    return ids


def trace_bytes(batch: int, steps: int, units: int, features: int, state_size: int | None = None) -> int:
    """Memory a traced layer holds: gates, zx, zh and the runner's x.W+b (4N each), c, h, x."""
    h = units if state_size is None else state_size
    per_step = 4 * 4 * units + units + h + features
    return int(4 * batch * steps * per_step)


def _budget_at_import() -> int:
    """The one budget of engine.system.budget; a malformed LSTM_SCOPE_MEMORY_BUDGET is refused where
    a command starts (main.py) or work is checked, not while importing."""
    try:
        return memory_budget()
    except BudgetError:
        return DEFAULT_BUDGET


DEFAULT_BUDGET_BYTES = _budget_at_import()


def check_budget(batch: int, steps: int, units: int, features: int,
                 budget: int | None = None) -> tuple[bool, int]:
    """(fits, bytes): whether a trace stays under the memory budget (default: engine.system.budget)."""
    need = trace_bytes(batch, steps, units, features)
    return need <= (memory_budget() if budget is None else budget), need
