"""The weights of one LSTM direction in the canonical (Keras) layout, and its size facts.

Every loader converts its format into ``CellWeights``: kernel (D, 4N), recurrent kernel
(H, 4N) where H = N (or the projection size), bias (4N,), gate blocks in the order i, f, g, o.
Extras that only some formats have (peepholes, cell clip, projection, coupled input-forget)
are optional fields, so the stepper can keep one fast path for the common case.

``lstm_step`` is the written spec of one step, in the paper's names; ``lstm_step_extended``
adds the extras. ``lstm_step_vjp`` and ``lstm_step_extended_vjp`` are their backward, the spec
of one step's gradients. The stepper's fast paths and the backward pass's (``engine.gradients.grad_layer``)
are tested against them (docs/architecture.md, "The LSTM step and its fast paths").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .activations import SIGMOID, TANH, Activation
from .cell_kind import BadgeSpec, CellKind, SignalSpec

STORAGE_GATE_ORDER = ("i", "f", "g", "o")
"""Gate order of every stored gate axis and (D, 4N) column block (Keras order). The window
shows gates in its own display orders (gui.theme); storage never changes."""


@dataclass(frozen=True)
class CellWeights:
    """One LSTM direction's parameters and activations, canonical layout."""

    kernel: np.ndarray                      # (D, 4N)
    recurrent_kernel: np.ndarray            # (H, 4N); H = N, or the projection size
    bias: np.ndarray                        # (4N,), zeros when the layer has none
    use_bias: bool = True
    gate_activation: Activation = SIGMOID   # for i, f, o (Keras: recurrent_activation)
    cell_activation: Activation = TANH      # for g (Keras: activation)
    output_activation: Activation = TANH    # applied to c before o (Keras: activation)
    peephole: np.ndarray | None = None      # (3, N): i, f, o (ONNX P order is i, o, f)
    cell_clip: float | None = None          # ONNX `clip`: pre-activations clipped to +-clip
    projection: np.ndarray | None = None    # (N, P): h = (o * act(c)) @ projection (PyTorch)
    input_forget: bool = False              # ONNX `input_forget=1`: f = 1 - i
    param_count: int = 0                    # as the writing framework counts it
    bias_parts: tuple[np.ndarray, ...] = field(default=(), compare=False)  # e.g. torch b_ih, b_hh

    def __post_init__(self) -> None:
        for name in ("kernel", "recurrent_kernel", "bias"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float32)
            object.__setattr__(self, name, arr)
        if self.param_count == 0:
            object.__setattr__(self, "param_count", self.default_param_count())

    @property
    def units(self) -> int:
        return self.kernel.shape[1] // 4

    @property
    def input_dim(self) -> int:
        return self.kernel.shape[0]

    @property
    def state_size(self) -> int:
        """Size of h: the units, or the projection size when there is one."""
        return self.recurrent_kernel.shape[0]

    @property
    def cell_size(self) -> int:
        """Size of the cell state c: the units (a GRU or simple RNN has none: 0)."""
        return self.units

    @property
    def parts(self) -> int:
        """How many column blocks W, U and b hold (4 gates here; 3 for a GRU, 1 for an RNN)."""
        return len(self.kind.parts)

    def scaled_by(self, part: int) -> int | None:
        """The gate whose value multiplies zh of column block ``part`` in the pre-activation
        (a GRU's reset gate with reset_after); None: z = zx + zh + zb for that block."""
        return None

    def default_param_count(self) -> int:
        """Keras' count: 4 * (N * (D + H) + N) with bias, without bias 4 * N * (D + H)."""
        n = self.kernel.size + self.recurrent_kernel.size
        if self.use_bias:
            n += self.bias.size
        if self.peephole is not None:
            n += self.peephole.size
        if self.projection is not None:
            n += self.projection.size
        return int(n)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape badges: kernel (D,4N), recurrent kernel (H,4N), bias (4N,)."""
        out: dict[str, tuple[int, ...]] = {
            "kernel": tuple(self.kernel.shape),
            "recurrent_kernel": tuple(self.recurrent_kernel.shape),
        }
        if self.use_bias:
            out["bias"] = tuple(self.bias.shape)
        if self.peephole is not None:
            out["peephole"] = tuple(self.peephole.shape)
        if self.projection is not None:
            out["projection"] = tuple(self.projection.shape)
        return out

    @property
    def is_plain(self) -> bool:
        """True when the fast Keras-style path computes this cell exactly."""
        return (self.peephole is None and self.cell_clip is None and self.projection is None
                and not self.input_forget)

    @property
    def is_classic(self) -> bool:
        """The classic cell: plain, sigmoid gates, tanh candidate and output. Its local
        derivatives follow from the recorded values alone, so the stepper and the backward pass
        each keep a specialised path for it (``gate_scale``, ``grad_layer``)."""
        return (self.is_plain and self.gate_activation.is_sigmoid and self.cell_activation.is_tanh
                and self.output_activation.is_tanh)

    @property
    def kind(self) -> CellKind:
        """What this cell is: its signals, their order, its specs (``LSTM_CELL``)."""
        return LSTM_CELL

    @property
    def identity_kernel(self) -> bool:
        """True when W is the identity: the cell reads its gate pre-activations already made
        (an xlstm sLSTM cell), so x·W is x itself and the stepper copies it."""
        return False

    def recorded_state(self, c: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays a trace writes out of the recorded c beyond its signals (an mLSTM's matrix
        memory ``C``); none here."""
        return {}

    def unit_heads(self) -> np.ndarray:
        """(N,) the head each unit belongs to: the units it reads through U are its head's.
        One head here (every unit reads every unit); an sLSTM has several."""
        return np.zeros(self.units, int)

    def gate_block(self, matrix: np.ndarray, gate: str) -> np.ndarray:
        """Columns of ``matrix`` (..., 4N) belonging to one gate (i, f, g or o): a view."""
        return matrix[..., self.gate_slice(gate)]

    def gate_slice(self, gate: str) -> slice:
        """The columns of gate i, f, g or o in a (..., 4N) array (storage order i, f, g, o)."""
        n = self.units
        k = STORAGE_GATE_ORDER.index(gate)
        return slice(k * n, (k + 1) * n)

    def activation_of(self, signal: str) -> Activation | None:
        """The activation that produces a signal: the gate activation for i, f, o, the cell
        activation for g; None for c, h and anything else (no fixed range)."""
        if signal == "g":
            return self.cell_activation
        if signal in self.kind.ratio_gates:
            return self.gate_activation
        return None

    @cached_property
    def scaled_recurrent_kernel(self) -> np.ndarray:
        """U with the fast path's gate scale (``gate_scale``) applied to its columns,
        computed once per cell (cached on the frozen instance)."""
        scale = gate_scale(self)
        return self.recurrent_kernel if scale is None else self.recurrent_kernel * scale

    def with_recurrent_kernel(self, recurrent_kernel: np.ndarray) -> CellWeights:
        """A copy with another U (for what-if runs such as decoupled units)."""
        from dataclasses import replace
        return replace(self, recurrent_kernel=recurrent_kernel)


def gate_scale(weights: CellWeights) -> np.ndarray | None:
    """(4N,) per-column scale of the plain sigmoid/tanh cell's fast path, else None. It is a
    fact of the cell (``CellWeights.scaled_recurrent_kernel`` caches U with it applied), so it
    lives here and the stepper imports it.

    sigmoid(z) = (tanh(z / 2) + 1) / 2, so with i, f, o's columns of z halved one tanh over all
    4N columns gives tanh(z_i/2), tanh(z_f/2), g, tanh(z_o/2), and one multiply-add turns the
    three gates into sigmoids: 4 ufunc calls for every gate instead of 6. Halving is exact in
    float32, so the recorded zh is unscaled exactly afterwards."""
    if not weights.is_classic:
        return None
    n = weights.units
    scale = np.full(4 * n, 0.5, np.float32)
    scale[weights.gate_slice("g")] = 1.0
    return scale


def gate_blocks(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four gate blocks of z (..., 4N), views in the storage order i, f, g, o
    (``np.split(z, 4, axis=-1)``, without its cost on the stepper's general path)."""
    n = z.shape[-1] // 4
    return z[..., :n], z[..., n:2 * n], z[..., 2 * n:3 * n], z[..., 3 * n:]


def lstm_step(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray):
    """One step of a plain LSTM, the written spec: (i, f, g, o, c, h) after reading x.

    x (..., D), h (..., N), c (..., N). Extras (peepholes, clip, projection): lstm_step_extended.
    """
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    z_i, z_f, z_g, z_o = gate_blocks(z)                 # storage order i, f, g, o
    i = w.gate_activation(z_i)                           # input gate
    f = w.gate_activation(z_f)                           # forget gate
    g = w.cell_activation(z_g)                           # candidate
    o = w.gate_activation(z_o)                           # output gate
    c = f * c + i * g
    h = o * w.output_activation(c)
    return i, f, g, o, c, h


def lstm_step_extended(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray):
    """``lstm_step`` with the ONNX/PyTorch extras: peepholes (p_i, p_f read the previous c,
    p_o the new one), pre-activations clipped to +-clip, coupled input-forget (f = 1 - i) and a
    projection of h. Returns (i, f, g, o, c, h); h has the projection's size when there is one."""
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    return lstm_step_extended_from_z(w, z, c)


def lstm_step_extended_from_z(w: CellWeights, z: np.ndarray, c: np.ndarray):
    """``lstm_step_extended`` after its matmuls: z = x . W + h . U + b (..., 4N) given (the
    stepper builds x . W in aligned blocks, so it passes its own z)."""
    clip = (lambda v: v) if w.cell_clip is None else (lambda v: np.clip(v, -w.cell_clip, w.cell_clip))
    z_i, z_f, z_g, z_o = gate_blocks(z)
    if w.peephole is not None:
        p_i, p_f, p_o = w.peephole
        z_i, z_f = z_i + p_i * c, z_f + p_f * c
    i = w.gate_activation(clip(z_i))
    f = 1 - i if w.input_forget else w.gate_activation(clip(z_f))
    g = w.cell_activation(clip(z_g))
    c = f * c + i * g
    if w.peephole is not None:
        z_o = z_o + p_o * c
    o = w.gate_activation(clip(z_o))
    h = o * w.output_activation(c)
    if w.projection is not None:
        h = h @ w.projection
    return i, f, g, o, c, h


def lstm_step_vjp(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                  dh_new: np.ndarray, dc_new: np.ndarray):
    """The backward of ``lstm_step``, the written spec: the gradients reaching the step's
    inputs from the gradients on its outputs.

    x, h, c are what the step read (as for ``lstm_step``); dh_new (..., N) is dL/dh_t, dc_new
    (..., N) the gradient reaching c_t from outside h_t (the next step, a target on c).
    Returns (dx, dh, dc, dc_t): dL/dx_t, dL/dh_{t-1}, dL/dc_{t-1}, and dc_t, the whole
    gradient on c_t (dc_new plus the path through h_t = o * act(c_t)) that the views draw.
    """
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    z_i, z_f, z_g, z_o = gate_blocks(z)
    i = w.gate_activation(z_i)
    f = w.gate_activation(z_f)
    g = w.cell_activation(z_g)
    o = w.gate_activation(z_o)
    c_t = f * c + i * g
    tanh_c = w.output_activation(c_t)                    # h_t = o * tanh_c
    dc_t = dc_new + w.output_activation.vjp(c_t, tanh_c, dh_new * o)
    dz_i = w.gate_activation.vjp(z_i, i, dc_t * g)       # c_t = f * c + i * g
    dz_f = w.gate_activation.vjp(z_f, f, dc_t * c)
    dz_g = w.cell_activation.vjp(z_g, g, dc_t * i)
    dz_o = w.gate_activation.vjp(z_o, o, dh_new * tanh_c)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=-1)
    return dz @ w.kernel.T, dz @ w.recurrent_kernel.T, dc_t * f, dc_t


def lstm_step_extended_vjp(w: CellWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                           dh_new: np.ndarray, dc_new: np.ndarray):
    """The backward of ``lstm_step_extended``, arguments and results as ``lstm_step_vjp``
    (dh_new has the projection's size when there is one). A clipped pre-activation passes no
    gradient; peepholes add their paths into c; with coupled input-forget f = 1 - i sends
    its gradient to z_i."""
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    clip = w.cell_clip
    z_i, z_f, z_g, z_o = gate_blocks(z)
    p_i, p_f, p_o = (0.0, 0.0, 0.0) if w.peephole is None else w.peephole
    if w.peephole is not None:
        z_i, z_f = z_i + p_i * c, z_f + p_f * c

    def clipped(v):
        """(v clipped, 1 where the clip let the gradient through)."""
        return (v, 1.0) if clip is None else (np.clip(v, -clip, clip), np.abs(v) <= clip)

    (z_i, keep_i), (z_f, keep_f), (z_g, keep_g) = clipped(z_i), clipped(z_f), clipped(z_g)
    i = w.gate_activation(z_i)
    f = 1 - i if w.input_forget else w.gate_activation(z_f)
    g = w.cell_activation(z_g)
    c_t = f * c + i * g
    if w.peephole is not None:
        z_o = z_o + p_o * c_t
    z_o, keep_o = clipped(z_o)
    o = w.gate_activation(z_o)
    tanh_c = w.output_activation(c_t)                    # m = o * tanh_c; h_t = m (@ P)
    with np.errstate(invalid="ignore"):      # OpenBLAS may raise FE_INVALID on finite operands;
        dm = dh_new if w.projection is None else dh_new @ w.projection.T   # a NaN still shows
    dz_o = w.gate_activation.vjp(z_o, o, dm * tanh_c) * keep_o
    dc_t = dc_new + w.output_activation.vjp(c_t, tanh_c, dm * o)
    if w.peephole is not None:
        dc_t = dc_t + dz_o * p_o
    di, df, dg = dc_t * g, dc_t * c, dc_t * i
    if w.input_forget:
        dz_i = w.gate_activation.vjp(z_i, i, di - df) * keep_i
        dz_f = np.zeros_like(dz_i)
    else:
        dz_i = w.gate_activation.vjp(z_i, i, di) * keep_i
        dz_f = w.gate_activation.vjp(z_f, f, df) * keep_f
    dz_g = w.cell_activation.vjp(z_g, g, dg) * keep_g
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=-1)
    dc = dc_t * f
    if w.peephole is not None:
        dc = dc + dz_i * p_i + dz_f * p_f
    return dz @ w.kernel.T, dz @ w.recurrent_kernel.T, dc, dc_t


LSTM_CELL = CellKind(
    name="lstm",
    gates=STORAGE_GATE_ORDER,
    states=("c", "h"),
    ratio_gates=("f", "i", "o"),
    signals=(
        SignalSpec("f", "f", "forget gate",
                   "Forget gate: how much of the previous cell state C each unit keeps (0 = forget all)."),
        SignalSpec("i", "i", "input gate", "Input gate: how much of the candidate g each unit writes into C."),
        SignalSpec("o", "o", "output gate", "Output gate: how much of act(C) each unit shows as h."),
        SignalSpec("g", "g", "candidate", "Candidate g: the new content offered to the cell state."),
        SignalSpec("c", "C", "cell state", "Cell state C: the unit's memory, carried from step to step."),
        SignalSpec("h", "h", "output",
                   "Output h: what the unit emits, and what every unit reads at the next step."),
    ),
    # the order the cell uses them: forget the old C, write i * g, then show o * act(C)
    diagram_gates=("f", "i", "g", "o"),
    carry="f",
    step=lstm_step, step_extended=lstm_step_extended,
    step_vjp=lstm_step_vjp, step_extended_vjp=lstm_step_extended_vjp,
    badges=(
        BadgeSpec("kernel", "kernel", "Input kernel W: (D, 4N) — every one of the N units has its own "
                  "column for each of the 4 gates i, f, g, o."),
        BadgeSpec("recurrent_kernel", "recurrent kernel", "Recurrent kernel U: (N, 4N) — every unit "
                  "reads the whole previous h of all N units: this is how the units are coupled."),
        BadgeSpec("bias", "bias", "Bias b: (4N,) — one number per unit per gate."),
    ),
    params_tip="Parameters as the framework counts them: 4·(N·(D+N)+N) for one LSTM direction "
               "with bias.",
    lanes_hidden=("g",),       # five curves a lane already; the candidate is one tick away
)
"""What an LSTM cell is (engine.cells.cell_kind): the table views read its signals from."""
