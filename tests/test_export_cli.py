"""``python main.py export`` with no display: every view, every format, and clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from engine import Session, load_model
from engine.cli.commands import resolve_input
from tests.helpers import ROOT, assert_clean_error, csv_rows, image_of, run_cli


def run_headless(*args: str) -> subprocess.CompletedProcess:
    """As on a server: no DISPLAY and no QT_QPA_PLATFORM; the command must cope by itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def demo_run():
    model = load_model("demo:sine")
    session = Session(model, resolve_input(model, None, None))
    return session.full()


@pytest.mark.parametrize(("view", "run"), [("units", run_cli), ("layer", run_cli),
                                           ("cell", run_cli), ("window", run_headless)])
def test_png_of_every_view_headless(tmp_path, view, run):
    """Every view as a PNG; the whole window (every view in it) from a fresh interpreter with
    no display at all, the others in process (Qt offscreen: the views are drawn alike)."""
    out = tmp_path / f"{view}.png"
    proc = run("export", "demo:sine", "--step", "40", "--view", view, "--unit", "3",
               "--out", str(out), "--width", "1200", "--title", "Sine")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip() == ""
    image = image_of(out)
    assert image.size[0] == 1200
    assert len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3)[::5], axis=0)) > 40
    meta = json.loads(image.text["lstm-scope"])
    assert (meta["model"], meta["layer"], meta["cursor"], meta["view"]) == ("demo:sine", "lstm", 40, view)
    if view == "cell":
        assert meta["unit"] == 3 and meta["position"] == 40
    assert "wrote" in proc.stdout


def test_a_headless_layer_export_draws_its_maps_once_in_print(tmp_path, monkeypatch):
    """The layer view waits to draw until shown; the headless export gives it the figure's
    palette first, and the figure's scale then changes its pens only: its maps are laid out
    once, in print (they were drawn on screen, then again in print: half a layer export)."""
    from gui.panels.layer_view import LayerView
    drawn: list[bool] = []
    lay_out_maps = LayerView._lay_out_maps

    def watched(view: LayerView) -> None:
        drawn.append(view.palette.printing)
        lay_out_maps(view)
    monkeypatch.setattr(LayerView, "_lay_out_maps", watched)
    out = tmp_path / "layer.png"
    proc = run_cli("export", "demo:counter", "--step", "20", "--view", "layer", "--width", "400",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert drawn == [True]
    assert image_of(out).size[0] == 400


@pytest.mark.parametrize(("view", "drawn"), [("units", []), ("cell", ["cell bars"]),
                                           ("window", ["input", "cell bars"])])
def test_a_headless_export_draws_only_the_panels_its_figure_shows(tmp_path, monkeypatch, view,
                                                                 drawn):
    """The window of a headless export is laid out before it is shown: the input panel and
    the cell inspector's bar charts wait until they are shown, so a figure that hides their
    docks never draws them (each cost about a tenth of an export), and one that shows them
    draws them."""
    from gui.panels.cell_inspector import CellInspector
    from gui.panels.input_panel import InputPanel
    seen: list[str] = []
    say_why, build_bars = InputPanel._say_why_no_output, CellInspector._build_bars

    def input_drawn(panel: InputPanel, missing: bool) -> None:
        seen.append("input")
        say_why(panel, missing)

    def bars_built(inspector: CellInspector) -> None:
        if not inspector._bar_plots:
            seen.append("cell bars")
        build_bars(inspector)
    monkeypatch.setattr(InputPanel, "_say_why_no_output", input_drawn)
    monkeypatch.setattr(CellInspector, "_build_bars", bars_built)
    out = tmp_path / f"{view}.png"
    proc = run_cli("export", "demo:counter", "--step", "20", "--view", view, "--width", "400",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(set(seen)) == sorted(drawn)
    assert image_of(out).size[0] == 400


def test_svg_and_gif_headless(tmp_path):
    svg = tmp_path / "u.svg"
    proc = run_cli("export", "demo:sine", "--view", "units", "--unit-range", "0:4", "--step", "9",
                   "--out", str(svg))
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 10
    gif = tmp_path / "a.gif"
    proc = run_cli("export", "demo:sine", "--view", "layer", "--steps", "10:15", "--out", str(gif),
                   "--fps", "5")
    assert proc.returncode == 0, proc.stderr
    image = image_of(gif)
    assert image.n_frames == 5 and image.info["duration"] == 200


def test_csv_and_npz_equal_the_engine(tmp_path, demo_run):
    npz, table = tmp_path / "u.npz", tmp_path / "u.csv"
    for out in (npz, table):
        proc = run_cli("export", "demo:sine", "--step", "20", "--unit-range", "3:6", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
    with np.load(npz) as data:
        assert data["units"].tolist() == [3, 4, 5]
        assert np.array_equal(data["c"], demo_run.c[0:1, :, 3:6])
        assert data["read"].sum() == 21
        assert json.loads(str(data["meta"]))["cursor"] == 20
    rows = csv_rows(table)
    assert rows[0] == ["t", "unit", "read", "i", "f", "g", "o", "c", "h"]
    assert len(rows) == 1 + demo_run.steps * 3
    for row in rows[1::37]:
        t, unit = int(row[0]), int(row[1])
        assert np.float32(row[4]) == demo_run.f[0, t, unit]
    cell = tmp_path / "cell.npz"
    assert run_cli("export", "demo:sine", "--view", "cell", "--unit", "5", "--step", "7",
                   "--out", str(cell)).returncode == 0
    with np.load(cell) as data:
        assert data["h"] == demo_run.h[0, 7, 5] and int(data["position"]) == 7


def test_a_run_over_the_memory_budget_exports_headless_from_its_checkpoints(tmp_path, demo_run,
                                                                            monkeypatch):
    """Over the budget the run is checkpointed, as in the window: pictures show the steps
    around the one shown, a GIF's frames cross spans, and data is written a range at a time
    (--steps), each number equal to the in-memory run's. In process: the budget is read from
    the environment on every run (what crosses the process boundary is test_cli's)."""
    monkeypatch.setenv("LSTM_SCOPE_MEMORY_BUDGET", "40K")

    def export(*args: str) -> subprocess.CompletedProcess:
        return run_cli("export", "demo:sine", *args)
    png, npz, gif = tmp_path / "u.png", tmp_path / "u.npz", tmp_path / "u.gif"
    proc = export("--step", "110", "--out", str(png))
    assert proc.returncode == 0 and "checkpointed" in proc.stderr, proc.stderr
    assert json.loads(image_of(png).text["lstm-scope"])["cursor"] == 110
    assert export("--steps", "100:120", "--out", str(npz)).returncode == 0
    with np.load(npz) as data:
        assert int(data["first_position"]) == 100
        for name in ("i", "c", "h"):
            assert np.array_equal(data[name], getattr(demo_run, name)[:, 100:120]), name
        assert np.array_equal(data["h0"], demo_run.h[:, 99])
    proc = export("--steps", "10:110", "--view", "units", "--width", "300", "--out", str(gif))
    assert proc.returncode == 0, proc.stderr
    assert image_of(gif).n_frames == 100
    proc = export("--out", str(tmp_path / "all.csv"))
    assert proc.returncode == 2 and "--steps A:B" in proc.stderr and "Traceback" not in proc.stderr
    proc = export("--steps", "0:100", "--out", str(tmp_path / "big.csv"))
    assert proc.returncode == 2 and "shorter range" in proc.stderr
    assert not (tmp_path / "all.csv").exists() and not (tmp_path / "big.csv").exists()


def test_data_of_a_range_of_steps(tmp_path, demo_run):
    out = tmp_path / "r.csv"
    assert run_cli("export", "demo:sine", "--steps", "30:33", "--out", str(out)).returncode == 0
    rows = csv_rows(out)
    assert len(rows) == 1 + 3 * demo_run.units and {int(r[0]) for r in rows[1:]} == {30, 31, 32}


@pytest.mark.parametrize("args, needles", [
    (["--out", "x.bmp"], ["x.bmp", ".png"]),
    (["--out", "{tmp}/missing/x.png"], ["does not exist"]),
    (["--step", "999", "--out", "{tmp}/x.png"], ["--step 999"]),
    (["--view", "cell", "--unit", "40", "--out", "{tmp}/x.png"], ["--unit 40"]),
    (["--steps", "0:5", "--out", "{tmp}/x.png"], ["--steps", ".gif"]),
    (["--steps", "9:3", "--out", "{tmp}/x.gif"], ["--steps 9:3"]),
    (["--unit-range", "50:60", "--out", "{tmp}/x.png"], ["selects no unit"]),
    (["--sample", "3", "--out", "{tmp}/x.png"], ["--sample 3"]),
    (["--width", "3", "--out", "{tmp}/x.png"], ["--width 3"]),
    (["--fps", "nan", "--out", "{tmp}/x.gif"], ["--fps nan"]),
])
def test_bad_arguments_give_one_line(tmp_path, args, needles):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert_clean_error(run_cli("export", "demo:sine", *args), *needles)


def test_bad_model_file_gives_one_line(tmp_path):
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    assert_clean_error(run_cli("export", str(bad), "--out", str(tmp_path / "x.png")), "broken.keras")


def test_second_sample_of_a_batch_file(tmp_path):
    model = load_model("demo:sine")
    x = np.stack([np.sin(np.arange(30) * 0.2), np.cos(np.arange(30) * 0.3)])[..., None].astype(np.float32)
    np.save(tmp_path / "batch.npy", x)
    out = tmp_path / "s1.npz"
    proc = run_cli("export", "demo:sine", "--input", str(tmp_path / "batch.npy"), "--sample", "1",
                   "--view", "cell", "--unit", "2", "--unit-range", "0:3", "--step", "12",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    full = Session(model, x).full()
    with np.load(out) as data:
        assert data["h"] == full.h[1, 12, 2] and data["c_prev"] == full.c[1, 11, 2]
        assert json.loads(str(data["meta"]))["sample"] == 1
    png = tmp_path / "s1.png"
    assert run_cli("export", "demo:sine", "--input", str(tmp_path / "batch.npy"), "--sample", "1",
                   "--out", str(png), "--width", "400").returncode == 0
    assert json.loads(image_of(png).text["lstm-scope"])["sample"] == 1


def test_missing_runtime_package_is_one_line(tmp_path):
    """Run without `pip install -e .` (h5py absent): one line saying how to install, exit 2."""
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'h5py' or name.startswith('h5py.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'h5py'\", name='h5py')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import main\n"
        f"sys.exit(main.main(['export', 'demo', '--step', '20', '--out', r'{tmp_path / 'x.png'}']))\n")
    proc = subprocess.run([sys.executable, "-c", blocker], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert_clean_error(proc, "h5py", "pip install -e .")


def test_text_view_of_chosen_units_headless(tmp_path):
    out = tmp_path / "text.png"
    proc = run_cli("export", "demo:text", "--view", "text", "--units", "1,2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(image_of(out).text["lstm-scope"])["units"] == [1, 2]
    assert_clean_error(run_cli("export", "demo:text", "--view", "text", "--units", "1,999",
                               "--out", str(tmp_path / "bad.png")), "--units 1,999")


@pytest.mark.parametrize("view, suffix, reason", [
    ("directions", ".png", "plain LSTM that reads one way"),
    ("directions", ".npz", "plain LSTM that reads one way"),
    ("samples", ".gif", "the input holds one sample"),
    ("samples", ".csv", "the input holds one sample"),
    ("text", ".png", "models that read characters"),
])
def test_a_view_that_does_not_apply_is_refused_in_one_line(tmp_path, view, suffix, reason):
    """Exit 2 with the view's reason, nothing written (it was a page of text and exit 0)."""
    out = tmp_path / f"x{suffix}"
    assert_clean_error(run_cli("export", "demo:sine", "--view", view, "--out", str(out)),
                       "does not apply", reason)
    assert not out.exists()


def test_every_exportable_view_is_on_the_command_line():
    """``--view`` takes the names of the one table of views, and nothing else."""
    import main
    from gui.export.views import VIEWS
    export = main.build_parser()._subparsers._group_actions[0].choices["export"]
    view = next(a for a in export._actions if a.dest == "view")
    assert tuple(view.choices) == tuple(VIEWS)


@pytest.mark.parametrize("model, layer, other", [
    ("tests/fixtures/onnx/bidirectional.onnx", "lstm_node/backward", "lstm_node/forward"),
    ("tests/fixtures/torch/lstm_3layer_bidirectional.pt", "l1", "l1_reverse"),
])
def test_both_directions_of_a_torch_or_onnx_bilstm_is_refused_truthfully(tmp_path, model, layer, other):
    """The view draws a Keras Bidirectional's two directions; a PyTorch or ONNX bidirectional
    LSTM is one op with two traced directions, and its refusal says so (it was called 'a plain
    LSTM that reads one way')."""
    out = tmp_path / "x.png"
    proc = run_cli("export", model, "--input", str(Path(model).with_suffix(".npz")), "--key", "x",
                   "--layer", layer, "--view", "directions", "--out", str(out))
    assert_clean_error(proc, "one direction of a bidirectional LSTM", other)
    assert "plain LSTM" not in proc.stderr
