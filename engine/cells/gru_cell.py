"""The GRU: its weights in one layout for every framework, its written specs and its table.

Keras and PyTorch/ONNX write the same cell two ways (docs/architecture.md, "GRU and simple
RNN"); the loaders map both onto ``GruWeights``, column blocks in the order **u, r, n**
(update gate, called z by the papers and frameworks, renamed because ``z`` is this project's
pre-activation; reset gate r; candidate n):

    u = σ(x·W_u + b_u + zh_u)          zh = h_{t-1}·U + b_h     (reset_after)
    r = σ(x·W_r + b_r + zh_r)
    n = act(x·W_n + b_n + r·zh_n)                                (reset_after)
    n = act(x·W_n + b_n + (r·h_{t-1})·U_n)                       (reset before: zh_n is that product)
    h = u·h_{t-1} + (1 − u)·n

``reset_after`` is Keras' ``reset_after=True``, PyTorch's only form and ONNX's
``linear_before_reset=1``; it keeps a recurrent bias b_h apart. Reset before (Keras
``reset_after=False``, ONNX ``linear_before_reset=0``) has one bias: a recurrent bias of that
form is added outside r, so the loaders fold it into b.

``gru_step`` and ``gru_step_vjp`` are the specs the stepper (``engine.runs.gru_stepper``) is tested
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .cell import CellWeights
from .cell_kind import BadgeSpec, CellKind, SignalSpec

GRU_PARTS = ("u", "r", "n")
"""Storage order of a GRU's column blocks and gate axis."""


@dataclass(frozen=True)
class GruWeights(CellWeights):
    """One GRU direction: kernel (D, 3N), recurrent kernel (N, 3N), bias (3N,) read with x,
    ``recurrent_bias`` (3N,) read with h (zeros unless ``reset_after``). ``gate_activation``
    is σ (Keras ``recurrent_activation``), ``cell_activation`` the candidate's act."""

    recurrent_bias: np.ndarray | None = None
    reset_after: bool = True

    def __post_init__(self) -> None:
        n3 = np.shape(self.kernel)[1]
        rb = np.zeros(n3, np.float32) if self.recurrent_bias is None else self.recurrent_bias
        object.__setattr__(self, "recurrent_bias", np.ascontiguousarray(rb, dtype=np.float32))
        super().__post_init__()

    @property
    def units(self) -> int:
        return self.kernel.shape[1] // 3

    @property
    def cell_size(self) -> int:
        """A GRU carries no cell state: its c is (B, T, 0)."""
        return 0

    @property
    def is_classic(self) -> bool:
        return False

    @property
    def kind(self) -> CellKind:
        return GRU_CELL

    def default_param_count(self) -> int:
        """Keras' count: 3·(N·(D+N) + N), a second 3N with ``reset_after``."""
        n = self.kernel.size + self.recurrent_kernel.size
        if self.use_bias:
            n += self.bias.size + (self.recurrent_bias.size if self.reset_after else 0)
        return int(n)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Badges: kernel (D, 3N), recurrent kernel (N, 3N), bias (2, 3N) with a recurrent
        bias (Keras ``reset_after``, PyTorch), else (3N,)."""
        out: dict[str, tuple[int, ...]] = {"kernel": tuple(self.kernel.shape),
                                           "recurrent_kernel": tuple(self.recurrent_kernel.shape)}
        if self.use_bias:
            out["bias"] = (2, self.bias.size) if self.reset_after else tuple(self.bias.shape)
        return out

    def gate_slice(self, gate: str) -> slice:
        n = self.units
        k = GRU_PARTS.index(gate)
        return slice(k * n, (k + 1) * n)

    def activation_of(self, signal: str) -> Activation | None:
        if signal == "n":
            return self.cell_activation
        if signal in ("u", "r"):
            return self.gate_activation
        return None

    def scaled_by(self, part: int) -> int | None:
        """The gate that multiplies zh of block ``part`` in the pre-activation: r for n when
        reset_after (z_n = zx_n + zb_n + r·zh_n), else None."""
        return 1 if self.reset_after and part == 2 else None


def _blocks(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = z.shape[-1] // 3
    return z[..., :n], z[..., n:2 * n], z[..., 2 * n:]


def gru_step(w: GruWeights, x: np.ndarray, h: np.ndarray):
    """One GRU step, the written spec: (u, r, n, h) after reading x (..., D) from h (..., N)."""
    a_u, a_r, a_n = _blocks(x @ w.kernel + w.bias)
    u_u, u_r, u_n = _blocks(w.recurrent_kernel)
    if w.reset_after:
        zh_u, zh_r, zh_n = _blocks(h @ w.recurrent_kernel + w.recurrent_bias)
    else:
        zh_u, zh_r = h @ u_u, h @ u_r
    u = w.gate_activation(a_u + zh_u)                    # update gate (the frameworks' z)
    r = w.gate_activation(a_r + zh_r)                    # reset gate
    if w.reset_after:
        n = w.cell_activation(a_n + r * zh_n)            # candidate, reset after h . U
    else:
        n = w.cell_activation(a_n + (r * h) @ u_n)       # candidate, reset before
    return u, r, n, u * h + (1 - u) * n


def gru_step_vjp(w: GruWeights, x: np.ndarray, h: np.ndarray, dh_new: np.ndarray):
    """The backward of ``gru_step``: (dx, dh) = dL/dx_t, dL/dh_{t-1} from dh_new = dL/dh_t."""
    a_u, a_r, a_n = _blocks(x @ w.kernel + w.bias)
    u_u, u_r, u_n = _blocks(w.recurrent_kernel)
    if w.reset_after:
        zh_u, zh_r, zh_n = _blocks(h @ w.recurrent_kernel + w.recurrent_bias)
    else:
        zh_u, zh_r = h @ u_u, h @ u_r
        zh_n = (w.gate_activation(a_r + zh_r) * h) @ u_n
    z_u, z_r = a_u + zh_u, a_r + zh_r
    u, r = w.gate_activation(z_u), w.gate_activation(z_r)
    z_n = a_n + (r * zh_n if w.reset_after else zh_n)
    n = w.cell_activation(z_n)
    dz_n = w.cell_activation.vjp(z_n, n, dh_new * (1 - u))          # h = u·h + (1 − u)·n
    dz_u = w.gate_activation.vjp(z_u, u, dh_new * (h - n))
    dh = dh_new * u
    if w.reset_after:
        dz_r = w.gate_activation.vjp(z_r, r, dz_n * zh_n)
        dzh = np.concatenate([dz_u, dz_r, dz_n * r], axis=-1)
        dh = dh + dzh @ w.recurrent_kernel.T
    else:
        d_rh = dz_n @ u_n.T                                           # through (r·h)·U_n
        dz_r = w.gate_activation.vjp(z_r, r, d_rh * h)
        dh = dh + d_rh * r + np.concatenate([dz_u, dz_r], axis=-1) @ np.concatenate([u_u, u_r], axis=-1).T
    dz = np.concatenate([dz_u, dz_r, dz_n], axis=-1)
    return dz @ w.kernel.T, dh


GRU_CELL = CellKind(
    name="gru",
    gates=GRU_PARTS,
    states=("h",),
    ratio_gates=("u", "r"),
    signals=(
        SignalSpec("u", "u", "update gate",
                   "Update gate u (the frameworks' z): how much of the previous h each unit keeps "
                   "(1 = keep all, 0 = take the candidate n)."),
        SignalSpec("r", "r", "reset gate",
                   "Reset gate r: how much of the previous h the candidate n reads through U."),
        SignalSpec("n", "n", "candidate", "Candidate n: the new content offered to h."),
        SignalSpec("h", "h", "state",
                   "State h: the unit's memory and its output, read by every unit at the next step."),
    ),
    # the order the cell uses them: reset what the candidate reads, then mix by the update gate
    diagram_gates=("r", "n", "u"),
    carry="u",                       # h = u·h_{t-1} + (1 − u)·n: u keeps the memory
    step=gru_step, step_extended=gru_step,
    step_vjp=gru_step_vjp, step_extended_vjp=gru_step_vjp,
    badges=(
        BadgeSpec("kernel", "kernel", "Input kernel W: (D, 3N) — every one of the N units has its own "
                  "column for each of u, r, n."),
        BadgeSpec("recurrent_kernel", "recurrent kernel", "Recurrent kernel U: (N, 3N) — every unit "
                  "reads the whole previous h of all N units: this is how the units are coupled."),
        BadgeSpec("bias", "bias", "Bias b: (3N,), or (2, 3N) when the recurrent part has its own "
                  "bias (Keras reset_after, PyTorch): one row read with x, one with h."),
    ),
    params_tip="Parameters as the framework counts them: 3·(N·(D+N)+N) for one GRU direction "
               "with one bias, 3·(N·(D+N)+2N) with reset_after's two.",
)
"""What a GRU cell is (engine.cells.cell_kind): its signals u, r, n, h and specs."""
