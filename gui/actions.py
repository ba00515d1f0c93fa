"""Every window command declared once: its text, shortcuts and tooltip (see docs/architecture.md).

The window creates the ``QAction`` objects from these specs with ``make_action`` and wires
them to its slots, menus and toolbars in one place; Help → Keyboard shortcuts is written from
the same specs, so a shortcut can never be documented differently from what it does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ActionSpec:
    text: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""                 # tooltip; the shortcuts are appended to it
    status: str = ""              # status-bar text (default: the tip)
    checkable: bool = False
    icon_text: str = ""           # shorter text for a toolbar button
    help: str = ""                # the line in Help → Keyboard shortcuts (default: none)


OPEN_MODEL = ActionSpec("&Open model…", ("Ctrl+O",), "Open a model file", help="open model…")
OPEN_WITH_OPTIONS = ActionSpec("Open model with o&ptions…", ("Ctrl+Alt+O",),
                               "Open a model with a Keras config, another input length, or "
                               "trusting a TorchScript archive", help="open a model with options…")
OPEN_INPUT = ActionSpec("Open &input…", ("Ctrl+I",), "Open an input sequence", help="open input…")
OPEN_SESSION = ActionSpec("Open session…", ("Ctrl+Shift+O",), "Reopen a saved debugging session",
                          help="reopen a debugging session")
SAVE_SESSION = ActionSpec("Save session…", ("Ctrl+S",),
                          "Save model, input, position, breakpoints, watches, forks",
                          help="save a debugging session")
EXPORT = ActionSpec("Export current &view…", ("Ctrl+Shift+E",),
                    "Export the units panel, layer view, cell inspector or window as PNG, SVG, GIF, "
                    "CSV or NPZ", status="Export a view for slides or its numbers for analysis",
                    icon_text="Export…", help="export the current view (PNG, SVG, GIF, CSV, NPZ)…")
COPY_IMAGE = ActionSpec("&Copy view image", ("Ctrl+Shift+C",),
                        "Copy the view in focus as a print-theme picture",
                        help="copy the current view as a picture")
QUIT = ActionSpec("&Quit", ("Ctrl+Q",), "Quit LSTM Scope", help="quit")

STEP = ActionSpec("Step", ("F10", "Right"), "Read one more input position",
                  help="step: read one more input position")
BACK = ActionSpec("Step back", ("Shift+F10", "Left"), "Undo one step", help="step back")
CONTINUE = ActionSpec("Continue", ("F5",), "Run to the next breakpoint hit (the end when there is none)",
                      help="continue to the next breakpoint hit (the end when there is none)")
CONTINUE_BACK = ActionSpec("Continue backward", ("Shift+F5",), "Run backward to the previous breakpoint hit",
                           help="run backward to the previous breakpoint hit")
PLAY = ActionSpec("Play", ("Space",), "Play / pause at the chosen speed", checkable=True, help="play / pause")
START = ActionSpec("Start", ("Home",), "Jump to the start", help="jump to the start")
END = ActionSpec("End", ("End",), "Jump to the end", help="jump to the end")
EDIT_STATE = ActionSpec("Edit state…", ("Ctrl+E",), "Change h, c or x_t at this step: the run forks",
                        help="edit h, c or x at this step (the run forks)")

GO_TO_STEP = ActionSpec("Go to step…", ("Ctrl+G",), "Put the cursor on an input position", help="go to step…")
GO_TO_UNIT = ActionSpec("Go to unit…", ("Ctrl+U",), "Scroll to a unit's lane", help="go to unit…")
RESET_LAYOUT = ActionSpec("Reset layout", ("Ctrl+Shift+R",), "Put every dock back where it starts and fit the window "
                          "to this screen")
DARK_THEME = ActionSpec("Dark theme", ("Ctrl+Shift+D",), "Switch between light and dark", checkable=True)
# the teaching docks (gui.teaching), each made the first time it is shown
UNROLLED_VIEW = ActionSpec("&Unrolled view", ("Ctrl+Shift+U",), "Columns are steps, each holding all N cells, "
                           "linked through U: the textbook picture of this layer, right and wrong",
                           checkable=True)
TEXT_VIEW = ActionSpec("&Text view", ("Ctrl+Shift+T",), "The input text coloured by a unit's C, h or gate; find "
                       "the units that follow a feature of the text", checkable=True)
DIRECTIONS_VIEW = ActionSpec("Both &directions", (), "A Bidirectional layer's forward and backward "
                             "directions and the merged output, stepping together", checkable=True)
SAMPLES_VIEW = ActionSpec("Batch &samples", (), "Every sample of the batch side by side, with one "
                          "cursor", checkable=True)
MEMORY_VIEW = ActionSpec("&Matrix memory", (), "An mLSTM's matrix memory C at the cursor, one "
                         "heat-map per head, stepping live", checkable=True)
TEACHING = {"unrolled": UNROLLED_VIEW, "text": TEXT_VIEW, "directions": DIRECTIONS_VIEW,
            "samples": SAMPLES_VIEW, "memory": MEMORY_VIEW}

def _dock(title: str, key: str, tip: str) -> ActionSpec:
    """A main dock's View-menu entry: its key brings the dock to the front, from behind another
    tab or closed; pressed again with the dock in front, it closes the dock."""
    return ActionSpec(title, (key,), tip, checkable=True,
                      help=f"{title}: bring the dock to the front (again: close it)")


# the main docks, by the window's attribute
DOCKS = {
    "input_dock": _dock("Input and output", "Ctrl+1",
                        "The input, its saliency and the output on the run's time axis"),
    "layer_dock": _dock("Layer view", "Ctrl+2", "Heat-maps, statistics, kernels and what-ifs of the layer"),
    "cell_dock": _dock("Cell inspector", "Ctrl+3", "One cell at the cursor: its gates and what feeds them"),
    "grad_dock": _dock("Gradients", "Ctrl+4", "Why a unit remembers or forgets: exact gradients of the run"),
    "breakpoints_dock": _dock("Breakpoints", "Ctrl+5", "Conditions and events to stop at"),
    "watches_dock": _dock("Watches", "Ctrl+6", "Expressions followed step by step"),
    "forks_dock": _dock("Forks", "Ctrl+7", "Edited runs beside the original"),
    "input_editor_dock": _dock("Input", "Ctrl+8", "Make or open the input the model reads"),
    "compare_dock": _dock("Compare inputs", "Ctrl+9", "Two inputs through the same units"),
}

UNITS_HELP = ActionSpec("What does “units” mean?", ("F1",), "The one idea this tool is about",
                        help="what does “units” mean?")
SHOW_SHORTCUTS = ActionSpec("Keyboard shortcuts", (), "All shortcuts")
ABOUT = ActionSpec("About LSTM Scope", (), "Version and purpose")

# the order of Help → Keyboard shortcuts: transport first, then dialogs, docks, files, help
HELP_ORDER = (STEP, BACK, CONTINUE, CONTINUE_BACK, PLAY, START, END, GO_TO_STEP, GO_TO_UNIT, EDIT_STATE,
              *DOCKS.values(),
              OPEN_MODEL, OPEN_WITH_OPTIONS, OPEN_INPUT, SAVE_SESSION, OPEN_SESSION, EXPORT, COPY_IMAGE, UNITS_HELP, QUIT)


def make_action(parent: QWidget, spec: ActionSpec, slot: Callable[..., object]) -> QAction:
    """A QAction for ``spec``, triggered to ``slot``; shortcuts work wherever the focus is."""
    action = QAction(spec.text, parent)
    if spec.shortcuts:
        action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        action.setShortcutContext(Qt.ApplicationShortcut)
    if spec.tip:
        keys = ", ".join(spec.shortcuts)
        action.setToolTip(f"{spec.tip} ({keys})" if keys else spec.tip)
        action.setStatusTip(spec.status or spec.tip)
    if spec.icon_text:
        action.setIconText(spec.icon_text)
    action.setCheckable(spec.checkable)
    action.triggered.connect(slot)
    parent.addAction(action)       # its shortcuts are live while the window is shown
    return action


def shortcut_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every documented shortcut, in HELP_ORDER."""
    return [(" / ".join(spec.shortcuts), spec.help) for spec in HELP_ORDER if spec.shortcuts and spec.help]
