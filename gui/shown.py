"""What a view shows: the run, its size and the cursor it draws, reported by the view itself.

A view that keeps what it drew (images, curves, a comparison, a fork's curve) can go stale when
the run changes under it in an order nobody tested. Each such view answers ``shown()`` with
the ``Shown`` of what is on screen now, read from what it drew, and the window's state-machine
test checks after every action that every answer agrees with ``expected(session_model)``. A
view with nothing drawn, or one behind another tab that will rebuild when it comes to the
front, answers None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Shown:
    """The run a view drew (``SessionModel.run``), its units N and input positions T, the
    input position its cursor marks (None: before the first input is read), and the name of
    the cell kind whose signals it drew (``CellKind.name``: a view that kept the last model's
    signal list after a switch shows it)."""

    run: int
    units: int
    steps: int
    cursor: int | None
    kind: str


@runtime_checkable
class ShowsRun(Protocol):
    def shown(self) -> Shown | None:
        """What is on screen now; None when nothing is drawn or the view waits to catch up."""


def expected(session_model) -> Shown | None:
    """What every view should show: the session's run, size, cursor and cell kind."""
    s = session_model.session
    if s is None:
        return None
    return Shown(session_model.run, s.units, s.steps, s.cursor, s.cell_kind.name)


def cursor_at(x: float, steps: int, backward: bool) -> int | None:
    """The input position a cursor line drawn at ``x`` marks (views draw "before the first
    read" half a column outside the run)."""
    before = steps - 0.5 if backward else -0.5
    if abs(x - before) < 1e-6:
        return None
    return int(round(x))
