"""Keras as the runtime of a Keras model LSTM Scope cannot compute whole (a Conv1D before the
LSTM, a graph that is not a chain, several inputs): the model's input names come from its
config, and Keras itself is imported only when a capture runs (see docs/architecture.md,
"Capture")."""

from __future__ import annotations

import importlib.util
import weakref
from pathlib import Path
from typing import Any

from ..capture.feed import Runtime
from ..errors import ModelFileError, ScopeError, UnsupportedModelError
from ..network.model import Model
from ..system.budget import BudgetError
from .h5read import ReadCancelled

KERAS_HINT = "pip install keras"


def input_names(config: dict[str, Any]) -> list[str]:
    """The model's input layer names in Keras' order (a Sequential has one)."""
    inner = config.get("config", {})
    refs = inner.get("input_layers") if isinstance(inner, dict) else None
    if not refs:
        return []
    if isinstance(refs[0], str):           # one input written as a flat [name, 0, 0]
        return [refs[0]]
    return [ref[0] for ref in refs if isinstance(ref, list) and ref]


def attach_runtime(model: Model, path: Path, config: dict[str, Any]) -> None:
    """Give ``model`` Keras as its runtime when the engine cannot run it whole."""
    model.input_names = input_names(config) or model.input_names
    if model.chain and not model.untraceable and len(model.input_names) <= 1:
        return
    if model.metadata.get("keras_cannot_rebuild"):
        return          # the engine computes what it can itself (Model.partial)
    traced = [(info.name, info.direction == "backward") for info in model.traced_layers]
    source = str(path)
    # weakly: the model holds this loader (model.runtime), and a loader holding the model back
    # would keep both, and the Keras worker, until a garbage collection instead of handing the
    # worker to the next model as soon as this one is dropped
    owner = weakref.ref(model)

    def make():
        model = owner()
        if model is None:
            raise ScopeError(f"{source}: the model was closed; open it again")
        if importlib.util.find_spec("keras") is None:
            raise ImportError("keras")
        from ..capture.keras_worker import KerasWorker
        try:
            return KerasWorker(path, model.metadata.get("weights_config"), traced, source)
        except (BudgetError, ModelFileError, ReadCancelled):   # abandoned: said as it is
            raise
        except ScopeError as exc:
            blocked = model.untraceable
            why = blocked[0].reason if blocked else "the model is not a chain of layers"
            said = str(exc).removeprefix(f"{source}: ")
            raise UnsupportedModelError(f"{why}; {said}; trace one LSTM on its own input with "
                                        f"--layer-input") from None

    model.runtime = Runtime("keras", KERAS_HINT, make)
