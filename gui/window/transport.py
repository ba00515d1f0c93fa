"""Moving the cursor: step, continue to a breakpoint, play, scrub, go to a position or a
unit, choose the layer."""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog

from gui.debug.debugger_model import describe_result


class Transport:
    """Part of ``MainWindow`` (gui.main_window), which builds what these methods use."""

    def run_continue(self, direction: int = 1) -> None:
        """F5 / Shift+F5: to the next breakpoint hit forward / backward (the end/start without)."""
        self.stop_play()
        if self.debugging.continue_run(direction, parent=self) is None and direction > 0:
            self.session_model.seek(self.session_model.steps)

    def toggle_play(self) -> None:
        if self.play_timer.isActive():
            self.stop_play()
        else:
            if self.session_model.t >= self.session_model.steps:
                self.session_model.seek(0)
            self.play_timer.start(max(1, int(1000 / self.speed.value())))
            self.act_play.setChecked(True)
            self.act_play.setText("Pause")

    def stop_play(self) -> None:
        self.play_timer.stop()
        self.act_play.setChecked(False)
        self.act_play.setText("Play")

    def _play_tick(self) -> None:
        if self.session_model.t >= self.session_model.steps:
            self.stop_play()
        else:
            self.session_model.step(1)

    def _speed_changed(self, value: int) -> None:
        self.settings.setValue("speed", value)
        if self.play_timer.isActive():
            self.play_timer.setInterval(max(1, int(1000 / value)))

    def _timeline_moved(self, value: int) -> None:
        if value != self.session_model.t:
            self.session_model.seek(value)

    def go_to_step_dialog(self) -> None:
        if not self.session_model.ready:
            return
        demo = self.session_model.demo
        default = demo.suggested_step if demo is not None else 0
        pos, ok = QInputDialog.getInt(self, "Go to step", "Input position (0-based):", default,
                                      0, max(self.session_model.steps - 1, 0))
        if ok:
            self.go_to_position(pos)

    def go_to_position(self, position: int) -> None:
        """Put the cursor on input position ``position`` (it has just been read)."""
        session = self.session_model.session
        if session is not None:
            self.session_model.seek(session.position_to_t(position))

    def go_to_unit_dialog(self) -> None:
        if not self.session_model.ready:
            return
        unit, ok = QInputDialog.getInt(self, "Go to unit", "Unit:", max(self.session_model.selected_unit, 0),
                                       0, self.session_model.units - 1)
        if ok:
            self.go_to_unit(unit)

    def go_to_unit(self, unit: int) -> str:
        """Scroll to and select ``unit``'s lane; a filter that hides it is cleared (the note
        shown is returned, "" when none was needed)."""
        panel = self.units_panel
        if panel.go_to_unit(unit):
            return ""
        old = panel.filter_text
        panel.filter_edit.setText("")
        panel.set_filter("")
        note = f"units filter '{old}' cleared to show unit {unit}"
        self.statusBar().showMessage(note, 6000)
        panel.go_to_unit(unit)
        return note

    def _on_stopped(self, result) -> None:
        """Say why the run stopped; on a hit, select and scroll to the lane that triggered it."""
        message = describe_result(self.debugging, result)
        first = next((rep.first for rep in self.debugging.reports if rep.first is not None), None)
        if result.hit and first is not None and result.position is not None \
                and 0 <= first.units[0] < self.session_model.units:
            unit = first.units[0]
            note = self.go_to_unit(unit)
            self.session_model.select(unit, result.position)
            message += f"   ({note})" if note else ""
        self.statusBar().showMessage(message, 10000)

    def _layer_chosen(self, index: int) -> None:
        if index >= 0 and self.session_model.ready and index != self.session_model.session.layer_index:
            self.session_model.set_layer(index)
