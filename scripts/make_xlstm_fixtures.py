"""Write the sLSTM reference fixtures: a small ``xLSTMBlockStack`` of sLSTM blocks per head
count, and the numbers the ``xlstm`` package's own reference cell computed on it
(docs/architecture.md, "sLSTM").

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
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from xlstm import sLSTMBlockConfig, sLSTMLayerConfig, xLSTMBlockStack, xLSTMBlockStackConfig
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


if __name__ == "__main__":
    for k in HEADS:
        make(k)
        print(f"wrote {OUT / f'slstm_h{k}.npz'}")
