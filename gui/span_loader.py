"""A checkpointed run's next span, recomputed on a worker thread (docs/architecture.md,
"Long runs").

When the cursor nears the edge of the span the views draw, the window asks for the span
around it. Recomputing a span from its checkpoint takes from a fraction of a second to seconds,
so it runs here, off the GUI thread: meanwhile the cursor, read-outs and inspector answer from a
few steps recomputed from the run's kept states, and the views keep the span they have until
the new one arrives. Only the latest request is computed; an earlier one still running finishes
and is dropped.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal

from engine import Session
from engine.trace import LayerTrace

IDLE_SECONDS = 5.0          # the worker thread ends after this long without a request


class SpanLoader(QObject):
    """Computes ``Session.window(a, b)`` for the latest request on one worker thread and
    delivers it on the GUI thread as ``loaded(serial, a, b, trace)`` (an exception in place
    of the trace when the computation failed)."""

    loaded = Signal(int, int, int, object)
    _delivered = Signal(int, int, int, object)     # from the worker; queued to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._wanted: tuple[int, Session, int, int] | None = None
        self._thread: threading.Thread | None = None
        self._busy = False
        self.serial = 0
        self.pending: tuple[int, int] | None = None     # the span asked for, until it arrives
        self._delivered.connect(self._deliver, Qt.QueuedConnection)

    def request(self, session: Session, a: int, b: int) -> int:
        """Ask for positions a:b of ``session``; returns the request's serial number."""
        with self._cond:
            self.serial += 1
            self._wanted = (self.serial, session, a, b)
            self.pending = (a, b)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="span-loader",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
            return self.serial

    def forget(self) -> None:
        """Drop every request (another run): what is still computing is discarded."""
        with self._cond:
            self.serial += 1
            self._wanted = None
            self.pending = None

    def idle(self) -> bool:
        """Nothing asked for and nothing computing."""
        with self._cond:
            return self._wanted is None and not self._busy

    def _work(self) -> None:
        while True:
            with self._cond:
                if self._wanted is None and not self._cond.wait_for(
                        lambda: self._wanted is not None, IDLE_SECONDS):
                    return
                serial, session, a, b = self._wanted
                self._wanted = None
                self._busy = True
            try:
                result: LayerTrace | Exception = session.window(a, b)
            except Exception as exc:     # shown on the GUI thread, where the user sees it
                result = exc
            with self._cond:
                self._busy = False
            try:
                self._delivered.emit(serial, a, b, result)
            except RuntimeError:         # the window closed while this span was computing
                return

    def _deliver(self, serial: int, a: int, b: int, result: object) -> None:
        if serial != self.serial:        # a newer request, or another run, superseded it
            return
        self.pending = None
        self.loaded.emit(serial, a, b, result)
