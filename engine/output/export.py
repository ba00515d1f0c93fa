"""The numbers behind an exported view, as NPZ or CSV (no GUI needed).

A picture's data must be checkable against the engine, so the NPZ keeps the trace's array names
(docs/architecture.md, "Arrays of a traced layer": ``i f g o c h zx zh zb h0 c0 mask x``), cut
to the sample and units the view shows, and adds what the view knew: ``units`` (lane order), ``read`` (positions the cursor has
read) and ``meta`` (JSON: model, layer, step...). The CSV is one tidy table with a header row,
so that a spreadsheet or ``pandas.read_csv`` opens it as is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..analyses.analysis import cell_breakdown
from ..cells.cell import LSTM_CELL
from ..errors import ScopeError, describe
from ..runs.time_axis import positions, read_span_text
from ..runs.trace import ARRAY_NAMES, LayerTrace
from ..system.files import atomic_write, check_output

DATA_SUFFIXES = (".csv", ".npz")
CSV_SIGNALS = LSTM_CELL.recorded         # an LSTM trace's; a table reads its cell's own kind


@dataclass
class ViewContext:
    """What a view shows: enough to reproduce it, and what an exported file says about itself."""

    view: str                      # a view's name (gui.export.views lists them)
    model: str                     # the model's source (file path or demo:NAME)
    layer: str
    direction: str
    sample: int
    t: int                         # input positions read (Session.t)
    steps: int
    cursor: int | None             # input position read last (None before the first step)
    units: list[int] = field(default_factory=list)   # lanes shown, top to bottom
    unit: int = 0                  # the cell view's unit j
    position: int | None = None    # the cell view's step (default: the cursor)
    input: str = ""
    version: str = ""
    target: str = ""               # the gradient view's target (engine.gradients.grad)

    def describe(self) -> dict[str, Any]:
        """Metadata for PNG text chunks, SVG <metadata>, GIF comments and NPZ ``meta``."""
        out = asdict(self)
        # a count is named as a count: "t" in the window is the cursor's position, never this
        out["inputs_read"] = out.pop("t")
        if not self.target:
            out.pop("target")
        if self.view != "cell":
            out.pop("unit")
            out.pop("position")
        else:
            out.pop("units")
        if "units" in out and len(self.units) > 64:   # keep a PNG header short; NPZ has them all
            out["units"] = f"{len(self.units)} units: {self.units[0]}..{self.units[-1]}"
        return out

    def summary(self) -> str:
        """One line for a figure subtitle or an image description."""
        if self.cursor is None:
            where = f"before the first step (0 of {self.steps} inputs read)"
        else:
            where = f"step t = {self.cursor} ({self.t} of {self.steps} inputs read"
            where += read_span_text(self.t, self.steps, self.direction == "backward") + ")"
        if self.view == "cell":
            where = f"unit {self.unit}, step {self.position}"
        return (f"{self.model} · layer {self.layer} ({self.direction}) · sample {self.sample} · "
                f"{where}")


def read_mask(ctx: ViewContext) -> np.ndarray:
    """(T,) True where the cursor has already read the input position."""
    read = np.zeros(ctx.steps, bool)
    read[slice(*positions(0, ctx.t, ctx.steps, ctx.direction == "backward"))] = True
    return read


def _unit_index(trace: LayerTrace, ctx: ViewContext) -> np.ndarray:
    units = np.asarray(ctx.units if ctx.units else range(trace.units), int)
    if units.size and (units.min() < 0 or units.max() >= trace.units):
        raise ScopeError(f"units {units.min()}..{units.max()} are outside 0..{trace.units - 1}")
    return units


def lane_arrays(trace: LayerTrace, ctx: ViewContext) -> dict[str, np.ndarray]:
    """The trace's arrays for one sample (batch axis kept, size 1) and the shown units."""
    units = _unit_index(trace, ctx)
    s = slice(ctx.sample, ctx.sample + 1)
    out: dict[str, np.ndarray] = {}
    whole = {"x", "mask", *trace.weights.recorded_state(trace.c)}    # an mLSTM's C: every head's
    for name, arr in trace.arrays().items():
        if name == "zb":
            out[name] = arr[:, units]
        elif name in whole:
            out[name] = arr[s]
        elif name in ("h", "h0") and trace.weights.state_size != trace.units:
            out[name] = arr[s]                    # projected h: its own size, not per unit
        else:
            out[name] = arr[s][..., units]
    out["units"] = units
    read = read_mask(ctx)
    if trace.start or trace.steps != ctx.steps:   # a window of a longer (checkpointed) run
        read = read[trace.start:trace.start + trace.steps]
        out["first_position"] = np.int64(trace.start)
    out["read"] = read
    return out


def cell_arrays(trace: LayerTrace, ctx: ViewContext) -> dict[str, np.ndarray]:
    """Unit j at one step taken apart: gates, state, z = x·W + h·U + b, and the fan-in."""
    if not 0 <= ctx.unit < trace.units:
        raise ScopeError(f"unit {ctx.unit} is outside 0..{trace.units - 1}")
    position = ctx.position if ctx.position is not None else ctx.cursor
    if position is None or not 0 <= position - trace.start < trace.steps:
        raise ScopeError("the cell view needs a step that has been read (use --step K)")
    b = cell_breakdown(trace, ctx.sample, ctx.unit, position - trace.start)
    kind = trace.weights.kind
    out: dict[str, np.ndarray] = {g: np.float32(b.gates[g]) for g in kind.gates}
    if "c" in kind.states:
        out.update(c=np.float32(b.c), c_prev=np.float32(b.c_prev))
    out.update(h=np.float32(b.h), h_prev=np.asarray(b.h_prev_vector, np.float32))
    for part, values in (("zx", b.zx), ("zh", b.zh), ("zb", b.zb), ("z", b.z)):
        out[part] = np.array([values[g] for g in kind.parts], np.float32)   # i, f, g, o (u, r, n)
    out["fan_in"] = np.stack([b.fan_in[g] for g in kind.parts]).astype(np.float32)   # (4, H)
    out["unit"] = np.int64(ctx.unit)
    out["position"] = np.int64(position)
    return out


def view_arrays(trace: LayerTrace, ctx: ViewContext) -> dict[str, np.ndarray]:
    """The NPZ arrays of ``ctx``'s view (the API's default number kind, ``numbers_of``)."""
    return numbers_of(ctx).arrays(trace, ctx)


def lane_table(trace: LayerTrace, ctx: ViewContext) -> tuple[list[str], Iterable[Sequence[Any]]]:
    """One row per (t, unit): ``t, unit, read, i, f, g, o, c, h`` (h per unit; a projected h
    has no per-unit column and is left out)."""
    arrays = lane_arrays(trace, ctx)
    units = arrays["units"]
    signals = [s for s in trace.weights.kind.recorded
               if not (s == "h" and trace.weights.state_size != trace.units)]
    header = ["t", "unit", "read", *signals]
    return header, _lane_rows(arrays, units, signals)


def _lane_rows(arrays: dict[str, np.ndarray], units: np.ndarray, signals: list[str]):
    """Rows generated a block of steps at a time, so a long run is never all text in memory."""
    steps = arrays["read"].shape[0]
    read = arrays["read"].astype(int).tolist()
    unit_list = units.tolist()
    first = int(arrays.get("first_position", 0))     # a window's t are the run's positions
    for a in range(0, steps, 256):
        b = min(a + 256, steps)
        block = [_fmt_column(arrays[s][0, a:b].reshape(-1)) for s in signals]
        for k, values in enumerate(zip(*block)):
            t = a + k // len(unit_list)
            yield (first + t, unit_list[k % len(unit_list)], read[t], *values)


def cell_table(trace: LayerTrace, ctx: ViewContext) -> tuple[list[str], list[Sequence[Any]]]:
    """``quantity, gate, k, value``: gates, state, the parts of z, and every unit's fan-in."""
    a = cell_arrays(trace, ctx)
    kind = trace.weights.kind
    rows: list[Sequence[Any]] = []
    for g in kind.gates:
        rows.append(("gate", g, "", _fmt(a[g])))
    for name in ("c_prev", "c", "h"):
        if name in a:
            rows.append((name, "", "", _fmt(a[name])))
    for part in ("zx", "zh", "zb", "z"):
        for k, g in enumerate(kind.parts):
            rows.append((part, g, "", _fmt(a[part][k])))
    for k, value in enumerate(a["h_prev"]):
        rows.append(("h_prev", "", k, _fmt(value)))
    for gi, g in enumerate(kind.parts):
        for k, value in enumerate(a["fan_in"][gi]):
            rows.append(("fan_in", g, k, _fmt(value)))
    return ["quantity", "gate", "k", "value"], rows


def _fmt(value: float) -> str:
    """float32 round-trips through 9 significant digits."""
    return f"{float(value):.9g}"


def _fmt_column(values: np.ndarray) -> list[str]:
    return [f"{v:.9g}" for v in values.tolist()]


def write_npz(fh: IO[bytes], arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    data = dict(arrays)
    data["meta"] = np.array(json.dumps(meta))
    np.savez(fh, **data)


def write_csv(fh: IO[str], header: list[str], rows) -> None:
    writer = csv.writer(fh)
    writer.writerow(header)
    writer.writerows(rows)


@dataclass(frozen=True)
class Numbers:
    """What a kind of view is made of, as numbers: the NPZ arrays and the CSV table of one
    trace (or a window of it) for what ``ctx`` shows. A view names its kind once (the window's
    table of exportable views, ``gui.export.views``); the gradient view's numbers need the
    session, not a trace, and live in ``engine.gradients.grad_views``."""

    arrays: Callable[[LayerTrace, ViewContext], dict[str, np.ndarray]]
    table: Callable[[LayerTrace, ViewContext], tuple[list[str], Iterable[Sequence[Any]]]]


LANES = Numbers(lane_arrays, lane_table)      # every unit's signals over time
CELL = Numbers(cell_arrays, cell_table)       # one unit at one step, taken apart


def numbers_of(ctx: ViewContext) -> Numbers:
    """For callers that name no kind (the Python API): the cell view's, else the lanes'."""
    return CELL if ctx.view == "cell" else LANES


def export_data(path: str | Path, trace: LayerTrace, ctx: ViewContext, *,
                numbers: Numbers | None = None,
                inputs: Iterable[tuple[str, Any]] = ()) -> Path:
    """Write the numbers behind ``ctx``'s view to ``path`` (.csv or .npz)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise ScopeError(f"{describe(path)}: data exports are .csv or .npz")
    check_output(path, inputs=inputs)
    numbers = numbers or numbers_of(ctx)
    if suffix == ".npz":
        arrays = numbers.arrays(trace, ctx)
        with atomic_write(path, inputs=inputs) as fh:
            write_npz(fh, arrays, ctx.describe())
    else:
        header, rows = numbers.table(trace, ctx)
        with atomic_write(path, text=True, inputs=inputs) as fh:
            write_csv(fh, header, rows)
    return path


def check_writable(path: str | Path, inputs: Iterable[tuple[str, Any]] = ()) -> None:
    """A clear error before any work when the file cannot be written where asked."""
    check_output(path, inputs=inputs)


__all__ = ["ARRAY_NAMES", "CELL", "LANES", "Numbers", "ViewContext", "atomic_write", "cell_arrays",
           "check_writable", "export_data", "lane_arrays", "numbers_of", "read_mask", "view_arrays"]
