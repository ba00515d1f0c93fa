"""Why a breakpoint hit: the units and values that made its condition true at one step.

A condition such as ``any(abs(c) > 5)`` reduces over units before it becomes one truth value, so
the step alone does not say *which* lanes to look at. ``explain`` walks the condition's syntax
tree (the same text ``engine.debugging.expr`` compiled) and re-evaluates the parts that decide it:

* a reducer over units (``any all count mean sum``) of a per-unit test names the units where the
  test is true; ``max``/``min`` name the unit that holds the extreme;
* an indexed signal (``h[3]``) names its unit;
* a vector condition (``abs(c) > 5`` on its own) names the units where it is true;
* of ``a or b`` only the parts that hold are explained.

The *subject* of a part is the first signal it reads (``c`` in ``abs(c) > 5``); its values at the
named units are reported, strongest (largest magnitude, NaN/Inf first) first. For a comparison
at the top, the left side's value is reported too (``mean(saturated(f)) = 0.93``). Sub-
expressions are compiled with ``engine.debugging.expr.Expr``, so they mean exactly what they mean in the
condition (docs/architecture.md, "Where each feature lives").
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import numpy as np

from .expr import NAMES, Env, Expr, ExprError, _truth

MAX_UNITS = 8                 # units listed in a report (``count`` says how many in all)
_MASK_REDUCERS = ("any", "all", "count", "mean", "sum")
_LANE_FREE = ("x", "t")       # subjects whose last axis is not the units


@dataclass(frozen=True)
class Culprit:
    """One part of a condition that held: its subject's values at the units that decided it."""

    part: str                           # the sub-expression, as text (``abs(c) > 5``)
    subject: str | None                 # the signal it reads (``c``), None when it reads none
    units: tuple[int, ...] = ()         # strongest first, at most MAX_UNITS
    values: tuple[float, ...] = ()      # the subject's value at each of ``units``
    count: int = 0                      # units that made the part true, in all
    lanes: bool = True                  # False when the indices are input features (``x``)


@dataclass(frozen=True)
class HitReport:
    """What made breakpoint ``breakpoint_id`` true on the step that read input ``position``."""

    breakpoint_id: int
    title: str
    position: int
    sample: int | None                  # the batch sample it held for (None: not found)
    quantity: str = ""                  # left side of a top-level comparison, e.g. ``mean(..)``
    quantity_value: float | None = None
    culprits: tuple[Culprit, ...] = field(default_factory=tuple)

    @property
    def units(self) -> tuple[int, ...]:
        """Every lane unit named, in report order, each once."""
        seen: list[int] = []
        for c in self.culprits:
            if c.lanes:
                seen.extend(u for u in c.units if u not in seen)
        return tuple(seen)

    @property
    def first(self) -> Culprit | None:
        for c in self.culprits:
            if c.lanes and c.units:
                return c
        return None


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _value(node: ast.AST, env: Env, sample: int) -> np.ndarray:
    """A sub-expression at the step for one chosen sample: () or (units,)."""
    expr = Expr(_text(node))
    v = np.asarray(expr.evaluate(env))
    lead = env.lead_shape()
    v = np.broadcast_to(v, (*lead, v.shape[-1]) if expr.vector else lead)
    return v[sample, 0]


def _holds(node: ast.AST, env: Env, sample: int) -> bool:
    try:
        return bool(np.any(_truth(_value(node, env, sample))))
    except ExprError:
        return False


def _subject(node: ast.AST) -> ast.AST | None:
    """The first signal the part reads (``grad(h)`` counts as one signal)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "grad":
            return sub
        if isinstance(sub, ast.Name) and sub.id in NAMES and sub.id != "t":
            return sub
    return None


def _lanes(subject: ast.AST | None) -> bool:
    if subject is None:
        return False
    names = {n.id for n in ast.walk(subject) if isinstance(n, ast.Name)}
    return not names & set(_LANE_FREE)


def _strongest(units: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Order ``units`` by |value|, NaN/Inf first (they are what a NaN breakpoint is about)."""
    mag = np.abs(values.astype(np.float64))
    key = np.where(np.isfinite(mag), mag, np.inf)
    return units[np.argsort(-key, kind="stable")]


def _culprit(part: ast.AST, mask: np.ndarray, env: Env, sample: int) -> Culprit:
    subject = _subject(part)
    units = np.flatnonzero(mask)
    values = np.zeros(0)
    if subject is not None and units.size:
        sv = _value(subject, env, sample)
        if sv.ndim == 1 and sv.shape[0] == mask.shape[0]:
            values = sv[units]
            units = _strongest(units, values)
            values = sv[units]
    shown = units[:MAX_UNITS]
    return Culprit(_text(part), None if subject is None else _text(subject),
                   tuple(int(u) for u in shown), tuple(float(v) for v in values[:MAX_UNITS]),
                   int(units.size), _lanes(subject))


def _indexed(node: ast.Subscript, env: Env, sample: int) -> Culprit | None:
    """``h[3]``: unit 3 of h (negative indices count from the end)."""
    index = _literal_index(node.slice)
    if index is None:
        return None
    base = _value(node.value, env, sample)
    if base.ndim != 1 or not -base.shape[0] <= index < base.shape[0]:
        return None
    unit = index % base.shape[0]
    subject = _subject(node.value)
    return Culprit(_text(node), _text(node.value) if subject is None else _text(subject),
                   (unit,), (float(base[unit]),), 1, _lanes(subject))


def _literal_index(key: ast.AST) -> int | None:
    if isinstance(key, ast.Constant) and type(key.value) is int:
        return key.value
    if (isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub)
            and isinstance(key.operand, ast.Constant) and type(key.operand.value) is int):
        return -key.operand.value
    return None


def _reduced(call: ast.Call, env: Env, sample: int) -> Culprit | None:
    """A reducer over units: the units that decided it."""
    name = call.func.id  # type: ignore[attr-defined]
    arg = call.args[0]
    v = _value(arg, env, sample)
    if v.ndim != 1:
        return None
    if name in ("max", "min"):
        num = np.asarray(v, np.float64)
        if not num.size or np.all(np.isnan(num)):
            return None
        pick = int(np.nanargmax(num) if name == "max" else np.nanargmin(num))
        mask = np.zeros(num.shape, bool)
        mask[pick] = True
        return _culprit(arg, mask, env, sample)
    mask = _truth(v)
    if name == "all":
        mask = np.ones(v.shape, bool)         # every unit took part
    return _culprit(arg, mask, env, sample)


def _walk(node: ast.AST, env: Env, sample: int, out: list[Culprit]) -> None:
    """Collect culprits of the parts of ``node`` that decide its truth at this step."""
    if isinstance(node, ast.BoolOp):
        for part in node.values:
            if isinstance(node.op, ast.And) or _holds(part, env, sample):
                _walk(part, env, sample, out)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return                                  # "not" holds through what is absent
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        if node.func.id in (*_MASK_REDUCERS, "max", "min"):
            found = _reduced(node, env, sample)
            if found is not None:
                out.append(found)
            return
        if node.func.id == "prev":
            _walk(node.args[0], env, sample, out)
            return
    if isinstance(node, ast.Subscript) and _literal_index(node.slice) is not None:
        found = _indexed(node, env, sample)
        if found is not None:
            out.append(found)
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr):
            _walk(child, env, sample, out)


def explain(text: str, env: Env, *, breakpoint_id: int = -1, title: str = "",
            position: int = 0, samples: range | None = None) -> HitReport:
    """Why ``text`` holds in ``env`` (one step, its chosen samples) — see the module docstring.

    ``samples`` maps env's sample axis to batch indices (default 0, 1, ...). A condition that
    does not hold in any chosen sample gives a report with no culprits and ``sample`` None.
    """
    tree = ast.parse(text, mode="eval").body
    root = Expr(text)
    v = np.asarray(_truth(root.evaluate(env)))
    lead = env.lead_shape()
    if root.vector:
        v = np.any(np.broadcast_to(v, (*lead, v.shape[-1])), axis=-1)
    per_sample = np.broadcast_to(v, lead)[:, 0]
    held = np.flatnonzero(per_sample)
    batch = samples if samples is not None else range(len(per_sample))
    if not held.size:
        return HitReport(breakpoint_id, title, position, None)
    s = int(held[0])
    culprits: list[Culprit] = []
    if root.vector:
        culprits.append(_culprit(tree, _truth(_value(tree, env, s)), env, s))
    else:
        _walk(tree, env, s, culprits)
    quantity, qvalue = "", None
    if isinstance(tree, ast.Compare) and len(tree.ops) == 1:
        left = _value(tree.left, env, s)
        if left.ndim == 0 and not isinstance(tree.left, ast.Constant):
            quantity, qvalue = _text(tree.left), float(left)
    return HitReport(breakpoint_id, title, position, int(batch[s]), quantity, qvalue,
                     tuple(culprits))


__all__ = ["MAX_UNITS", "Culprit", "HitReport", "explain"]
