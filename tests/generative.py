"""One convention for generative tests (fuzz, the window's state machine, the figure matrix).

In CI every generative test is derandomised and runs a fixed, small number of examples, so a
run here finds what a run in CI finds and the whole suite stays within its time budget. The
same tests run longer, with fresh random examples, from one command:

    python -m pytest --long -m generative

``--long`` (tests/conftest.py) multiplies every example count by ``LONG_FACTOR`` (or by
``LSTM_SCOPE_LONG_FACTOR``) and draws new examples on each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_FACTOR = 20
_long = False


def set_long(enabled: bool) -> None:
    """Called by tests/conftest.py before test modules are imported (``--long``)."""
    global _long
    _long = enabled


def is_long() -> bool:
    return _long


def examples(ci: int, *, long: int | None = None) -> int:
    """How many examples a generative test runs: ``ci`` in CI, more under ``--long``."""
    if not _long:
        return ci
    factor = int(os.environ.get("LSTM_SCOPE_LONG_FACTOR", LONG_FACTOR))
    return long if long is not None else ci * factor


def generative_settings(ci: int, *, long: int | None = None, **overrides) -> settings:
    """Hypothesis settings for a generative test: derandomised with ``ci`` examples in CI,
    random with more under ``--long``; never a deadline (machines differ) nor a database."""
    base = dict(max_examples=examples(ci, long=long), derandomize=not _long, database=None,
                deadline=None, print_blob=_long,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])
    base.update(overrides)
    return settings(**base)
