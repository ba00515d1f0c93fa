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


def test_bench_only_names_the_figures_and_refuses_unknown_ones():
    from engine.bench.report import DEFAULT, FIGURES, parse_only
    from engine.errors import ScopeError
    assert parse_only(None) == DEFAULT
    assert parse_only("grid, trace,grid") == ("grid", "trace")
    assert set(DEFAULT) <= set(FIGURES)
    with pytest.raises(ScopeError, match="unknown figure 'trcae'; choose from trace, grad"):
        parse_only("trcae")


def test_bench_runs_only_what_it_is_asked_with_a_line_per_figure(capsys):
    import io
    import json

    from engine.bench.report import run_bench
    out, err = io.StringIO(), io.StringIO()
    assert run_bench(units=8, steps=10, as_json=True, repeat=1, only=("window", "startup"),
                     window_figures=None, out=out, err=err) == 0
    figures = json.loads(out.getvalue().splitlines()[-1])
    assert set(figures) == {"units", "steps", "window_error", "startup_error"}
    lines = err.getvalue().splitlines()
    assert lines[0] == "bench: window (1 of 2) ..." and lines[-1].startswith("bench: all done in")


def test_a_grid_point_reports_its_ratio_first_call_and_the_machine_load():
    from engine.bench.grid import grid_table, measure_point
    fig = measure_point(2, 8, 20, repeat=2)
    assert fig["ratio"] > 0 and fig["first_vs_later"] > 0 and fig["spread"] >= 1
    assert fig["cpus"] >= 1 and (fig["load"] is None or fig["load"] >= 0)
    header, row = grid_table({"B2_N8_T20": fig}).splitlines()
    assert header.split()[-1] == "load" and row.split()[-1] == str(fig["load"])
