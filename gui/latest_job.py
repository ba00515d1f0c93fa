"""Work the window must not wait for, computed on a worker thread: only the latest request
counts (docs/architecture.md, "Long runs").

A checkpointed run's next span around the cursor (recomputed from its checkpoint) and the
gradient views of a long run (a backward pass over the whole run) take from a fraction of a
second to seconds. ``LatestJob`` runs them off the GUI thread: the caller keeps showing what it
has, and the result arrives as a signal on the GUI thread. A request supersedes any earlier
one; an earlier one still running finishes and is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal

IDLE_SECONDS = 5.0          # the worker thread ends after this long without a request


class LatestJob(QObject):
    """Runs the latest requested function on one worker thread and delivers its result on the
    GUI thread as ``loaded(serial, tag, result)`` (the exception in place of a result when the
    function raised). ``pending`` is the tag of the request not delivered yet, else None."""

    loaded = Signal(int, object, object)
    _delivered = Signal(int, object, object)       # from the worker; queued to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._wanted: tuple[int, object, Callable[[], object]] | None = None
        self._thread: threading.Thread | None = None
        self._busy = False
        self.serial = 0
        self.pending: object | None = None
        self._delivered.connect(self._deliver, Qt.QueuedConnection)

    def request(self, work: Callable[[], object], tag: object = None) -> int:
        """Run ``work()`` on the worker thread (after the one running, if any); returns the
        request's serial number. ``tag`` says what it is (``pending`` until delivered). Long
        work may poll ``stale(serial)`` and stop early once a newer request has come."""
        with self._cond:
            self.serial += 1
            self._wanted = (self.serial, tag, work)
            self.pending = tag
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="latest-job", daemon=True)
                self._thread.start()
            self._cond.notify()
            return self.serial

    def forget(self) -> None:
        """Drop every request (another run): what is still computing is discarded."""
        with self._cond:
            self.serial += 1
            self._wanted = None
            self.pending = None

    def stale(self, serial: int) -> bool:
        """A newer request (or ``forget``) has superseded request ``serial``."""
        return serial != self.serial

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
                serial, tag, work = self._wanted
                self._wanted = None
                self._busy = True
            try:
                result = work()
            except Exception as exc:     # shown on the GUI thread, where the user sees it
                result = exc
            with self._cond:
                self._busy = False
            try:
                self._delivered.emit(serial, tag, result)
            except RuntimeError:         # the window closed while this was computing
                return

    def _deliver(self, serial: int, tag: object, result: object) -> None:
        if serial != self.serial:        # a newer request, or another run, superseded it
            return
        self.pending = None
        self.loaded.emit(serial, tag, result)
