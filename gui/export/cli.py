"""``python main.py export``: a view to PNG/SVG/GIF, or its numbers to CSV/NPZ, with no display.

Pictures are drawn by the window's own view classes (a MainWindow on Qt's offscreen platform,
laid out so the chosen view gets a slide-sized area), through the same ``gui.export`` code as
File → Export. Data files need no Qt at all: they come from ``engine.output.export``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from engine import Session, load_model
from engine.cells.cell_kind import CellKind
from engine.cli.commands import (
    check_checkpointable,
    fits_memory,
    input_roles,
    model_roles,
    parse_slice,
    print_warnings,
    resolve_input,
    run_notes,
    run_states,
)
from engine.errors import InitialStateError, InputFileError, ScopeError, describe
from engine.network.model_options import load_options
from engine.output.export import DATA_SUFFIXES, ViewContext
from engine.runs.checkpoints import bytes_per_step
from engine.runs.trace import LayerTrace
from engine.system.budget import check_bytes, format_bytes, memory_budget
from engine.system.files import check_output
from gui.export.views import ExportableView, refuse_unless_applies
from gui.signals import choosable

IMAGE_SUFFIXES = (".png", ".svg", ".gif")
SIZE_PRESETS = {"hd": (1920, 1080), "4:3": (1600, 1200), "4k": (3840, 2160)}
SLIDE_LINES = 1.8               # under --size: lanes this many times thicker than in print
SLIDE_LANES_AT_MOST = 32        # a slide or a units figure, no --unit-range: a window of this many lanes


def run_export(args: argparse.Namespace) -> int:
    """Check every argument before loading anything, then write one file."""
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + DATA_SUFFIXES:
        raise ScopeError(f"{out}: choose an output ending in .png, .svg, .gif, .csv or .npz")
    inputs = input_roles(args.model, args.input, getattr(args, "initial_state", None),
                         getattr(args, "config", None))
    check_output(out, inputs=inputs)
    if args.steps is not None and suffix not in (".gif",) + DATA_SUFFIXES:
        raise ScopeError("--steps A:B is for a .gif animation or a .csv/.npz of a range of "
                         "steps; use --step K for one picture")
    if not (math.isfinite(args.fps) and 0.1 <= args.fps <= 100):
        raise ScopeError(f"--fps {args.fps}: choose 0.1 to 100 frames per second")
    if args.width is not None and args.width < 16:     # the widest is the view's (figure.max_width)
        raise ScopeError(f"--width {args.width}: choose at least 16 pixels")
    _frame(args)
    _lane_names(args)
    session, source, input_source = open_session(args)
    _signal(args, session.cell_kind)
    _lanes(args, session.cell_kind)
    inputs = model_roles(session.model, inputs)
    check_output(out, inputs=inputs)
    spec = refuse_unless_applies(args.view, session)
    unit_range = _unit_range(args.unit_range, session.units)
    if spec.per_unit and not 0 <= args.unit < session.units:
        raise ScopeError(f"--unit {args.unit}: the layer has units 0..{session.units - 1}")
    if not 0 <= args.sample < session.batch:
        raise ScopeError(f"--sample {args.sample}: the input has samples 0..{session.batch - 1}")
    positions = _positions(args.steps, session.steps) if args.steps or suffix == ".gif" else None
    session.seek(_cursor_t(session, args.step))
    target = spec.command_target(args, session)
    if suffix in DATA_SUFFIXES:
        ctx = ViewContext(view=args.view, model=source, layer=session.info.name,
                          direction=session.info.direction, sample=args.sample, t=session.t,
                          steps=session.steps, cursor=session.cursor,
                          units=[int(u) for u in unit_range], unit=args.unit,
                          position=session.cursor if spec.per_step else None,
                          input=input_source, version=_version(), target=target)
        spec.write_data(out, session, ctx, lambda: _data_range(session, positions), inputs=inputs)
        print(f"wrote {out} ({args.view} view data)")
        return 0
    result = _render(args, spec, session, source, input_source, unit_range, positions)
    size = (f"{result['frames']} frames" if "frames" in result
            else f"{result['width']}×{result['height']} px")
    print(f"wrote {out} ({args.view} view, {size})")
    return 0


def _frame(args: argparse.Namespace) -> tuple[int, int] | None:
    """``--size``: a preset name or WxH, in pixels (not with --width)."""
    text = getattr(args, "size", None)
    if not text:
        return None
    if args.width is not None:
        raise ScopeError("--size fits the figure to a frame; leave out --width")
    preset = SIZE_PRESETS.get(text.lower())
    if preset is not None:
        return preset
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ScopeError(f"--size {text}: WxH in pixels (e.g. 1920x1080) or one of "
                         f"{', '.join(SIZE_PRESETS)}") from None
    if not (16 <= w <= 20000 and 16 <= h <= 20000):
        raise ScopeError(f"--size {text}: choose 16 to 20000 pixels a side")
    return w, h


def _lane_names(args: argparse.Namespace) -> tuple[str, ...]:
    """``--lanes c,h`` as names, checked for form before anything is loaded."""
    text = getattr(args, "lanes", None) or ""
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    if text and not names:
        raise ScopeError(f"--lanes {text}: signals separated by commas")
    return names


def _lanes(args: argparse.Namespace, kind: CellKind) -> tuple[str, ...] | None:
    """``--lanes c,h``: the signals the lanes draw, from those of the traced layer's cell kind
    (under --size, its states by default: the LSTM's C and h, the two a slide can carry)."""
    names = _lane_names(args)
    if not names:
        return kind.states if getattr(args, "size", None) else None
    if any(n not in kind.display_order for n in names):
        raise ScopeError(f"--lanes {args.lanes}: signals separated by commas, from "
                         f"{','.join(kind.display_order)}")
    return names


def _signal(args: argparse.Namespace, kind: CellKind) -> None:
    """``--signal``: one of the cell kind's states or gates (default its first state, the
    LSTM's C), what a teaching view colours by."""
    choices = choosable(kind)
    if getattr(args, "signal", "") is None:
        args.signal = choices[0]
    if getattr(args, "signal", None) is not None and args.signal not in choices:
        raise ScopeError(f"--signal {args.signal}: this layer's cell ({kind.name}) has "
                         f"{', '.join(choices)}")


def _data_range(session: Session, positions: range | None) -> LayerTrace:
    """The run (or --steps A:B of it) a data export writes; a checkpointed run is written a
    range at a time, recomputed from its nearest checkpoint."""
    if positions is None:
        if session.holds_whole_run:
            return session.full()
        fits = max(1, memory_budget() // (2 * bytes_per_step(session.batch, session.info.weights)))
        raise ScopeError(f"the run's {session.steps:,} steps do not fit in memory at once: "
                         f"export a range with --steps A:B (at most about {fits:,} steps)")
    a, b = positions.start, positions.stop
    check_bytes(2 * bytes_per_step(session.batch, session.info.weights) * (b - a),
                f"exporting steps {a}:{b}", hint="export a shorter range with --steps A:B")
    return session.window(a, b)


def open_session(args: argparse.Namespace) -> tuple[Session, str, str]:
    model = load_model(args.model, **load_options(args))
    print_warnings(model.warnings, sys.stderr)
    seen = len(model.warnings)
    x = resolve_input(model, args.input, args.key)
    layer_input = bool(getattr(args, "layer_input", False))
    initial_state = getattr(args, "initial_state", None)
    try:
        index = (model.layer_index(args.layer) if args.layer is not None or layer_input
                 else model.default_layer(x))
        states = run_states(model, index, initial_state, layer_input)
        whole = (fits_memory(model, x, index, True) if layer_input
                 else check_checkpointable(model, x, index))
        # the budget as this command reads it (an in-process run after the engine's import,
        # as a test's, otherwise kept the one read at import: never checkpointed)
        session = Session(model, x, layer=index, initial_state=states, layer_input=layer_input,
                          checkpoint_above=memory_budget())
        print_warnings(run_notes(model, x, layer_input, seen=seen), sys.stderr)
    except InitialStateError as exc:     # a state that does not fit: the state file's fault
        if initial_state is None or describe(initial_state) in str(exc):
            raise
        raise InitialStateError(f"{describe(initial_state)}: {exc}") from None
    except InputFileError as exc:
        if args.input is None or str(args.input) in str(exc):
            raise
        raise InputFileError(f"{args.input}: {exc}") from None
    if session.checkpointed:
        print(f"note: the run's {session.steps:,} steps do not fit the memory budget "
              f"({format_bytes(memory_budget())}): it is checkpointed, and each view is drawn "
              f"from the steps around the one shown", file=sys.stderr)
    with np.errstate(all="ignore"):
        if session.holds_whole_run:
            session.full()
        if whole:
            session.result()
    return session, args.model, args.input or "(default input)"


def _unit_range(text: str | None, units: int) -> np.ndarray:
    if not text:
        return np.arange(units)
    picked = np.arange(units)[parse_slice(text)]
    if picked.size == 0:
        raise ScopeError(f"--unit-range {text}: selects no unit (the layer has units 0..{units - 1})")
    return picked


def _positions(text: str | None, steps: int) -> range:
    if text is None:
        return range(steps)
    sl = parse_slice(text)
    start = 0 if sl.start is None else sl.start
    stop = steps if sl.stop is None else sl.stop
    if not 0 <= start < stop <= steps:
        raise ScopeError(f"--steps {text}: choose A:B with 0 <= A < B <= {steps} (end excluded)")
    return range(start, stop)


def _cursor_t(session: Session, step: int | None) -> int:
    """``--step K``: input position K has just been read; without it, the whole run is read."""
    if step is None:
        return session.steps
    if not 0 <= step < session.steps:
        raise ScopeError(f"--step {step}: the input has positions 0..{session.steps - 1}")
    return session.position_to_t(step)


def _version() -> str:
    from engine import __version__
    return __version__


# --- pictures ---------------------------------------------------------------------------------
def _render(args, spec: ExportableView, session: Session, source: str, input_source: str,
            unit_range: np.ndarray, positions: range | None) -> dict:
    if os.environ.get("QT_QPA_PLATFORM") in (None, "") and "PySide6.QtWidgets" not in sys.modules:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"      # headless: never flash a window
    from PySide6.QtCore import QSettings

    from gui.app import make_app
    from gui.export.figure import FigureOptions, export_view, print_before_drawn
    from gui.main_window import MainWindow
    app = make_app()
    quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory() as tmp:        # never touch the user's saved layout
        settings = QSettings(str(Path(tmp) / "export.ini"), QSettings.IniFormat)
        errors: list[str] = []
        window = MainWindow(settings=settings, report_error=lambda title, msg: errors.append(msg))
        try:
            window.show_session(session, source=source, input_source=input_source)
            window.session_model.set_sample(args.sample)
            frame = _frame(args)
            if ((frame is not None or spec.name == "units") and not args.unit_range
                    and len(unit_range) > SLIDE_LANES_AT_MOST):
                unit_range = unit_range[:SLIDE_LANES_AT_MOST]     # a landscape figure: a labelled window
            if len(unit_range) != session.units:
                window.units_panel.set_filter(f"{unit_range[0]}:{unit_range[-1] + 1}")
            # the logical size the output scales from (under --size, the frame's shape)
            spec.lay_out(window, len(unit_range), frame)
            options = FigureOptions(theme=args.theme, title=args.title or "",
                                    caption=args.caption or "", fps=args.fps,
                                    badges=not getattr(args, "no_badges", False),
                                    compact_badges=bool(getattr(args, "compact_badges", False)
                                                        or frame is not None),
                                    frame=frame, line_scale=SLIDE_LINES if frame else 1.0)
            print_before_drawn(window, args.view, options)
            window.show()
            app.processEvents()
            if frame is not None:
                spec.fit_to_frame(window, frame)
            spec.set_up(window, args)
            kind = session.cell_kind
            lanes = _lanes(args, kind)
            if lanes is not None:
                for name in kind.display_order:
                    window.units_panel.set_signal_visible(name, name in lanes)
            result = export_view(window, args.view, args.out, options=options, width=args.width,
                                 positions=positions, restore=False)     # closed right after
            if errors:
                raise ScopeError(errors[0])
            return result
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()


def quiet_offscreen_warnings() -> None:
    """The offscreen platform warns about window features it lacks (raise, size hints) on every
    layout; they say nothing about the export, so keep stderr for real problems."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if "This plugin does not support" not in message:
            sys.stderr.write(message + "\n")
    qInstallMessageHandler(handler)
