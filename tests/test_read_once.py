"""An input file on its way through ``run_trace`` is checked readable once and opened as an
archive once, whatever the model's input names make the reader decide (which array, a note
saying so): one reader per file kind checks, opens and returns what was asked."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import engine.system.archives
import engine.system.inputs
from engine.cli.commands import run_trace
from engine.system.inputs import read_model_input
from tests.helpers import ROOT

BI = ROOT / "tests" / "fixtures" / "golden" / "bi.keras"
BI_INPUT = ROOT / "tests" / "fixtures" / "golden" / "bi_input.npy"


@pytest.fixture
def opens(monkeypatch) -> Counter:
    """How often each path was checked readable (``check:``) and opened as a zip (``zip:``)."""
    seen: Counter = Counter()
    check, open_zip = engine.system.inputs.check_readable, engine.system.archives.zip_archive

    def counted_check(path, *args, **kwargs):
        seen[f"check:{Path(path)}"] += 1
        return check(path, *args, **kwargs)

    def counted_zip(path):
        seen[f"zip:{Path(path)}"] += 1
        return open_zip(path)

    monkeypatch.setattr(engine.system.inputs, "check_readable", counted_check)
    monkeypatch.setattr(engine.system.archives, "zip_archive", counted_zip)
    return seen


def _npz(folder: Path, **arrays) -> Path:
    path = folder / "in.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("names", [[], ["input_layer"], ["a", "b"]])
def test_an_npz_input_is_checked_and_opened_once(tmp_path, opens, names):
    x = np.zeros((1, 3, 2), np.float32)
    arrays = {name: x for name in names} or {"x": x}
    if names == ["input_layer"]:
        arrays["other"] = x            # the reader picks the array named like the input
    path = _npz(tmp_path, **arrays)
    notes: list[str] = []
    got = read_model_input(path, None, names, notes=notes)
    assert (set(got) == set(names)) if len(names) > 1 else np.array_equal(got, x)
    assert opens[f"check:{path}"] == 1
    assert opens[f"zip:{path}"] == 1
    assert len(notes) == (1 if names == ["input_layer"] else 0)


def test_run_trace_reads_its_npz_input_once(tmp_path, opens):
    x = np.load(BI_INPUT)
    path = _npz(tmp_path, input_layer=x, other=x)
    assert run_trace(str(BI), str(path), str(tmp_path / "out.npz"), err=io.StringIO()) == 0
    assert opens[f"check:{path}"] == 1
    assert opens[f"zip:{path}"] == 1
