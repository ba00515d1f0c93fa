"""What-if runs: edit h, c or x_t at one step (or the recurrent kernel) and continue.

A ``Fork`` never copies its parent. It owns

* the **edited column** (processing index ``p``): for a state edit, the parent's column with h
  or c replaced; for an input edit, that one step recomputed from the parent's state with the
  new x_t (a one-column runner);
* a **window runner** over processing indices ``p+1 .. T-1`` (all of ``0 .. T-1`` for a
  weights fork such as "decouple units"), an ordinary ``DirectionRunner`` whose buffers cover
  only that window and whose x . W are *views* of the root run's (x . W does not depend on the
  state or on U). Only when an ancestor fork edited an input inside this window does the window
  get private copies of x . W (copy-on-write), with the ancestor's columns patched in.

Everything before ``p`` is read from the parent (another fork, or the session's full run), so a
fork at step p of a T-step run costs (T - p) / T of the state buffers (gates, U·h, c, h) and
none of x . W. Forks form a tree; deleting one never touches another (a child keeps its parent
object alive through its reference). The loaded model never changes: a weights fork uses
``CellWeights.with_recurrent_kernel``.

Processing index p vs input position: for a backward layer p reads input position T-1-p
(``trace.input_position``). Edits are addressed by input position, as everywhere in the
Contracts. ``Fork.view()`` is a ``LayerTrace``-shaped view of the fork, so its signals (z with the
peephole term included) come from the same ``SignalSource.signal`` as the original run's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..cells.cell import CellWeights
from ..errors import ScopeError
from ..runs.checkpoints import CheckpointedRun
from ..runs.stepper import DirectionRunner, input_product
from ..runs.time_axis import input_position, positions
from ..runs.trace import LayerTrace, SignalSource

F32 = np.float32
NAN = F32(np.nan)


@dataclass
class Edit:
    """One what-if: what the fork changes. Serialisable (its values, never arrays of a run).

    kind: ``"h"`` / ``"c"`` (state after reading ``position``), ``"x"`` (input at
    ``position``), ``"perturb"`` (add ``delta`` to h[unit] at ``position``), ``"decouple"``
    (off-diagonal entries of each gate's N x N block of U set to zero, whole run).
    ``unit`` None edits the whole vector; ``values`` is the new value (a number for one unit,
    a list for the vector, broadcast over the batch), or a list of lists per sample.
    """

    kind: str
    position: int = 0
    unit: int | None = None
    values: Any = None
    delta: float = 0.0
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if isinstance(d["values"], np.ndarray):
            d["values"] = d["values"].tolist()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Edit:
        known = {k: d[k] for k in ("kind", "position", "unit", "values", "delta", "label") if k in d}
        return cls(**known)

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.kind == "decouple":
            return "decouple units"
        who = "all units" if self.unit is None else f"unit {self.unit}"
        if self.kind == "perturb":
            return f"perturb h[{self.unit}] by {self.delta:+g} at step {self.position}"
        what = {"h": "h", "c": "c", "x": "x"}[self.kind]
        return f"edit {what} ({who}) at step {self.position}"


def decoupled_kernel(weights: CellWeights) -> np.ndarray:
    """U with the off-diagonal entries of each gate's N x N block zeroed (a copy; a GRU's
    three blocks, an RNN's one)."""
    n = weights.units
    u = np.array(weights.recurrent_kernel, F32)
    if u.shape[0] != n:
        raise ScopeError("decouple units needs an N x 4N recurrent kernel (no projection)")
    keep = np.tile(np.eye(n, dtype=bool), (1, weights.parts))
    u[~keep] = 0.0
    return u


class _Root:
    """The session's original run seen as a fork parent (processing-index access): the full
    in-memory runner, or a checkpointed run whose columns are recomputed on demand."""

    def __init__(self, source: DirectionRunner | CheckpointedRun) -> None:
        self.source = source
        self.weights = source.weights
        self.name, self.batch, self.units = source.name, source.batch, source.units
        self.steps, self.backward = source.steps, source.backward
        self.x, self.mask, self.h0, self.c0 = source.x, source.mask, source.h0, source.c0
        self.has_zp = source.zp is not None
        self._stored = isinstance(source, DirectionRunner)

    def position(self, p: int) -> int:
        return self.source.position(p)

    def column(self, name: str, p: int) -> np.ndarray:
        if self._stored:
            return getattr(self.source, name)[:, self.position(p)]
        return self.source.columns(name, p, p + 1)[:, 0]

    def state_before(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        return self.source.state_before(p)

    def array(self, name: str) -> np.ndarray:
        """A whole-run array by input position (recomputed for a checkpointed run)."""
        if self._stored:
            return getattr(self.source, name)
        v = self.source.columns(name, 0, self.steps)
        return v[:, ::-1] if self.backward else v

    def signal(self, name: str) -> np.ndarray:
        if self._stored:
            return self.source.to_trace().signal(name)
        return self.source.signal(name, 0, self.steps)

    def inputs(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, zx) for input positions lo..hi-1: views of the stored run, or x . W in the
        run's aligned blocks (so the same bits) for a checkpointed one."""
        if self._stored:
            r = self.source
            return r.x[:, lo:hi], r.zx[:, lo:hi]
        p_lo, p_hi = positions(lo, hi, self.steps, self.backward)
        zx = input_product(self.weights, self.x, self.backward, p_lo, p_hi)
        mask = self.mask[:, lo:hi]
        if not mask.all():
            zx[~mask] = NAN
        return self.x[:, lo:hi], zx

    def shares(self, arr: np.ndarray) -> bool:
        """True when ``arr`` is (a view of) the root's own x or x . W."""
        return self._stored and any(np.shares_memory(arr, getattr(self.source, k))
                                    for k in ("x", "zx"))

    def inherited_x_edits(self) -> dict[int, Fork]:
        return {}

    @property
    def computed(self) -> int:
        return self.steps


class Fork:
    """A named what-if run over one traced layer; reads before its edit come from ``parent``."""

    def __init__(self, name: str, parent: Fork | _Root, edit: Edit) -> None:
        self.name = name
        self.parent = parent
        self.edit = edit
        self.root: _Root = parent if isinstance(parent, _Root) else parent.root
        self.steps, self.backward = self.root.steps, self.root.backward
        t_len = self.steps
        self.weights: CellWeights = parent.weights
        if edit.kind == "decouple":
            self.weights = parent.weights.with_recurrent_kernel(decoupled_kernel(parent.weights))
            self.start = 0
        else:
            if not 0 <= edit.position < t_len:
                raise ScopeError(f"step {edit.position} is outside the run (0..{t_len - 1})")
            self.start = self.position(edit.position)   # position <-> p is its own inverse
        root = self.root
        n, b = root.units, root.batch
        self._col: dict[str, np.ndarray] | None = None
        if isinstance(parent, Fork):
            parent.ensure(self.start + 1)
        if edit.kind != "decouple":
            self._col = self._edited_column(edit, n, b)
            first = self.start + 1
            h0, c0 = self._col["h"], self._col["c"]
        else:
            first = 0
            h0, c0 = root.h0, root.c0
        self.first = first                       # first processing index of the window runner
        lo, hi = (0, t_len - first) if self.backward else (first, t_len)
        self._lo = lo
        x, zx = root.inputs(lo, hi)
        patches = {p: f for p, f in self.inherited_x_edits().items() if p >= first}
        if patches:   # copy-on-write: an ancestor changed an input inside our window
            zx, x = zx.copy(), x.copy()
            for p, fork in patches.items():
                t = fork.position(p) - lo
                col = fork._col
                zx[:, t] = col["zx"]
                x[:, t] = col["x"]
        shared = zx
        self.window = DirectionRunner(f"{root.name}#{name}", self.weights, x, backward=self.backward,
                                      mask=root.mask[:, lo:hi], h0=h0, c0=c0, shared_zx=shared)
        self._done = 0                          # window steps computed

    # --- structure ---------------------------------------------------------------------------
    def position(self, p: int) -> int:
        return input_position(p, self.steps, self.backward)

    def inherited_x_edits(self) -> dict[int, Fork]:
        """Input edits of this fork and its ancestors, by processing index."""
        out = dict(self.parent.inherited_x_edits())
        if self.edit.kind == "x":
            out[self.start] = self
        return out

    def _edited_column(self, edit: Edit, n: int, b: int) -> dict[str, np.ndarray]:
        p, parent = self.start, self.parent
        if edit.kind == "x":
            h_prev, c_prev = parent.state_before(p)
            x_t = np.array(parent.column("x", p), F32)
            x_t[...] = _values(edit, x_t.shape)
            mask = self.root.mask[:, self.position(p):self.position(p) + 1]
            one = DirectionRunner("edit", self.weights, x_t[:, None], mask=mask,
                                  h0=h_prev, c0=c_prev)
            one.step(0)
            col = {"gates": one.gates[:, 0], "zx": one.zx[:, 0],
                   "zh": one.zh[:, 0], "c": one.c[:, 0], "h": one.h[:, 0], "x": one.x[:, 0]}
            if one.zp is not None:
                col["zp"] = one.zp[:, 0]
            return col
        col = {"gates": parent.column("gates", p), "zx": parent.column("zx", p),
               "zh": parent.column("zh", p), "x": parent.column("x", p),
               "c": np.array(parent.column("c", p), F32), "h": np.array(parent.column("h", p), F32)}
        if self.weights.peephole is not None:
            col["zp"] = parent.column("zp", p)
        if edit.kind in ("h", "c"):
            # c is the cell state C: an sLSTM's recorded c also carries nrm and stab after it
            target = col[edit.kind] if edit.kind == "h" else col["c"][:, :n]
            if edit.unit is None:
                target[...] = _values(edit, target.shape)
            else:
                _check_unit(edit.unit, target.shape[-1])
                target[:, edit.unit] = _values(edit, target[:, edit.unit].shape)
        elif edit.kind == "perturb":
            _check_unit(edit.unit, n)
            col["h"][:, edit.unit] += F32(edit.delta)
        else:
            raise ScopeError(f"unknown edit kind '{edit.kind}'")
        if np.isnan(col["h"]).any() or np.isnan(col["c"]).any():
            raise ScopeError("the state at that step is not computed (NaN): step to it first")
        return col

    # --- computing ---------------------------------------------------------------------------
    @property
    def computed(self) -> int:
        """Processing indices known: everything before ``computed`` can be read."""
        return self.first + self._done

    def ensure(self, count: int) -> int:
        """Compute up to processing index ``count - 1`` (incremental; parents first)."""
        count = max(0, min(int(count), self.steps))
        if isinstance(self.parent, Fork):
            self.parent.ensure(min(count, self.start))
        want = count - self.first
        if want > self._done:
            self.window.run(self._done, want)
            self._done = want
        return self.computed

    def run(self, progress: Callable[[int, int], None] | None = None,
            should_stop: Callable[[], bool] | None = None, chunk: int = 512) -> bool:
        """Compute the whole fork (in chunks, reporting progress); False if stopped."""
        total = self.steps
        while self.computed < total:
            if should_stop is not None and should_stop():
                return False
            self.ensure(min(total, self.computed + chunk))
            if progress is not None:
                progress(self.computed, total)
        return True

    # --- reading -----------------------------------------------------------------------------
    def column(self, name: str, p: int) -> np.ndarray:
        """One column (B, ...) at processing index p: own, edited, or the parent's."""
        if p < self.start:
            return self.parent.column(name, p)
        if p == self.start and self._col is not None:
            return self._col[name]
        if p >= self.computed:
            self.ensure(p + 1)
        return getattr(self.window, name)[:, self.position(p) - self._lo]

    def state_before(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        if p == 0:
            return self.root.h0, self.root.c0
        return self.column("h", p - 1), self.column("c", p - 1)

    def view(self, *, computed_only: bool = False) -> ForkView:
        """The whole fork as a ``LayerTrace``-shaped view: arrays assembled on demand (the
        parent's values before the edit, this fork's from it on). With ``computed_only``
        nothing is computed: fork steps not yet run are NaN."""
        return ForkView(self, computed_only)

    def signal(self, name: str, *, computed_only: bool = False) -> np.ndarray:
        """(B, T, N) of one signal (i f g o c h, x, z_i, zx_f ...), input-position order, read
        through ``LayerTrace.signal``'s rule. A fresh array."""
        return self.view(computed_only=computed_only).signal(name)

    def _assemble(self, array: str, k: int | None, computed_only: bool) -> np.ndarray:
        """Full-length copy of one array (gate k of a gate-shaped one), input-position order."""
        if not computed_only:
            self.ensure(self.steps)
        if isinstance(self.parent, Fork):
            out = self.parent._assemble(array, k, computed_only)
        else:
            src = self.root.array(array)
            out = np.array(src if k is None else src[:, :, k], F32)
        if self._col is not None:
            v = self._col[array]
            out[:, self.position(self.start)] = v if k is None else v[:, k]
        w = getattr(self.window, array)
        w = w if k is None else w[:, :, k]
        lo = self._lo
        out[:, lo:lo + w.shape[1]] = w
        return out

    def series(self, name: str, sample: int, unit: int, *, computed_only: bool = True) -> np.ndarray:
        """(T,) one unit of one signal (i f g o c h) for one sample, input-position order:
        what an overlay of one lane needs, without materialising the whole (B, T, N) array."""
        if not computed_only:
            self.ensure(self.steps)
        array, k = SignalSource.parse_signal(name)
        if array not in ("gates", "c", "h"):
            raise ScopeError(f"series() takes i f g o c h, not '{name}'")

        def pick(arr: np.ndarray) -> np.ndarray:      # (B, T', [4,] N) -> (T',)
            return arr[sample, :, k, unit] if k is not None else arr[sample, :, unit]
        if isinstance(self.parent, Fork):
            out = self.parent.series(name, sample, unit, computed_only=computed_only)
        else:
            out = np.array(pick(self.root.array(array)), F32)
        if self._col is not None:
            v = self._col[array][sample]
            out[self.position(self.start)] = v[k, unit] if k is not None else v[unit]
        w = pick(getattr(self.window, array))
        out[self._lo:self._lo + w.shape[0]] = w
        return out

    def to_trace(self) -> LayerTrace:
        """The whole fork as a LayerTrace: a *materialised copy* (full T), for export/overlay."""
        return self.view().materialise()

    def diff(self, name: str) -> np.ndarray:
        """(B, T, N) this fork minus its parent for one signal; exactly 0 before the edit."""
        mine, theirs = self.signal(name), self.parent.signal(name)
        with np.errstate(invalid="ignore"):
            return mine - theirs

    @property
    def nbytes(self) -> int:
        """Memory this fork owns (its window's state buffers, the edited column, any CoW copy)."""
        w = self.window
        own = [w.gates, w.zh, w.c, w.h, w.mask]
        if w.zp is not None:
            own.append(w.zp)
        if not self.root.shares(w.zx):
            own.append(w.zx)
        if not self.root.shares(w.x):
            own.append(w.x)
        total = sum(a.nbytes for a in own)
        if self._col is not None:
            total += sum(v.nbytes for v in self._col.values() if v.base is None)
        if self.weights is not self.parent.weights:
            total += self.weights.recurrent_kernel.nbytes
        return int(total)

    def describe(self) -> str:
        return f"{self.name}: {self.edit.describe()}"


class ForkView(SignalSource):
    """A fork seen as a LayerTrace: same attributes and ``signal``; each array is assembled
    (a fresh full-length copy) the first time it is read."""

    def __init__(self, fork: Fork, computed_only: bool) -> None:
        r = fork.root
        self.fork, self.computed_only = fork, computed_only
        self.name = f"{r.name}#{fork.name}"
        self.direction = "backward" if fork.backward else "forward"
        self.weights = fork.weights
        self.mask, self.h0, self.c0 = r.mask, r.h0, r.c0
        self._arrays: dict[tuple[str, int | None], np.ndarray] = {}

    def part(self, array: str, gate: int | None) -> np.ndarray:
        key = (array, gate)
        if key not in self._arrays:
            if array == "zp" and not self.fork.root.has_zp:
                raise ScopeError("this cell has no peepholes")
            self._arrays[key] = self.fork._assemble(array, gate, self.computed_only)
        return self._arrays[key]

    def __getattr__(self, name: str) -> np.ndarray:
        if name in ("gates", "zx", "zh", "zp", "c", "h", "x"):
            if name == "zp" and not self.has_peephole:
                return None
            return self.part(name, None)
        raise AttributeError(name)

    @property
    def steps(self) -> int:
        return self.fork.steps

    @property
    def backward(self) -> bool:
        return self.fork.backward

    def materialise(self) -> LayerTrace:
        """A real LayerTrace holding copies of every array."""
        return LayerTrace(name=self.name, direction=self.direction, weights=self.weights,
                          x=self.x, mask=self.mask, h0=self.h0, c0=self.c0, gates=self.gates,
                          zx=self.zx, zh=self.zh, c=self.c, h=self.h, zp=self.zp)


def _check_unit(unit: int | None, n: int) -> None:
    if unit is None or not 0 <= int(unit) < n:
        raise ScopeError(f"unit {unit} is outside 0..{n - 1}")


def _values(edit: Edit, shape: tuple[int, ...]) -> np.ndarray:
    if edit.values is None:
        raise ScopeError("the edit has no value")
    v = np.asarray(edit.values, F32)
    try:
        return np.broadcast_to(v, shape)
    except ValueError:
        raise ScopeError(f"the new value has shape {v.shape}, the edited state {shape}") from None


@dataclass
class ForkSet:
    """The named forks of one session's current run (layer and input)."""

    root_runner: DirectionRunner | CheckpointedRun
    forks: dict[str, Fork] = field(default_factory=dict)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.root = _Root(self.root_runner)

    def new_name(self, base: str = "fork") -> str:
        while True:
            self._counter += 1
            name = f"{base} {self._counter}"
            if name not in self.forks:
                return name

    def add(self, edit: Edit, *, parent: str | None = None, name: str | None = None,
            via: list[Edit] | None = None) -> Fork:
        """A new fork of ``parent`` (None = the original run). ``via`` replays edits of
        deleted ancestors first (unlisted forks in between), as a saved session needs."""
        if name is not None and name in self.forks:
            raise ScopeError(f"a fork named '{name}' exists already")
        base: Fork | _Root = self.root if parent is None else self.get(parent)
        for k, hidden in enumerate(via or ()):
            base = Fork(f"(deleted {k})", base, hidden)
        fork = Fork(name or self.new_name("decoupled" if edit.kind == "decouple" else "fork"), base, edit)
        self.forks[fork.name] = fork
        return fork

    def get(self, name: str) -> Fork:
        try:
            return self.forks[name]
        except KeyError:
            raise ScopeError(f"no fork named '{name}'") from None

    def delete(self, name: str) -> None:
        """Forget one fork; its children keep working (they hold their parent object)."""
        self.get(name)
        del self.forks[name]

    def names(self) -> list[str]:
        return list(self.forks)

    def parent_name(self, fork: Fork) -> str | None:
        """Name of the nearest listed ancestor (None = the original run)."""
        node = fork.parent
        while isinstance(node, Fork):
            if self.forks.get(node.name) is node:
                return node.name
            node = node.parent
        return None

    def hidden_chain(self, fork: Fork) -> list[Edit]:
        """Edits of deleted forks between ``fork`` and its nearest listed ancestor, oldest first."""
        chain, node = [], fork.parent
        while isinstance(node, Fork) and self.forks.get(node.name) is not node:
            chain.append(node.edit)
            node = node.parent
        return chain[::-1]
