"""The sLSTM of xLSTM (Beck et al. 2024): its weights, its written spec and its table.

As the ``xlstm`` package's reference (``vanilla``) backend computes it, gate blocks in the
order **i, f, g, o** (the package's i, f, z, o; its candidate z is ``g`` here, as in the LSTM,
because ``z`` is this project's pre-activation):

    z = x_t·W + h_{t-1}·U + b              U (N, 4N) block-diagonal over heads
    log f̃ = log σ(z_f)   (or z_f itself: an exponential forget gate)
    m_t = max(z_i, log f̃ + m_{t-1})        (z_i on a fresh state, n_{t-1} = 0)
    i = exp(z_i − m_t)    f = exp(log f̃ + m_{t-1} − m_t)      stabilised, both ≤ 1
    g = tanh(z_g)         o = σ(z_o)
    c_t = f·c_{t-1} + i·g      n_t = f·n_{t-1} + i      h_t = o·c_t / n_t

The stabiliser m keeps exp from overflowing and cancels in c/n, so the recorded i and f are
the stabilised gates the cell multiplies with. A unit reads the previous h of its own head
only: U's blocks between heads are zero, which is the sLSTM's point (docs/architecture.md,
"sLSTM").

The cell carries three states besides h. The recorded ``c`` array (and ``c0``) hold them side
by side, (..., 3N): c, the normalizer ``nrm`` and the stabiliser ``stab`` (``CellKind.cell_parts``),
so every part of the engine that carries (h, c) from step to step (checkpoints, stepping back,
stateful segments, forks) carries all of them unchanged, and ``c[..., :N]`` is the cell state.
``nrm`` and ``stab`` are named so that they cannot be read as a GRU's candidate ``n`` or
anything else: they are signals of their own in traces, expressions and exports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .cell import STORAGE_GATE_ORDER, CellWeights, gate_blocks
from .cell_kind import BadgeSpec, CellKind, SignalSpec
from .heads import HeadedCell


def log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) without overflow, in z's own precision (the spec runs in float64 in tests)."""
    return -np.logaddexp(z.dtype.type(0), -z)


def log_sigmoid_vjp(z: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """d log σ(z) = σ(−z) dz = exp(log σ(−z)) dz."""
    return dy * np.exp(log_sigmoid(-z))

STABILISED = Activation("exp(z − m), stabilised", lambda z: np.minimum(np.exp(z), np.float32(1)),
                        0.0, 1.0)
"""What the sLSTM's i and f are: exp of the pre-activation less the stabiliser (m folded into
the argument here), at most 1. Views read its range (0..1) for colours and saturation."""
CELL_PARTS = ("c", "nrm", "stab")
"""The N-wide blocks of an sLSTM's recorded ``c`` (..., 3N), in order."""


@dataclass(frozen=True)
class SlstmWeights(HeadedCell, CellWeights):
    """One sLSTM: kernel (D, 4N), recurrent kernel (N, 4N) zero between heads, bias (4N,);
    ``heads`` heads of N / heads units; ``exp_forget``: f̃ = exp(z_f) instead of σ(z_f);
    ``reads_preactivations``: the kernel is the identity (checked), x·W is x."""

    heads: int = 1
    exp_forget: bool = False
    reads_preactivations: bool = False     # W is the identity (a live xlstm cell, D = 4N)

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.units
        self.check_heads()
        if self.reads_preactivations and not np.array_equal(self.kernel, np.eye(4 * n)):
            raise ValueError("reads_preactivations needs the identity kernel (4N, 4N)")

    @property
    def identity_kernel(self) -> bool:
        return self.reads_preactivations

    @property
    def cell_size(self) -> int:
        """c, nrm and stab side by side: (..., 3N)."""
        return 3 * self.units

    @property
    def kind(self) -> CellKind:
        return SLSTM_CELL

    def activation_of(self, signal: str) -> Activation | None:
        """o's σ, g's tanh, and the stabilised exp (0..1) of i and f."""
        return {"i": STABILISED, "f": STABILISED, "o": self.gate_activation,
                "g": self.cell_activation}.get(signal)

    def default_param_count(self) -> int:
        """W, the recurrent kernel's head blocks (heads·4·(N/heads)², the zeros between heads
        are no parameters) and the bias. A live xlstm cell counts its own (its W is the
        layer's projections): ``xlstm_modules`` passes that."""
        return int(self.kernel.size + 4 * self.units * self.head_size
                   + (self.bias.size if self.use_bias else 0))


def block_diagonal(blocks: np.ndarray) -> np.ndarray:
    """U (N, 4N) from per-head blocks (heads, hd, 4, hd) [head, input unit, gate, output unit]:
    zero wherever a unit would read another head's h."""
    heads, hd, gates, _ = blocks.shape
    n = heads * hd
    u = np.zeros((n, gates, n), np.float32)
    for k in range(heads):
        u[k * hd:(k + 1) * hd, :, k * hd:(k + 1) * hd] = blocks[k]
    return u.reshape(n, gates * n)


def _step_input(w: SlstmWeights, x: np.ndarray, h: np.ndarray, state: np.ndarray):
    """(z, c, nrm, stab): z = x·W + h·U + b and the carried ``state`` (..., 3N) split, what
    ``slstm_step`` and its vjp both start from."""
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    c, nrm, stab = np.split(state, 3, axis=-1)
    return z, c, nrm, stab


def _gate_preamble(w: SlstmWeights, z: np.ndarray, nrm: np.ndarray, stab: np.ndarray):
    """((z_i, z_f, z_g, z_o), log f̃ + m_prev, fresh) read off z: the terms the stabiliser
    is chosen from, in the step and in its vjp alike. ``fresh``: a sample whose normalizer is
    all zero (the start), which takes m = z_i, as the package does (it asks that of the whole
    batch; here each sample is asked)."""
    blocks = gate_blocks(z)
    z_f = blocks[1]
    log_f_m = (z_f if w.exp_forget else log_sigmoid(z_f)) + stab
    fresh = np.all(nrm == 0, axis=-1, keepdims=True)
    return blocks, log_f_m, fresh


def slstm_from_z(w: SlstmWeights, z: np.ndarray, c: np.ndarray, nrm: np.ndarray, stab: np.ndarray):
    """``slstm_step`` after its matmuls, z = x·W + h·U + b (..., 4N) given: (i, f, g, o, c,
    nrm, stab, h)."""
    (z_i, z_f, z_g, z_o), log_f_m, fresh = _gate_preamble(w, z, nrm, stab)
    m = np.where(fresh, z_i, np.maximum(z_i, log_f_m))
    i = np.minimum(np.exp(z_i - m), np.float32(1))       # stabilised input gate
    f = np.minimum(np.exp(log_f_m - m), np.float32(1))   # stabilised forget gate
    g = w.cell_activation(z_g)                           # candidate (the package's z)
    o = w.gate_activation(z_o)
    c = f * c + i * g
    nrm = f * nrm + i
    h = o * c / nrm
    return i, f, g, o, c, nrm, m, h


def slstm_step(w: SlstmWeights, x: np.ndarray, h: np.ndarray, state: np.ndarray):
    """One sLSTM step, the written spec: (i, f, g, o, c, nrm, stab, h) after reading x
    (..., D) from h (..., N) and ``state`` (..., 3N) = c, nrm, stab side by side."""
    return slstm_from_z(w, *_step_input(w, x, h, state))


def slstm_step_vjp(w: SlstmWeights, x: np.ndarray, h: np.ndarray, state: np.ndarray,
                   dh_new: np.ndarray, dstate_new: np.ndarray):
    """The backward of ``slstm_step``: (dx, dh, dstate, dstate_t) as ``lstm_step_vjp``'s, the
    state (..., 3N) = c, nrm, stab and ``dstate_new`` the gradient reaching the new one from
    outside h. The stabiliser is differentiated as torch differentiates the package's cell:
    through max, to the branch that won (half to each on a tie). For a loss on h its paths
    add up to zero (moving m scales c and n alike), so h's gradients are the unstabilised
    cell's."""
    z, c, nrm, stab = _step_input(w, x, h, state)
    i, f, g, o, c_t, n_t, m, _ = slstm_from_z(w, z, c, nrm, stab)
    (z_i, z_f, z_g, z_o), lfm, fresh = _gate_preamble(w, z, nrm, stab)
    dc_new, dn_new, dm_new = np.split(dstate_new, 3, axis=-1)
    dc_t = dc_new + dh_new * o / n_t                     # h = o·c/n
    dn_t = dn_new - dh_new * o * c_t / (n_t * n_t)
    di = dc_t * g + dn_t                                 # c = f·c + i·g, n = f·n + i
    df = dc_t * c + dn_t * nrm
    dm = dm_new - di * i - df * f                        # i = exp(z_i − m), f = exp(log f + m_prev − m)
    to_i = np.where(fresh | (z_i > lfm), 1.0, np.where(z_i == lfm, 0.5, 0.0))
    dz_i = di * i + dm * to_i
    dlfm = df * f + dm * (1 - to_i)                      # on log f + m_prev
    dz_f = dlfm if w.exp_forget else log_sigmoid_vjp(z_f, dlfm)
    dz_g = w.cell_activation.vjp(z_g, g, dc_t * i)
    dz_o = w.gate_activation.vjp(z_o, o, dh_new * c_t / n_t)
    dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=-1)
    dstate = np.concatenate([dc_t * f, dn_t * f, dlfm], axis=-1)
    dstate_t = np.concatenate([dc_t, dn_t, dm], axis=-1)
    return dz @ w.kernel.T, dz @ w.recurrent_kernel.T, dstate, dstate_t


SLSTM_CELL = CellKind(
    name="slstm",
    gates=STORAGE_GATE_ORDER,
    states=("c", "nrm", "stab", "h"),
    cell_parts=CELL_PARTS,
    written_as="sLSTM",
    positive=("nrm",),              # n = f·n + i, f and i > 0, n0 = 0 (or a positive state)
    ratio_gates=("f", "i", "o"),
    signals=(
        SignalSpec("f", "f", "forget gate",
                   "Forget gate, stabilised: exp(log σ(z_f) + m_prev − m), how much of C and of "
                   "the normalizer n each unit keeps (≤ 1)."),
        SignalSpec("i", "i", "input gate",
                   "Input gate, stabilised: exp(z_i − m), how much of the candidate g each unit "
                   "writes into C (and of 1 into n); exponential, so it can outweigh f."),
        SignalSpec("o", "o", "output gate", "Output gate: how much of C/n each unit shows as h."),
        SignalSpec("g", "g", "candidate",
                   "Candidate g = tanh(z) (the package's z): the new content offered to C."),
        SignalSpec("c", "C", "cell state", "Cell state C: the unit's memory, carried from step to step."),
        SignalSpec("nrm", "n", "normalizer",
                   "Normalizer n = f·n + i: the sum of the input gates C has taken in; h shows C/n."),
        SignalSpec("stab", "m", "stabilizer",
                   "Stabilizer m = max(z_i, log f + m): the exponent the gates are measured from, "
                   "so exp never overflows; it cancels in C/n."),
        SignalSpec("h", "h", "output",
                   "Output h = o·C/n: what the unit emits, read at the next step by the units of "
                   "its own head only."),
    ),
    diagram_gates=("f", "i", "g", "o"),
    formulas=(("f", "f = σ(z)·e^−Δm"), ("i", "i = e^(z−m)")),
    feeds=(("c", ("f", "i", "g")), ("nrm", ("f", "i")), ("stab", ("f", "i")), ("h", ("o",))),
    carry="f",
    step=slstm_step, step_extended=slstm_step,
    step_vjp=slstm_step_vjp, step_extended_vjp=slstm_step_vjp,
    badges=(
        BadgeSpec("kernel", "kernel", "Input kernel W: (D, 4N). From a live xLSTM block, the cell "
                  "reads its layer's gate projections x·W already made (i, f from the convolved "
                  "input), so W is the identity and x is those pre-activations."),
        BadgeSpec("recurrent_kernel", "recurrent kernel", "Recurrent kernel U: (N, 4N), zero outside "
                  "its heads' blocks (the package keeps only the blocks, (heads, 4·N/heads, N/heads)) — "
                  "a unit reads the previous h of its own head only: units are coupled within a head, "
                  "never across."),
        BadgeSpec("bias", "bias", "Bias b: (4N,) — one number per unit per gate."),
    ),
    params_tip="Parameters of the cell as the xlstm package counts them: heads·4·(N/heads)² "
               "recurrent weights and 4N biases (the gate projections belong to the layer).",
    lanes_hidden=("g", "stab"),
)
"""What an sLSTM cell is (engine.cells.cell_kind): signals i f g o, c nrm stab, h."""
