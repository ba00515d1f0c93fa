"""Per-unit statistics and one cell taken apart: numbers the layer view and cell inspector show.

Everything here reads a finished ``LayerTrace`` (or a Session's live one); nothing recomputes
the recurrence. "Saturated" means within 5 % of either end of the activation's range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..cells.activations import Activation
from ..runs.trace import LayerTrace

SATURATION_MARGIN = 0.05


def saturated(values: np.ndarray, activation: Activation, margin: float = SATURATION_MARGIN) -> np.ndarray:
    """Boolean array: values within ``margin`` of the range's ends (bounded activations only).

    For an unbounded activation (relu, linear ...) nothing is saturated: there is no end.
    """
    if not activation.bounded:
        return np.zeros(np.shape(values), bool)
    span = activation.hi - activation.lo
    with np.errstate(invalid="ignore"):
        return (values <= activation.lo + margin * span) | (values >= activation.hi - margin * span)


@dataclass
class UnitStats:
    """Per-unit figures over the valid (unmasked, computed) steps of one sample; arrays (N,)."""

    mean: dict[str, np.ndarray]
    variance: dict[str, np.ndarray]
    saturation: dict[str, np.ndarray]      # fraction of steps saturated, for i f g o
    max_abs_h: np.ndarray
    dead: np.ndarray                       # |h| never above the threshold
    half_life: np.ndarray                  # steps for the running product of f (a GRU's u) to halve
    dead_threshold: float


def unit_stats(trace: LayerTrace, sample: int = 0, *, dead_threshold: float = 0.01,
               steps: slice | None = None) -> UnitStats:
    """Statistics per unit for one batch sample (NaN steps — masked or not yet read — ignored)."""
    sl = steps or slice(None)
    w = trace.weights
    means, variances, sats = {}, {}, {}
    with np.errstate(invalid="ignore", divide="ignore"), _quiet_nan_warnings():
        for name in w.kind.recorded:
            values = trace.signal(name)[sample, sl]
            means[name] = np.nanmean(values, axis=0) if values.size else np.full(values.shape[-1], np.nan)
            variances[name] = np.nanvar(values, axis=0) if values.size else np.full(values.shape[-1], np.nan)
        for name in w.kind.gates:
            act = w.activation_of(name)
            values = trace.signal(name)[sample, sl]
            valid = ~np.isnan(values)
            count = valid.sum(axis=0)
            sats[name] = np.where(count > 0, (saturated(values, act) & valid).sum(axis=0) / np.maximum(count, 1), np.nan)
        h = trace.h[sample, sl]
        max_abs_h = np.nanmax(np.abs(h), axis=0) if h.size else np.zeros(h.shape[-1])
        max_abs_h = np.nan_to_num(max_abs_h, nan=0.0)
        carry = w.kind.carry                  # f (a GRU's u); a simple RNN has none: NaN
        if carry is None:
            half_life = np.full(h.shape[-1], np.nan)
        else:
            f = trace.signal(carry)[sample, sl]
            mean_log_f = np.nanmean(np.log(np.clip(f, 1e-12, None)), axis=0) if f.size else np.full(f.shape[-1], np.nan)
            half_life = np.where(mean_log_f < 0, np.log(0.5) / mean_log_f, np.inf)
    return UnitStats(means, variances, sats, max_abs_h, max_abs_h <= dead_threshold,
                     half_life, dead_threshold)


class _quiet_nan_warnings:
    """nanmean of an all-NaN column warns; an unread column is expected here, not a problem."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


@dataclass
class CellBreakdown:
    """Unit j at input position t of one sample, taken apart (what the inspector draws)."""

    unit: int
    position: int
    c_prev: float                          # NaN for a cell without c (GRU, simple RNN)
    h_prev_vector: np.ndarray              # (H,) the whole previous h every unit reads
    gates: dict[str, float]                # i f g o (a GRU's u r n)
    c: float
    h: float
    zx: dict[str, float]                   # x_t . W column of unit j, per gate
    zh: dict[str, float]                   # h_{t-1} . U column of unit j, per gate (block)
    zb: dict[str, float]
    z: dict[str, float]                    # a GRU's z_n: zx + zb + r * zh with reset_after
    fan_in: dict[str, np.ndarray]          # per gate: h_prev[k] * U[k, gate j], shape (H,)
    # (a GRU's n before reset: r[k] * h_prev[k] * U[k, n j], what the cell reads)
    masked: bool
    recurrent: dict[str, float]            # the recurrent part as the cell adds it to z: zh,
    # or a GRU's r * zh for n with reset_after (r·(h·U + b_h)), so z = zx + recurrent + zb
    scaled_by: dict[str, str]              # part -> the gate scaling its recurrent part there
    # (a GRU's {"n": "r"} with reset_after; empty for an LSTM)
    states: dict[str, float] = field(default_factory=dict)   # every state after the step, by
    # name (an sLSTM's c, nrm, stab, h)

    def top_contributors(self, gate: str, k: int = 5) -> list[tuple[int, float]]:
        """Units of h_{t-1} that push this gate up or down the most, strongest first."""
        values = self.fan_in[gate]
        order = np.argsort(-np.abs(values))[:k]
        return [(int(u), float(values[u])) for u in order]


def previous_state(trace: LayerTrace, sample: int, position: int) -> tuple[np.ndarray, np.ndarray]:
    """(h, c) the cell held before reading input ``position`` (direction-aware)."""
    h, c = trace.state_before(position)
    return h[sample], c[sample]


def cell_breakdown(trace: LayerTrace, sample: int, unit: int, position: int) -> CellBreakdown:
    """Every number that made unit ``unit``'s step at input ``position``."""
    w = trace.weights
    kind = w.kind
    h_prev, c_prev = previous_state(trace, sample, position)
    u = w.recurrent_kernel
    gates = {g: float(trace.gates[sample, position, k, unit]) for k, g in enumerate(kind.gates)}
    fan_in = {g: h_prev * w.gate_block(u, g)[:, unit] for g in kind.parts}
    if kind.name == "gru" and not w.reset_after:      # n reads (r . h_{t-1}) . U_n
        fan_in["n"] = trace.signal("r")[sample, position] * fan_in["n"]
    zx = {g: float(trace.zx[sample, position, k, unit]) for k, g in enumerate(kind.parts)}
    zh = {g: float(trace.zh[sample, position, k, unit]) for k, g in enumerate(kind.parts)}
    zb = {g: float(trace.zb[k, unit]) for k, g in enumerate(kind.parts)}
    recurrent, z, scaled = {}, {}, {}
    for k, g in enumerate(kind.parts):
        scale = w.scaled_by(k)                       # a GRU's r on zh_n with reset_after
        if scale is not None:
            scaled[g] = kind.gates[scale]
        recurrent[g] = zh[g] if scale is None else gates[kind.gates[scale]] * zh[g]
        z[g] = zx[g] + recurrent[g] + zb[g]
    if trace.zp is not None:
        for k, g in enumerate(kind.parts):
            z[g] += float(trace.zp[sample, position, k, unit])
    has_c = trace.c.shape[-1] > 0
    return CellBreakdown(unit, position, float(c_prev[unit]) if has_c else float("nan"),
                         np.array(h_prev), gates,
                         float(trace.c[sample, position, unit]) if has_c else float("nan"),
                         float(trace.h[sample, position, unit]),
                         zx, zh, zb, z, fan_in, not bool(trace.mask[sample, position]),
                         recurrent, scaled,
                         {name: float(trace.signal(name)[sample, position, unit]) for name in kind.states})


def recurrent_blocks(trace_or_weights, order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each gate's N x N block of U (rows: unit of h_{t-1}, columns: receiving unit), optionally
    with rows and columns in the lanes' unit order."""
    w = getattr(trace_or_weights, "weights", trace_or_weights)
    n = w.units
    blocks = {g: w.gate_block(w.recurrent_kernel, g) for g in w.kind.parts}
    if order is not None and w.state_size == n:
        blocks = {g: b[np.ix_(order, order)] for g, b in blocks.items()}
    return blocks


def input_blocks(trace_or_weights, order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each gate's D x N block of the input kernel W."""
    w = getattr(trace_or_weights, "weights", trace_or_weights)
    blocks = {g: w.gate_block(w.kernel, g) for g in w.kind.parts}
    if order is not None:
        blocks = {g: b[:, order] for g, b in blocks.items()}
    return blocks
