"""The engine computes on one BLAS thread whoever calls it (engine.system.blas): inside a trace, a
Session's steps and a gradient pass threadpoolctl reports one thread for every BLAS library;
outside, the user's own setting is back. The limit is process-wide, so one limiter is shared by
every thread: it holds until the last computation ends."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import engine
from engine.gradients import grad_layer
from engine.runs import stepper
from engine.system import blas

USERS = 2          # the user's own setting, not 1


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.fixture
def seen(monkeypatch):
    """Thread counts the engine's inner loops ran with (recorded at each call)."""
    monkeypatch.delenv(blas.USER_CHOICE, raising=False)
    record: list[set[int]] = []
    for owner, name in [(stepper.DirectionRunner, "_run_fast"),
                        (stepper.DirectionRunner, "_run_compiled"),
                        (stepper.DirectionRunner, "_step_general"),
                        (grad_layer, "_plain_loop"), (grad_layer, "_general_step")]:
        original = getattr(owner, name)

        def spy(*args, _original=original, **kwargs):
            record.append(blas_threads())
            return _original(*args, **kwargs)
        monkeypatch.setattr(owner, name, spy)
    with threadpool_limits(USERS, user_api="blas"):
        assert blas_threads() == {USERS}
        yield record
        assert blas_threads() == {USERS}, "the user's setting was not restored"


def test_a_trace_runs_on_one_blas_thread(seen):
    model = engine.load_model("demo")
    model.trace(np.random.default_rng(0).normal(size=(2, 30, model.input_features)))
    assert seen and all(s == {1} for s in seen), seen
    assert blas_threads() == {USERS}


def test_a_sessions_steps_and_gradients_run_on_one_blas_thread(seen):
    s = engine.Session(engine.load_model("demo"), np.ones((1, 20, 1), np.float32))
    s.step()
    s.seek(12)
    assert blas_threads() == {USERS}
    s.grad("h[-1, 0]")
    assert seen and all(x == {1} for x in seen), seen
    assert blas_threads() == {USERS}


def test_one_limiter_for_every_thread(monkeypatch):
    """Another thread ending its computation leaves the limit on while this one still runs."""
    monkeypatch.delenv(blas.USER_CHOICE, raising=False)
    with threadpool_limits(USERS, user_api="blas"):
        with blas.one_blas_thread():
            assert blas_threads() == {1}

            def short_run() -> None:
                with blas.one_blas_thread():
                    pass
            other = threading.Thread(target=short_run)
            other.start()
            other.join()
            assert blas_threads() == {1}
        assert blas_threads() == {USERS}


def test_a_person_who_set_openblas_threads_keeps_them(monkeypatch):
    """As the CLI does (main.py sets OPENBLAS_NUM_THREADS=1 only when it is not set)."""
    monkeypatch.setenv(blas.USER_CHOICE, str(USERS))
    with threadpool_limits(USERS, user_api="blas"):
        with blas.one_blas_thread():
            assert blas_threads() == {USERS}
