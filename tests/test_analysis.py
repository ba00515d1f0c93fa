"""Statistics and the cell breakdown against independent numpy computations."""

from __future__ import annotations

import numpy as np

from engine.analyses.analysis import cell_breakdown, recurrent_blocks, saturated, unit_stats
from engine.cells.activations import keras_activation
from engine.cells.cell import STORAGE_GATE_ORDER
from engine.loaders.demos import random_model
from tests.helpers import assert_close


def _trace(units=6, features=3, steps=20, seed=4):
    model = random_model(units, features, seed)
    x = np.random.default_rng(seed).normal(size=(2, steps, features)).astype(np.float32)
    return model.trace(x).layer(0)


def test_breakdown_parts_sum_to_the_gate():
    tr = _trace()
    w = tr.weights
    for t in (0, 1, 7, 19):
        for j in range(tr.units):
            b = cell_breakdown(tr, 1, j, t)
            for g in STORAGE_GATE_ORDER:
                act = w.cell_activation if g == "g" else w.gate_activation
                total = b.zx[g] + b.zh[g] + b.zb[g]
                assert abs(total - b.z[g]) < 1e-6
                assert abs(float(act(np.float32(total))) - b.gates[g]) < 1e-5
                # the fan-in products sum to the recurrent part
                assert abs(b.fan_in[g].sum() - b.zh[g]) < 1e-4 * (1 + abs(b.zh[g]))
            assert abs(b.gates["f"] * b.c_prev + b.gates["i"] * b.gates["g"] - b.c) < 1e-5


def test_breakdown_reads_the_whole_previous_h():
    tr = _trace()
    b = cell_breakdown(tr, 0, 2, 5)
    assert np.array_equal(b.h_prev_vector, tr.h[0, 4])
    first = cell_breakdown(tr, 0, 2, 0)
    assert np.array_equal(first.h_prev_vector, tr.h0[0]) and first.c_prev == tr.c0[0, 2]
    top = b.top_contributors("f", 3)
    assert abs(top[0][1]) >= abs(top[1][1]) >= abs(top[2][1])


def test_unit_stats_against_numpy():
    tr = _trace(steps=40)
    st = unit_stats(tr, 1)
    assert_close(st.mean["f"], tr.f[1].mean(axis=0), "mean f")
    assert_close(st.variance["h"], tr.h[1].var(axis=0), "var h")
    sig = keras_activation("sigmoid")
    expected = ((tr.i[1] <= 0.05) | (tr.i[1] >= 0.95)).mean(axis=0)
    assert_close(st.saturation["i"], expected, "saturation i")
    assert np.array_equal(saturated(np.array([0.01, 0.5, 0.97]), sig), [True, False, True])
    geo = np.exp(np.log(tr.f[1]).mean(axis=0))
    assert_close(st.half_life, np.log(0.5) / np.log(geo), "half-life")


def test_dead_units_and_partial_runs():
    tr = _trace(units=4)
    tr.h[:, :, 2] = 0.0
    st = unit_stats(tr, 0)
    assert st.dead.tolist() == [False, False, True, False]
    tr.h[0, 10:] = np.nan                      # a Session that has read 10 steps
    assert np.isfinite(unit_stats(tr, 0).mean["h"][0])


def test_recurrent_blocks_follow_the_lane_order():
    tr = _trace(units=5)
    blocks = recurrent_blocks(tr)
    u = tr.weights.recurrent_kernel
    assert np.array_equal(blocks["g"], u[:, 10:15])
    order = np.array([4, 0, 3, 1, 2])
    reordered = recurrent_blocks(tr, order)
    assert reordered["o"][1, 2] == u[0, 15 + 3]
