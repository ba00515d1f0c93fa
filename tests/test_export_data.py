"""engine.output.export: the numbers behind a view equal the engine's, under the trace's array names."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from engine import Session
from engine.analyses.analysis import cell_breakdown
from engine.cells.cell import STORAGE_GATE_ORDER
from engine.errors import ScopeError
from engine.loaders.demos import random_model
from engine.output.export import ViewContext, export_data, lane_arrays, read_mask
from tests.helpers import csv_rows


@pytest.fixture
def run():
    model = random_model(7, 3, 5)
    x = np.random.default_rng(1).normal(size=(2, 25, 3)).astype(np.float32)
    session = Session(model, x)
    session.seek(11)
    return session


def context(session: Session, view: str = "units", **kw) -> ViewContext:
    base = dict(view=view, model="m", layer=session.info.name, direction=session.info.direction,
                sample=1, t=session.t, steps=session.steps, cursor=session.cursor,
                units=[4, 1, 5], unit=2, position=session.cursor)
    base.update(kw)
    return ViewContext(**base)


def test_npz_keeps_trace_names_cut_to_sample_and_units(run, tmp_path):
    full = run.full()
    path = export_data(tmp_path / "v.npz", full, context(run))
    with np.load(path) as data:
        for name in ("i", "f", "g", "o", "c", "h"):
            assert np.array_equal(data[name], full.signal(name)[1:2][..., [4, 1, 5]]), name
        assert np.array_equal(data["zx"], full.zx[1:2][..., [4, 1, 5]])
        assert np.array_equal(data["zh"], full.zh[1:2][..., [4, 1, 5]])
        assert np.array_equal(data["zb"], full.zb[:, [4, 1, 5]])
        assert np.array_equal(data["x"], full.x[1:2])
        assert data["units"].tolist() == [4, 1, 5]
        assert data["read"].tolist() == [True] * 11 + [False] * 14
        meta = json.loads(str(data["meta"]))
    assert meta["layer"] == run.info.name and meta["inputs_read"] == 11 and meta["cursor"] == 10
    assert meta["model"] == "m" and meta["sample"] == 1


def test_csv_has_a_header_and_the_engine_values(run, tmp_path):
    full = run.full()
    path = export_data(tmp_path / "v.csv", full, context(run))
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t", "unit", "read", "i", "f", "g", "o", "c", "h"]
    body = rows[1:]
    assert len(body) == 25 * 3
    for row in body:
        t, unit, read = int(row[0]), int(row[1]), int(row[2])
        assert read == (t < 11)
        for k, name in enumerate(("i", "f", "g", "o", "c", "h")):
            assert np.float32(row[3 + k]) == full.signal(name)[1, t, unit], (name, t, unit)


def test_cell_export_takes_the_cell_apart(run, tmp_path):
    full = run.full()
    ctx = context(run, view="cell", unit=3, position=6)
    b = cell_breakdown(full, 1, 3, 6)
    path = export_data(tmp_path / "cell.npz", full, ctx)
    with np.load(path) as data:
        for k, g in enumerate(STORAGE_GATE_ORDER):
            assert data[g] == np.float32(b.gates[g])
            assert data["z"][k] == pytest.approx(data["zx"][k] + data["zh"][k] + data["zb"][k], abs=1e-6)
            assert data["zx"][k] == np.float32(full.zx[1, 6, k, 3])
        assert data["c"] == full.c[1, 6, 3] and data["c_prev"] == full.c[1, 5, 3]
        assert np.allclose(data["fan_in"].sum(axis=1), data["zh"], atol=1e-5)
    path = export_data(tmp_path / "cell.csv", full, ctx)
    rows = csv_rows(path)
    assert rows[0] == ["quantity", "gate", "k", "value"]
    values = {(q, g, k): float(v) for q, g, k, v in rows[1:]}
    assert values[("gate", "f", "")] == pytest.approx(b.gates["f"], rel=1e-7)
    assert values[("fan_in", "o", "2")] == pytest.approx(float(b.fan_in["o"][2]), rel=1e-6, abs=1e-9)


def test_backward_read_mask_counts_from_the_end(run):
    ctx = context(run, direction="backward", t=4, steps=10)
    assert read_mask(ctx).tolist() == [False] * 6 + [True] * 4


@pytest.mark.parametrize("kw, needle", [
    ({"units": [0, 99]}, "outside"),
    ({"view": "cell", "unit": 50}, "unit 50"),
    ({"view": "cell", "position": None, "cursor": None}, "needs a step"),
])
def test_bad_requests_say_what_is_wrong(run, tmp_path, kw, needle):
    with pytest.raises(ScopeError, match=needle):
        export_data(tmp_path / "x.npz", run.full(), context(run, **kw))


def test_unwritable_places_fail_before_work(run, tmp_path):
    with pytest.raises(ScopeError, match="does not exist"):
        export_data(tmp_path / "no" / "x.csv", run.full(), context(run))
    with pytest.raises(ScopeError, match="folder"):
        (tmp_path / "d.csv").mkdir()
        export_data(tmp_path / "d.csv", run.full(), context(run))
    with pytest.raises(ScopeError, match=".csv or .npz"):
        export_data(tmp_path / "x.txt", run.full(), context(run))


def test_lane_arrays_default_to_every_unit(run):
    arrays = lane_arrays(run.full(), context(run, units=[]))
    assert arrays["units"].tolist() == list(range(7))


def test_cell_metadata_names_the_cell_not_the_lanes(run):
    meta = context(run, view="cell", units=list(range(100))).describe()
    assert "units" not in meta and meta["unit"] == 2
    lanes = context(run, units=list(range(100))).describe()
    assert lanes["units"].startswith("100 units")
