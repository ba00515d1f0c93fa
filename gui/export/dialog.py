"""File → Export: a dialog for what to export and how, and running the export.

The dialog only gathers choices (remembered between runs); ``WindowExporter.run`` does the
work through ``gui.export.figure``, with a cancellable progress dialog for animations. The
window owns the actions that open it (``gui.actions.EXPORT``, ``COPY_IMAGE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ScopeError
from gui.export.figure import (
    MARGIN,
    ExportCancelled,
    FigureOptions,
    default_width,
    export_view,
    figure_body_size,
    max_width,
)
from gui.export.views import VIEWS

FORMATS = {            # suffix: label shown in the dialog
    ".png": "PNG image", ".svg": "SVG vector image", ".gif": "GIF animation of stepping",
    ".csv": "CSV table of the numbers", ".npz": "NPZ arrays (trace names)",
}
THEME_LABELS = {"light": "Print: white paper", "dark": "Print: dark slides", "screen": "As on screen"}


@dataclass
class ExportRequest:
    view: str = "units"
    suffix: str = ".png"
    width: int | None = None          # None: twice the on-screen size (a GIF: once)
    options: FigureOptions | None = None
    first_step: int = 0
    last_step: int = 0                # inclusive in the dialog; a range end is last + 1

    def positions(self) -> range:
        return range(self.first_step, self.last_step + 1)


class ExportDialog(QDialog):
    """What to export: view, format, size, theme, words around the picture, animation range."""

    def __init__(self, window, view: str, settings: QSettings) -> None:
        super().__init__(window)
        self.window_, self.settings = window, settings
        self.setWindowTitle("Export view")
        self.copy_requested = False
        form = QFormLayout()
        self._add_what_rows(form, view)
        self._add_look_rows(form)
        form.addRow("Animation", self._animation_row(window.session_model.steps))
        self.note = QLabel()
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        buttons.addButton("Export…", QDialogButtonBox.AcceptRole)
        self.copy_button = buttons.addButton("Copy image", QDialogButtonBox.ActionRole)
        self.copy_button.setToolTip("Copy the picture to the clipboard (Ctrl+Shift+C)")
        self.copy_button.clicked.connect(self._copy)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SetMinimumSize)     # never smaller than its fields
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.view_combo.currentIndexChanged.connect(self._update)
        self.format_combo.currentIndexChanged.connect(self._update)
        self._default_width()
        self._update()

    def _add_what_rows(self, form: QFormLayout, view: str) -> None:
        """View, format and width: what is written."""
        self.view_combo = QComboBox()
        session = self.window_.session_model.session
        items = self.view_combo.model()
        for k, (key, spec) in enumerate(VIEWS.items()):
            self.view_combo.addItem(spec.title, key)
            reason = spec.applies(session) if session is not None else None
            if reason:             # listed, greyed out, saying why (never a page of excuses)
                items.item(k).setEnabled(False)
                self.view_combo.setItemData(k, f"Does not apply: {reason}", Qt.ToolTipRole)
        usable = [k for k in range(len(VIEWS)) if items.item(k).isEnabled()]
        wanted = list(VIEWS).index(view) if view in VIEWS else 0
        self.view_combo.setCurrentIndex(wanted if wanted in usable else (usable or [0])[0])
        self.view_combo.setToolTip("Which part of the window the picture or the numbers show")
        form.addRow("View", self.view_combo)
        self.format_combo = QComboBox()
        for suffix, label in FORMATS.items():
            self.format_combo.addItem(f"{label} ({suffix})", suffix)
        saved = str(self.settings.value("export/format", ".png"))
        self.format_combo.setCurrentIndex(list(FORMATS).index(saved) if saved in FORMATS else 0)
        form.addRow("Format", self.format_combo)
        self.width_spin = QSpinBox()
        self.width_spin.setRange(16, 20000)
        self.width_spin.setSuffix(" px")
        self.width_spin.setToolTip("Image width in pixels; the default is twice the view's size "
                                   "on screen, so lines and text stay crisp on a projector.")
        width_row = QHBoxLayout()
        width_row.addWidget(self.width_spin, 1)
        self.width_reset = QPushButton("2× screen")
        self.width_reset.setToolTip("Twice the view's size on screen")
        self.width_reset.clicked.connect(self._default_width)
        width_row.addWidget(self.width_reset)
        form.addRow("Width", width_row)

    def _add_look_rows(self, form: QFormLayout) -> None:
        """Theme, title, caption and what the picture includes (remembered between runs)."""
        settings = self.settings
        self.theme_combo = QComboBox()
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        theme = str(settings.value("export/theme", "light"))
        self.theme_combo.setCurrentIndex(list(THEME_LABELS).index(theme) if theme in THEME_LABELS else 0)
        self.theme_combo.setToolTip("Print themes use larger text and smoother lines; the gate "
                                    "colours stay the colour-blind-safe ones.")
        form.addRow("Theme", self.theme_combo)
        self.title_edit = QLineEdit(str(settings.value("export/title", "")))
        self.title_edit.setPlaceholderText("optional, e.g. 12 LSTM units reading a sine wave")
        form.addRow("Title", self.title_edit)
        self.caption_edit = QLineEdit()
        self.caption_edit.setPlaceholderText("optional, printed under the picture")
        form.addRow("Caption", self.caption_edit)
        extras = QHBoxLayout()
        self.legend_box = self._flag(extras, "gate legend", "export/legend",
                                     "The colour of each gate and state, named")
        self.badges_box = self._flag(extras, "shape badges", "export/badges",
                                     "units N, input, kernel, recurrent kernel, bias, output, params")
        self.explain_box = self._flag(extras, "explanation", "export/explain",
                                      "One or two sentences saying what the picture shows")
        self.selection_box = self._flag(extras, "selection", "export/selection",
                                        "The selected lane's highlight and step marker (left out "
                                        "unless ticked: they belong to the screen)", default=False)
        form.addRow("Include", extras)

    def _animation_row(self, steps: int) -> QWidget:
        """First and last input position of a GIF, and its frame rate."""
        self.first_spin, self.last_spin = QSpinBox(), QSpinBox()
        for spin in (self.first_spin, self.last_spin):
            spin.setRange(0, max(steps - 1, 0))
        self.first_spin.setValue(0)
        self.last_spin.setValue(max(steps - 1, 0))
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(0.5, 50)
        self.fps_spin.setValue(float(self.settings.value("export/fps", 8.0)))
        self.fps_spin.setSuffix(" frames/s")
        anim = QHBoxLayout()
        anim.setContentsMargins(0, 0, 0, 0)                 # in line with the row's label
        for spin in (self.first_spin, self.last_spin, self.fps_spin):
            spin.setMinimumWidth(spin.minimumSizeHint().width() + 12)   # digits never cut
            spin.setSizePolicy(QSizePolicy.MinimumExpanding, QSizePolicy.Fixed)
        for widget in (QLabel("steps"), self.first_spin, QLabel("to"), self.last_spin, self.fps_spin):
            anim.addWidget(widget)
        self.anim_row = QWidget()
        self.anim_row.setLayout(anim)
        self.anim_row.setToolTip("One frame per input position, both ends included")
        return self.anim_row

    def _flag(self, row: QHBoxLayout, text: str, key: str, tip: str, default: bool = True) -> QCheckBox:
        box = QCheckBox(text)
        box.setChecked(str(self.settings.value(key, str(default).lower())).lower() == "true")
        box.setToolTip(tip)
        row.addWidget(box)
        return box

    def _default_width(self) -> None:
        view = self.view_combo.currentData()
        width = default_width(self.window_, view)
        body = figure_body_size(self.window_, view)       # a view never shown: a slide's shape
        body = body if body.width() >= 200 else QSize(1280, 720)
        widest = max_width(QSize(body.width() + 2 * MARGIN, body.height() + 4 * MARGIN))
        if self.format_combo.currentData() == ".gif":
            width //= 2
        self.width_spin.setMaximum(max(16, widest))    # only what can be drawn
        self.width_spin.setValue(min(width, widest))

    def _update(self) -> None:
        suffix = self.format_combo.currentData()
        image = suffix in (".png", ".svg", ".gif")
        self.width_spin.setEnabled(suffix in (".png", ".gif"))
        self.width_reset.setEnabled(suffix in (".png", ".gif"))
        for widget in (self.theme_combo, self.title_edit, self.caption_edit, self.legend_box,
                       self.badges_box, self.explain_box, self.selection_box):
            widget.setEnabled(image)
        self.anim_row.setEnabled(suffix == ".gif")
        self._default_width()
        self.note.setText({
            ".svg": "True vectors: curves stay sharp at any size (heat-maps are embedded images).",
            ".gif": "The cursor steps through the range; it returns where it was afterwards.",
            ".csv": "One row per step and unit with a header row (the cell view: one row per number).",
            ".npz": "The trace's arrays (i f g o c h zx zh zb h0 c0 mask x) for this sample and "
                    "these units, plus units, read and meta.",
        }.get(suffix, "Lines and text are drawn again at this width, not scaled up."))

    def _copy(self) -> None:
        self.copy_requested = True
        self.accept()

    def request(self) -> ExportRequest:
        self._remember()
        return ExportRequest(
            view=self.view_combo.currentData(), suffix=self.format_combo.currentData(),
            width=self.width_spin.value() if self.width_spin.isEnabled() else None,
            options=FigureOptions(theme=self.theme_combo.currentData(),
                                  title=self.title_edit.text().strip(),
                                  caption=self.caption_edit.text().strip(),
                                  legend=self.legend_box.isChecked(),
                                  badges=self.badges_box.isChecked(),
                                  explain=self.explain_box.isChecked(),
                                  selection=self.selection_box.isChecked(),
                                  fps=self.fps_spin.value()),
            first_step=self.first_spin.value(), last_step=self.last_spin.value())

    def _remember(self) -> None:
        s = self.settings
        s.setValue("export/format", self.format_combo.currentData())
        s.setValue("export/theme", self.theme_combo.currentData())
        s.setValue("export/title", self.title_edit.text().strip())
        s.setValue("export/fps", self.fps_spin.value())
        for key, box in (("legend", self.legend_box), ("badges", self.badges_box),
                         ("explain", self.explain_box), ("selection", self.selection_box)):
            s.setValue(f"export/{key}", "true" if box.isChecked() else "false")


class WindowExporter:
    """The window's export actions: dialog, file name, progress, errors, status message."""

    def __init__(self, window) -> None:
        self.window = window
        self.settings: QSettings = window.settings
        self.last: dict | None = None         # what the last export wrote (for the status bar)
        window.session_model.modelChanged.connect(self.forget_words)

    def forget_words(self) -> None:
        """Another model opened: a remembered title described the last one."""
        self.settings.remove("export/title")

    def current_view(self) -> str:
        """The view the user is looking at: the dock holding the keyboard focus, else units."""
        focus = QApplication.focusWidget()
        for name, spec in VIEWS.items():
            dock = getattr(self.window, spec.dock, None) if spec.dock else None   # teaching: once made
            if dock is not None and focus is not None and dock.isAncestorOf(focus):
                return name
        return "units"

    def open_dialog(self) -> None:
        if not self.window.session_model.ready:
            self.window.report_error("Export", "Open a model first: there is nothing to export yet.")
            return
        dialog = ExportDialog(self.window, self.current_view(), self.settings)
        if dialog.exec() != QDialog.Accepted:
            return
        request = dialog.request()
        if dialog.copy_requested:
            self.copy(request.view, request.options, request.width if request.suffix == ".png" else None)
            return
        path = self.ask_path(request)
        if path:
            self.run(request, path)

    def ask_path(self, request: ExportRequest) -> str | None:
        folder = Path(str(self.settings.value("export/dir", str(Path.home()))))
        model = self.window.session_model
        stem = Path(model.source.replace(":", "-")).stem or "lstm"
        where = f"t{model.session.cursor}" if model.session.cursor is not None else "t0"
        name = f"{stem}-{request.view}-{where}{request.suffix}"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export view", str(folder / name),
                                              f"{FORMATS[request.suffix]} (*{request.suffix})")
        if not path:
            return None
        if not path.lower().endswith(request.suffix):
            path += request.suffix
        self.settings.setValue("export/dir", str(Path(path).parent))
        return path

    def run(self, request: ExportRequest, path: str) -> dict | None:
        """Write the export; errors go to the window's error report, never a crash."""
        window = self.window
        progress = None
        if request.suffix == ".gif":
            positions = request.positions()
            progress = QProgressDialog("Drawing frames…", "Cancel", 0, len(positions), window)
            progress.setWindowModality(Qt.WindowModal)
            progress.setMinimumDuration(300)

        def report(done: int, total: int) -> bool:
            progress.setValue(done)
            return not progress.wasCanceled()
        window.stop_play()
        try:
            result = self._attempt("Export failed", lambda: export_view(
                window, request.view, path, options=request.options, width=request.width,
                positions=request.positions() if request.suffix == ".gif" else None,
                progress=report if progress is not None else None), path)
        finally:
            if progress is not None:
                progress.reset()
        if result is None:
            return None
        self.last = result
        detail = (f"{result['frames']} frames" if "frames" in result else
                  f"{result['width']}×{result['height']} px" if "width" in result else "data")
        window.statusBar().showMessage(f"Exported {VIEWS[request.view].title.lower()} to {path} "
                                       f"({detail})", 10000)
        return result

    def copy(self, view: str | None = None, options: FigureOptions | None = None,
             width: int | None = None) -> bool:
        """Copy a view's picture (print theme by default) to the clipboard."""
        from gui.export.figure import Figure
        window = self.window
        if not window.session_model.ready:
            window.report_error("Copy image", "Open a model first: there is nothing to copy yet.")
            return False
        view = view or self.current_view()
        def copy_image():
            with Figure(window, view, options or self.saved_options()) as fig:
                return fig.copy_to_clipboard(width)
        image = self._attempt("Copy image", copy_image)
        if image is None:
            return False
        window.statusBar().showMessage(f"Copied the {VIEWS[view].title.lower()} "
                                       f"({image.width()}×{image.height()} px) to the clipboard", 6000)
        return True

    def _attempt(self, title: str, action: Callable[[], Any], where: str = "") -> Any | None:
        """Run an export; a failure is reported in the window (the session is never lost)."""
        try:
            return action()
        except ExportCancelled:
            self.window.statusBar().showMessage("Export cancelled: nothing was written", 6000)
        except ScopeError as exc:
            self.window.report_error(title, str(exc))
        except OSError as exc:        # the disk, not a bug: say where (bugs reach the app's excepthook)
            self.window.report_error(title, f"{where + ': ' if where else ''}{exc}")
        return None

    def saved_options(self) -> FigureOptions:
        s = self.settings

        def flag(key: str, default: str = "true") -> bool:
            return str(s.value(f"export/{key}", default)).lower() == "true"
        theme = str(s.value("export/theme", "light"))
        return FigureOptions(theme=theme if theme in THEME_LABELS else "light",
                             title=str(s.value("export/title", "")), legend=flag("legend"),
                             badges=flag("badges"), explain=flag("explain"),
                             selection=flag("selection", "false"))
