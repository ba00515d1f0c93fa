"""Work the window must not wait for, on worker threads: the one way the GUI works off its
thread (docs/architecture.md, "Long runs").

Loading and tracing a model, a checkpointed run's first pass, the next span around the cursor,
a long run's gradient views and a long run's breakpoint hits all take from a fraction of a
second to a minute. ``Background`` runs them behind the window with three promises:

* **only the latest request counts**: a new request supersedes the one before; work still
  running is told so (``Ticket.stopped()``) and its result is dropped when it arrives;
* **cancellation**: ``cancel()`` drops the latest request too (and calls ``on_cancel``, e.g.
  to kill a model file's reader process at once);
* **results carry their run**: a request names the run it was computed for
  (``SessionModel.run``); a result whose run is no longer the current one is dropped, so a
  view never draws one run's numbers over another's lanes.

Results (or the exception the work raised) arrive on the GUI thread as ``delivered(Delivery)``;
progress the work reports through its ticket arrives as ``progressed(done, total)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal

IDLE_SECONDS = 5.0          # a shared worker thread ends after this long without a request


@dataclass
class Ticket:
    """One request, as its work sees it: ``stopped()`` once superseded or cancelled (long
    work polls it and returns early), ``progress(done, total)`` to report how far it is."""

    serial: int
    run: object
    tag: object
    owner: Background

    def stopped(self) -> bool:
        return self.owner.stale(self.serial)

    def progress(self, done: int, total: int) -> None:
        if not self.stopped():
            self.owner._progress.emit(self.serial, int(done), int(total))


@dataclass
class Delivery:
    """A finished request: its serial, run and tag, and the work's result (or exception)."""

    serial: int
    run: object
    tag: object
    result: object


class Background(QObject):
    """Runs the latest requested work off the GUI thread and delivers its result on it.

    ``overlap`` False (the default): one worker thread runs one request after another, a
    superseded request that has not started is never run. ``overlap`` True: every request
    starts at once on its own thread (a load must not wait for a cancelled one, which numpy
    cannot interrupt), and every result but the latest's is dropped. ``current_run`` says
    which run is current; a delivery for another run is dropped."""

    delivered = Signal(object)                  # Delivery
    progressed = Signal(int, int)               # done, total (the latest request)
    busy = Signal(bool)                         # a request is running or waiting
    _done = Signal(object)                      # from a worker; queued to the GUI thread
    _progress = Signal(int, int, int)           # serial, done, total; queued likewise

    def __init__(self, parent: QObject | None = None, *, name: str = "background",
                 overlap: bool = False, current_run: Callable[[], object] | None = None,
                 on_cancel: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.name, self.overlap = name, overlap
        self.current_run, self.on_cancel = current_run, on_cancel
        self._cond = threading.Condition()
        self._wanted: tuple[Ticket, Callable[[Ticket], object]] | None = None
        self._worker: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._running = 0
        self.serial = 0
        self.pending: object | None = None      # the tag of the request not delivered yet
        self._done.connect(self._deliver, Qt.QueuedConnection)
        self._progress.connect(self._on_progress, Qt.QueuedConnection)

    # --- asking ------------------------------------------------------------------------------
    def request(self, work: Callable[[Ticket], object], *, tag: object = None,
                run: object = None) -> int:
        """Run ``work(ticket)`` off the GUI thread for ``run``; returns the request's serial.
        Any earlier request is superseded."""
        with self._cond:
            self.serial += 1
            ticket = Ticket(self.serial, run, tag, self)
            self.pending = tag if tag is not None else True
            if self.overlap:
                thread = threading.Thread(target=self._run_one, args=(ticket, work),
                                          name=self.name, daemon=True)
                self._threads.append(thread)
                self._running += 1
                thread.start()
            else:
                self._wanted = (ticket, work)
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(target=self._work, name=self.name, daemon=True)
                    self._threads.append(self._worker)
                    self._worker.start()
                self._cond.notify()
        self.busy.emit(True)
        return ticket.serial

    def cancel(self) -> None:
        """Drop every request: what is running is told to stop and its result is dropped."""
        with self._cond:
            was_busy = self.pending is not None or self._running > 0
            self.serial += 1
            self._wanted = None
            self.pending = None
        if self.on_cancel is not None and was_busy:
            self.on_cancel()
        if was_busy:
            self.busy.emit(False)

    forget = cancel

    # --- state -------------------------------------------------------------------------------
    def stale(self, serial: int) -> bool:
        """A newer request (or ``cancel``) has superseded request ``serial``."""
        return serial != self.serial

    def idle(self) -> bool:
        """Nothing asked for and nothing computing."""
        with self._cond:
            return self._wanted is None and self._running == 0

    @property
    def running(self) -> bool:
        """Some work is still computing (a superseded one included)."""
        with self._cond:
            return self._running > 0 or self._wanted is not None

    def wait(self, ms: int = 60000) -> None:
        """Block until the work asked for has finished (tests, closing the window); its result
        is delivered once the GUI thread processes events."""
        deadline = time.monotonic() + ms / 1000.0
        while self.running and time.monotonic() < deadline:
            time.sleep(0.002)

    # --- the worker side -----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                if self._wanted is None and not self._cond.wait_for(
                        lambda: self._wanted is not None, IDLE_SECONDS):
                    if self._worker is threading.current_thread():
                        self._worker = None
                    self._drop(threading.current_thread())
                    return
                ticket, work = self._wanted
                self._wanted = None
                self._running += 1
            if not self._call(ticket, work):
                return

    def _run_one(self, ticket: Ticket, work: Callable[[Ticket], object]) -> None:
        self._call(ticket, work)
        with self._cond:
            self._drop(threading.current_thread())

    def _call(self, ticket: Ticket, work: Callable[[Ticket], object]) -> bool:
        try:
            result = work(ticket) if not ticket.stopped() else None
        except Exception as exc:      # shown on the GUI thread, where the user sees it
            result = exc
        try:       # posted before the work counts as finished: wait() then processEvents() sees it
            self._done.emit(Delivery(ticket.serial, ticket.run, ticket.tag, result))
        except RuntimeError:          # the window closed while this was computing
            return False
        finally:
            with self._cond:
                self._running -= 1
        return True

    def _drop(self, thread: threading.Thread) -> None:
        if thread in self._threads:
            self._threads.remove(thread)

    # --- the GUI side --------------------------------------------------------------------------
    def _deliver(self, delivery: Delivery) -> None:
        if delivery.serial != self.serial:
            return                    # superseded or cancelled
        self.pending = None
        self.busy.emit(False)
        if self.current_run is not None and delivery.run is not None \
                and delivery.run != self.current_run():
            return                    # computed for a run the window no longer shows
        self.delivered.emit(delivery)

    def _on_progress(self, serial: int, done: int, total: int) -> None:
        if serial == self.serial:
            self.progressed.emit(done, total)
