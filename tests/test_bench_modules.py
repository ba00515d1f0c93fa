"""Every bench module imports (the bench is run by hand, so a broken import would otherwise
surface only when someone measures)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import engine.bench


@pytest.mark.parametrize("name", [m.name for m in pkgutil.iter_modules(engine.bench.__path__)])
def test_bench_module_imports(name):
    importlib.import_module(f"engine.bench.{name}")
