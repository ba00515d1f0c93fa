"""The mLSTM's recurrent form (engine.cells.mlstm_cell) against the xlstm package: every step
equals the package's own recurrent step, and h over a sequence equals its parallel form (what
``mLSTMCell.forward`` runs) within the project's tolerance, for 1, 2 and 4 heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xlstm.blocks.mlstm.backends import parallel_stabilized_simple, recurrent_step_stabilized_simple

from engine.cells.mlstm_cell import mlstm_run, mlstm_step
from tests.helpers import assert_close


def inputs(heads: int, seed: int, b: int = 2, t_len: int = 12, dh: int = 4):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.normal(size=(b, t_len, heads, dh)).astype(np.float32) for _ in range(3))
    z_i = rng.normal(0, 1.5, (b, t_len, heads)).astype(np.float32)
    z_f = rng.normal(2.0, 1.5, (b, t_len, heads)).astype(np.float32)
    return q, k, v, z_i, z_f


def heads_first(a: np.ndarray) -> torch.Tensor:
    """(B, T, heads, ...) -> the package's (B, heads, T, ...)."""
    return torch.from_numpy(np.ascontiguousarray(np.swapaxes(a, 1, 2)))


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_every_step_is_the_packages_recurrent_step(heads):
    q, k, v, z_i, z_f = inputs(heads, seed=heads)
    b, t_len, _, dh = q.shape
    c = np.zeros((b, heads, dh, dh), np.float32)
    n = np.zeros((b, heads, dh), np.float32)
    m = np.zeros((b, heads), np.float32)
    tc, tn, tm = torch.zeros(b, heads, dh, dh), torch.zeros(b, heads, dh, 1), torch.zeros(b, heads, 1, 1)
    for t in range(t_len):
        i, f, c, n, m, h = mlstm_step(q[:, t], k[:, t], v[:, t], z_i[:, t], z_f[:, t], c, n, m)
        th, (tc, tn, tm) = recurrent_step_stabilized_simple(
            tc, tn, tm, *(torch.from_numpy(a[:, t][:, :, None].copy()) for a in (q, k, v)),
            torch.from_numpy(z_i[:, t][..., None, None].copy()),
            torch.from_numpy(z_f[:, t][..., None, None].copy()))
        assert_close(h, th[:, :, 0].numpy(), f"h at {t}")
        assert_close(c, tc.numpy(), f"C at {t}")
        assert_close(n, tn[..., 0].numpy(), f"n at {t}")
        assert_close(m, tm[..., 0, 0].numpy(), f"m at {t}")
        assert (i <= 1).all() and (f <= 1).all()


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_the_recurrent_form_equals_the_packages_parallel_form(heads):
    q, k, v, z_i, z_f = inputs(heads, seed=10 + heads)
    ours, _ = mlstm_run(q, k, v, z_i, z_f)
    theirs = parallel_stabilized_simple(heads_first(q), heads_first(k), heads_first(v),
                                        heads_first(z_i[..., None]), heads_first(z_f[..., None]))
    assert_close(ours, np.swapaxes(theirs.numpy(), 1, 2), "h")
