"""LSTM Scope: a visual debugger for LSTM layers.

    python main.py                         open the window on the bundled demo
    python main.py MODEL [--input X]       open the window on a model
    python main.py trace|info|export|bench ...   headless commands (see --help)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

# One BLAS thread unless the user asks for more: the engine's products are small (one step's
# (B, H) x (H, 4N), x . W in blocks of 256 steps) and on a busy machine BLAS threads waiting
# for each other made them up to 20x slower (docs/architecture.md, "Long runs"). Set before any
# import of numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SUBCOMMANDS = ("trace", "info", "export", "bench", "grad")
# what `pip install -e .` brings; a run without them gets one line saying so, not a traceback
RUNTIME_MODULES = {"numpy", "h5py", "PySide6", "shiboken6", "pyqtgraph", "PIL", "threadpoolctl"}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error (usage is in --help)."""

    def error(self, message: str):
        from engine.errors import one_line
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _version() -> str:
    from engine import __version__
    return __version__


def add_model_arguments(parser: argparse.ArgumentParser, command: str, part: str) -> None:
    """``command``'s model-and-input options of ``part`` ("run": what one run is made of;
    "open": how the model file is opened), from the one table (engine.network.model_options) that the
    window's Open-with-options dialog reads too."""
    from engine.network.model_options import add_model_options
    add_model_options(parser, command, part)


def add_run_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """What one run is made of (model, input, layer, starting state) and how the model is
    opened: trace and grad alike."""
    parser.add_argument("model", help="model file (.keras .h5 .pt .safetensors .onnx) or demo[:NAME]")
    add_model_arguments(parser, command, "run")
    add_model_arguments(parser, command, "open")


def open_options(args: argparse.Namespace) -> dict:
    """``load_model``'s options from the parsed arguments."""
    from engine.network.model_options import load_options
    return load_options(args)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lstm-scope", description="Step an LSTM one timestep at a time and watch every unit.")
    parser.add_argument("--version", action="version", version=f"lstm-scope {_version()}")
    sub = parser.add_subparsers(dest="command")
    for add in (_add_trace, _add_grad, _add_info, _add_export, _add_bench):
        add(sub)
    return parser


def _add_trace(sub) -> None:
    """``trace``: one layer's arrays to an .npz."""
    trace = sub.add_parser("trace", help="write every traced array of one layer to an .npz")
    add_run_arguments(trace, "trace")
    trace.add_argument("--state-out", help="write every layer's final h, c to this .npz "
                                           "(the next segment's --initial-state)")
    trace.add_argument("--steps", metavar="A:B",
                       help="record only input positions A:B (end excluded) of the whole run; "
                            "h0 c0 are the state just before the first recorded step")
    trace.add_argument("--out", required=True, help="output .npz")


def _add_grad(sub) -> None:
    """``grad``: exact gradients of a target to an .npz."""
    grad = sub.add_parser(
        "grad", help="exact gradients of a target through the run, to an .npz",
        description="d TARGET / d (x, h_t, c_t, h0, c0) through the recorded run. TARGET indexes "
                    "like the trace arrays: h[b, t, j], c[b, t, j] (t an input position; "
                    "'last' is the final processed one), h[t, j] (summed over samples), "
                    "output[...] indexed like the framework's output, and sum() / sumsq() / "
                    "mean() of a selection, e.g. 'sumsq(output[:, last])'.")
    add_run_arguments(grad, "grad")
    grad.add_argument("--target", required=True, help="what to differentiate, e.g. 'h[last, 0]'")
    grad.add_argument("--out", required=True, help="output .npz")


def _add_info(sub) -> None:
    """``info``: layers, shapes and parameter counts."""
    info = sub.add_parser("info", help="layers, shapes and parameter counts")
    info.add_argument("model")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_model_arguments(info, "info", "run")
    add_model_arguments(info, "info", "open")


def _add_export(sub) -> None:
    """``export``: a view to a picture or its numbers, headless."""
    export = sub.add_parser(
        "export", help="render a view to PNG/SVG/GIF or its numbers to CSV/NPZ (no display needed)",
        description="Render a view with the window's own drawing code, headless. The suffix of "
                    "--out picks the format: .png .svg .gif (one frame per step of --steps) "
                    ".csv .npz (the numbers behind the view).")
    export.add_argument("model", help="model file or demo[:NAME]")
    add_model_arguments(export, "export", "run")
    export.add_argument("--sample", type=int, default=0, help="which sequence of the batch")
    export.add_argument("--step", type=int, default=None,
                        help="0-based input position the cursor has just read (default: the end)")
    from gui.export.views import VIEWS  # the one table of exportable views (no Qt)
    export.add_argument("--view", choices=tuple(VIEWS), default="units",
                        help="units panel, layer view heat-maps, cell inspector, gradients "
                             "(saliency and carousel), whole window, the unrolled picture, the text "
                             "coloured by units, both directions of a Bidirectional layer, or the "
                             "batch's samples side by side")
    export.add_argument("--target", help="gradient target of --view grad (default: unit --unit's "
                                         "h at the cursor), e.g. 'sumsq(output[:, last])'")
    export.add_argument("--unit", type=int, default=0, help="the cell inspector's unit (--view cell)")
    export.add_argument("--out", required=True, help="FILE.png .svg .gif .csv or .npz")
    export.add_argument("--width", type=int,
                        help="image width in pixels (default: twice the view's size; a .gif: once)")
    export.add_argument("--theme", choices=("light", "dark"), default="light",
                        help="print theme: light (white paper, the default) or dark")
    export.add_argument("--unit-range", help="units A:B to show (end excluded)")
    export.add_argument("--steps", help="input positions A:B (end excluded): one .gif frame "
                        "each, or the rows of a .csv/.npz")
    export.add_argument("--fps", type=float, default=8.0, help="frames per second of a .gif")
    # the choices are the traced layer's cell kind's (gui.export.cli checks them once loaded)
    export.add_argument("--signal", metavar="SIGNAL", default=None, help=_signal_help())
    export.add_argument("--links", type=int, default=2,
                        help="strongest links through U drawn per unit (--view unrolled)")
    export.add_argument("--wrong", action="store_true",
                        help="draw the two wrong pictures beside the unrolled view")
    export.add_argument("--units", help="the text view's rows: unit numbers, e.g. 3,7,12")
    export.add_argument("--feature",
                        help="the text view's rows: the units that best follow this feature, "
                             "e.g. \"in_quotes\" or \"depth('(', ')')\"")
    export.add_argument("--size", help="a slide frame the whole figure is fitted into: WxH "
                        "(e.g. 1920x1080) or hd (1920x1080), 4:3 (1600x1200), 4k (3840x2160); "
                        "lanes then default to C and h, thicker, with one line of badges")
    export.add_argument("--lanes", help="signals the units panel's lanes draw, e.g. c,h "
                        "(default f,i,o,c,h; c,h under --size)")
    export.add_argument("--no-badges", action="store_true", help="leave out the shape badges")
    export.add_argument("--compact-badges", action="store_true",
                        help="the shape badges as one short line (the default under --size)")
    export.add_argument("--title", help="a title above the picture")
    export.add_argument("--caption", help="a caption below the picture")
    add_model_arguments(export, "export", "open")


def _signal_help() -> str:
    """``--signal``'s help: each kind of cell's signals, from the kinds' own tables (the
    first of each is its default), so a new kind is listed without an edit here."""
    from engine.debugging.expr import CELL_KINDS
    from gui.signals import choosable
    kinds = "; ".join(f"{kind.written} {' '.join(choosable(kind))}" for kind in CELL_KINDS)
    return (f"the signal colouring a teaching view, one of the layer's cell's ({kinds}); "
            "default the first: an LSTM's c, a GRU's h")


def _add_bench(sub) -> None:
    """``bench``: speed figures."""
    bench = sub.add_parser("bench", help="speed figures; the last line is JSON")
    bench.add_argument("--units", type=int, default=256)
    bench.add_argument("--length", type=int, default=500,
                       help="sequence length of the window benchmark")
    bench.add_argument("--steps", type=int, dest="steps_alias",
                       help=argparse.SUPPRESS)   # deprecated alias of --length
    bench.add_argument("--only", metavar="NAME[,NAME]",
                       help="run just these figures: trace, grad, capture, gru, slstm, window, "
                            "long, startup, grid (default: trace,grad,capture, sized to answer in "
                            "a minute: see --full)")
    bench.add_argument("--full", action="store_true",
                       help="measure trace, grad and capture at full size (T=1000 points, "
                            "capture over 500 steps) instead of the default's 250 steps")
    bench.add_argument("--long", action="store_true", help=argparse.SUPPRESS)   # see --only long
    bench.add_argument("--skip-long", action="store_true", help=argparse.SUPPRESS)   # the default
    bench.add_argument("--engine-only", action="store_true", help=argparse.SUPPRESS)   # the default
    bench.add_argument("--long-budget", type=float, default=30.0,
                       help="seconds of first pass to measure per long run (default 30)")
    bench.add_argument("--repeat", type=int, default=3, help="calls per timing (best is kept)")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")


def build_gui_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lstm-scope", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lstm-scope {_version()}")
    parser.add_argument("model", nargs="?", default=None, help="model file or demo[:NAME]")
    parser.add_argument("--input", help="input sequence (.npy .npz .csv)")
    parser.add_argument("--key", help="array name inside an .npz input")
    parser.add_argument("--layer", help="traced layer name or index")
    return parser


def _window_bench():
    """The window benchmark module, imported only when it runs (it needs Qt)."""
    import gui.bench
    return gui.bench


def dispatch(argv: Sequence[str]) -> int:
    if argv and argv[0] in SUBCOMMANDS or argv[:1] in (["-h"], ["--help"]):
        args = build_parser().parse_args(argv)
        if args.command == "trace":
            from engine.cli.commands import run_trace
            return run_trace(args.model, args.input, args.out, layer=args.layer, key=args.key,
                             initial_state=args.initial_state, layer_input=args.layer_input,
                             state_out=args.state_out, err=sys.stderr, steps=args.steps,
                             options=open_options(args))
        if args.command == "grad":
            from engine.cli.grad_cli import run_grad
            return run_grad(args.model, args.input, args.out, target=args.target,
                            layer=args.layer, key=args.key, layer_input=args.layer_input,
                            initial_state=args.initial_state, err=sys.stderr,
                            options=open_options(args))
        if args.command == "info":
            from engine.cli.commands import run_info
            return run_info(args.model, as_json=args.json, out=sys.stdout, err=sys.stderr,
                            input_path=args.input, key=args.key, layer=args.layer,
                            layer_input=args.layer_input, options=open_options(args))
        if args.command == "export":
            from gui.export.cli import run_export
            return run_export(args)
        if args.command == "bench":
            from engine.bench import run_bench
            from engine.bench.report import parse_only
            length = args.length
            if args.steps_alias is not None:
                print("lstm-scope: warning: bench --steps is deprecated; use --length",
                      file=sys.stderr)
                length = args.steps_alias
            only = parse_only(args.only)
            if args.long and "long" not in only:
                only = (*only, "long")
            if args.skip_long:          # the old flags still narrow an explicit --only
                only = tuple(n for n in only if n != "long")
            if args.engine_only:
                only = tuple(n for n in only if n not in ("window", "startup"))
            return run_bench(units=args.units, steps=length, as_json=args.json, repeat=args.repeat,
                             only=only, window_figures=_window_bench,
                             long_budget=args.long_budget, full=args.full)
        build_parser().print_help()
        return 0
    args = build_gui_parser().parse_args(argv)
    from gui.app import run_app
    return run_app(args.model, input_path=args.input, key=args.key, layer=args.layer)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python main.py`` and the ``lstm-scope`` console script.

    Whatever goes wrong ends as one line on stderr and exit code 2: a ScopeError says what is
    wrong with the user's files; anything else is a bug, reported as one line asking for a
    report (``LSTM_SCOPE_TRACEBACK=1`` shows the traceback instead).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from engine.errors import ScopeError, one_line
        if argv and argv[0] in SUBCOMMANDS:
            from engine.system.quiet import quiet_frameworks
            quiet_frameworks()
        try:
            from engine.system.budget import memory_budget
            memory_budget()                  # a malformed LSTM_SCOPE_MEMORY_BUDGET: one line now
            return dispatch(argv)
        except ScopeError as exc:
            print(f"lstm-scope: error: {one_line(str(exc))}", file=sys.stderr)
            return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in RUNTIME_MODULES:
            return _unexpected(exc)
        print(f"lstm-scope: error: the package '{exc.name}' is not installed; install LSTM Scope "
              f"with its dependencies: pip install -e .", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lstm-scope: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("lstm-scope: error: out of memory (try a shorter input or fewer units)", file=sys.stderr)
        return 2
    except RecursionError:
        print("lstm-scope: error: the file is nested too deeply to read", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        return _unexpected(exc)


def _unexpected(exc: BaseException) -> int:
    """A bug in LSTM Scope: one line asking for a report (the traceback on request)."""
    import os
    if os.environ.get("LSTM_SCOPE_TRACEBACK"):
        raise exc
    text = "".join(c if c.isprintable() else " " for c in str(exc)).strip()[:200]
    print(f"lstm-scope: error: unexpected {type(exc).__name__}{': ' + text if text else ''} "
          f"(a bug in LSTM Scope; please report it with the command you ran, or rerun with "
          f"LSTM_SCOPE_TRACEBACK=1 to see where)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
