"""Write the golden exports that ``tests/test_golden_exports.py`` compares with.

    python scripts/make_golden_exports.py            # every case of tests/golden.py
    python scripts/make_golden_exports.py 'bi-*'     # only the cases whose name matches

Each case of ``tests.golden.CASES`` runs ``main.py export`` (or ``trace``) in this process,
exactly as the test does, and its output becomes ``tests/fixtures/golden/NAME.SUFFIX``:
PNGs re-encoded at PNG's best compression (the pixels unchanged), NPZs stored compressed (a
large trace keeps every k-th unit), CSVs and GIFs as written. A reference that already holds
the same pixels, arrays or text is left untouched, so ``git status`` lists exactly the cases
that changed. It prints each case's time and size, and removes references no case writes.

When to refresh: only when a figure or its numbers change on purpose (a deliberate change of
how a view draws, a new header line, a corrected number). Look at every new image that
changed (``git diff --stat tests/fixtures/golden`` lists them; an image viewer shows old and
new side by side) and say in the commit why it changed. Never refresh to make a failing test
pass without that look: a changed picture nobody meant is exactly what the test catches.

The Bidirectional model (``bi.keras``, the weights of ``tests.helpers.bidirectional_model``,
saved by Keras 3) and its input (``bi_input.npy``, a batch of 3) are written only when missing
(a fresh Keras archive differs in its timestamps alone); delete them to write them again.
Keras is needed for that step only (``KERAS_BACKEND`` defaults to numpy).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KERAS_BACKEND", "numpy")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.golden import BI_INPUT, BI_MODEL, CASES, GOLDEN_DIR, Case, read_frames, read_npz, run_case  # noqa: E402
from tests.helpers import bidirectional_model  # noqa: E402

BI_UNITS = 4
SUFFIXES = (".png", ".gif", ".npz", ".csv")


def write_bi_model() -> None:
    """``bi.keras`` and ``bi_input.npy`` when missing; the loaded file must trace like the
    engine model it was made from."""
    model_path, input_path = ROOT / BI_MODEL, ROOT / BI_INPUT
    reference = bidirectional_model(units=BI_UNITS)
    if not input_path.exists():
        steps = np.arange(12, dtype=np.float32)[None, :, None]
        phase = np.array([0.0, 1.0, 2.0], np.float32)[:, None, None]
        rates = np.array([0.35, 0.8], np.float32)[None, None, :]
        x = np.sin(steps * rates + phase).astype(np.float32)           # (3, 12, 2)
        np.save(input_path, x)
    if not model_path.exists():
        import keras
        bi_op, dense_op = reference.ops
        layers = keras.layers
        inputs = keras.Input((None, 2))
        lstm = layers.LSTM(BI_UNITS, return_sequences=True)
        hidden = layers.Bidirectional(lstm, name="bi")(inputs)
        outputs = layers.Dense(1, name="d")(hidden)
        keras_model = keras.Model(inputs, outputs)
        bi_layer = keras_model.get_layer("bi")
        for sub, cell in ((bi_layer.forward_layer, bi_op.forward), (bi_layer.backward_layer, bi_op.backward)):
            sub.set_weights([cell.kernel, cell.recurrent_kernel, cell.bias])
        keras_model.get_layer("d").set_weights([dense_op.kernel, dense_op.bias])
        keras_model.save(model_path)
    from engine import load_model
    x = np.load(input_path)
    ours, theirs = load_model(str(model_path)).trace(x), reference.trace(x)
    for name in ("bi/forward", "bi/backward"):
        for key in ("h", "c", "zx", "zh"):
            assert np.array_equal(getattr(ours.layer(name), key), getattr(theirs.layer(name), key)), (name, key)


def unchanged(case: Case, written: Path) -> bool:
    """The reference already holds what the command wrote (the same pixels, the same arrays
    bit for bit, the same text): left untouched, so a refresh changes only what changed."""
    target = case.reference
    if not target.exists():
        return False
    if case.suffix in (".png", ".gif"):
        old, new = read_frames(target), read_frames(written)
        return len(old) == len(new) and all(a.shape == b.shape and np.array_equal(a, b)
                                            for a, b in zip(old, new))
    if case.suffix == ".npz":
        old, new = read_npz(target), read_npz(written, case.unit_stride)
        return sorted(old) == sorted(new) and all(
            old[k].dtype == new[k].dtype and old[k].shape == new[k].shape
            and np.array_equal(old[k], new[k], equal_nan=old[k].dtype.kind == "f") for k in old)
    return target.read_bytes() == written.read_bytes()


def store(case: Case, written: Path) -> None:
    """The reference file of ``case`` from what the command wrote."""
    target = case.reference
    if case.suffix == ".png":
        from PIL import Image
        with Image.open(written) as image:
            rgba = image.convert("RGBA")
        opaque = bool(np.all(np.asarray(rgba)[..., 3] == 255))
        # an opaque figure loses nothing as RGB; zlib at level 9 keeps the same pixels
        (rgba.convert("RGB") if opaque else rgba).save(target, optimize=True)
        assert all(np.array_equal(a, b) for a, b in zip(read_frames(written), read_frames(target)))
    elif case.suffix == ".npz":
        np.savez_compressed(target, **read_npz(written, case.unit_stride))
    else:
        target.write_bytes(written.read_bytes())


def stale_references() -> list[Path]:
    wanted = {case.reference.name for case in CASES}
    return [p for p in sorted(GOLDEN_DIR.iterdir())
            if p.suffix in SUFFIXES and p.name not in wanted and p != ROOT / BI_INPUT]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only the cases matching these patterns (fnmatch)")
    args = parser.parse_args(argv)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    write_bi_model()
    chosen = [c for c in CASES if not args.names
              or any(fnmatch.fnmatch(c.name, p) for p in args.names)]
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for case in chosen:
            out = Path(tmp) / f"{case.name}{case.suffix}"
            start = time.perf_counter()
            run_case(case, out)
            took = time.perf_counter() - start
            total += took
            same = unchanged(case, out)
            if not same:
                store(case, out)
            print(f"{took:6.2f} s  {case.reference.stat().st_size / 1024:8.1f} KB  "
                  f"{'unchanged' if same else 'written  '}  {case.reference.relative_to(ROOT)}")
    size = sum(p.stat().st_size for p in GOLDEN_DIR.iterdir() if p.is_file())
    print(f"{len(chosen)} cases in {total:.1f} s; tests/fixtures/golden holds {size / 2**20:.2f} MB")
    for path in stale_references():
        path.unlink()
        print(f"removed {path.relative_to(ROOT)}: no case writes it any more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
