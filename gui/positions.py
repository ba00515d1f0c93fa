"""How the window speaks of time: one wording for the cursor everywhere (toolbar, status bar,
inspector, breakpoint messages, hints), so no two places disagree.

"t = p" names the input position the cursor is on (the last one read, 0-based, as on the time
axis and in ``--step``); a count is written as a count ("20 of 120 read"). For a backward
direction the cursor at p means positions p..T-1 have been read. See docs/architecture.md,
"The time axis"; the rules themselves are ``engine.runs.time_axis``'s.
"""

from __future__ import annotations

from engine import Session
from engine.runs.time_axis import input_position, read_span_text


def cursor_text(session: Session) -> str:
    """'t = 19' for the position the cursor is on, or 'before t = 0' when nothing is read."""
    cursor = session.cursor
    if cursor is None:
        return f"before t = {input_position(0, session.steps, session.backward)}"
    return f"t = {cursor}"


def read_text(session: Session) -> str:
    """'20 of 120 read' (a backward layer adds which positions: 'positions 100..119')."""
    read = f"{session.t} of {session.steps} read"
    return read + read_span_text(session.t, session.steps, session.backward)


def position_text_widest(session: Session) -> str:
    """The longest ``position_text`` this run can show (a label sized for it never jumps)."""
    last = session.steps - 1
    text = f"t = {last} · {session.steps} of {session.steps} read"
    if session.backward:
        text += f", positions {last}..{last}"
    return text


def position_text(session: Session) -> str:
    """The toolbar's and status bar's words for where the run is: 't = 19 · 20 of 120 read'."""
    return f"{cursor_text(session)} · {read_text(session)}"
