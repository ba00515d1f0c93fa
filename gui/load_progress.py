"""The dialog a load shows while it traces: how many positions are traced of how many, and
about how long is left (docs/architecture.md, "Long runs").

A long input (hundreds of thousands of steps) takes up to a minute to trace in memory; a bar
that only says "busy" leaves a person guessing whether to wait. The engine reports every few
thousand steps (``RunStore.runner(progress)``), ``gui.background`` carries it here."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QProgressBar, QProgressDialog, QWidget

LOADING = "Loading and tracing…"


def progress_text(done: int, total: int, rate: float | None) -> str:
    """'Tracing: 120,000 of 300,000 positions · about 20 s left' (``rate`` in positions per
    second; no estimate before one could be measured)."""
    text = f"Tracing: {done:,} of {total:,} positions"
    if rate and done < total:
        text += f" · about {max(1, round((total - done) / rate)):,} s left"
    return text


class LoadProgress(QProgressDialog):
    """Indeterminate until the first report, then a bar over the run's positions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(LOADING, "Cancel", 0, 0, parent)
        # the bar is updated directly: a modal dialog's setValue() runs the event loop, which
        # would deliver the load's result in the middle of this report
        self.bar = QProgressBar(self)
        self.setBar(self.bar)
        self.bar.setRange(0, 0)
        self._begun = time.monotonic()

    def begin(self) -> None:
        """A new load: back to "busy" until it reports."""
        self._begun = time.monotonic()
        self.bar.setRange(0, 0)
        self.setLabelText(LOADING)

    def report(self, done: int, total: int) -> None:
        """``done`` of ``total`` positions traced. The rate counts from the load's start (the
        reports arrive in bursts on the GUI thread, so the time between two is no measure;
        the time before tracing makes the estimate err long, never short)."""
        elapsed = time.monotonic() - self._begun
        rate = done / elapsed if done > 0 and elapsed > 0 else None
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(done, total))
        self.setLabelText(progress_text(done, total, rate))
