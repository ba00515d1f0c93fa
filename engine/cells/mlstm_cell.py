"""The mLSTM of xLSTM (Beck et al. 2024) in its recurrent form, the written spec.

Per head, with q, k, v (DH,) read at step t and scalar gate pre-activations z_i, z_f (the
``xlstm`` package's ``mLSTMCell`` computes them from q, k, v with two linear maps):

    m_t = max(log σ(z_f) + m_{t-1}, z_i)                   the stabiliser
    i = exp(z_i − m_t)   f = exp(log σ(z_f) + m_{t-1} − m_t)
    C_t = f·C_{t-1} + i·(k/√DH) vᵀ       n_t = f·n_{t-1} + i·k/√DH
    h_t = (qᵀ C_t) / (max(|qᵀ n_t|, exp(−m_t)) + ε)

as the package's ``recurrent_step_stabilized_simple`` computes it; its parallel form
(``parallel_stabilized_simple``, what ``mLSTMCell.forward`` runs) gives the same h within the
project's tolerance (tests/test_mlstm_spec.py).

As a cell kind of the engine (``MlstmWeights``, ``MLSTM_CELL``, ``mlstm_cell_step``) the cell is
what the package's ``mLSTMCell`` is: it reads q, k, v (B, T, 3N) side by side (N = heads·DH),
makes z_i, z_f per head with its two linear maps of that, steps the recurrent form and applies
its output norm (a layer norm per head, weight 1 + w, no bias). Its units are h's N columns.
It has **no recurrent kernel**: h_{t-1} is read by nothing; a head's units are coupled only
through that head's C and its shared scalar gates, and heads not at all.

The carried state (the runner's recorded ``c``, (..., 2N + N·DH)) holds side by side:
``nrm`` n (heads·DH = N), ``stab`` m (one per head, repeated over the head's DH units so
that it reads as an N-wide signal) and C (heads, DH, DH) flattened, rows key dims, columns
value dims as the package stores it (h = qᵀC). The recorded i and f are per head, repeated
over the head's units alike (docs/architecture.md, "mLSTM").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScopeError
from .activations import Activation
from .cell import CellWeights
from .cell_kind import BadgeSpec, CellKind, SignalSpec
from .heads import HeadedCell
from .slstm_cell import STABILISED, log_sigmoid

EPS = 1e-6
"""The package's ε in h's denominator."""


def mlstm_step(q: np.ndarray, k: np.ndarray, v: np.ndarray, z_i: np.ndarray, z_f: np.ndarray,
               c: np.ndarray, n: np.ndarray, m: np.ndarray):
    """One step of every head: q, k, v (..., heads, DH), z_i, z_f (..., heads), state C
    (..., heads, DH, DH), n (..., heads, DH), m (..., heads). Returns (i, f, C, n, m, h) after
    the step: the stabilised gates (..., heads), the new state and h (..., heads, DH)."""
    dh = q.shape[-1]
    log_f = log_sigmoid(z_f)
    m_new = np.maximum(log_f + m, z_i)
    i = np.exp(z_i - m_new)
    f = np.exp(log_f + m - m_new)
    k = k / np.sqrt(np.asarray(dh, q.dtype))
    c = f[..., None, None] * c + i[..., None, None] * (k[..., :, None] * v[..., None, :])
    n = f[..., None] * n + i[..., None] * k
    num = np.einsum("...d,...de->...e", q, c)                       # qᵀ C
    qn = np.einsum("...d,...d->...", q, n)
    h = num / (np.maximum(np.abs(qn), np.exp(-m_new)) + EPS)[..., None]
    return i, f, c, n, m_new, h


def mlstm_run(q: np.ndarray, k: np.ndarray, v: np.ndarray, z_i: np.ndarray, z_f: np.ndarray):
    """h (B, T, heads, DH) of the recurrent form over q, k, v (B, T, heads, DH) and z_i, z_f
    (B, T, heads), from a zero state; and the last state (C, n, m)."""
    b, t_len, heads, dh = q.shape
    c = np.zeros((b, heads, dh, dh), q.dtype)
    n = np.zeros((b, heads, dh), q.dtype)
    m = np.zeros((b, heads), q.dtype)
    h = np.empty_like(q)
    for t in range(t_len):
        _, _, c, n, m, h[:, t] = mlstm_step(q[:, t], k[:, t], v[:, t], z_i[:, t], z_f[:, t], c, n, m)
    return h, (c, n, m)


MLSTM_PARTS = ("q", "k", "v")
"""The column blocks of an mLSTM's input: what the cell reads, q, k and v (the zx axis)."""
CELL_PARTS = ("nrm", "stab")
"""The N-wide blocks at the head of an mLSTM's carried state; C (N·DH) follows them."""
NORM_EPS = 1e-5
"""The package's output norm's ε (``MultiHeadLayerNorm``)."""


@dataclass(frozen=True)
class MlstmWeights(HeadedCell, CellWeights):
    """One mLSTM cell (the package's ``mLSTMCell``): ``heads`` heads of DH = N / heads.

    kernel the identity (3N, 3N): the cell reads q, k, v made by its layer, so x·W is x
    (``identity_kernel``); recurrent kernel zeros (N, 3N): the cell has none, and a link of
    weight 0 is drawn nowhere; bias zeros (3N,). ``gate_kernel`` (3N, 2·heads) and
    ``gate_bias`` (2·heads,) are the igate's then the fgate's linear maps of (q, k, v);
    ``norm_weight`` (N,) the output norm's scale (the package's 1 + weight; None: the cell
    applies no norm)."""

    heads: int = 1
    gate_kernel: np.ndarray | None = None
    gate_bias: np.ndarray | None = None
    norm_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.units
        self.check_heads()
        if not np.array_equal(self.kernel, np.eye(3 * n)):
            raise ValueError("an mLSTM reads q, k, v: its kernel is the identity (3N, 3N)")
        if self.recurrent_kernel.any():
            raise ValueError("an mLSTM has no recurrent kernel: U must be zeros (N, 3N)")
        for name, shape in (("gate_kernel", (3 * n, 2 * self.heads)), ("gate_bias", (2 * self.heads,)),
                            ("norm_weight", (n,))):
            arr = getattr(self, name)
            if arr is None:
                if name == "norm_weight":
                    continue
                arr = np.zeros(shape, np.float32)
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            if arr.shape != shape:
                raise ValueError(f"{name} must be {shape}, got {arr.shape}")
            object.__setattr__(self, name, arr)

    @classmethod
    def make(cls, heads: int, gate_kernel: np.ndarray, gate_bias: np.ndarray,
             norm_weight: np.ndarray | None = None, param_count: int = 0) -> MlstmWeights:
        """The cell from its own parameters (the identity W, zero U and b laid out here)."""
        n = np.shape(gate_kernel)[0] // 3
        return cls(kernel=np.eye(3 * n, dtype=np.float32),
                   recurrent_kernel=np.zeros((n, 3 * n), np.float32),
                   bias=np.zeros(3 * n, np.float32), heads=heads, gate_kernel=gate_kernel,
                   gate_bias=gate_bias, norm_weight=norm_weight, param_count=param_count)

    @property
    def units(self) -> int:
        return self.kernel.shape[1] // 3

    @property
    def cell_size(self) -> int:
        """nrm (N), stab (N, one value per head) and C (heads·DH·DH = N·DH) side by side."""
        return self.units * (2 + self.head_size)

    @property
    def identity_kernel(self) -> bool:
        return True

    @property
    def kind(self) -> CellKind:
        return MLSTM_CELL

    def gate_slice(self, gate: str) -> slice:
        """The columns of block q, k or v in a (..., 3N) array (W's identity, U's zeros)."""
        n = self.units
        k = MLSTM_PARTS.index(gate)
        return slice(k * n, (k + 1) * n)

    def activation_of(self, signal: str) -> Activation | None:
        """The stabilised exp (0..1) of i and f."""
        return STABILISED if signal in ("i", "f") else None

    def default_param_count(self) -> int:
        """The gates' linear maps and the output norm's weight (q, k, v belong to the layer)."""
        norm = 0 if self.norm_weight is None else self.units
        return int(self.gate_kernel.size + self.gate_bias.size + norm)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Badges: the gates' linear maps (3N, 2·heads), their bias, the output norm (N,)."""
        out = {"gate_kernel": tuple(self.gate_kernel.shape), "gate_bias": tuple(self.gate_bias.shape)}
        if self.norm_weight is not None:
            out["norm_weight"] = tuple(self.norm_weight.shape)
        return out

    def memory(self, state: np.ndarray) -> np.ndarray:
        """C (..., heads, DH, DH) [head, key dim, value dim] out of a carried state (..., 2N + N·DH):
        a view."""
        n, dh = self.units, self.head_size
        return state[..., 2 * n:].reshape(*state.shape[:-1], self.heads, dh, dh)

    def recorded_state(self, c: np.ndarray) -> dict[str, np.ndarray]:
        """The matrix memory ``C`` (B, T, heads, DH, DH) of a recorded c, for a trace's arrays."""
        return {"C": self.memory(c)}


def out_norm(w: MlstmWeights, h: np.ndarray) -> np.ndarray:
    """The package's ``MultiHeadLayerNorm`` of h̃ (..., heads, DH): per head (h̃ − mean) /
    √(var + ε), times the weight; h̃ itself where the cell has no norm."""
    if w.norm_weight is None:
        return h
    mean = h.mean(axis=-1, keepdims=True)
    var = np.square(h - mean).mean(axis=-1, keepdims=True)
    return (h - mean) / np.sqrt(var + h.dtype.type(NORM_EPS)) * w.norm_weight.reshape(w.heads, -1)


def mlstm_cell_step(w: MlstmWeights, x: np.ndarray, h: np.ndarray, state: np.ndarray):
    """One step of the package's ``mLSTMCell``, the written spec: (i, f, nrm, stab, h, state)
    after reading x (..., 3N) = q, k, v from ``state`` (..., 2N + N·DH) = nrm, stab, C. i, f
    (..., heads) are the stabilised gates, nrm (..., N), stab (..., heads), h (..., N) the
    normed output; the previous h is not read (the cell has no recurrent kernel)."""
    n, heads, dh = w.units, w.heads, w.head_size
    lead = x.shape[:-1]
    z = x @ w.gate_kernel + w.gate_bias                 # (..., 2·heads): z_i, z_f per head
    q, k, v = (x[..., j * n:(j + 1) * n].reshape(*lead, heads, dh) for j in range(3))
    nrm = state[..., :n].reshape(*lead, heads, dh)
    stab = state[..., n:2 * n].reshape(*lead, heads, dh)[..., 0]
    i, f, c, nrm, stab, h_tilde = mlstm_step(q, k, v, z[..., :heads], z[..., heads:],
                                             w.memory(state), nrm, stab)
    h_out = out_norm(w, h_tilde).reshape(*lead, n)
    new = np.concatenate([nrm.reshape(*lead, n), np.repeat(stab, dh, axis=-1),
                          c.reshape(*lead, n * dh)], axis=-1)
    return i, f, nrm.reshape(*lead, n), stab, h_out, new


def _no_backward(*_args, **_kwargs):
    """The table's backward for a kind marked not ``differentiable``: the gradient code refuses
    such a layer by name before any step (grad_layer); a direct call gets the same one line."""
    raise ScopeError("an mLSTM layer: LSTM Scope does not compute its gradients yet")


MLSTM_CELL = CellKind(
    name="mlstm",
    gates=("i", "f"),
    states=("nrm", "stab", "h"),
    cell_parts=CELL_PARTS,
    written_as="mLSTM",
    differentiable=False,
    recurrent=False,
    blocks=MLSTM_PARTS,
    ratio_gates=("f", "i"),
    signals=(
        SignalSpec("f", "f", "forget gate",
                   "Forget gate of the unit's head, stabilised: exp(log σ(z_f) + m_prev − m), how "
                   "much of the head's matrix memory C and normalizer n is kept (≤ 1; one number "
                   "per head, shown on each of its units)."),
        SignalSpec("i", "i", "input gate",
                   "Input gate of the unit's head, stabilised: exp(z_i − m), how much of the new "
                   "k vᵀ the head writes into C (≤ 1; one number per head)."),
        SignalSpec("nrm", "n", "normalizer",
                   "Normalizer n = f·n + i·k/√DH: the unit's key dimension of the head's sum of "
                   "the keys written; h divides by max(|qᵀn|, e^−m)."),
        SignalSpec("stab", "m", "stabilizer",
                   "Stabilizer m = max(log σ(z_f) + m, z_i) of the unit's head: the exponent the "
                   "gates are measured from, so exp never overflows."),
        SignalSpec("h", "h", "output",
                   "Output h = norm(qᵀC / max(|qᵀn|, e^−m)): the unit's value dimension of what "
                   "its head reads out of C. No unit reads it back: the mLSTM has no recurrent "
                   "kernel, its units are coupled only through their head's C and gates."),
    ),
    diagram_gates=("f", "i"),
    formulas=(("f", "f = σ(z)·e^−Δm"), ("i", "i = e^(z−m)")),
    feeds=(("nrm", ("f", "i")), ("stab", ("f", "i")), ("h", ("f", "i"))),
    carry="f",
    step=mlstm_cell_step, step_extended=mlstm_cell_step,
    step_vjp=_no_backward, step_extended_vjp=_no_backward,
    badges=(
        BadgeSpec("gate_kernel", "gate kernel", "The input and forget gates' linear maps of (q, k, v): "
                  "(3N, 2·heads), one scalar gate per head. The cell reads q, k, v made by its "
                  "layer (W is the identity) and has no recurrent kernel: h is read back by "
                  "nothing, a head's units are coupled only through its matrix memory C."),
        BadgeSpec("gate_bias", "gate bias", "The gates' biases: (2·heads,)."),
        BadgeSpec("norm_weight", "output norm", "The output norm's weight (N,): a layer norm per "
                  "head over its DH units (the package's 1 + weight)."),
    ),
    params_tip="Parameters of the cell as the xlstm package counts them: the gates' linear maps "
               "(3N·2·heads + 2·heads) and the output norm's N weights (q, k, v and the layer's "
               "projections belong to the layer).",
    lanes_hidden=("stab",),
)
"""What an mLSTM cell is (engine.cells.cell_kind): signals f i nrm stab h; C (windowed) in the
trace's arrays."""
