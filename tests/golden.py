"""Golden exports: what ``main.py export`` and ``main.py trace`` write today, kept as reference
files in ``tests/fixtures/golden`` and compared by ``tests/test_golden_exports.py``.

One table (``CASES``) drives both the test and the script that writes the references
(``python scripts/make_golden_exports.py``), so they can never disagree on what a case is.
Every case runs the command line in process (``main.main``): the same entry point as a user's
``python main.py export ...``, without a fresh interpreter per case.

What is covered, as PNG pixels: every view that applies to a bundled demo (``units layer cell
grad window unrolled``, and ``text`` for the demos that read characters) on ``demo:counter``,
``demo:code``, ``demo:text``, ``demo:sine`` and the GRU's ``demo:counter-gru`` (the whole window of code and text left out: see
``SKIPPED``); a small Bidirectional model (``bi.keras``: the weights of
``tests.helpers.bidirectional_model``) on a batch of 3, so ``directions`` and ``samples`` are
drawn for real, and its backward layer; options riding along on one case each (dark theme,
unit range, the wrong pictures, text rows and feature, title and caption); a GIF; a run over the
memory budget (checkpointed). As numbers: the NPZ of every view (lanes, cell, gradients, a
custom gradient target) and CSVs of lanes, cell and gradients; and ``main.py trace`` of every
demo, ``demo:wide`` included (its 1024 units kept one in 64).

Left out on purpose: ``directions`` and ``samples`` of a one-direction layer or a one-sample
input (refused with their reason: ``tests/test_export_cli.py``), SVG
(the same painting as PNG, as vectors), and pictures of ``demo:wide`` (5 s of CPU per export:
its run is computed three times over and the hidden gradient dock computes too).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.helpers import FIXTURES, ROOT, image_of

GOLDEN_DIR = FIXTURES / "golden"
WIDTH = "640"                       # PNG width: enough to see a change, small in the repository
BI_MODEL = "tests/fixtures/golden/bi.keras"          # relative: the figure header names it
BI_INPUT = "tests/fixtures/golden/bi_input.npy"
# the model file is read by a bounded child process (4 s without progress by default): give a
# starved child on a busy machine longer, the pictures do not depend on it
BI_ENV = (("LSTM_SCOPE_READ_TIMEOUT", "30"),)
# arrays of a trace or a data export whose last axis is the unit (a unit stride applies to them)
UNIT_AXIS_ARRAYS = ("i", "f", "g", "o", "c", "h", "zx", "zh", "zb", "h0", "c0")


@dataclass(frozen=True)
class Case:
    """One command line whose output file is compared with ``GOLDEN_DIR / name + suffix``."""

    name: str
    args: tuple[str, ...]            # main.py's arguments, without --out
    suffix: str                      # .png .gif .npz .csv
    env: tuple[tuple[str, str], ...] = ()
    unit_stride: int = 1             # keep every k-th unit of a large trace's reference

    @property
    def reference(self) -> Path:
        return GOLDEN_DIR / f"{self.name}{self.suffix}"

    def argv(self, out: Path) -> list[str]:
        return [*self.args, "--out", str(out)]


# demo -> the cursor of its pictures: about two thirds in, so read and unread steps both show
DEMO_STEPS = {"counter": 40, "code": 100, "text": 70, "sine": 80, "counter-gru": 40}
TEXT_DEMOS = ("counter", "code", "text", "counter-gru")   # the text view needs a character model
DEMO_VIEWS = ("units", "layer", "cell", "grad", "window", "unrolled")
# too slow for what they add: the whole window of the two larger demos (2.3 s of CPU each; every
# part of it is compared on its own)
SKIPPED = ("code-window", "text-window")
BI_VIEWS = ("units", "layer", "cell", "grad", "window", "unrolled", "directions", "samples")


def _picture(name: str, model: str, view: str, *extra: str, suffix: str = ".png",
             env: tuple[tuple[str, str], ...] = ()) -> Case:
    width = () if "--width" in extra else ("--width", WIDTH)
    return Case(name, ("export", model, "--view", view, *width, *extra), suffix, env)


def _data(name: str, model: str, view: str, suffix: str, *extra: str,
          env: tuple[tuple[str, str], ...] = ()) -> Case:
    return Case(name, ("export", model, "--view", view, *extra), suffix, env)


def _cases() -> list[Case]:
    cases: list[Case] = []
    # every view of every small demo; a few options ride along on one demo each
    options = {
        "counter-layer": ("--title", "Counting brackets", "--caption", "Six units, one input."),
        "counter-unrolled": ("--wrong", "--links", "3"),
        "code-units": ("--unit-range", "4:12"),
        "code-text": ("--feature", "in_quotes"),
        "text-units": ("--unit-range", "0:16"),     # all 64 dense lanes: 0.9 MB of PNG
        "text-text": ("--units", "3,7,12", "--signal", "h"),
        "sine-units": ("--theme", "dark"),
        "sine-unrolled": ("--signal", "h"),
        "counter-gru-unrolled": ("--wrong",),       # a GRU's wrong pictures
    }
    for demo, step in DEMO_STEPS.items():
        model, at = f"demo:{demo}", ("--step", str(step))
        views = DEMO_VIEWS + (("text",) if demo in TEXT_DEMOS else ())
        for view in (v for v in views if f"{demo}-{v}" not in SKIPPED):
            unit = ("--unit", "1") if view in ("cell", "grad") else ()
            name = f"{demo}-{view}"
            cases.append(_picture(name, model, view, *at, *unit, *options.get(name, ())))
        cases.append(_data(f"{demo}-units-steps", model, "units", ".csv", *at,
                           "--steps", f"{step - 5}:{step + 5}"))
        cases.append(_data(f"{demo}-cell", model, "cell", ".npz", *at, "--unit", "1"))
        cases.append(_data(f"{demo}-cell", model, "cell", ".csv", *at, "--unit", "1"))
        cases.append(_data(f"{demo}-grad", model, "grad", ".npz", *at, "--unit", "1"))
        cases.append(Case(f"{demo}-trace", ("trace", model), ".npz"))
    # the lanes' numbers of every view (code and text: their traces hold the same arrays)
    for view in ("units", "layer", "window", "unrolled", "text"):
        cases.append(_data(f"counter-{view}", "demo:counter", view, ".npz", "--step", "40"))
    cases.append(_data("sine-units", "demo:sine", "units", ".npz", "--step", "80"))
    cases.append(_data("counter-grad", "demo:counter", "grad", ".csv", "--step", "40",
                       "--unit", "1"))
    cases.append(_data("counter-grad-target", "demo:counter", "grad", ".npz", "--step", "40",
                       "--target", "sumsq(output[:, last])"))
    cases.append(_picture("counter-units-frames", "demo:counter", "units", "--steps", "20:23",
                          "--width", "400", suffix=".gif"))

    # 1024 units: its trace, every 64th unit (the whole trace is 11 MB)
    cases.append(Case("wide-trace", ("trace", "demo:wide"), ".npz", unit_stride=64))

    # a Bidirectional layer on a batch of 3: both directions, the samples side by side
    bi = ("--input", BI_INPUT)
    forward = (*bi, "--step", "7", "--sample", "1")
    backward = (*bi, "--layer", "bi/backward", "--step", "4")
    for view in ("directions", "samples"):
        cases.append(_picture(f"bi-{view}", BI_MODEL, view, *forward, env=BI_ENV))
    for view in ("units", "directions", "cell"):
        unit = ("--unit", "3") if view == "cell" else ()
        cases.append(_picture(f"bi-backward-{view}", BI_MODEL, view, *backward, *unit,
                              env=BI_ENV))
    for view in BI_VIEWS:
        unit = ("--unit", "2") if view in ("cell", "grad") else ()
        cases.append(_data(f"bi-{view}", BI_MODEL, view, ".npz", *forward, *unit, env=BI_ENV))
    cases.append(_data("bi-backward-units", BI_MODEL, "units", ".csv", *backward, env=BI_ENV))
    cases.append(_data("bi-backward-cell", BI_MODEL, "cell", ".npz", *backward, "--unit", "3",
                       env=BI_ENV))
    cases.append(Case("bi-trace", ("trace", BI_MODEL, *bi), ".npz", BI_ENV))

    # over the memory budget: checkpointed, the view drawn from the span around the cursor
    budget = (("LSTM_SCOPE_MEMORY_BUDGET", "40K"),)
    cases.append(_picture("sine-checkpointed-units", "demo:sine", "units", "--step", "110",
                          env=budget))
    cases.append(_data("sine-checkpointed-units", "demo:sine", "units", ".npz",
                       "--steps", "100:120", env=budget))
    return cases


CASES: list[Case] = _cases()


# --- running a case --------------------------------------------------------------------------
@contextlib.contextmanager
def _environment(pairs: tuple[tuple[str, str], ...]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key, _ in pairs}
    os.environ.update(dict(pairs))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _in_root() -> Iterator[None]:
    """Relative model paths (the bi model) resolve, and the figure header names them alike
    wherever the repository is checked out."""
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


NUMPY_STEPS = (("LSTM_SCOPE_JIT", "0"),)
"""Every case runs on the numpy path (``engine.runs.compiled.JIT_SWITCH``), with or without
numba: the references were drawn from it, and the compiled steps, equal to it within the
parity tolerance (tests/test_compiled_steps.py), move about 20 pixels of a picture by one
colour level."""


def run_case(case: Case, out: Path) -> None:
    """``python main.py ARGS --out OUT`` in this process; an exit code other than 0 fails with
    what the command printed."""
    import main
    stdout, stderr = io.StringIO(), io.StringIO()
    with _environment(NUMPY_STEPS + case.env), _in_root(), contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        code = main.main(case.argv(out))
    if code != 0:
        raise AssertionError(f"{case.name}: main.py {' '.join(case.args)} exited {code}:\n"
                             f"{stderr.getvalue()}{stdout.getvalue()}")


# --- reading what a case wrote ----------------------------------------------------------------
def read_npz(path: Path, unit_stride: int = 1) -> dict[str, np.ndarray]:
    """The arrays of an NPZ (``meta`` as its JSON text), every ``unit_stride``-th unit."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    if unit_stride > 1:
        for key in UNIT_AXIS_ARRAYS:
            if key in arrays:
                arrays[key] = np.ascontiguousarray(arrays[key][..., ::unit_stride])
    return arrays


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a PNG (one) or a GIF, as (H, W, 4) uint8 RGBA."""
    from PIL import ImageSequence
    image = image_of(path)
    return [np.asarray(frame.convert("RGBA")) for frame in ImageSequence.Iterator(image)]
