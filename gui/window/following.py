"""What the window shows of the run it observes: the layer and sample choosers, the
timeline, the status line, warnings, a fork's overlay, the cell dock."""

from __future__ import annotations

from engine.errors import ScopeError
from gui.positions import position_text, position_text_widest


class Following:
    """Part of ``MainWindow`` (gui.main_window), which builds what these methods use."""

    def _bring_cell_to_front(self, unit: int, position: int) -> None:
        """Clicking a lane shows that cell in the inspector (a tab beside the debugger docks)."""
        if unit < 0:
            return
        if not self.cell_dock.isVisible() and not self.cell_dock.isFloating():
            self.cell_dock.show()
        self.cell_dock.raise_()
        self.cell_inspector.catch_up()    # its bars, which wait behind the tab, drawn at once

    def _update_warnings(self) -> None:
        """The badge lists every loader and capture warning of the run shown."""
        session = self.session_model.session
        try:
            notes = session.warnings if session is not None else []
        except ScopeError as exc:             # the capture itself failed: that is the warning
            notes = [str(exc)]
        self.warnings_badge.set_warnings(notes)

    def _on_run_changed(self) -> None:
        session = self.session_model.session
        if session is None:
            return
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        for info in self.session_model.model.traced_layers:
            self.layer_combo.addItem(f"{info.name} ({info.direction}, {info.units} units)")
        self.layer_combo.setCurrentIndex(session.layer_index)
        self.layer_combo.blockSignals(False)
        self.sample_spin.blockSignals(True)
        self.sample_spin.setRange(0, session.batch - 1)
        self.sample_spin.setValue(self.session_model.sample)
        self.sample_spin.blockSignals(False)
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, session.steps)
        self.timeline.blockSignals(False)
        title = self.session_model.source
        demo = self.session_model.demo
        if demo is not None:
            title = f"{self.session_model.source} — {demo.title}"
        self.setWindowTitle(f"LSTM Scope — {title}")
        self._offer_teaching_views()
        self._on_position(session.t)

    def _on_position(self, t: int) -> None:
        session = self.session_model.session
        if session is None:
            return
        self.timeline.blockSignals(True)
        self.timeline.setValue(t)
        self.timeline.blockSignals(False)
        where = position_text(session)
        self.t_label.setText(f" {where} ")
        widest = position_text_widest(session)
        self.t_label.setMinimumWidth(self.t_label.fontMetrics().horizontalAdvance(f" {widest} ") + 4)
        info = session.info
        self.status_label.setText(
            f"{where}   ·   layer {info.name} ({info.direction})   ·   "
            f"sample {self.session_model.sample}   ·   {self.session_model.source}")

    def _overlay_changed(self, name: str) -> None:
        """Show the chosen fork's C and h over the original lanes (the engine computes them)."""
        debugger = self.debugging.debugger
        forks = debugger.forks.forks if debugger is not None else {}
        if not name or name not in forks:
            self.units_panel.set_overlay(None)
            return
        fork = forks[name]
        states = self.session_model.cell_kind.states          # the fork's run's kind
        self.units_panel.set_overlay({sig: fork.signal(sig) for sig in states}, name)
        self.statusBar().showMessage(f"dashed: fork '{name}' over the original run", 6000)
