"""The time axis's rules, written once: which input position a processing index reads.

Every trace array is indexed by input position, whatever the direction (docs/architecture.md,
"The time axis"); a backward direction reads the input from the end. Every holder of a run
(the stepper, a checkpointed run, a fork, a session, an export) turns processing indices into
input positions with these functions instead of writing ``steps - 1 - p`` or
``(steps - b, steps - a)`` again.
"""

from __future__ import annotations


def input_position(p, steps: int, backward: bool):
    """Input position read at processing index ``p`` (an int or an integer array).

    Forward layers read position p at index p; backward ones read T-1-p. The map is its own
    inverse, so the same call turns an input position back into its processing index."""
    return steps - 1 - p if backward else p


def positions(a: int, b: int, steps: int, backward: bool) -> tuple[int, int]:
    """Input positions ``lo:hi`` read at processing indices ``a:b`` (end excluded): the same
    span forward, the mirrored one ``(steps - b, steps - a)`` backward. Like ``input_position``
    it is its own inverse: input positions a:b -> the processing indices that read them."""
    return (steps - b, steps - a) if backward else (a, b)


def last_position(steps: int, backward: bool) -> int:
    """The input position read last: T-1 forward, 0 backward (where a run's final state and
    ``output[:, -1]`` come from, and what ``h[last]`` names in a gradient target)."""
    return input_position(steps - 1, steps, backward)


def cursor_after(t: int, steps: int, backward: bool) -> int | None:
    """The input position read last after ``t`` steps (None before the first): where a
    cursor stands (``Session.cursor``)."""
    return input_position(t - 1, steps, backward) if t else None


def read_span_text(t: int, steps: int, backward: bool) -> str:
    """``", positions 100..119"``: which input positions a backward direction has read after
    ``t`` steps, as the window and an export's subtitle both say it; empty for a forward
    direction (where "20 of 120" already says it) and before the first step."""
    if not backward or not t:
        return ""
    lo, hi = positions(0, t, steps, backward)
    return f", positions {lo}..{hi - 1}"
