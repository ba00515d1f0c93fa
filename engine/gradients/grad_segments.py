"""Gradients of a checkpointed run, a segment at a time (docs/architecture.md, "Long runs").

The backward pass walks the run's chunks in reverse processing order: each chunk's window is
recomputed from its checkpoint (bit-identical to the in-memory trace), ``layer_backward`` runs
through it with the target's own gradient on its steps, and the derivative with respect to the
state the window started from (its dh0, dc0) is carried into the last step of the chunk before
it, exactly what the whole-run backward adds there. Only h[...] / c[...] targets of this layer
apply (the model's output needs every layer's whole run), and the gradient stops at this
layer's input. Memory: the result's dh, dc, dx and the target's seed, checked against the
budget before any work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import Cancelled, ScopeError
from ..runs.time_axis import last_position
from ..system.blas import blas_limited
from ..system.budget import check_bytes
from .grad import GradResult, cell_state_part
from .grad_layer import layer_backward
from .grad_target import parse_target

F32 = np.float32


@blas_limited
def segment_gradient(session: Any, target: str,
                     should_stop: Callable[[], bool] | None = None) -> GradResult:
    """d ``target`` / d (x, h_t, c_t, h0, c0) of a checkpointed session's layer.
    ``should_stop()`` is asked between chunks; True raises ``Cancelled``."""
    store = session.store
    tgt = parse_target(target)
    if tgt.array not in ("h", "c"):
        raise ScopeError(f"target '{tgt.text}': a checkpointed run keeps no whole-run model "
                         f"output; target h[...] or c[...] of this layer")
    w = store.weights
    b, t = store.batch, store.steps
    size = 4 * b * t * (3 * max(w.state_size, w.units) + w.units + w.input_dim)
    check_bytes(size, f"gradients of {t:,} steps",
                hint="trace a window of the run with trace --steps A:B and take its gradient")
    values = session.signal(tgt.array, 0, t)
    if should_stop is not None and should_stop():
        raise Cancelled(f"gradient of {target} cancelled")
    last = last_position(t, store.backward)
    seed, value = tgt.seed(values, last, 1)
    del values
    dh = np.empty((b, t, w.state_size), F32)
    csize = w.cell_size                   # an sLSTM carries c, nrm, stab: 3N
    dc = np.empty((b, t, csize), F32)
    dx = np.empty((b, t, w.input_dim), F32)
    carry_h = np.zeros((b, w.state_size), F32)
    carry_c = np.zeros((b, csize), F32)
    for j in range(store.chunks - 1, -1, -1):
        if should_stop is not None and should_stop():
            raise Cancelled(f"gradient of {target} cancelled")
        p0, p1 = store.chunk_range(j)
        a, e = (p0, p1) if not store.backward else (t - p1, t - p0)
        window = store.window_trace(a, e)
        dh_ext = np.zeros((b, e - a, w.state_size), F32)
        dc_ext = np.zeros((b, e - a, csize), F32)
        (dh_ext if tgt.array == "h" else dc_ext[..., :seed.shape[-1]])[:] = seed[:, a:e]
        end = e - a - 1 if not store.backward else 0     # the window's last processed step
        dh_ext[:, end] += carry_h
        dc_ext[:, end] += carry_c
        lg = layer_backward(window, dh_ext, dc_ext)
        dh[:, a:e], dc[:, a:e], dx[:, a:e] = lg.dh, lg.dc, lg.dx
        carry_h, carry_c = lg.dh0, lg.dc0
    name = store.name
    out = GradResult(tgt.text, name, value, dx, dh, cell_state_part(dc, w), carry_h,
                     cell_state_part(carry_c, w))
    out.warnings.append("gradient of a checkpointed run: it stops at this layer's input")
    return out
