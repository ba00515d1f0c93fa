"""Write the GRU and simple-RNN reference fixtures: files made by the frameworks, and the
numbers the frameworks computed on them (docs/architecture.md, "GRU and simple RNN").

Rerun (seeded, deterministic) with torch==2.13.0 installed:

    python scripts/make_gru_fixtures.py

Per case, in tests/fixtures/gru/: the model file and ``NAME.npz`` with ``x`` (B, T, D) batch
first, ``output`` (what the framework returns), ``meta`` (JSON: the case's options) and per
traced direction k ``layer{k}_name``, ``layer{k}_direction`` and ``layer{k}_h`` (B, T, N)
indexed by input position. Each step's h comes from the library itself: torch steps a
one-layer module one position at a time with the state passed in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "gru"


def _save_npz(path: Path, **arrays) -> None:
    np.savez_compressed(path, **{k: (np.array(json.dumps(v)) if k == "meta" else v)
                                 for k, v in arrays.items()})


# --- PyTorch ----------------------------------------------------------------------------------
def _torch_module(kind: str, features: int, hidden: int, **options) -> torch.nn.Module:
    if kind == "gru":
        return torch.nn.GRU(features, hidden, batch_first=True, **options)
    return torch.nn.RNN(features, hidden, batch_first=True, **options)


def _torch_steps(module: torch.nn.Module, kind: str, layer: int, reverse: bool,
                 x: np.ndarray) -> np.ndarray:
    """h after every input position of one direction of one layer, stepped by torch."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    sd = module.state_dict()
    options = {"bias": module.bias}
    if kind == "rnn":
        options["nonlinearity"] = module.nonlinearity
    one = _torch_module(kind, x.shape[2], module.hidden_size, **options)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if f"{name}{suffix}" in sd:
                getattr(one, f"{name}_l0").copy_(sd[f"{name}{suffix}"])
    b, t_len, _ = x.shape
    hs = np.zeros((b, t_len, module.hidden_size), np.float32)
    state = torch.zeros(1, b, module.hidden_size)
    order = range(t_len - 1, -1, -1) if reverse else range(t_len)
    with torch.no_grad():
        for t in order:
            _, state = one(torch.from_numpy(x[:, t:t + 1]), state)
            hs[:, t] = state[0].numpy()
    return hs


def torch_case(name: str, kind: str, *, layers: int = 1, bidirectional: bool = False,
               bias: bool = True, nonlinearity: str = "tanh", prefix: str = "", features: int = 3,
               hidden: int = 5, steps: int = 7, batch: int = 2, seed: int = 0) -> None:
    torch.manual_seed(seed)
    options = {"num_layers": layers, "bidirectional": bidirectional, "bias": bias}
    if kind == "rnn":
        options["nonlinearity"] = nonlinearity
    module = _torch_module(kind, features, hidden, **options)
    x = np.random.default_rng(seed).normal(size=(batch, steps, features)).astype(np.float32)
    with torch.no_grad():
        output = module(torch.from_numpy(x))[0].numpy()
    refs: dict = {"x": x, "output": output}
    layer_in, k = x, 0
    for layer in range(layers):
        outs = []
        for reverse in ([False, True] if bidirectional else [False]):
            h = _torch_steps(module, kind, layer, reverse, layer_in)
            base = f"l{layer}" + ("_reverse" if reverse else "")
            refs.update({f"layer{k}_name": np.array(f"{prefix}.{base}" if prefix else base),
                         f"layer{k}_direction": np.array("backward" if reverse else "forward"),
                         f"layer{k}_h": h})
            outs.append(h)
            k += 1
        layer_in = np.concatenate(outs, axis=-1)
    state = module.state_dict()
    if prefix:
        state = {f"{prefix}.{key}": value for key, value in state.items()}
    torch.save(state, OUT / f"{name}.pt")
    meta = {"kind": kind, "layers": layers, "bidirectional": bidirectional, "bias": bias,
            "nonlinearity": nonlinearity, "seed": seed}
    _save_npz(OUT / f"{name}.npz", meta=meta, **refs)


def torch_cases() -> None:
    torch_case("torch_gru_2layer_bidirectional", "gru", layers=2, bidirectional=True, prefix="enc.rnn")
    torch_case("torch_gru_nobias", "gru", bias=False, seed=1)
    torch_case("torch_rnn_2layer_bidirectional", "rnn", layers=2, bidirectional=True, seed=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch_cases()


if __name__ == "__main__":
    main()
