"""LSTM Scope's engine: an exact, steppable, fully traced LSTM in pure numpy (no Qt).

    from engine import load_model, Session
    model = load_model("demo")
    result = model.trace(x)
    tr = result.layer(0); tr.i, tr.f, tr.g, tr.o, tr.c, tr.h
    s = Session(model, x); s.step(); s.back(); s.seek(10); s.t
"""

from . import grad as _grad  # noqa: F401  (provides TraceResult.grad; engine.trace cannot import it)
from . import gru_stepper as _gru_stepper  # noqa: F401  (hands the GRU/RNN runners to the stepper)
from .cell import STORAGE_GATE_ORDER, CellWeights
from .errors import InputFileError, ModelFileError, ScopeError, UnsupportedModelError
from .live import from_keras, from_torch
from .loaders import load_model
from .model import Model, TracedLayerInfo
from .session import Session
from .trace import LayerTrace, TraceResult

__version__ = "0.1.0"

__all__ = [
    "STORAGE_GATE_ORDER", "CellWeights", "InputFileError", "LayerTrace", "Model", "ModelFileError",
    "ScopeError", "Session", "TraceResult", "TracedLayerInfo", "UnsupportedModelError",
    "from_keras", "from_torch", "load_model", "__version__",
]
