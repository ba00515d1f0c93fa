"""Write the sLSTM and mLSTM reference fixtures: a small ``xLSTMBlockStack`` of sLSTM blocks
and one of mLSTM blocks per head count, and the numbers the ``xlstm`` package's own cells
computed on them (docs/architecture.md, "sLSTM", "mLSTM").

Rerun (seeded, deterministic) with torch==2.13.0 and xlstm==2.0.6 installed:

    python scripts/make_xlstm_fixtures.py

Per head count K (1, 2, 4), tests/fixtures/xlstm/slstm_hK.npz holds ``meta`` (JSON: the stack's
config), ``x`` (B, T, E) the stack's input, ``output`` the stack's output, every parameter
as ``param:NAME`` (the module's state dict; the recurrent kernels and biases are drawn at
random, the package initialises them to zeros and a power law, which would test little), and
per sLSTM cell k ``layer{k}_name`` and ``layer{k}_h|c|n|m`` (B, T, N): the states the package's
vanilla ``slstm_forward`` gives after each step, fed the cell's own input as the stack ran it.

For the 4-head stack it also writes the files a trained stack is shipped as, opened with
``--config`` (engine/loaders/xlstm_config.py): ``slstm_h4.pt`` (``torch.save`` of its state dict),
``slstm_h4.safetensors`` (the same tensors) and its config as the package's examples give one,
``slstm_h4.yaml`` and ``slstm_h4.json`` (``xLSTMBlockStackConfig``'s fields as plain data).

tests/fixtures/xlstm/mlstm_hK.npz holds the same for a stack of mLSTM blocks (all parameters
drawn at random, the gates' biases shifted so that f starts near the package's 3..6), and per
mLSTM cell k ``layer{k}_name``, ``layer{k}_h`` (B, T, N) and ``layer{k}_C`` (B, T, heads, DH, DH):
the output and matrix memory the package's ``mLSTMCell.step`` gives step by step from a zero
state, and ``layer{k}_forward`` (B, T, N) what the cell's own ``forward`` (the parallel form)
returned inside the stack.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from xlstm import (
    mLSTMBlockConfig,
    mLSTMLayerConfig,
    sLSTMBlockConfig,
    sLSTMLayerConfig,
    xLSTMBlockStack,
    xLSTMBlockStackConfig,
)
from xlstm.blocks.slstm.src.vanilla import slstm_forward

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "xlstm"
HEADS = (1, 2, 4)


def stack_config(meta: dict) -> xLSTMBlockStackConfig:
    """The stack a fixture was made from (tests rebuild it from ``meta``)."""
    layer = sLSTMLayerConfig(backend="vanilla", num_heads=meta["heads"],
                             conv1d_kernel_size=meta["conv1d_kernel_size"])
    return xLSTMBlockStackConfig(slstm_block=sLSTMBlockConfig(slstm=layer),
                                 context_length=meta["context_length"], num_blocks=meta["blocks"],
                                 embedding_dim=meta["embedding_dim"])


def cell_states(cell: torch.nn.Module, cell_input: torch.Tensor) -> np.ndarray:
    """(4, B, T, N): h, c, n, m after each step, from the package's vanilla forward."""
    inp = cell._permute_input(cell_input)
    with torch.no_grad():
        states, _, _ = slstm_forward(inp, cell._zero_state(inp), cell._recurrent_kernel,
                                     cell._bias, cell.pointwise)
    return states[:, 1:].permute(0, 2, 1, 3).numpy()


def make(heads: int) -> None:
    meta = {"heads": heads, "blocks": 2, "embedding_dim": 8, "context_length": 16,
            "conv1d_kernel_size": 4}
    torch.manual_seed(heads)
    stack = xLSTMBlockStack(stack_config(meta)).eval()
    with torch.no_grad():
        for p in stack.parameters():
            p.normal_(0.0, 0.5)
    x = torch.randn(2, 12, meta["embedding_dim"])
    cells = [(name, mod) for name, mod in stack.named_modules() if type(mod).__name__ == "sLSTMCell_vanilla"]
    seen: dict[str, torch.Tensor] = {}
    hooks = [mod.register_forward_pre_hook(lambda m, a, name=name: seen.update({name: a[0]}))
             for name, mod in cells]
    with torch.no_grad():
        output = stack(x)
    for hook in hooks:
        hook.remove()
    arrays = {"meta": np.array(json.dumps(meta)), "x": x.numpy(), "output": output.numpy()}
    arrays.update({f"param:{k}": v.numpy() for k, v in stack.state_dict().items()})
    for k, (name, cell) in enumerate(cells):
        arrays[f"layer{k}_name"] = np.array(name)
        for key, values in zip("hcnm", cell_states(cell, seen[name])):
            arrays[f"layer{k}_{key}"] = values
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / f"slstm_h{heads}.npz", **arrays)
    if heads == 4:
        state_dict_files(stack, meta, f"slstm_h{heads}")


def config_data(meta: dict) -> dict:
    """``stack_config(meta)`` as the plain data a YAML or JSON config holds."""
    return {"slstm_block": {"slstm": {"backend": "vanilla", "num_heads": meta["heads"],
                                      "conv1d_kernel_size": meta["conv1d_kernel_size"]}},
            "context_length": meta["context_length"], "num_blocks": meta["blocks"],
            "embedding_dim": meta["embedding_dim"]}


def state_dict_files(stack: torch.nn.Module, meta: dict, name: str) -> None:
    """The stack's state dict (.pt and .safetensors) and its config (.yaml and .json)."""
    import yaml
    from safetensors.torch import save_file
    state = {k: v.contiguous() for k, v in stack.state_dict().items()}
    torch.save(state, OUT / f"{name}.pt")
    save_file(state, str(OUT / f"{name}.safetensors"))
    data = config_data(meta)
    (OUT / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (OUT / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def mlstm_stack_config(meta: dict) -> xLSTMBlockStackConfig:
    """The mLSTM stack a fixture was made from (tests rebuild it from ``meta``)."""
    layer = mLSTMLayerConfig(num_heads=meta["heads"], conv1d_kernel_size=meta["conv1d_kernel_size"],
                             qkv_proj_blocksize=meta["qkv_proj_blocksize"],
                             round_proj_up_to_multiple_of=meta["round_proj_up_to_multiple_of"])
    return xLSTMBlockStackConfig(mlstm_block=mLSTMBlockConfig(mlstm=layer),
                                 context_length=meta["context_length"], num_blocks=meta["blocks"],
                                 embedding_dim=meta["embedding_dim"])


def mlstm_steps(cell: torch.nn.Module, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """(h (B, T, N), C (B, T, heads, DH, DH)) from the package's ``mLSTMCell.step``, one step
    at a time from a zero state."""
    hs, cs, state = [], [], None
    with torch.no_grad():
        for t in range(q.shape[1]):
            h, state = cell.step(q[:, t:t + 1].clone(), k[:, t:t + 1].clone(), v[:, t:t + 1].clone(),
                                 mlstm_state=state)
            hs.append(h[:, 0].numpy())
            cs.append(state[0].numpy().copy())
    return np.stack(hs, axis=1), np.stack(cs, axis=1)


def make_mlstm(heads: int) -> None:
    meta = {"heads": heads, "blocks": 2, "embedding_dim": 8, "context_length": 16,
            "conv1d_kernel_size": 4, "qkv_proj_blocksize": 4, "round_proj_up_to_multiple_of": 16}
    torch.manual_seed(100 + heads)
    stack = xLSTMBlockStack(mlstm_stack_config(meta)).eval()
    with torch.no_grad():
        for p in stack.parameters():
            p.normal_(0.0, 0.5)
        for mod in stack.modules():
            if type(mod).__name__ == "mLSTMCell":
                mod.fgate.bias.add_(3.0)
    x = torch.randn(2, 12, meta["embedding_dim"])
    cells = [(name, mod) for name, mod in stack.named_modules() if type(mod).__name__ == "mLSTMCell"]
    seen: dict[str, dict] = {}
    ran: dict[str, torch.Tensor] = {}
    hooks = [mod.register_forward_pre_hook(lambda m, a, kw, name=name: seen.update({name: kw}),
                                           with_kwargs=True) for name, mod in cells]
    hooks += [mod.register_forward_hook(lambda m, a, out, name=name: ran.update({name: out}))
              for name, mod in cells]
    with torch.no_grad():
        output = stack(x)
    for hook in hooks:
        hook.remove()
    arrays = {"meta": np.array(json.dumps(meta)), "x": x.numpy(), "output": output.numpy()}
    arrays.update({f"param:{k}": v.numpy() for k, v in stack.state_dict().items()})
    for k, (name, cell) in enumerate(cells):
        arrays[f"layer{k}_name"] = np.array(name)
        h, c = mlstm_steps(cell, seen[name]["q"], seen[name]["k"], seen[name]["v"])
        arrays[f"layer{k}_h"], arrays[f"layer{k}_C"] = h, c
        arrays[f"layer{k}_forward"] = ran[name].numpy()
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / f"mlstm_h{heads}.npz", **arrays)


if __name__ == "__main__":
    for k in HEADS:
        make(k)
        print(f"wrote {OUT / f'slstm_h{k}.npz'}")
        make_mlstm(k)
        print(f"wrote {OUT / f'mlstm_h{k}.npz'}")
