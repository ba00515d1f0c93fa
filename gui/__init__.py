"""LSTM Scope's window: PySide6 + pyqtgraph views that observe an engine Session.

Nothing here computes LSTM math; every number shown comes from ``engine``. Imported inside
IPython (a notebook), it makes Sessions and TraceResults show their units figure
(``gui.notebook``).
"""

import sys as _sys


def show(obj, x=None, *, layer=None, block=None):
    """The window on a Session, Model, torch module or Keras model (see ``gui.live``)."""
    from gui.live import show as _show
    return _show(obj, x, layer=layer, block=block)


if "IPython" in _sys.modules:
    from gui.notebook import register as _register
    _register()
