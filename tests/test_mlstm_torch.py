"""mLSTM parity through the live module: ``engine.from_torch`` on an ``xlstm``
``xLSTMBlockStack`` of mLSTM blocks (the package's pure-torch blocks on CPU) traces each
``mLSTMCell``, and every step's h and C equal the package's own ``mLSTMCell.step`` within the
project's tolerance for 1, 2 and 4 heads, and the run's h equals what the cell's ``forward``
(the parallel form) returned inside the stack (fixtures: scripts/make_xlstm_fixtures.py;
docs/architecture.md, "mLSTM"). What the engine cannot step is refused in one line naming
the cell and the option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from xlstm import mLSTMBlockConfig, mLSTMLayerConfig, xLSTMBlockStack, xLSTMBlockStackConfig

import engine
from engine.cells.mlstm_cell import MLSTM_CELL
from engine.errors import ScopeError, UnsupportedModelError
from tests.helpers import assert_close

FIXTURES = Path(__file__).parent / "fixtures" / "xlstm"
CELLS = ["blocks.0.xlstm.mlstm_cell", "blocks.1.xlstm.mlstm_cell"]


def stack_config(meta: dict) -> xLSTMBlockStackConfig:
    layer = mLSTMLayerConfig(num_heads=meta["heads"], conv1d_kernel_size=meta["conv1d_kernel_size"],
                             qkv_proj_blocksize=meta["qkv_proj_blocksize"],
                             round_proj_up_to_multiple_of=meta["round_proj_up_to_multiple_of"])
    return xLSTMBlockStackConfig(mlstm_block=mLSTMBlockConfig(mlstm=layer),
                                 context_length=meta["context_length"], num_blocks=meta["blocks"],
                                 embedding_dim=meta["embedding_dim"])


def fixture_stack(heads: int):
    """The fixture's stack rebuilt from its config and state dict, its input and the file."""
    data = np.load(FIXTURES / f"mlstm_h{heads}.npz")
    meta = json.loads(str(data["meta"]))
    stack = xLSTMBlockStack(stack_config(meta)).eval()
    stack.load_state_dict({k[len("param:"):]: torch.from_numpy(data[k]) for k in data.files
                           if k.startswith("param:")})
    return stack, torch.from_numpy(data["x"]), data


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_every_step_of_every_mlstm_cell_matches_the_package(heads):
    stack, x, ref = fixture_stack(heads)
    with torch.no_grad():
        assert_close(stack(x).numpy(), ref["output"], "the rebuilt stack's output")
    result = engine.from_torch(stack, x).result()
    assert result.names == [str(ref[f"layer{k}_name"]) for k in range(2)] == CELLS
    assert_close(result.output, ref["output"], "output (the package's own run)")
    for k, layer in enumerate(result.layers):
        w = layer.weights
        assert layer.cell_kind is MLSTM_CELL and w.heads == heads and w.units == 16
        arrays = layer.arrays()
        assert arrays["C"].shape == (2, 12, heads, 16 // heads, 16 // heads)
        assert_close(arrays["h"], ref[f"layer{k}_h"], f"{CELLS[k]} h per step")
        assert_close(arrays["C"], ref[f"layer{k}_C"], f"{CELLS[k]} C per step")
        assert_close(arrays["h"], ref[f"layer{k}_forward"], f"{CELLS[k]} h against the cell's forward")


def test_a_session_steps_the_captured_cell_as_the_package_does():
    stack, x, ref = fixture_stack(2)
    s = engine.from_torch(stack, x, layer=1)
    assert s.cell_kind is MLSTM_CELL
    for _ in range(7):
        s.step()
    s.back()
    assert s.t == 6
    assert_close(s.trace.h[:, :6], ref["layer1_h"][:, :6], "h read so far")
    assert_close(s.trace.weights.memory(s.trace.c[:, 5]), ref["layer1_C"][:, 5], "C at the cursor")
    assert np.isnan(s.trace.signal("h")[:, 6:]).all()
    with pytest.raises(ScopeError, match="is an mLSTM: LSTM Scope does not compute its gradients"):
        s.grad("h[0, 5, 0]")


def test_a_cell_the_engine_cannot_step_is_refused_in_one_line_naming_it():
    stack, x, _ = fixture_stack(1)
    cell = stack.blocks[1].xlstm.mlstm_cell
    cell.backend_fn = lambda **kw: None                     # not the package's parallel form
    with pytest.raises(UnsupportedModelError) as info:
        engine.from_torch(stack, x)
    message = str(info.value)
    assert "'blocks.1.xlstm.mlstm_cell'" in message and "backend_fn=" in message and "\n" not in message

    stack, x, _ = fixture_stack(1)
    stack.blocks[0].xlstm.mlstm_cell.outnorm.eps = 1e-3
    with pytest.raises(UnsupportedModelError, match=r"mLSTM cell 'blocks\.0\.xlstm\.mlstm_cell' has "
                                                    r"an output norm with eps=0\.001"):
        engine.from_torch(stack, x)


def test_xlstm_large_is_refused_in_one_line():
    """xLSTM 7B's mLSTM layer (``xlstm.xlstm_large``, triton kernels) is out of scope."""
    large = type("mLSTMLayer", (torch.nn.Module,), {"__module__": "xlstm.xlstm_large.model",
                                                     "forward": lambda self, x: x})

    class Holder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = large()
            self.layer.config = None

        def forward(self, x):
            return self.layer(x)

    with pytest.raises(UnsupportedModelError, match=r"^the mLSTM cell 'layer' has xlstm_large's kernels"):
        engine.from_torch(Holder(), torch.zeros(1, 3, 4))


def _saved_stack(tmp_path: Path, heads: int = 2):
    """An mLSTM stack of the fixture, saved as a trained stack is shipped: its state dict and
    its config as plain data (``--config``)."""
    stack, x, ref = fixture_stack(heads)
    meta = json.loads(str(ref["meta"]))
    data = {"mlstm_block": {"mlstm": {key: meta[key] for key in (
                "conv1d_kernel_size", "qkv_proj_blocksize", "round_proj_up_to_multiple_of")}
                | {"num_heads": heads}},
            "context_length": meta["context_length"], "num_blocks": meta["blocks"],
            "embedding_dim": meta["embedding_dim"]}
    torch.save(stack.state_dict(), tmp_path / "stack.pt")
    (tmp_path / "stack.json").write_text(json.dumps(data), encoding="utf-8")
    np.save(tmp_path / "x.npy", x.numpy())
    return tmp_path / "stack.pt", tmp_path / "stack.json", tmp_path / "x.npy", ref


def test_the_command_line_opens_an_mlstm_stack_with_its_config(tmp_path):
    """info names the cell's own weights, trace writes C per step as the package computed it,
    the memory view exports C at the step, and gradients are refused in one line."""
    from tests.helpers import assert_clean_error, run_cli
    weights, config, x, ref = _saved_stack(tmp_path)
    opened = ("--config", str(config))
    info = run_cli("info", str(weights), *opened)
    assert info.returncode == 0, info.stderr
    assert "gate_kernel=(48, 4) gate_bias=(4,) norm_weight=(16,)" in info.stdout
    out = tmp_path / "t.npz"
    proc = run_cli("trace", str(weights), *opened, "--input", str(x), "--layer", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as got:
        assert_close(got["C"], ref["layer1_C"], "C written by trace")
        assert_close(got["h"], ref["layer1_h"], "h written by trace")
    csv = tmp_path / "memory.csv"
    proc = run_cli("export", str(weights), *opened, "--input", str(x), "--view", "memory",
                   "--step", "4", "--out", str(csv))
    assert proc.returncode == 0, proc.stderr
    rows = csv.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "head,key_dim,value_dim,C" and len(rows) == 1 + 2 * 8 * 8
    head, key, value, c = rows[1 + 8 * 8 + 3 * 8 + 5].split(",")     # head 1, key 3, value 5
    assert (head, key, value) == ("1", "3", "5")
    assert_close(np.float32(c), ref["layer0_C"][0, 4, 1, 3, 5], "C in the memory view's CSV")
    assert_clean_error(run_cli("grad", str(weights), *opened, "--input", str(x), "--target",
                               "h[0, 5, 0]", "--out", str(tmp_path / "g.npz")),
                       "is an mLSTM: LSTM Scope does not compute its gradients yet")
