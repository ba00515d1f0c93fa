"""Capture from a live PyTorch module: forward hooks on every ``nn.LSTM`` / ``nn.LSTMCell``
(GRU, RNN, an ``xlstm`` sLSTM cell) record what it receives while the module runs once (see
docs/architecture.md, "Capture").

An ``nn.LSTM``'s first layer reads the hooked input; its deeper layers read the layer below's
output, which the engine computes exactly as torch does (dropout is off in ``eval()``), so each
layer's feed comes from the engine's own op on the captured input. An ``nn.LSTMCell`` called
once per timestep in a loop is one traced layer: its calls, in order, are the sequence; the
first call's state is the initial state.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputFileError, ScopeError
from ..loaders.xlstm_modules import is_xlstm_cell, xlstm_feed
from ..network.layers import RunContext
from .feed import Capture, LayerFeed

F32 = np.float32


def _np(t: Any) -> np.ndarray:
    return t.detach().to("cpu").float().numpy().copy()


class TorchCapture:
    """Hooks on the LSTMs of ``module`` (by module path); ``run`` is one forward pass."""

    def __init__(self, module: Any, lstm_ops: dict[str, list], input_names: list[str]) -> None:
        self.module = module
        self.lstm_ops = lstm_ops            # module path -> the engine ops of its layers
        self.input_names = input_names
        self.modules = dict(module.named_modules())

    def run(self, inputs: dict[str, np.ndarray]) -> Capture:
        import torch
        calls: dict[str, list[tuple[Any, Any]]] = {path: [] for path in self.lstm_ops}
        xlstm: dict[str, list[tuple[tuple, dict]]] = {path: [] for path in self.lstm_ops}
        handles = []
        for path in self.lstm_ops:
            def hook(mod, args, kwargs, path=path) -> None:
                if is_xlstm_cell(mod):          # an mLSTM cell is called with q=, k=, v= alone
                    xlstm[path].append((args, kwargs))
                    return
                hx = args[1] if len(args) > 1 else kwargs.get("hx")
                calls[path].append((args[0], hx))
            handles.append(self.modules[path].register_forward_pre_hook(hook, with_kwargs=True))
        args = [torch.as_tensor(np.asarray(inputs[n])) for n in self.input_names]
        start = time.perf_counter()
        try:
            with torch.no_grad():
                out = self.module(*args)
        except Exception as exc:  # noqa: BLE001 - the input does not fit the module
            raise InputFileError(f"the module cannot run on this input "
                                 f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        finally:
            for handle in handles:
                handle.remove()
        seconds = time.perf_counter() - start
        feeds: dict[str, LayerFeed] = {}
        for path, ops in self.lstm_ops.items():
            if is_xlstm_cell(self.modules[path]) and xlstm[path]:
                feeds.update(self._xlstm_feed(path, ops, xlstm[path]))
            elif calls[path]:
                feeds.update(self._feeds(path, ops, calls[path]))
        return Capture([_np(o) for o in _outputs(out)], feeds, seconds)

    def _xlstm_feed(self, path: str, ops: list, calls: list[tuple[tuple, dict]]) -> dict[str, LayerFeed]:
        """An xlstm cell's one call: its input and state (``xlstm_modules.xlstm_feed``)."""
        mod = self.modules[path]
        if len(calls) > 1:
            raise ScopeError(f"the {type(mod).__name__} '{path}' runs {len(calls)} times in one "
                             f"forward pass; LSTM Scope traces one run of it")
        x, h0, c0 = xlstm_feed(mod, *calls[0])
        return {ops[0].traced()[0][0]: LayerFeed(x, None, h0, c0)}

    def _feeds(self, path: str, ops: list, calls: list[tuple[Any, Any]]) -> dict[str, LayerFeed]:
        import torch
        mod = self.modules[path]
        lstm = isinstance(mod, (torch.nn.LSTM, torch.nn.LSTMCell))    # else a GRU or RNN: hx is h
        if isinstance(mod, (torch.nn.LSTMCell, torch.nn.GRUCell, torch.nn.RNNCell)):
            x = np.stack([_unbatch(_np(c[0]), 1) for c in calls], axis=1)        # (B, T, D)
            hx = calls[0][1]
            if hx is None:
                h0, c0 = None, None
            elif lstm:
                h0, c0 = _unbatch(_np(hx[0]), 1), _unbatch(_np(hx[1]), 1)
            else:
                h0, c0 = _unbatch(_np(hx), 1), None
            name = ops[0].traced()[0][0]
            return {name: LayerFeed(x, None, h0, c0)}
        if len(calls) > 1:
            raise ScopeError(f"the nn.{type(mod).__name__} '{path}' runs {len(calls)} times in one forward pass; "
                             f"LSTM Scope traces one run of it")
        x_t, hx = calls[0]
        if isinstance(x_t, torch.nn.utils.rnn.PackedSequence):
            raise ScopeError(f"the nn.{type(mod).__name__} '{path}' reads a PackedSequence; give it a padded "
                             f"tensor to trace it")
        x = _np(x_t)
        unbatched = x.ndim == 2                      # (T, D): one sequence without a batch axis
        if unbatched:
            x = x[None]
        elif not mod.batch_first:
            x = x.transpose(1, 0, 2)                 # (T, B, D) -> batch first
        if hx is None:
            states = None
        else:
            states = (_np(hx[0]), _np(hx[1])) if lstm else (_np(hx), None)
        if states is not None and unbatched:
            states = (states[0][:, None], None if states[1] is None else states[1][:, None])
        dirs = 2 if mod.bidirectional else 1
        feeds = {}
        y = np.ascontiguousarray(x, F32)
        for k, op in enumerate(ops):
            for d, (name, _, _) in enumerate(op.traced()):
                h0 = None if states is None else states[0][k * dirs + d]
                c0 = None if states is None or states[1] is None else states[1][k * dirs + d]
                feeds[name] = LayerFeed(y, None, h0, c0)
            ctx = RunContext(initial_state={n: (f.h0, f.c0) for n, f in feeds.items()
                                            if f.h0 is not None})
            y, _ = op.apply(y, None, ctx)
        return feeds


def _unbatch(arr: np.ndarray, ndim_batched: int) -> np.ndarray:
    """An unbatched LSTMCell call (D,) becomes a batch of one (1, D)."""
    return arr[None] if arr.ndim == ndim_batched else arr


def _outputs(out: Any) -> list[Any]:
    """The tensors of a module's output, in order (a tuple, a dict, an (output, state) pair)."""
    import torch
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, Mapping):
        return [v for value in out.values() for v in _outputs(value)]
    if isinstance(out, (list, tuple)):
        return [v for value in out for v in _outputs(value)]
    return []
