"""Every exported view and every demo's trace equal the golden files made from the code as it
was when they were written (``tests/golden.py`` lists the cases).

Pictures compare pixel for pixel: rendering here is deterministic (the same fonts, Qt's raster
engine, no timing text in a figure), measured over repeated runs in fresh processes and inside
the suite, so the tolerance is zero changed pixels (``PIXEL_TOLERANCE``). Numbers compare with
the Contracts' tolerance (``tests.helpers.assert_close``); integers, booleans, names and the
shape of every array exactly; a file's ``version`` is left out (it names the release).

A failing picture writes ``expected``, ``actual`` and ``difference`` images (changed pixels in
magenta over a faded copy of the expected picture) into the test's temporary folder and names
them in the message. When a change of a figure is deliberate, look at the new images and
refresh: ``python scripts/make_golden_exports.py [NAME ...]`` (its docstring says when).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.golden import CASES, Case, read_frames, read_npz, run_case
from tests.helpers import ROOT, assert_close, csv_rows

PIXEL_TOLERANCE = 0          # changed pixels allowed per picture: rendering is deterministic
UNVERSIONED = ("version",)   # metadata that names the release, not the figure
EXACT_COLUMNS = ("t", "unit", "read", "k", "quantity", "gate")   # CSV cells compared as text
REFRESH = "python scripts/make_golden_exports.py"


CASES_BY_NAME = {f"{case.name}{case.suffix}": case for case in CASES}


@pytest.fixture(autouse=True)
def fresh_theme():
    """The application as a fresh ``main.py export`` finds it: light. Tests before this one in
    the same process may have left it dark; an export must not care
    (``test_the_window_theme_does_not_reach_an_export``), and this one leaves it as found."""
    from gui.app import make_app
    from gui.theme import qt_palette
    app = make_app()
    app.setPalette(qt_palette("light"))
    yield
    app.setPalette(qt_palette("light"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.name}{c.suffix}")
def test_export_equals_its_golden_file(case: Case, tmp_path: Path) -> None:
    assert case.reference.exists(), (f"{case.reference.relative_to(ROOT)} is missing: write it "
                                     f"with {REFRESH} '{case.name}'")
    actual = tmp_path / f"actual{case.suffix}"
    run_case(case, actual)
    if case.suffix in (".png", ".gif"):
        assert_same_pixels(case, actual, tmp_path)
    elif case.suffix == ".npz":
        assert_same_arrays(case, actual)
    else:
        assert_same_table(case, actual)


def test_the_window_theme_does_not_reach_an_export(tmp_path: Path) -> None:
    """A light print figure after a window went dark (the application's palette with it) is
    the same picture: the export window applies its own theme when it starts, and the figure
    paints in its print theme's palette, passed in (``tests/gui/test_export.py`` checks the
    figure alone, from a window that stays dark)."""
    from PySide6.QtWidgets import QApplication

    from gui.theme import qt_palette
    QApplication.instance().setPalette(qt_palette("dark"))
    case = CASES_BY_NAME["counter-cell.png"]
    actual = tmp_path / "actual.png"
    run_case(case, actual)
    assert_same_pixels(case, actual, tmp_path)


# --- pictures ----------------------------------------------------------------------------------
def assert_same_pixels(case: Case, actual_path: Path, folder: Path) -> None:
    expected, actual = read_frames(case.reference), read_frames(actual_path)
    problems: list[str] = []
    if len(expected) != len(actual):
        problems.append(f"{len(actual)} frames instead of {len(expected)}")
    for k, (want, got) in enumerate(zip(expected, actual)):
        frame = f"frame {k}: " if len(expected) > 1 else ""
        if want.shape != got.shape:
            problems.append(f"{frame}{got.shape[1]}×{got.shape[0]} px instead of "
                            f"{want.shape[1]}×{want.shape[0]}")
            continue
        changed = np.any(want != got, axis=-1)
        if changed.sum() > PIXEL_TOLERANCE:
            rows, cols = np.nonzero(changed)
            problems.append(f"{frame}{int(changed.sum())} of {changed.size} pixels changed, within "
                            f"x {cols.min()}..{cols.max()}, y {rows.min()}..{rows.max()} (largest "
                            f"channel change {int(np.abs(want.astype(int) - got).max())})")
    if not problems:
        return
    paths = {"actual": actual_path, **write_difference(expected, actual, folder)}
    raise AssertionError(
        f"{case.name}{case.suffix} ({' '.join(case.args)}) no longer looks like "
        f"{case.reference.relative_to(ROOT)}: " + "; ".join(problems) + "\n"
        + "\n".join(f"  {label}: {path}" for label, path in paths.items())
        + f"\nIf the change is deliberate, look at the images and refresh: {REFRESH} '{case.name}'")


def write_difference(expected: list[np.ndarray], actual: list[np.ndarray],
                     folder: Path) -> dict[str, Path]:
    """expected.png and difference.png of the first frame that differs, beside the actual file."""
    from PIL import Image
    k = next((i for i, (a, b) in enumerate(zip(expected, actual))
              if a.shape != b.shape or np.any(a != b)), min(len(expected), len(actual)) - 1)
    paths = {"expected": folder / "expected.png", "difference": folder / "difference.png"}
    Image.fromarray(expected[k]).save(paths["expected"])
    Image.fromarray(difference_image(expected[k], actual[k])).save(paths["difference"])
    return paths


def difference_image(want: np.ndarray, got: np.ndarray) -> np.ndarray:
    """The expected picture faded to light grey, every changed pixel magenta; where the sizes
    differ, the area only one of them covers is magenta too."""
    height, width = max(want.shape[0], got.shape[0]), max(want.shape[1], got.shape[1])
    out = np.full((height, width, 4), (255, 0, 255, 255), np.uint8)
    h, w = min(want.shape[0], got.shape[0]), min(want.shape[1], got.shape[1])
    a, b = want[:h, :w], got[:h, :w]
    grey = a[..., :3].astype(np.float32).mean(axis=-1)
    faded = (191 + grey / 4).astype(np.uint8)
    out[:h, :w, :3] = faded[..., None]
    changed = np.any(a != b, axis=-1)
    out[:h, :w][changed] = (255, 0, 255, 255)
    return out


# --- numbers -----------------------------------------------------------------------------------
def assert_same_arrays(case: Case, actual_path: Path) -> None:
    expected = read_npz(case.reference)
    actual = read_npz(actual_path, case.unit_stride)
    what = f"{case.name}{case.suffix}"
    assert sorted(actual) == sorted(expected), f"{what}: arrays {sorted(actual)} != {sorted(expected)}"
    for key, want in expected.items():
        got = actual[key]
        if key == "meta":
            assert_same_meta(json.loads(str(got)), json.loads(str(want)), what)
            continue
        assert got.dtype == want.dtype, f"{what}: {key} is {got.dtype}, was {want.dtype}"
        assert got.shape == want.shape, f"{what}: {key} has shape {got.shape}, was {want.shape}"
        if np.issubdtype(want.dtype, np.floating):
            assert_close(got, want, f"{what}: {key}")
        else:
            assert np.array_equal(got, want), f"{what}: {key} differs"


def assert_same_meta(got: dict, want: dict, what: str) -> None:
    got = {k: v for k, v in got.items() if k not in UNVERSIONED}
    want = {k: v for k, v in want.items() if k not in UNVERSIONED}
    assert sorted(got) == sorted(want), f"{what}: meta keys {sorted(got)} != {sorted(want)}"
    for key, value in want.items():
        if isinstance(value, float):
            assert_close(np.float64(got[key]), np.float64(value), f"{what}: meta {key}")
        else:
            assert got[key] == value, f"{what}: meta {key} is {got[key]!r}, was {value!r}"


def assert_same_table(case: Case, actual_path: Path) -> None:
    """Same header, same rows; numbers to the tolerance, every other cell exactly."""
    what = f"{case.name}{case.suffix}"
    want, got = csv_rows(case.reference), csv_rows(actual_path)
    assert got[:1] == want[:1], f"{what}: header {got[:1]} != {want[:1]}"
    assert len(got) == len(want), f"{what}: {len(got) - 1} rows instead of {len(want) - 1}"
    numbers_want, numbers_got = [], []
    for row, (a, b) in enumerate(zip(want[1:], got[1:]), start=2):
        assert len(a) == len(b), f"{what}: line {row} has {len(b)} cells, was {len(a)}"
        for column, (x, y) in enumerate(zip(a, b)):
            fx, fy = _number(x), _number(y)
            if fx is None or fy is None or want[0][column] in EXACT_COLUMNS:
                assert x == y, f"{what}: line {row}, column {want[0][column]}: {y!r}, was {x!r}"
            else:
                numbers_want.append(fx)
                numbers_got.append(fy)
    assert_close(np.array(numbers_got), np.array(numbers_want), f"{what}: numbers")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@pytest.mark.parametrize("debounce_ms", [0, 10**7])
def test_the_layer_views_gradient_map_does_not_wait_for_the_windows_timer(
        debounce_ms: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The layer view draws |d target / d C|; an export computes that target itself. It was left
    to the window's 60 ms debounce timer, so whether the map was drawn or empty depended on how
    fast the export ran (empty in a fresh CI environment, drawn here)."""
    import gui.grad_model
    monkeypatch.setattr(gui.grad_model, "DEBOUNCE_MS", debounce_ms)
    case = CASES_BY_NAME["text-layer.png"]
    actual = tmp_path / "actual.png"
    run_case(case, actual)
    assert_same_pixels(case, actual, tmp_path)
