"""Load a model and input, and trace the whole run, off the GUI thread.

The window stays responsive and a progress dialog can cancel: a cancelled job's result is
simply dropped (numpy work cannot be interrupted safely mid-call), and a model file still being
read in its worker process (``engine.loaders.h5read``) is abandoned at once.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal

from engine import Session, load_model
from engine.commands import resolve_input
from engine.errors import ScopeError
from engine.inputs import read_model_input
from engine.loaders.h5read import cancel_reads
from engine.time_axis import positions


def first_window(session: Session) -> tuple[int, int]:
    """Input positions a checkpointed run shows first (where its cursor starts)."""
    width = min(session.steps, 256)
    return positions(0, width, session.steps, session.backward)


@dataclass
class LoadRequest:
    model_spec: str | None           # None: keep the current model, new input only
    input_path: str | None = None
    key: str | None = None
    layer: str | int | None = None
    x: Any = None                    # an array instead of an input file
    initial_state: Any = None        # {layer name: (h0, c0)} carried from a previous segment
    input_label: str | None = None   # how the input panel names a generated input
    options: dict[str, Any] | None = None   # load_model's open options (config, allow_length)


@dataclass
class LoadResult:
    session: Session
    source: str
    input_source: str


class _Job(QObject):
    finished = Signal(object)        # LoadResult
    failed = Signal(str)

    def __init__(self, request: LoadRequest, current_model=None) -> None:
        super().__init__()
        self.request = request
        self.current_model = current_model

    def run(self) -> None:
        req = self.request
        try:
            model = (load_model(req.model_spec, **(req.options or {})) if req.model_spec is not None
                     else self.current_model)
            if model is None:
                raise ScopeError("no model is loaded")
            if req.x is not None:
                x, input_source = req.x, req.input_label or "(generated)"
            elif req.input_path is not None:
                x = read_model_input(req.input_path, req.key, model.input_names,
                                     notes=model.warnings)
                input_source = req.input_path
            else:
                x, input_source = resolve_input(model, None, None), "(default input)"
            try:
                layer = req.layer if req.layer is not None else model.default_layer(x)
                session = Session(model, x, layer=layer, initial_state=req.initial_state)
            except ScopeError as exc:
                where = req.input_path or model.source
                raise ScopeError(exc if where in str(exc) else f"{where}: {exc}") from None
            if session.checkpointed:   # a long run: its first window now, the rest behind
                session.signal("h", *first_window(session))
            else:
                session.full()     # the ghosted future and lane statistics need the whole run
                session.result()
            self.finished.emit(LoadResult(session, req.model_spec or model.source, input_source))
        except ScopeError as exc:
            self.failed.emit(str(exc))
        except MemoryError:
            self.failed.emit("out of memory: try a shorter input or a smaller model")
        except Exception as exc:  # a bug: keep the window alive and say what happened
            traceback.print_exc()
            self.failed.emit(f"unexpected error while loading: {type(exc).__name__}: {exc}")


class Loader(QObject):
    """Runs one load at a time in a QThread; ``cancel()`` drops the running job's result."""

    loaded = Signal(object)
    failed = Signal(str)
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._job: _Job | None = None
        self._generation = 0
        self._threads: list[QThread] = []      # every job's thread, dropped once it has finished

    def start(self, request: LoadRequest, current_model=None) -> None:
        self.cancel()
        self._generation += 1
        generation = self._generation
        thread = QThread()
        job = _Job(request, current_model)
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.finished.connect(lambda result, g=generation: self._done(g, result, None))
        job.failed.connect(lambda message, g=generation: self._done(g, None, message))
        # Direct: quit from the worker thread itself, so wait() on the GUI thread cannot deadlock
        job.finished.connect(thread.quit, Qt.DirectConnection)
        job.failed.connect(thread.quit, Qt.DirectConnection)
        thread.finished.connect(job.deleteLater)
        self._thread, self._job = thread, job
        self._threads.append(thread)
        thread.finished.connect(lambda t=thread: self._threads.remove(t) if t in self._threads else None)
        self.busy.emit(True)
        thread.start()

    def _done(self, generation: int, result, message) -> None:
        if generation != self._generation:
            return      # cancelled or superseded
        self.busy.emit(False)
        if message is not None:
            self.failed.emit(message)
        else:
            self.loaded.emit(result)

    def cancel(self) -> None:
        if self._thread is not None and self._thread.isRunning():
            self._generation += 1
            cancel_reads()      # a model file being read in a worker process stops at once
            self.busy.emit(False)

    def wait(self, ms: int = 60000) -> None:
        for thread in list(self._threads):
            thread.wait(ms)
