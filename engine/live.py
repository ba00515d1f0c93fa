"""Live objects from a script or notebook: ``from_torch(module, x)`` and ``from_keras(model,
x)`` trace the LSTMs of an in-memory model with no file, capturing what each LSTM receives
from the framework's own run (see docs/architecture.md, "Capture"). Both return a ``Session``
(``s.model`` is the ``Model``, ``s.result()`` the ``TraceResult``), as for a loaded file.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .capture.feed import Runtime
from .errors import ScopeError
from .network.model import Model
from .session import Session

TORCH_HINT = "pip install torch==2.13.0"


def _array(value: Any) -> np.ndarray:
    """A numpy array from a numpy array, a torch tensor (any device, with grad) or a list."""
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").numpy()
    return np.asarray(value)


class LiveModel(Model):
    """A Model of an in-memory object: its inputs are positional (a tuple), named (a dict) or
    one array, tensors included."""

    def _model_input(self, x: Any) -> Any:
        if isinstance(x, (tuple, list)) and len(self.input_names) > 1:
            x = dict(zip(self.input_names, x))
        if isinstance(x, Mapping):
            return super()._model_input({k: _array(v) for k, v in x.items()})
        return super()._model_input(_array(x))


def _input_names(forward: Any, x: Any) -> list[str]:
    params = [p.name for p in inspect.signature(forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if isinstance(x, Mapping):
        return list(x)
    count = len(x) if isinstance(x, (tuple, list)) else 1
    names = params[:count]
    return names + [f"input_{k}" for k in range(len(names), count)]


def _given(obj: Any) -> str:
    """What a caller handed in, in words a message can quote."""
    if obj is None:
        return "None"
    if isinstance(obj, str | os.PathLike):
        return f"a path ({os.fspath(obj)!r}): open a model file with engine.load_model(path)"
    if isinstance(obj, Mapping):
        return ("a dict (a state_dict? load it into its module with module.load_state_dict, or "
                "save it with torch.save and open the file with engine.load_model)")
    cls = type(obj)
    root = cls.__module__.split(".")[0]
    if root in _KERAS_ROOTS:
        return f"a Keras {cls.__name__} (trace it with engine.from_keras)"
    if root == "torch":
        return f"a torch {cls.__name__} (trace it with engine.from_torch)"
    return f"a {cls.__module__}.{cls.__qualname__}"


_KERAS_ROOTS = ("keras", "tf_keras", "tensorflow")


def _torch_module(module: Any) -> Any:
    """``module`` if it is an ``nn.Module`` with real weights; else a ScopeError saying what
    was expected and what was given."""
    expected = "engine.from_torch expects a torch.nn.Module holding nn.LSTM or nn.LSTMCell layers"
    try:
        import torch
    except ImportError:
        raise ScopeError(f"{expected}, and PyTorch is not installed ({TORCH_HINT}); got "
                         f"{_given(module)}") from None
    if not isinstance(module, torch.nn.Module):
        raise ScopeError(f"{expected}; got {_given(module)}")
    meta = [name for name, p in module.named_parameters() if p.device.type == "meta"]
    if meta:
        raise ScopeError(f"{expected} with real weights; the {type(module).__name__}'s weights "
                         f"({_short_list(meta)}) are on the 'meta' device, shapes with no data: "
                         f"load them first (module.to_empty(device='cpu'), then load_state_dict)")
    return module


def _short_list(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _recurrent(torch: Any) -> tuple[type, ...]:
    """The torch modules the engine steps: LSTMs, GRUs and simple RNNs, layers and cells."""
    nn = torch.nn
    return (nn.LSTM, nn.LSTMCell, nn.GRU, nn.GRUCell, nn.RNN, nn.RNNCell)


def torch_model(module: Any, x: Any) -> Model:
    """The engine Model of every ``nn.LSTM`` / ``nn.LSTMCell`` (GRU, RNN, and the ``xlstm``
    package's sLSTM cells) inside ``module`` (any depth, named by module path), run by torch
    with forward hooks."""
    module = _torch_module(module)
    import torch

    from .capture.torch_capture import TorchCapture
    from .loaders.torch_state import module_ops
    from .loaders.xlstm_modules import is_xlstm_cell, xlstm_ops
    lstms = [(path, mod) for path, mod in module.named_modules()
             if isinstance(mod, _recurrent(torch)) or is_xlstm_cell(mod)]
    if not lstms:
        raise ScopeError(f"the {type(module).__name__} holds no nn.LSTM, nn.GRU, nn.RNN, their cells "
                         f"or an xlstm sLSTM or mLSTM cell")
    source = f"<{type(module).__name__}>"
    ops_by_path = {}
    for path, mod in lstms:
        if is_xlstm_cell(mod):                  # the package's blocks run, the engine steps the cell
            ops_by_path[path] = xlstm_ops(path, mod)
            continue
        arrays = {f"{path}.{k}" if path else k: v.detach().to("cpu").float().numpy()
                  for k, v in mod.state_dict().items()}
        ops_by_path[path] = module_ops(source, arrays, getattr(mod, "nonlinearity", "tanh"))
    names = _input_names(module.forward, x)
    model = LiveModel(ops=[op for ops in ops_by_path.values() for op in ops], source=source,
                      format="torch (live module)", name=type(module).__name__, chain=False)
    model.input_names = names
    if module.training:
        model.warnings.append("the module is in training mode (dropout on): call .eval() for "
                              "the numbers inference gives")
    model.runtime = Runtime("torch", TORCH_HINT, lambda: TorchCapture(module, ops_by_path, names))
    return model


def from_torch(module: Any, x: Any, *, layer: int | str | None = None) -> Session:
    """A Session on the LSTMs of a live ``torch.nn.Module`` run on ``x`` (a tensor or array,
    a tuple of positional inputs, or a dict by ``forward``'s parameter names)."""
    model = torch_model(module, x)
    return Session(model, x, layer=model.layer_index(layer) if layer is not None
                   else model.default_layer(x))


def keras_model(keras_obj: Any) -> Model:
    """The engine Model of a live Keras model (read through the .keras format, in memory)."""
    if type(keras_obj).__module__.split(".")[0] not in _KERAS_ROOTS \
            or not callable(getattr(keras_obj, "save", None)):
        raise ScopeError(f"engine.from_keras expects a Keras model (keras.Sequential, a "
                         f"functional keras.Model...); got {_given(keras_obj)}")
    from .capture.keras_capture import KerasCapture
    from .loaders import load_model
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        keras_obj.save(path)
        model = load_model(path)
    live = LiveModel(ops=model.ops, source=f"<keras model '{keras_obj.name}'>",
                     format="keras (live model)", name=keras_obj.name, chain=model.chain,
                     input_length=model.input_length, batch_size=model.batch_size,
                     warnings=list(model.warnings))
    live.input_names, live.fixed_input = model.input_names, model.fixed_input
    if model.runtime is not None:
        traced = [(info.name, info.direction == "backward") for info in live.traced_layers]
        live.runtime = Runtime("keras", "pip install keras",
                               lambda: KerasCapture(keras_obj, traced, live.source))
    return live


def from_keras(keras_obj: Any, x: Any, *, layer: int | str | None = None) -> Session:
    """A Session on the LSTMs of a live Keras model run on ``x`` (an array, or a dict / list
    for a model with several inputs)."""
    model = keras_model(keras_obj)
    return Session(model, x, layer=model.layer_index(layer) if layer is not None
                   else model.default_layer(x))
