"""Lane geometry for the units panel: which unit sits in which row, and how values fit a lane.

Pure numpy on arrays the engine recorded (no LSTM math): scaling a value into its lane's band
and ordering/filtering lanes by statistics the engine computed.
"""

from __future__ import annotations

import math

import numpy as np

from engine.analyses.analysis import unit_stats
from engine.runs.trace import LayerTrace

LANE_HALF_HEIGHT = 0.42     # a lane occupies [row + 0.08, row + 0.92]


def row_lines(y: np.ndarray, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Flat (x, y) that draw every row of ``y`` (rows, L) as its own line in one curve item
    (``connect="finite"``): a NaN after each row breaks the line; x runs from ``first``.
    One item for all lanes is what keeps many lanes fast to draw."""
    rows, length = y.shape
    xs = np.empty((rows, length + 1), np.float32)
    xs[:, :length] = np.arange(first, first + length, dtype=np.float32)
    xs[:, length] = np.nan
    ys = np.empty((rows, length + 1), np.float32)
    ys[:, :length] = y
    ys[:, length] = np.nan
    return xs.ravel(), ys.ravel()


def signal_range(trace: LayerTrace, name: str, sample: int) -> tuple[float, float] | np.ndarray:
    """(lo, hi) for a gate (its activation's range), or per-unit max |value| for C, h."""
    act = trace.weights.activation_of(name)
    if act is not None and act.bounded:
        return act.lo, act.hi
    with np.errstate(invalid="ignore"):
        values = np.abs(trace.signal(name)[sample])
        peak = np.nanmax(np.where(np.isfinite(values), values, np.nan), axis=0) if values.size else None
    if peak is None:
        return np.ones(trace.units)
    peak = np.nan_to_num(peak, nan=1.0)
    peak[peak < 1e-6] = 1.0
    if act is not None:   # unbounded gate activation (relu...): 0..peak
        return np.zeros_like(peak), peak
    return peak


def per_unit(values: np.ndarray, units: int) -> np.ndarray:
    """``values`` with a last axis of ``units``: a projected h (PyTorch ``proj_size``) has P < N
    columns that belong to no unit, so its lanes are left empty (NaN) rather than mislabelled."""
    if values.shape[-1] == units:
        return values
    return np.full(values.shape[:-1] + (units,), np.nan, np.float32)


class LaneScaler:
    """Maps each signal's values into lane bands: y = row + 0.5 - 0.42 * v_scaled (row 0 on top)."""

    def __init__(self, full: LayerTrace, sample: int, shared_scale: bool) -> None:
        self.kind = full.cell_kind         # the signals it scales: those of the run's cell
        self.ranges: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in self.kind.display_order:
            rng = signal_range(full, name, sample)
            if not isinstance(rng, tuple) and rng.shape[-1] != full.units:
                rng = np.ones(full.units)            # projected h: not drawn per unit
            if isinstance(rng, tuple):
                lo, hi = (np.broadcast_to(np.asarray(v, np.float64), (full.units,)) for v in rng)
            else:
                peak = np.full(full.units, float(rng.max())) if shared_scale else rng
                lo, hi = -peak, peak
            span = np.where(hi - lo > 0, hi - lo, 1.0)
            self.ranges[name] = (lo.astype(np.float32), span.astype(np.float32))

    def to_lane(self, name: str, values: np.ndarray, order: np.ndarray) -> np.ndarray:
        """values (T', N) of all units -> y (rows, T') for the units in ``order``."""
        lo, span = self.ranges[name]
        v = per_unit(values, len(lo))[:, order]
        scaled = 2.0 * (v - lo[order]) / span[order] - 1.0
        np.clip(scaled, -1.2, 1.2, out=scaled)
        rows = np.arange(len(order), dtype=np.float32)[:, None]
        return rows + 0.5 - LANE_HALF_HEIGHT * scaled.T


def parse_filter(text: str, units: int, full: LayerTrace | None = None, sample: int = 0) -> np.ndarray:
    """'' / 'all', 'A:B', '3,5,9', 'top K' (most active: variance of h) -> unit indices."""
    spec = text.strip().lower()
    if spec in ("", "all", "*"):
        return np.arange(units)
    if spec.startswith("top"):
        k = int(spec[3:].strip() or 10)
        if full is None:
            return np.arange(min(k, units))
        var = per_unit(np.asarray(unit_stats(full, sample).variance["h"], float), units)
        return np.sort(np.argsort(-np.nan_to_num(var, nan=-1))[:k])
    if ":" in spec and "," not in spec:
        a, _, b = spec.partition(":")
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else units
        picked = np.arange(units)[slice(start, stop)]
    else:
        picked = np.array(sorted({int(p) for p in spec.replace(" ", ",").split(",") if p}), int)
    picked = picked[(picked >= 0) & (picked < units)]
    if picked.size == 0:
        raise ValueError(f"'{text}' selects no unit (units are 0..{units - 1})")
    return picked


def sort_units(units: np.ndarray, how: str, full: LayerTrace | None, sample: int) -> np.ndarray:
    """Order lanes by 'index', 'variance' (of h, high first) or 'saturation' (gates, high first)."""
    if how == "index" or full is None:
        return np.sort(units)
    stats = unit_stats(full, sample)
    if how == "variance":
        key = np.nan_to_num(per_unit(np.asarray(stats.variance["h"], float), full.units), nan=-1.0)
    elif how == "saturation":
        kind = full.cell_kind
        ratios = [g for g in kind.gates if g in kind.ratio_gates]     # the LSTM's i, f, o
        key = np.nanmean(np.stack([stats.saturation[g] for g in ratios]), axis=0)
        key = np.nan_to_num(key, nan=-1.0)
    else:
        raise ValueError(f"unknown sort '{how}'")
    return units[np.argsort(-key[units], kind="stable")]


def label_step(pixels_per_lane: float, min_pixels: float = 14.0) -> int:
    """Show every k-th lane label so labels stay at least ``min_pixels`` apart (1, 2, 5, 10...)."""
    if pixels_per_lane <= 0:
        return 1
    need = min_pixels / pixels_per_lane
    if need <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(need))
    for m in (1, 2, 5, 10):
        if m * magnitude >= need:
            return int(m * magnitude)
    return int(10 * magnitude)
