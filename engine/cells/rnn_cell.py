"""The simple RNN (Keras ``SimpleRNN``, PyTorch ``nn.RNN``, ONNX ``RNN``): weights, specs, table.

    h_t = act(x_t·W + h_{t-1}·U + b)          W (D, N)   U (N, N)   b (N,)

No gate: one column block, named ``h`` (``zx_h``, ``zh_h``, ``z_h`` in expressions). PyTorch's
two biases are summed by the loader. ``rnn_step`` and ``rnn_step_vjp`` are the specs the
stepper (``engine.runs.gru_stepper``) is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .cell import CellWeights
from .cell_kind import BadgeSpec, CellKind, SignalSpec


@dataclass(frozen=True)
class RnnWeights(CellWeights):
    """One simple-RNN direction: kernel (D, N), recurrent kernel (N, N), bias (N,);
    ``cell_activation`` is its activation (tanh, relu, any Keras one)."""

    @property
    def units(self) -> int:
        return self.kernel.shape[1]

    @property
    def cell_size(self) -> int:
        """A simple RNN carries no cell state: its c is (B, T, 0)."""
        return 0

    @property
    def is_classic(self) -> bool:
        return False

    @property
    def kind(self) -> CellKind:
        return RNN_CELL

    def gate_slice(self, gate: str) -> slice:
        if gate != "h":
            raise KeyError(gate)
        return slice(0, self.units)

    def activation_of(self, signal: str) -> Activation | None:
        return None

    def scaled_by(self, part: int) -> int | None:
        return None


def rnn_step(w: RnnWeights, x: np.ndarray, h: np.ndarray):
    """One simple-RNN step, the written spec: (h,) after reading x (..., D) from h (..., N)."""
    return (w.cell_activation(x @ w.kernel + h @ w.recurrent_kernel + w.bias),)


def rnn_step_vjp(w: RnnWeights, x: np.ndarray, h: np.ndarray, dh_new: np.ndarray):
    """The backward of ``rnn_step``: (dx, dh) = dL/dx_t, dL/dh_{t-1} from dh_new = dL/dh_t."""
    z = x @ w.kernel + h @ w.recurrent_kernel + w.bias
    dz = w.cell_activation.vjp(z, w.cell_activation(z), dh_new)
    return dz @ w.kernel.T, dz @ w.recurrent_kernel.T


RNN_CELL = CellKind(
    name="rnn",
    gates=(),
    blocks=("h",),
    states=("h",),
    ratio_gates=(),
    signals=(SignalSpec("h", "h", "state",
                        "State h = act(x·W + h·U + b): the unit's output, read by every unit at "
                        "the next step."),),
    diagram_gates=(),
    step=rnn_step, step_extended=rnn_step,
    step_vjp=rnn_step_vjp, step_extended_vjp=rnn_step_vjp,
    badges=(
        BadgeSpec("kernel", "kernel", "Input kernel W: (D, N) — one column per unit."),
        BadgeSpec("recurrent_kernel", "recurrent kernel", "Recurrent kernel U: (N, N) — every unit "
                  "reads the whole previous h of all N units: this is how the units are coupled."),
        BadgeSpec("bias", "bias", "Bias b: (N,) — one number per unit."),
    ),
    params_tip="Parameters as the framework counts them: N·(D+N)+N for one simple-RNN direction "
               "(PyTorch keeps two biases: N·(D+N)+2N).",
)
"""What a simple RNN cell is (engine.cells.cell_kind): one signal, h."""
