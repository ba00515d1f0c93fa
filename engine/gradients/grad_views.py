"""What the gradient views show, computed from a ``GradResult`` and the trace (no Qt).

* ``forget_product``: the constant-error carousel — the running product of each unit's forget
  gate from a step up to the target's step, the gain of the cell's own path c_t -> c_target.
* ``memory_horizon``: per unit, steps back from the target's step until |d target / d c_t|
  first falls below 1 % of its peak (after the peak); ``inf`` when it never does in this run.
* ``grad_health``: "vanishing" when the gradient reaching the earliest step that can matter
  is below 1e-6, "exploding" when any is above 1e3 (or not finite), else "ok".
* ``fork_gradient``: the same target through a debugger fork's run (hand-set states cut).
See docs/architecture.md, "Gradients".
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runs.time_axis import last_position
from ..runs.trace import LayerTrace
from ..system.budget import check_bytes
from .grad import GradResult, gradient
from .grad_layer import Cut
from .grad_target import parse_target

VANISHING = 1e-6
EXPLODING = 1e3
HORIZON_FRACTION = 0.01


@dataclass(frozen=True)
class ForgetRecord:
    """What the gradient views read of a run besides the gradient itself: the forget gates
    (B, T, N; a GRU's update gates u), the mask (B, T), the length and the direction, read
    through the run's window API (docs/architecture.md, "Long runs")."""

    f: np.ndarray
    mask: np.ndarray
    steps: int
    backward: bool
    carries: bool = True        # False: a simple RNN, no carry gate (f is all NaN)


_RECORDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forget_record(session) -> ForgetRecord:
    """The run's f and mask for ``forget_product`` and friends, asked of the run's store once
    and kept while the run lives: a run held in memory answers with its own f (a view), a
    checkpointed one recomputes it (checked against the memory budget)."""
    run = session.recorded()
    record = _RECORDS.get(run)
    if record is None:
        check_bytes(4 * session.batch * session.steps * session.units,
                    f"the forget gates of all {session.steps:,} steps (for the gradient views)",
                    hint="take the gradient with main.py grad, or open a shorter input")
        carry = session.cell_kind.carry      # f, a GRU's u; a simple RNN has none
        values = (session.signal(carry, 0, session.steps) if carry is not None
                  else np.full((session.batch, session.steps, session.units), np.nan, np.float32))
        record = ForgetRecord(values, np.asarray(run.mask), session.steps, session.backward,
                              carries=carry is not None)
        _RECORDS[run] = record
    return record


def target_position(target: str, trace: LayerTrace | ForgetRecord) -> int | None:
    """The input position an h[...]/c[...] target sits at (None for output targets or a
    selection of several steps)."""
    tgt = parse_target(target)
    if tgt.array not in ("h", "c") or tgt.index is None:
        return None
    index = tgt.index if len(tgt.index) == 3 else (slice(None), *tgt.index)
    t = index[1]
    if t == "last":
        return last_position(trace.steps, trace.backward)
    if isinstance(t, int):
        return t % trace.steps if trace.steps else None
    return None


def carried_gradient(g: GradResult, kind) -> np.ndarray:
    """(B, T, N) d target / d the state that carries memory: the LSTM's dc, a GRU's or simple
    RNN's dh (a cell without c has an empty dc); what the horizon and the maps read."""
    return g.dc if "c" in kind.states else g.dh


def _processing(trace: LayerTrace | ForgetRecord, position: int | None) -> tuple[np.ndarray, int]:
    """Input positions in processing order and the processing index of ``position``
    (the last one when None)."""
    t_len = trace.steps
    order = np.arange(t_len - 1, -1, -1) if trace.backward else np.arange(t_len)
    if position is None:
        return order, t_len - 1
    return order, int(np.nonzero(order == position)[0][0])


def forget_product(trace: LayerTrace | ForgetRecord, sample: int, position: int | None,
                   unit: int | None = None) -> np.ndarray:
    """(T, N): at input position t, the product of f over the steps read after t up to the
    target's step (1 at the target's step, NaN for steps read after it); (T,) for one ``unit``
    (what the carousel draws, without the other units' T x N). A masked step carries c
    unchanged: its factor is 1. A GRU's carry is u (h = u·h_{t-1} + ...): the product of u; a
    simple RNN has no carry gate: all NaN."""
    order, p_star = _processing(trace, position)
    units = slice(None) if unit is None else unit
    if isinstance(trace, ForgetRecord):
        if not trace.carries:
            return np.full(trace.f.shape[1:3] if unit is None else trace.f.shape[1:2], np.nan)
        f = np.array(trace.f[sample][:, units], np.float64)    # (T, N) the carry gate
    else:
        carry = trace.cell_kind.carry
        if carry is None:
            return np.full((trace.steps, trace.units)[:2 if unit is None else 1], np.nan)
        f = np.array(trace.signal(carry)[sample][:, units], np.float64)
    f[~np.asarray(trace.mask[sample], bool)] = 1.0
    out = np.full(f.shape, np.nan)
    if p_star >= 0:
        # read back from the target's step: 1, then the running product (sequential, as a
        # loop multiplying one factor at a time)
        back = order[p_star::-1]
        out[back[0]] = 1.0
        out[back[1:]] = np.cumprod(f[back[:-1]], axis=0)
    return out


def memory_horizon(dc: np.ndarray, trace: LayerTrace | ForgetRecord, position: int | None,
                   fraction: float = HORIZON_FRACTION) -> np.ndarray:
    """(N,) steps back from the target's step until |dc| falls below ``fraction`` of its peak
    (looking only behind the peak); inf when it never falls inside the run, NaN when the unit
    gets no gradient at all. ``dc`` is (T, N) for one sample; read a unit at a time (a long
    run's T x N in float64 is not copied)."""
    order, p_star = _processing(trace, position)
    n = np.shape(dc)[1]
    out = np.full(n, np.inf)
    if p_star < 0:
        return np.full(n, np.nan)
    back_rows = _back_rows(order, p_star)                      # k steps back = row k
    for j in range(n):
        back = np.abs(np.asarray(dc[back_rows, j], np.float64))
        peak_at = int(np.argmax(np.where(np.isfinite(back), back, -1.0)))
        peak = back[peak_at]
        if not np.isfinite(peak) or peak == 0.0:
            out[j] = np.nan
            continue
        below = np.nonzero(back[peak_at:] < fraction * peak)[0]
        if below.size:
            out[j] = float(peak_at + below[0])
    return out


def _back_rows(order: np.ndarray, p_star: int) -> slice | np.ndarray:
    """Rows of a (T, ...) array by input position, from the target's step back to the first
    step read: a slice (a view) where the processing order is a plain run of positions."""
    rows = order[p_star::-1]
    step = int(rows[1] - rows[0]) if rows.size > 1 else -1
    if rows.size and np.array_equal(rows, np.arange(rows[0], rows[0] + step * rows.size, step)):
        stop = rows[-1] + step
        return slice(int(rows[0]), None if stop < 0 else int(stop), step)
    return rows


@dataclass
class GradHealth:
    status: str            # "ok" | "vanishing" | "exploding"
    earliest: float        # |d target / d c| at the earliest step that can matter
    largest: float         # the largest |d target / d c| over the run
    message: str


def grad_health(g: GradResult, trace: LayerTrace | ForgetRecord, sample: int, position: int | None) -> GradHealth:
    """Vanishing / exploding verdict on the gradient w.r.t. the cell state (L2 over units)."""
    order, p_star = _processing(trace, position)
    carried = g.dc if g.dc.size else g.dh          # a cell without c: the gradient reaches h
    reach = _row_norms(carried[sample])[order[:p_star + 1]]
    earliest = float(reach[0]) if reach.size else 0.0
    largest = float(np.max(reach)) if reach.size else 0.0
    if not np.all(np.isfinite(reach)) or largest > EXPLODING:
        return GradHealth("exploding", earliest, largest,
                          f"exploding gradient: |d target/d c| reaches {largest:.3g} (> {EXPLODING:g})")
    if reach.size > 1 and earliest < VANISHING:
        return GradHealth("vanishing", earliest, largest,
                          f"vanishing gradient: |d target/d c| at the first step read is "
                          f"{earliest:.2g} (< {VANISHING:g})")
    return GradHealth("ok", earliest, largest, f"gradient healthy: |d target/d c| from "
                      f"{earliest:.3g} (first step) to at most {largest:.3g}")


def _row_norms(values: np.ndarray, rows: int = 4096) -> np.ndarray:
    """(T,) the L2 norm of each row of ``values`` (T, N) in float64, a few thousand rows at a
    time (each row's sum is the same however many rows are taken together)."""
    out = np.empty(values.shape[0])
    for lo in range(0, values.shape[0], rows):
        part = np.asarray(values[lo:lo + rows], np.float64)
        out[lo:lo + rows] = np.sqrt(np.sum(np.square(part), axis=-1))
    return out


def fork_gradient(session, fork, target: str) -> GradResult:
    """``target`` (an h[...] or c[...] target) through a debugger fork's run: states the fork
    (or an ancestor) set by hand pass no gradient to what computed them."""
    cuts = []
    node = fork
    while hasattr(node, "edit"):
        edit = node.edit
        if edit.kind in ("h", "c"):
            units = None if edit.unit is None else (int(edit.unit),)
            cuts.append(Cut(int(edit.position), edit.kind, units))
        node = node.parent
    return gradient(session.result(), target, layer=session.info.name, trace=fork.to_trace(),
                    cuts=tuple(cuts))


def default_target(session, unit: int, sample: int = 0) -> str:
    """The window's default target: unit ``unit``'s h at the cursor (its c when a projected h
    has no such column); before the first step, at the last position processed."""
    cursor = session.cursor
    which = "h" if unit < session.info.weights.state_size else "c"
    return f"{which}[{sample}, {'last' if cursor is None else cursor}, {unit}]"


def grad_view_arrays(session, target: str, sample: int, unit: int) -> dict[str, np.ndarray]:
    """The numbers behind the Gradients view for one sample (``export --view grad``)."""
    g = session.grad(target)
    full = session.full()
    position = target_position(target, full)
    return {"saliency": g.saliency(sample).astype(np.float32), "dx": g.dx[sample],
            "dh": g.dh[sample], "dc": g.dc[sample], "dh0": g.dh0[sample], "dc0": g.dc0[sample],
            "forget_product": forget_product(full, sample, position).astype(np.float32),
            "horizon": memory_horizon(g.dc[sample], full, position).astype(np.float32),
            "unit": np.array(unit), "value": np.array(g.value)}


def export_grad_data(path: str | Path, session, ctx, *, inputs=()) -> Path:
    """Write the gradient view's numbers: .npz (the arrays above, ``meta``) or .csv (one row
    per step and unit: t, unit, saliency, dh, dc, forget_product). ``inputs`` as for
    ``engine.output.export.export_data``: an output may never be one of them."""
    from ..output.export import atomic_write, write_csv, write_npz
    from ..system.files import check_output
    path = Path(path)
    check_output(path, inputs=inputs)
    arrays = grad_view_arrays(session, ctx.target, ctx.sample, ctx.unit)
    meta = ctx.describe()
    meta["value"] = float(arrays["value"])
    if path.suffix.lower() == ".npz":
        with atomic_write(path, inputs=inputs) as fh:
            write_npz(fh, arrays, meta)
        return path
    dh, dc, fp, sal = arrays["dh"], arrays["dc"], arrays["forget_product"], arrays["saliency"]
    rows = []
    for t in range(dc.shape[0]):
        for j in range(dc.shape[1]):
            rows.append([t, j, f"{sal[t]:.9g}",
                         f"{dh[t, j]:.9g}" if j < dh.shape[1] else "",
                         f"{dc[t, j]:.9g}", f"{fp[t, j]:.9g}"])
    header = ["t", "unit", "saliency", "dh", "dc", "forget_product"]
    with atomic_write(path, text=True, inputs=inputs) as fh:
        write_csv(fh, header, rows)
    return path
