"""LSTM Scope's engine: an exact, steppable, fully traced LSTM in pure numpy (no Qt).

    from engine import load_model, Session
    model = load_model("demo")
    result = model.trace(x)
    tr = result.layer(0); tr.i, tr.f, tr.g, tr.o, tr.c, tr.h
    s = Session(model, x); s.step(); s.back(); s.seek(10); s.t
"""

import sys

from .analyses import features, teaching
from .cells.cell import STORAGE_GATE_ORDER, CellWeights
from .debugging import debugger
from .errors import InputFileError, ModelFileError, ScopeError, UnsupportedModelError
from .gradients import grad as _grad  # noqa: F401  (provides TraceResult.grad; engine.runs.trace cannot import it)
from .live import from_keras, from_torch
from .loaders import load_model
from .network.model import Model, TracedLayerInfo
from .runs import gru_stepper as _gru_stepper  # noqa: F401  (hands the GRU/RNN runners to the stepper)
from .runs import mlstm_stepper as _mlstm_stepper  # noqa: F401  (hands the mLSTM runner to the stepper)
from .runs import slstm_stepper as _slstm_stepper  # noqa: F401  (hands the sLSTM runner to the stepper)
from .runs import stateful
from .runs.trace import LayerTrace, TraceResult
from .session import Session

# The module paths the README documents (engine.debugging.debugger, engine.analyses.teaching, engine.analyses.features,
# engine.runs.stateful) name the modules where that code lives now: one alias each, and no file.
for _module in (debugger, features, stateful, teaching):
    sys.modules[f"{__name__}.{_module.__name__.rpartition('.')[2]}"] = _module

__version__ = "0.1.0"

__all__ = [
    "STORAGE_GATE_ORDER", "CellWeights", "InputFileError", "LayerTrace", "Model", "ModelFileError",
    "ScopeError", "Session", "TraceResult", "TracedLayerInfo", "UnsupportedModelError",
    "from_keras", "from_torch", "load_model", "__version__",
]
