"""The time axis's rules (engine.runs.time_axis) against their definition: a processing-index span
reads exactly the input positions ``input_position`` names, and the rules are their own
inverse. Exhaustive over short runs, both directions."""

from __future__ import annotations

import pytest

from engine.runs.time_axis import cursor_after, input_position, last_position, positions, read_span_text


@pytest.mark.parametrize("backward", [False, True])
def test_positions_are_the_inputs_read_at_those_indices(backward):
    for steps in range(0, 7):
        for a in range(steps + 1):
            for b in range(a, steps + 1):
                lo, hi = positions(a, b, steps, backward)
                read = {input_position(p, steps, backward) for p in range(a, b)}
                assert set(range(lo, hi)) == read
                assert positions(lo, hi, steps, backward) == (a, b)


@pytest.mark.parametrize("backward", [False, True])
def test_last_position_is_read_by_the_last_index(backward):
    for steps in range(1, 7):
        assert last_position(steps, backward) == input_position(steps - 1, steps, backward)
        assert last_position(steps, backward) == (0 if backward else steps - 1)


def test_read_span_text_names_the_positions_a_backward_direction_read():
    assert read_span_text(20, 120, True) == ", positions 100..119"
    assert read_span_text(120, 120, True) == ", positions 0..119"
    assert read_span_text(0, 120, True) == ""
    assert read_span_text(20, 120, False) == ""


@pytest.mark.parametrize("backward", [False, True])
def test_the_cursor_after_t_steps_is_the_position_read_last(backward):
    for steps in range(1, 7):
        assert cursor_after(0, steps, backward) is None
        for t in range(1, steps + 1):
            lo, hi = positions(0, t, steps, backward)
            assert cursor_after(t, steps, backward) == (lo if backward else hi - 1)
        assert cursor_after(steps, steps, backward) == last_position(steps, backward)
