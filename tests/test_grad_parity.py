"""Gradients through a recorded run against jax.grad and torch autograd (float64), on models
the frameworks wrote (the committed fixtures), within the Contracts' tolerance.

For every case the float64 reference forward (tests/grad_refs.py) must first reproduce the
framework's own recorded output; then d target / d (x, h_t, c_t, h0, c0) of the engine's
float32 backward pass must match both references.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import load_model
from engine.network.layers import Embedding
from tests.grad_refs import JaxBackend, TorchBackend, forward, params_for
from tests.helpers import FIXTURES, assert_close, load_reference

CASES = [
    # (fixture, traced layer of interest, targets)
    ("keras3/lstm_last.keras", 0, ["sumsq(output)", "h[1, 3, 2]", "c[5, 0]"]),
    ("keras3/go_backwards_seq.keras", 0, ["sumsq(output[:, last])", "h[0, 2]", "c[1, last, 1]"]),
    ("keras3/masking_gaps.keras", 0, ["sumsq(output[:, last])", "mean(output[:, 4])", "c[last, 2]"]),
    ("keras3/masking_go_backwards.keras", 0, ["sumsq(output)", "h[3, 1]"]),
    ("keras3/bidirectional_concat.keras", 1, ["sumsq(output)", "h[0, 0, 1]"]),
    ("keras3/bidirectional_mul.keras", 0, ["sumsq(output)"]),
    ("keras3/bidirectional_ave.keras", 1, ["sum(output)"]),
    ("keras3/bidirectional_none.keras", 0, ["sumsq(output)"]),
    ("keras3/bidirectional_masked_seq.keras", 1, ["sumsq(output[:, last])", "sumsq(output[:, 0])"]),
    ("keras3/stacked2.keras", 0, ["sumsq(output)", "h[last, 1]"]),
    ("keras3/embedding_mask_zero.keras", 0, ["sumsq(output)"]),
    ("keras3/lstm_dense_activation_dropout.keras", 0, ["sumsq(output)", "output[1, 0]"]),
    ("keras3/time_distributed.keras", 0, ["sumsq(output[:, last])"]),
    ("keras3/ract_hard_sigmoid.keras", 0, ["sumsq(output[:, last])", "c[1, 6, 0]"]),
    ("keras2/lstm_hard_sigmoid.h5", 0, ["sumsq(output[:, last])"]),
    ("keras2/lstm_relu.h5", 0, ["sumsq(output[:, last])"]),
    ("torch/lstm_1layer.pt", 0, ["sumsq(output[:, last])", "c[1, 3, 2]"]),
    ("torch/lstm_3layer_bidirectional.pt", 2, ["sumsq(output[:, last])", "h[0, 2, 1]"]),
    ("torch/lstm_proj.pt", 0, ["sumsq(output[:, last])", "c[0, last, 4]"]),
    ("torch/lstm_nobias.pt", 0, ["sum(output)"]),
    ("onnx/forward.onnx", 0, ["sumsq(output[last])", "c[1, 2, 3]"]),
    ("onnx/reverse.onnx", 0, ["sumsq(output[0])", "h[0, 1]"]),
    ("onnx/bidirectional.onnx", 1, ["sumsq(output[2])"]),
    ("onnx/peephole_clip.onnx", 0, ["sumsq(output[last])", "c[0, 3, 1]"]),
    ("onnx/no_bias.onnx", 0, ["sum(output)"]),
]


def _ref_target(text: str, out, states, layer: str, backward: bool):
    """The target written out with the backend's own indexing (the reference's own reading)."""
    def idx(v, n):
        return (0 if backward else n - 1) if v == "last" else v
    if text.startswith(("h[", "c[")):
        hs, cs = states[layer]
        seq = hs if text[0] == "h" else cs
        parts = [p.strip() for p in text[2:-1].split(",")]
        t_len = len(seq)
        if len(parts) == 3:
            b, t, j = int(parts[0]), idx(parts[1], t_len), int(parts[2])
            t = int(t)
            return seq[t][b, j]
        t, j = int(idx(parts[0], t_len)), int(parts[1])
        return seq[t][:, j].sum()
    fn, _, inner = text.partition("(")
    inner = inner[:-1]
    sel = out
    if inner.startswith("output["):
        parts = [p.strip() for p in inner[7:-1].split(",")]
        key = tuple(slice(None) if p == ":" else (-1 if p == "last" else int(p)) for p in parts)
        sel = out[key]
    elif inner != "output":
        if text.startswith("output["):
            parts = [p.strip() for p in text[7:-1].split(",")]
            return out[tuple(int(p) for p in parts)].sum()
        raise AssertionError(text)
    if fn == "sumsq":
        return (sel * sel).sum()
    if fn == "mean":
        return sel.mean()
    return sel.sum()


def _case_id(case):
    return case[0].replace("/", "-")


# jax compiles every primitive per shape on first use (seconds per case on two cores), so jax
# checks the cases that exercise each feature once; torch checks every case.
JAX_CASES = {"keras3/bidirectional_masked_seq.keras", "onnx/peephole_clip.onnx"}


@pytest.fixture(scope="module")
def backends():
    return {"jax": JaxBackend(), "torch": TorchBackend()}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradients_match_torch(case, backends):
    _check(case, {"torch": backends["torch"]})


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in JAX_CASES], ids=_case_id)
def test_gradients_match_jax(case, backends):
    path, layer_key, targets = case
    _check((path, layer_key, targets[:1]), {"jax": backends["jax"]})


def _check(case, backends):
    path, layer_key, targets = case
    ref = load_reference(FIXTURES / (path.rsplit(".", 1)[0] + ".npz"))
    model = load_model(FIXTURES / path)
    result = model.trace(ref["x"])
    ids = None
    x_float = result.input
    if isinstance(model.ops[0], Embedding):
        ids = result.input
        x_float = model.ops[0].matrix[np.asarray(ids, np.int64)]
    base = params_for(model, result, x_float)
    layer = result.layer(layer_key)
    for be_name, be in backends.items():
        out, _ = forward(be, model, {k: (be.const(v) if k == "x" else
                                         {n: be.const(a) for n, a in v.items()})
                                     for k, v in base.items()}, ids=ids, concrete_x=x_float)
        out = np.asarray(out.detach().numpy() if hasattr(out, "detach") else out)
        # the reference is faithful to the framework that wrote the file
        assert_close(out, ref["output"], f"{path}: {be_name} reference forward vs framework")
        for text in targets:
            ours = result.grad(text, layer=layer_key)

            def fn(p, text=text, be=be):
                o, states = forward(be, model, p, ids=ids, concrete_x=x_float)
                return _ref_target(text, o, states, layer.name, layer.backward)
            g = be.grad(fn, base)
            what = f"{path} {text} [{be_name}]"
            assert_close(ours.dh, g["eh"][layer.name], f"{what}: dh")
            assert_close(ours.dc, g["ec"][layer.name], f"{what}: dc")
            assert_close(ours.dh0, g["h0"][layer.name], f"{what}: dh0")
            assert_close(ours.dc0, g["c0"][layer.name], f"{what}: dc0")
            if text.startswith(("h[", "c[")) and len(result.layers) > 1:
                pass      # dx of this layer is checked through dx_model below
            if ours.dx_model is not None:
                assert_close(ours.dx_model, g["x"], f"{what}: dx_model")
            else:
                assert path.startswith("onnx/") is False, f"{what}: dx_model missing"
            for name, lg in ours.layers.items():
                assert_close(lg.dh0, g["h0"][name], f"{what}: {name}/dh0")
                assert_close(lg.dc0, g["c0"][name], f"{what}: {name}/dc0")
            first_op = model.traced_layers[0].op_index
            if (model.traced_layers[result.names.index(layer.name)].op_index == first_op
                    and ids is None and not path.startswith("keras3/masking")):
                assert_close(ours.dx, g["x"], f"{what}: dx (both directions of the input)")
