"""The View and Help menus' commands: the theme, the teaching docks, the help boxes."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from engine import __version__
from gui.help_texts import UNITS_EXPLAINED, about_html, shortcuts_html
from gui.teaching.docks import teaching_views, teaching_widget
from gui.theme import apply_theme, palette

OFFERED_WHERE_THEY_APPLY = ("directions", "samples")
"""Teaching views whose View-menu entry is greyed out for a run they cannot show."""


class ViewCommands:
    """Part of ``MainWindow`` (gui.main_window), which builds what these methods use."""

    def toggle_theme(self) -> None:
        self.theme = "dark" if self.act_dark.isChecked() else "light"
        self.settings.setValue("theme", self.theme)
        self.pal = palette(self.theme)
        apply_theme(self, self.theme)
        for view in self.themed_views():
            view.apply_palette(self.pal)
        # the debugger docks are never exported (not themed views): restyled for the screen only
        for panel in (self.forks_panel, self.watches_panel):
            panel.apply_palette(self.pal)

    def themed_views(self) -> list:
        """Every panel that draws with the palette (restyled by a theme switch or an export)."""
        return [self.units_panel, self.input_panel, self.layer_view, self.cell_inspector,
                self.grad_panel, self.compare_panel, *teaching_views(self)]

    def show_teaching(self, view: str, on: bool = True) -> None:
        """Show (making it on first use) or close a teaching dock."""
        if on:
            teaching_widget(self, view, show=True)
        else:
            dock = getattr(self, f"{view}_dock", None)
            if dock is not None:
                dock.hide()

    def bring_dock(self, attr: str) -> None:
        """A main dock's key: in front (shown, its tab raised) from behind another tab or
        closed; already in front, closed."""
        dock = getattr(self, attr)
        in_front = dock.isVisible() and not dock.visibleRegion().isEmpty()
        if in_front:
            dock.hide()
        else:
            dock.show()
            dock.raise_()
        self.act_docks[attr].setChecked(not dock.isHidden())

    def _offer_teaching_views(self) -> None:
        """Grey out the teaching views that cannot show this run, the tooltip saying why (the
        view registry's reason, as the Export dialog gives it): Both directions of a
        one-direction layer, Batch samples of a single sample."""
        from gui.export.views import VIEWS
        session = self.session_model.session
        for view in OFFERED_WHERE_THEY_APPLY:
            action, tip = self.act_teaching[view], self.teaching_tips[view]
            reason = None if session is None else VIEWS[view].applies(session)
            action.setEnabled(reason is None)
            action.setToolTip(tip if reason is None else f"{tip}. Not for this run: {reason}")
            action.setStatusTip(action.toolTip())

    def show_units_help(self) -> None:
        QMessageBox.information(self, "What does “units” mean?", UNITS_EXPLAINED)

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_html())

    def show_about(self) -> None:
        QMessageBox.about(self, "About LSTM Scope", about_html(__version__))
