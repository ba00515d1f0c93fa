"""Load a model and input, and trace the whole run, off the GUI thread.

The window stays responsive and a progress dialog can cancel: a cancelled job's result is
simply dropped (numpy work cannot be interrupted safely mid-call), and a model file still being
read in its worker process (``engine.loaders.h5read``) is abandoned at once. The threads are
``gui.background.Background``'s, the window's one way of working behind its back.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine import Session, load_model
from engine.cli.commands import resolve_input, run_states
from engine.errors import InitialStateError, ScopeError, describe
from engine.loaders.h5read import cancel_reads
from engine.system.inputs import read_model_input
from gui.background import Background


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
    layer_input: bool = False        # the input is the traced layer's own (--layer-input)
    initial_state_path: str | None = None   # an --initial-state file


@dataclass
class LoadResult:
    session: Session
    source: str
    input_source: str


@dataclass
class _Failed:
    message: str


def _load(req: LoadRequest, current_model, progress=None) -> LoadResult | _Failed:
    """Open the model and input and trace the run (any thread), telling ``progress(done,
    steps)`` how many positions are traced; a failure is one line."""
    try:
        model = (load_model(req.model_spec, **(req.options or {})) if req.model_spec is not None
                 else current_model)
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
            layer = (model.layer_index(req.layer) if req.layer is not None or req.layer_input
                     else model.default_layer(x))
            states = req.initial_state
            if req.initial_state_path is not None:
                states = run_states(model, layer, req.initial_state_path, req.layer_input)
            session = Session(model, x, layer=layer, initial_state=states,
                              layer_input=req.layer_input)
        except InitialStateError as exc:     # a state that does not fit: the state file's fault
            where = req.initial_state_path
            if where is None or describe(where) in str(exc):
                raise
            raise InitialStateError(f"{describe(where)}: {exc}") from None
        except ScopeError as exc:
            where = req.input_path or model.source
            raise ScopeError(exc if where in str(exc) else f"{where}: {exc}") from None
        session.prepare_view(progress)      # its first window now (a long run: the rest behind)
        return LoadResult(session, req.model_spec or model.source, input_source)
    except ScopeError as exc:
        return _Failed(str(exc))
    except MemoryError:
        return _Failed("out of memory: try a shorter input or a smaller model")
    except Exception as exc:  # a bug: keep the window alive and say what happened
        traceback.print_exc()
        return _Failed(f"unexpected error while loading: {type(exc).__name__}: {exc}")


class Loader(QObject):
    """Runs loads behind the window (gui/background.py): a new load supersedes the one before,
    ``cancel()`` drops the running load's result and stops a model file's reader process."""

    loaded = Signal(object)
    failed = Signal(str)
    busy = Signal(bool)
    progressed = Signal(int, int)    # positions traced, of how many (the latest load)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # overlap: a load never waits for a cancelled one (numpy cannot be interrupted mid-call)
        self.jobs = Background(self, name="load", overlap=True, on_cancel=cancel_reads)
        self.jobs.delivered.connect(self._done)
        self.jobs.busy.connect(self.busy)
        self.jobs.progressed.connect(self.progressed)

    def start(self, request: LoadRequest, current_model=None) -> None:
        self.cancel()
        self.jobs.request(lambda ticket: _load(request, current_model, ticket.progress),
                          tag=request)

    def _done(self, delivery) -> None:
        result = delivery.result
        if isinstance(result, Exception):
            raise result                  # a bug in the worker itself: shown by the slot hook
        if isinstance(result, _Failed):
            self.failed.emit(result.message)
        else:
            self.loaded.emit(result)

    @property
    def running(self) -> bool:
        """A load (a cancelled one included) is still computing."""
        return self.jobs.running

    def cancel(self) -> None:
        self.jobs.cancel()

    def wait(self, ms: int = 60000) -> None:
        self.jobs.wait(ms)
