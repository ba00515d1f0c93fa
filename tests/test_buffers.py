"""engine.system.buffers: big arrays reused once every view of them is gone, never while one lives."""

import gc

import numpy as np
import pytest

from engine.cells.cell import CellWeights
from engine.network.layers import LSTM
from engine.network.model import Model
from engine.system import buffers

BIG = (buffers.MIN_BYTES // 4 + 256,)       # float32 elements just over the pooled size


@pytest.fixture(autouse=True)
def empty_pool():
    buffers.clear()
    yield
    buffers.clear()


def test_a_dropped_buffer_is_handed_out_again():
    first = buffers.empty(BIG)
    address = first.__array_interface__["data"][0]
    del first
    gc.collect()
    assert buffers.held_bytes() >= buffers.MIN_BYTES
    again = buffers.empty(BIG)
    assert again.__array_interface__["data"][0] == address
    assert buffers.held_bytes() == 0


def test_a_buffer_with_any_view_alive_is_never_reused():
    first = buffers.empty(BIG)
    first[:] = 1.0
    kept = first[10:20].reshape(2, 5).T        # a view of a view: the buffer must stay taken
    del first
    gc.collect()
    second = buffers.empty(BIG)
    second[:] = 2.0
    assert not np.shares_memory(kept, second)
    assert np.all(kept == 1.0)


def test_small_arrays_are_plain_numpy():
    small = buffers.empty((16, 16))
    assert small.base is None and small.flags.c_contiguous
    del small
    gc.collect()
    assert buffers.held_bytes() == 0


def test_free_buffers_are_kept_up_to_the_cap(monkeypatch):
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "1G")
    monkeypatch.setattr(buffers, "KEEP_BYTES", 3 * buffers.MIN_BYTES)
    arrays = [buffers.empty((buffers.MIN_BYTES // 4 * (k + 1),)) for k in range(3)]
    del arrays
    gc.collect()
    assert buffers.held_bytes() <= 3 * buffers.MIN_BYTES
    assert buffers.held_bytes() >= buffers.MIN_BYTES


def _model(units: int, features: int) -> Model:
    rng = np.random.default_rng(0)
    cell = CellWeights(rng.normal(0, 0.3, (features, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.3, (units, 4 * units)).astype(np.float32),
                       rng.normal(0, 0.1, 4 * units).astype(np.float32))
    return Model([LSTM("lstm", cell, return_sequences=True)], source="test", format="test")


def test_traces_held_together_never_share_memory_and_a_reused_one_is_the_same():
    """Two traces alive at once own separate arrays; a trace computed on the buffers of a
    dropped one has exactly the numbers of a fresh one."""
    model = _model(64, 8)
    x = np.random.default_rng(1).normal(size=(4, 300, 8)).astype(np.float32)
    a, b = model.trace(x), model.trace(x)
    for name in ("gates", "zx", "zh", "c", "h"):
        assert not np.shares_memory(getattr(a.layer(0), name), getattr(b.layer(0), name))
    assert not np.shares_memory(a.output, b.output)
    expected = {name: np.array(getattr(a.layer(0), name)) for name in ("gates", "zx", "zh", "c", "h")}
    del a, b
    gc.collect()
    assert buffers.held_bytes() > 0
    again = model.trace(x).layer(0)
    for name, want in expected.items():
        np.testing.assert_array_equal(getattr(again, name), want)


def test_a_small_memory_budget_keeps_less(monkeypatch):
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", str(4 * buffers.MIN_BYTES))
    arrays = [buffers.empty(BIG) for _ in range(4)]
    del arrays
    gc.collect()
    assert 0 < buffers.held_bytes() <= 2 * buffers.MIN_BYTES + 2048


def test_clear_in_use_lets_the_buffers_in_use_go_back_to_the_system():
    """Another model opened: the run in use now is not kept for reuse once dropped."""
    kept = buffers.empty(BIG)
    dropped_later = buffers.empty(BIG)
    buffers.clear(in_use=True)
    del dropped_later
    gc.collect()
    assert buffers.held_bytes() == 0
    fresh = buffers.empty(BIG)                   # tracked again from here on
    del fresh
    gc.collect()
    assert buffers.held_bytes() >= buffers.MIN_BYTES
    assert kept.shape == BIG


def test_a_buffer_dropped_while_the_interpreter_shuts_down_is_let_go_quietly(monkeypatch):
    """At exit a trace held in a cycle or a late-cleared module is freed after ``os.environ``
    is already gone: keeping it for a next run (which never comes) must not print "Exception
    ignored ... memory_budget" to the user's terminal (pytest turns that into an error)."""
    array = buffers.empty(BIG)

    def torn_down() -> int:
        raise AttributeError("'NoneType' object has no attribute 'get'")

    monkeypatch.setattr(buffers, "memory_budget", torn_down)
    monkeypatch.setattr(buffers.sys, "is_finalizing", lambda: True)
    del array
    gc.collect()
    assert buffers.held_bytes() == 0
