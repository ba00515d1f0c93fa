"""``gui.show(obj, x)`` (defined here): the window on a live object from a script or a notebook.

``obj`` is an engine ``Session`` or ``Model``, a ``torch.nn.Module`` or a Keras model (captured
with ``engine.from_torch`` / ``engine.from_keras``). From a script the call runs the window
until it closes. When an event loop already runs (Jupyter after ``%gui qt``, or inside a Qt
application) it returns the window at once and never calls ``app.exec()`` a second time.
"""

from __future__ import annotations

from typing import Any

_OPEN_WINDOWS: list[Any] = []          # keeps windows shown from a notebook alive


def _session(obj: Any, x: Any, layer: int | str | None) -> Any:
    from engine import Model, Session, from_keras, from_torch
    if isinstance(obj, Session):
        return obj
    if isinstance(obj, Model):
        if x is None:
            from engine.cli.commands import resolve_input
            x = resolve_input(obj, None, None)
        return Session(obj, x, layer=obj.layer_index(layer) if layer is not None
                       else obj.default_layer(x))
    if x is None:
        raise TypeError("gui.show(module_or_model, x): give the input x to run it on")
    kind = type(obj).__module__.split(".")[0]
    if kind == "torch" or hasattr(obj, "named_modules"):
        return from_torch(obj, x, layer=layer)
    if kind == "keras" or hasattr(obj, "get_layer"):
        return from_keras(obj, x, layer=layer)
    raise TypeError(f"gui.show: cannot show a {type(obj).__name__} (give a Session, a Model, "
                    f"a torch.nn.Module or a Keras model)")


def event_loop_running() -> bool:
    """True inside Jupyter with ``%gui qt`` or inside a running Qt event loop."""
    from PySide6.QtCore import QCoreApplication, QThread
    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread().loopLevel() > 0:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and str(getattr(shell, "active_eventloop", "") or "").startswith("qt")


def show(obj: Any, x: Any = None, *, layer: int | str | None = None, block: bool | None = None):
    """Open the window on ``obj`` run on ``x``; returns the window (after it closes, when the
    call ran the event loop itself). ``block=None`` decides by whether a loop already runs."""
    from gui.app import make_app
    from gui.main_window import MainWindow
    session = _session(obj, x, layer)
    app = make_app()
    window = MainWindow()
    with _quiet_numpy():
        session.prepare_view()
    window.show_session(session, source=session.model.source, input_source="(from Python)")
    window.show()
    if block is None:
        block = not event_loop_running()
    if block:
        app.exec()
    else:
        _OPEN_WINDOWS.append(window)
        window.destroyed.connect(lambda *_: _OPEN_WINDOWS.remove(window)
                                 if window in _OPEN_WINDOWS else None)
    return window


def _quiet_numpy():
    import numpy as np
    return np.errstate(all="ignore")
