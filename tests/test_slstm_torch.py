"""sLSTM parity through the live module: ``engine.from_torch`` on an ``xlstm``
``xLSTMBlockStack`` of sLSTM blocks (the package's vanilla backend on CPU) traces each sLSTM
cell, and every step's h, c, n, m equals the package's own cell within the project's tolerance
for 1, 2 and 4 heads (fixtures: scripts/make_xlstm_fixtures.py; docs/architecture.md, "sLSTM").
Options the engine cannot step are refused in one line naming the cell and the option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from xlstm import sLSTMBlockConfig, sLSTMLayerConfig, xLSTMBlockStack, xLSTMBlockStackConfig
from xlstm.blocks.slstm.cell import sLSTMCell_cuda, sLSTMCellConfig

import engine
from engine.cells.slstm_cell import SLSTM_CELL
from engine.errors import UnsupportedModelError
from tests.helpers import assert_close

FIXTURES = Path(__file__).parent / "fixtures" / "xlstm"
STATES = {"h": "h", "c": "c", "n": "nrm", "m": "stab"}


def stack_config(meta: dict, **layer) -> xLSTMBlockStackConfig:
    cell = sLSTMLayerConfig(backend="vanilla", num_heads=meta["heads"],
                            conv1d_kernel_size=meta["conv1d_kernel_size"], **layer)
    return xLSTMBlockStackConfig(slstm_block=sLSTMBlockConfig(slstm=cell),
                                 context_length=meta["context_length"], num_blocks=meta["blocks"],
                                 embedding_dim=meta["embedding_dim"])


def fixture_stack(heads: int):
    """The fixture's stack rebuilt from its config and state dict, its input and the file."""
    data = np.load(FIXTURES / f"slstm_h{heads}.npz")
    meta = json.loads(str(data["meta"]))
    stack = xLSTMBlockStack(stack_config(meta)).eval()
    stack.load_state_dict({k[len("param:"):]: torch.from_numpy(data[k]) for k in data.files
                           if k.startswith("param:")})
    return stack, torch.from_numpy(data["x"]), data


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_every_step_of_every_slstm_cell_matches_the_package(heads):
    stack, x, ref = fixture_stack(heads)
    with torch.no_grad():
        assert_close(stack(x).numpy(), ref["output"], "the rebuilt stack's output")
    s = engine.from_torch(stack, x)
    result = s.result()
    names = [str(ref[f"layer{k}_name"]) for k in range(2)]
    assert result.names == names == ["blocks.0.xlstm.slstm_cell", "blocks.1.xlstm.slstm_cell"]
    assert_close(result.output, ref["output"], "output (the package's own run)")
    for k, layer in enumerate(result.layers):
        assert layer.cell_kind is SLSTM_CELL and layer.weights.heads == heads
        for key, signal in STATES.items():
            assert_close(layer.signal(signal), ref[f"layer{k}_{key}"], f"{names[k]} {signal}")


def test_a_session_steps_the_captured_cell_as_the_package_does():
    stack, x, ref = fixture_stack(2)
    s = engine.from_torch(stack, x, layer=1)
    assert s.cell_kind is SLSTM_CELL
    for _ in range(7):
        s.step()
    s.back()
    assert s.t == 6
    assert_close(s.trace.signal("nrm")[:, :6], ref["layer1_n"][:, :6], "nrm read so far")
    assert np.isnan(s.trace.signal("h")[:, 6:]).all()


def test_a_captured_initial_state_is_carried_in():
    """The cell called with a state (4, B, N) = h, c, n, m starts from it."""
    stack, x, _ = fixture_stack(1)
    cell = stack.blocks[0].xlstm.slstm_cell

    class WithState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = cell

        def forward(self, gates):
            state = torch.stack([torch.full((2, 8), v) for v in (0.3, -0.2, 1.5, 0.4)])
            return self.cell(gates, state=state)[0]

    gates = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(0))
    s = engine.from_torch(WithState(), gates)
    tr = s.result().layer(0)
    with torch.no_grad():
        want = WithState()(gates).permute(0, 2, 1, 3).reshape(2, 5, 8).numpy()   # BNSH -> BSH
    assert_close(tr.h, want, "h from a carried state")
    assert_close(tr.h0, np.full((2, 8), 0.3, np.float32), "h0")
    assert_close(tr.c0[:, 8:16], np.full((2, 8), 1.5, np.float32), "nrm0")


def test_a_cell_the_engine_cannot_step_is_refused_in_one_line_naming_it():
    config = sLSTMCellConfig(hidden_size=8, num_heads=2, backend="cuda")
    holder = torch.nn.Module()
    holder.rnn = sLSTMCell_cuda(config, skip_backend_init=True)
    with pytest.raises(UnsupportedModelError) as info:
        engine.from_torch(holder, torch.zeros(1, 3, 32))
    message = str(info.value)
    assert "'rnn'" in message and "backend='cuda'" in message and "\n" not in message

    meta = {"heads": 2, "blocks": 1, "embedding_dim": 8, "context_length": 8, "conv1d_kernel_size": 0}
    lstm_fn = xLSTMBlockStack(stack_config(meta, function="lstm")).eval()
    with pytest.raises(UnsupportedModelError, match=r"'blocks\.0\.xlstm\.slstm_cell' has function='lstm'"):
        engine.from_torch(lstm_fn, torch.zeros(1, 3, 8))


def test_a_stack_mixing_mlstm_and_slstm_blocks_traces_every_cell():
    """xLSTM[a:b] stacks mix blocks: the package runs the blocks, the engine steps every cell
    (mLSTM and sLSTM), each fed what the blocks before it made."""
    from xlstm import mLSTMBlockConfig, mLSTMLayerConfig
    torch.manual_seed(0)
    config = xLSTMBlockStackConfig(
        mlstm_block=mLSTMBlockConfig(mlstm=mLSTMLayerConfig(num_heads=2, conv1d_kernel_size=4,
                                                             qkv_proj_blocksize=4)),
        slstm_block=sLSTMBlockConfig(slstm=sLSTMLayerConfig(backend="vanilla", num_heads=2)),
        context_length=12, num_blocks=3, embedding_dim=16, slstm_at=[1])
    stack = xLSTMBlockStack(config).eval()
    x = torch.randn(2, 12, 16)
    seen = {}
    cell = stack.blocks[1].xlstm.slstm_cell
    hook = cell.register_forward_pre_hook(lambda mod, args: seen.update(x=args[0]))
    with torch.no_grad():
        out = stack(x)
        hook.remove()
        h = cell(seen["x"])[0].permute(0, 2, 1, 3).reshape(2, 12, 16).numpy()   # BNSH -> BSH
    result = engine.from_torch(stack, x).result()
    assert result.names == ["blocks.0.xlstm.mlstm_cell", "blocks.1.xlstm.slstm_cell",
                            "blocks.2.xlstm.mlstm_cell"]
    assert [layer.cell_kind.written for layer in result.layers] == ["mLSTM", "sLSTM", "mLSTM"]
    assert_close(result.output, out.numpy(), "the stack's output")
    assert_close(result.layer(1).h, h, "h of the sLSTM cell")
