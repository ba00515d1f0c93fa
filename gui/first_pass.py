"""A checkpointed run's first pass, behind the window (docs/architecture.md, "Long runs").

The first window of a long run is shown as soon as its chunk is computed; the checkpoints and
the overview fill in on a worker thread (``Session.first_pass``, which takes the run's lock one
chunk at a time, so the views' window reads interleave with it). The status bar shows a
progress bar with a Cancel button; cancelling stops at the next chunk and leaves a run that
still answers every window (later checkpoints are computed when first needed).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from engine import Session
from gui.background import Background


def _first_pass(session: Session, ticket) -> bool:
    """The run's checkpoints and overview (a worker thread); True when complete."""
    try:
        return bool(session.first_pass(ticket.progress, ticket.stopped))
    except Exception:               # a numeric failure leaves the run readable by window
        return False


class FirstPass(QWidget):
    """Status-bar widget: runs and shows one session's first pass; ``start`` replaces any
    earlier one (cancelled), ``cancel`` stops it."""

    changed = Signal(bool)                # a pass ended (True: complete)
    progressed = Signal()                 # more of the overview is known (at most once a second)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("first pass")
        self.label.setToolTip("A long run keeps checkpoints instead of every number: the first "
                              "pass computes them and the overview; any window is ready before")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.label, self.bar, self.cancel_button):
            lay.addWidget(w)
        self.jobs = Background(self, name="first pass")
        self.jobs.progressed.connect(self._progress)
        self.jobs.delivered.connect(lambda delivery: self._finished(bool(delivery.result)))
        self.session: Session | None = None
        self.complete = False
        self._last_note = 0.0
        self.hide()

    @property
    def running(self) -> bool:
        return self.jobs.running

    def start(self, session: Session) -> None:
        self.jobs.cancel()              # another run: the last one's pass ends unannounced
        self.wait()
        self.session, self.complete = session, False
        if session.holds_whole_run:     # computed whole by the loader: nothing to fill in
            self.hide()
            return
        self.bar.setRange(0, max(session.steps, 1))
        self.bar.setValue(0)
        self.label.setText(f"first pass of {session.steps:,} steps")
        self.cancel_button.setEnabled(True)
        self.show()
        self.jobs.request(lambda ticket: _first_pass(session, ticket), tag=session)

    def _progress(self, done: int, total: int) -> None:
        self.bar.setValue(done)
        now = time.monotonic()
        if now - self._last_note >= 1.0:
            self._last_note = now
            self.progressed.emit()

    def _finished(self, complete: bool) -> None:
        self.complete = complete
        self.progressed.emit()
        if complete:
            self.hide()
        else:
            self.label.setText("first pass cancelled (windows are computed when shown)")
            self.cancel_button.setEnabled(False)
        self.changed.emit(complete)

    def cancel(self) -> None:
        """Stop at the next chunk; the run answers every window (later chunks when shown)."""
        if self.jobs.running:
            self.jobs.cancel()          # its result is dropped: say so now
            self._finished(False)

    def wait(self, ms: int = 60000) -> None:
        self.jobs.wait(ms)
