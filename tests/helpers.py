"""Shared test helpers: the Contracts' tolerance, fixture readers, running the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ATOL = 1e-5
RTOL = 1e-5


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str = "") -> float:
    """|ours - ref| <= 1e-5 + 1e-5 * |ref| element-wise (NaN must match NaN). Returns max error."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    nan_ours, nan_ref = np.isnan(ours), np.isnan(ref)
    assert np.array_equal(nan_ours, nan_ref), f"{what}: NaN positions differ"
    inf_ref = np.isinf(ref)
    assert np.array_equal(ours[inf_ref], ref[inf_ref]), f"{what}: Inf positions differ"
    ok = ~nan_ref & ~inf_ref
    err = np.abs(ours[ok] - ref[ok])
    bound = ATOL + RTOL * np.abs(ref[ok])
    if err.size and not np.all(err <= bound):
        worst = int(np.argmax(err - bound))
        raise AssertionError(f"{what}: max error {err.max():.3g} (worst {err[worst]:.3g} vs "
                             f"bound {bound[worst]:.3g})")
    return float(err.max()) if err.size else 0.0


def load_reference(path: Path) -> dict[str, Any]:
    """A fixture .npz as a dict; ``meta`` decoded from JSON."""
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, Any] = {k: data[k] for k in data.files}
    if "meta" in out:
        out["meta"] = json.loads(str(out["meta"]))
    return out


def reference_layers(ref: dict[str, Any]) -> list[int]:
    """Indices k for which the fixture holds layer{k}_h."""
    ks = []
    k = 0
    while f"layer{k}_h" in ref:
        ks.append(k)
        k += 1
    return ks


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` as a user would run it."""
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit code 2, one readable stderr line, no traceback, and the expected words."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
