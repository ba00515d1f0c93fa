"""Every bench module imports (the bench is run by hand, so a broken import would otherwise
surface only when someone measures)."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
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


def test_the_default_set_measures_the_four_trace_points_and_three_grad_points_short(monkeypatch):
    """A bare ``bench`` answers in a minute: the default trace points (B=1, 32 x N=256, 1024) and
    the batch-1 gradient points (N=64, 256, 1024) at QUICK_STEPS, the capture on a QUICK_STEPS
    input; ``--full`` the same points at the grid's T=1000 and the capture over 500 steps."""
    import io

    from engine.bench import capture_figures, grad_figures, grid
    from engine.bench.report import CAPTURE_STEPS, FULL_STEPS, QUICK_STEPS, run_bench
    assert QUICK_STEPS < FULL_STEPS == min(grid.LENGTHS)

    def sizes(full: bool) -> dict:
        seen: dict = {"trace": [], "grad": [], "capture": []}
        monkeypatch.setattr(grid, "measure_point", lambda b, n, t, repeat: seen["trace"].append(
            (b, n, t, repeat)) or {"trace_ms": 1.0, "torch_ms": 1.0, "ratio": 1.0})
        monkeypatch.setattr(grad_figures, "grad_point", lambda n, t, repeat: seen["grad"].append(
            (n, t, repeat)) or {"grad_ms": 1.0})
        for name in ("capture_figures", "keras_capture_figures"):
            monkeypatch.setattr(capture_figures, name, lambda steps, repeat, name=name:
                                seen["capture"].append((name, steps, repeat)) or {})
        assert run_bench(units=8, steps=10, as_json=True, repeat=3, only=("trace", "grad", "capture"),
                         full=full, out=io.StringIO(), err=io.StringIO()) == 0
        return seen

    quick = sizes(full=False)
    assert quick["trace"] == [(1, 256, QUICK_STEPS, 3), (1, 1024, QUICK_STEPS, 3),
                              (32, 256, QUICK_STEPS, 3), (32, 1024, QUICK_STEPS, 3)]
    assert quick["grad"] == [(64, QUICK_STEPS, 3), (256, QUICK_STEPS, 3), (1024, QUICK_STEPS, 3)]
    assert quick["capture"] == [("capture_figures", QUICK_STEPS, 3),
                                ("keras_capture_figures", QUICK_STEPS, 3)]
    full = sizes(full=True)
    assert [t for *_, t, _ in full["trace"]] == [FULL_STEPS] * 4
    assert [(n, t) for n, t, _ in full["grad"]] == list(grad_figures.GRAD_POINTS)
    assert {steps for _, steps, _ in full["capture"]} == {CAPTURE_STEPS}


def test_a_grid_point_reports_its_ratio_first_call_and_the_machine_load():
    from engine.bench.grid import grid_table, measure_point
    fig = measure_point(2, 8, 20, repeat=2)
    assert fig["ratio"] > 0 and fig["first_vs_later"] > 0 and fig["spread"] >= 1
    assert fig["cpus"] >= 1 and (fig["load"] is None or fig["load"] >= 0)
    header, row = grid_table({"B2_N8_T20": fig}).splitlines()
    assert header.split()[-1] == "load" and row.split()[-1] == str(fig["load"])


def test_the_gru_figure_measures_a_grus_trace_against_torchs_gru():
    """``bench --only gru``: the engine's GRU and its ``nn.GRU`` twin agree (measure_point
    raises otherwise) and the point reports the grid's figures; it is not in the default set."""
    from engine.bench.grid import measure_point
    from engine.bench.gru_figures import bench_gru_model, torch_gru_of
    from engine.bench.report import DEFAULT, parse_only
    fig = measure_point(2, 8, 20, repeat=2, model_of=bench_gru_model, torch_of=torch_gru_of)
    assert fig["ratio"] > 0 and fig["cpu_ratio"] > 0 and fig["spread"] >= 1
    assert parse_only("gru") == ("gru",) and "gru" not in DEFAULT


def test_the_grus_torch_twin_holds_its_weights_in_torchs_gate_order():
    """r, z, n rows in torch; u, r, n columns in the engine: a swapped block would still run,
    so the twin's h is checked against the engine's own spec (gru_step) step by step."""
    import torch

    from engine.bench.gru_figures import bench_gru_model, torch_gru_of
    from engine.cells.gru_cell import gru_step
    model = bench_gru_model(5, 3, seed=4)
    w = model.traced_layers[0].weights
    x = np.random.default_rng(2).normal(size=(2, 6, 3)).astype(np.float32)
    with torch.no_grad():
        theirs = torch_gru_of(model)(torch.from_numpy(x))[0].numpy()
    h = np.zeros((2, 5), np.float32)
    for t in range(6):
        h = gru_step(w, x[:, t], h)[-1]
        assert np.allclose(theirs[:, t], h, atol=1e-5), t


def test_the_slstm_figure_measures_an_slstm_trace_against_the_packages_vanilla_cell():
    """``bench --only slstm``: the engine's sLSTM and the package's vanilla cell holding the same
    weights agree (measure_point raises otherwise) and the point reports the grid's figures with
    its heads; it is not in the default set."""
    from engine.bench.grid import measure_point
    from engine.bench.report import DEFAULT, parse_only
    from engine.bench.slstm_figures import bench_slstm_model, package_forward_of
    fig = measure_point(2, 8, 20, repeat=2, features=32,
                        model_of=lambda n, _d: bench_slstm_model(n, heads=2),
                        torch_of=package_forward_of)
    assert fig["ratio"] > 0 and fig["cpu_ratio"] > 0 and fig["spread"] >= 1
    assert parse_only("slstm") == ("slstm",) and "slstm" not in DEFAULT


def test_the_slstm_twin_is_read_back_by_the_loader_as_the_same_weights():
    """The package cell built from the engine's weights, read by the live-module loader
    (``xlstm_modules.slstm_weights``), gives back U and b exactly: a head's block put in the
    wrong place would still run, and only h would differ."""
    from engine.bench.slstm_figures import bench_slstm_model, package_cell_of
    from engine.loaders.xlstm_modules import slstm_weights
    model = bench_slstm_model(12, heads=3, seed=5)
    w = model.traced_layers[0].weights
    back = slstm_weights("cell", package_cell_of(model))
    assert back.heads == 3
    assert np.array_equal(back.recurrent_kernel, w.recurrent_kernel)
    assert np.array_equal(back.bias, w.bias)


def test_the_slstm_figure_runs_through_bench_only(monkeypatch):
    """``run_bench(only=("slstm",))`` reaches the figure at its points and prints its table."""
    import io

    from engine.bench import slstm_figures
    from engine.bench.report import run_bench
    seen = []
    monkeypatch.setattr(slstm_figures, "measure_point", lambda b, n, t, repeat, **kw: seen.append(
        (b, n, t, kw["features"])) or {"trace_ms": 1.0, "torch_ms": 2.0, "ratio": 0.5,
                                       "cpu_ratio": 0.5, "first_vs_later": 1.0, "spread": 1.0})
    out = io.StringIO()
    assert run_bench(units=8, steps=10, as_json=False, repeat=1, only=("slstm",),
                     out=out, err=io.StringIO()) == 0
    assert seen == [(b, n, t, 4 * n) for b, n, t in slstm_figures.SLSTM_POINTS]
    assert "\nslstm:\n" in out.getvalue() and "B32_N256_T1000" in out.getvalue()


@pytest.mark.parametrize("name", [m.name for m in pkgutil.iter_modules(
    [str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks")])])
def test_standalone_bench_script_imports(name):
    """The scripts under benchmarks/ import their heavy libraries inside main(); the module itself
    must import with the runtime dependencies, or a shared helper's rename breaks them unseen."""
    importlib.import_module(f"benchmarks.{name}")


def test_cell_bench_args_keep_each_cells_defaults_and_take_overrides():
    from benchmarks.xlstm_cell_bench import cell_bench_args
    args = cell_bench_args([], units=[64, 256], steps=256, batch=[1, 8])
    assert (args.units, args.steps, args.batch, args.heads, args.repeat) == ([64, 256], 256, [1, 8], 4, 3)
    args = cell_bench_args(["--units", "32", "--batch", "2", "3"], units=[64], steps=9, batch=[1])
    assert (args.units, args.steps, args.batch) == ([32], 9, [2, 3])
