"""engine.analyses.teaching: the links the unrolled view draws and the decouple what-if it quotes."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Session, load_model
from engine.analyses.teaching import decouple_effect, decoupled_model, incoming, link_matrix, top_links
from engine.cells.cell import STORAGE_GATE_ORDER
from engine.errors import ScopeError
from engine.loaders.demos import random_model


def _weights(n: int = 7, d: int = 3, seed: int = 0):
    return random_model(n, d, seed).traced_layers[0].weights


@pytest.mark.parametrize("gate", STORAGE_GATE_ORDER)
def test_gate_links_are_that_gates_block_of_u(gate):
    w = _weights()
    n, k = w.units, STORAGE_GATE_ORDER.index(gate)
    m = link_matrix(w, gate)
    assert m.shape == (n, n)
    np.testing.assert_array_equal(m, w.recurrent_kernel[:, k * n:(k + 1) * n])


def test_state_links_take_the_strongest_gate_with_its_sign():
    w = _weights()
    n = w.units
    m = link_matrix(w, "c")
    for j in range(n):
        for i in range(n):
            entries = [w.recurrent_kernel[j, g * n + i] for g in range(4)]
            assert m[j, i] == max(entries, key=abs)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_top_links_are_the_largest_entries_per_unit(k):
    w = _weights(9, seed=3)
    m = link_matrix(w, "f")
    links = top_links(w, "f", k)
    assert links.source.shape == (9, k)
    for i in range(9):
        column = np.abs(m[:, i])
        column[i] = -1                                        # self-links are left out
        expected = np.sort(column)[::-1][:k]
        np.testing.assert_array_equal(np.abs(links.value[i]), expected)
        assert i not in links.source[i]
        np.testing.assert_array_equal(links.value[i], m[links.source[i], i])
    assert links.max_abs == pytest.approx(float(np.abs(m).max()))
    assert len(links.pairs()) == 9 * k
    assert incoming(w, 4, "f").tolist() == m[:, 4].tolist()


def test_top_links_with_self_and_k_clamped():
    w = _weights(4)
    assert top_links(w, "c", 10).source.shape == (4, 3)
    with_self = top_links(w, "c", 10, include_self=True)
    assert with_self.source.shape == (4, 4)
    assert sorted(with_self.source[0]) == [0, 1, 2, 3]
    with pytest.raises(ScopeError):
        link_matrix(w, "q")


def test_decoupled_model_changes_only_the_cross_unit_links():
    model = load_model("demo:small")
    other = decoupled_model(model, 0)
    u_real = model.traced_layers[0].weights.recurrent_kernel
    u_new = other.traced_layers[0].weights.recurrent_kernel
    n = u_real.shape[0]
    diag = np.tile(np.eye(n, dtype=bool), (1, 4))
    np.testing.assert_array_equal(u_new[diag], u_real[diag])
    assert np.all(u_new[~diag] == 0)
    assert model.traced_layers[0].weights.recurrent_kernel is u_real     # untouched


def test_decouple_effect_is_the_measured_output_difference():
    model = load_model("demo:counter")
    from engine.loaders.demos import default_demo_input, demo_info
    x = default_demo_input(demo_info("counter"), model)
    session = Session(model, x)
    effect = decouple_effect(session)
    real = model.trace(x).output
    new = decoupled_model(model, 0).trace(x).output
    assert effect.what == "model output"
    assert effect.max_abs == pytest.approx(float(np.abs(new - real).max()), rel=1e-6)
    assert effect.max_abs > 0.1            # the counter needs its units to talk to each other
    assert "changes the model output by up to" in effect.sentence()


def test_decouple_effect_of_a_bidirectional_direction():
    from tests.helpers import bidirectional_model
    model = bidirectional_model(units=3)
    x = np.random.default_rng(6).normal(size=(2, 9, 2)).astype(np.float32)
    session = Session(model, x, layer="bi/backward")
    effect = decouple_effect(session)
    forward_only = decoupled_model(model, "bi/backward").trace(x).layer("bi/forward").h
    np.testing.assert_array_equal(forward_only, model.trace(x).layer("bi/forward").h)
    assert effect.max_abs > 0


def _bi_model(merge_mode="concat", return_sequences=True):
    from engine.cells.cell import CellWeights
    from engine.network.layers import Bidirectional, Dense
    from engine.network.model import Model
    rng = np.random.default_rng(9)

    def cell(n, d):
        return CellWeights(rng.normal(0, .5, (d, 4 * n)).astype(np.float32),
                           rng.normal(0, .5, (n, 4 * n)).astype(np.float32),
                           rng.normal(0, .1, 4 * n).astype(np.float32))
    width = 3 if merge_mode in ("sum", "mul", "ave") else 6
    return Model([Bidirectional("bi", cell(3, 2), cell(3, 2), merge_mode=merge_mode,
                                return_sequences=return_sequences),
                  Dense("d", np.ones((width, 1), np.float32), np.zeros(1, np.float32))])


@pytest.mark.parametrize("mode", ["concat", "sum", "ave", "mul"])
def test_both_directions_are_the_models_own(mode):
    from engine.analyses.teaching import both_directions
    model = _bi_model(mode)
    x = np.random.default_rng(2).normal(size=(2, 7, 2)).astype(np.float32)
    full = model.trace(x)
    for layer in ("bi/forward", "bi/backward"):
        both = both_directions(Session(model, x, layer=layer))
        np.testing.assert_array_equal(both.forward.h, full.layer("bi/forward").h)
        np.testing.assert_array_equal(both.backward.c, full.layer("bi/backward").c)
        f, b = full.layer("bi/forward").h, full.layer("bi/backward").h
        expected = {"concat": np.concatenate([f, b], -1), "sum": f + b, "ave": (f + b) / 2,
                    "mul": f * b}[mode]
        np.testing.assert_allclose(both.merged, expected, rtol=1e-6, atol=1e-7)
        fr, br = both.read(3)
        assert fr.tolist() == [1, 1, 1, 0, 0, 0, 0] and br.tolist() == [0, 0, 0, 0, 1, 1, 1]
        assert not both.read(0)[1].any()
    assert both_directions(Session(load_model("demo:small"), np.zeros((5, 2), np.float32))) is None
