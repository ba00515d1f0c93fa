"""Peak memory of opening the window, next to the bytes of one trace:
``python -m benchmarks.window_memory``.

Each case runs in a fresh child process (so nothing an earlier case allocated or cached
counts) that builds the offscreen window, resets the kernel's peak-RSS mark, opens the model
and input through the window's own loader, waits for the first pass and a paint, and then
steps to the end of the run. It reports the peak RSS growth of each phase and its ratio to the
bytes of one trace of the traced layer (``trace_bytes``: the arrays the Contracts name), which
docs/architecture.md's "Long runs" aims to keep at most 1.5. A figure for notes, not a unit
test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {"sine-300k": ("demo:sine", 300_000), "wide": ("demo:wide", None)}
MIB = 2**20


def _status(key: str) -> int:
    """A /proc/self/status figure (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak() -> None:
    """Make VmHWM the current RSS again (Linux: "5" to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def trace_bytes(batch: int, steps: int, weights) -> int:
    """Bytes of one LayerTrace: gates, zx, zh (4N each), c (N), h (H), x (D), the mask, and
    peephole terms where the cell has them."""
    n, h, d = weights.units, weights.state_size, weights.input_dim
    floats = 12 * n + n + h + d + (4 * n if weights.peephole is not None else 0)
    return batch * steps * (4 * floats + 1)


def measure(case: str) -> dict:
    """In this process: open the window on ``case`` and report its peak RSS growth."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import gc

    import numpy as np
    from PySide6.QtCore import QSettings

    from engine import load_model
    from gui.app import make_app
    from gui.main_window import MainWindow

    spec, steps = CASES[case]
    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.IniFormat),
                            report_error=lambda *_: None)
        window.resize(1600, 1000)
        window.show()
        app.processEvents()
        model = load_model(spec)
        x = None
        if steps is not None:
            phase = np.arange(steps, dtype=np.float32)[:, None] * np.float32(0.05)
            x = np.sin(phase * np.arange(1, model.input_features + 1, dtype=np.float32))[None]
        gc.collect()
        _reset_peak()
        base = _status("VmRSS")
        failed: list[str] = []
        window.loader.failed.connect(failed.append)
        window.load(spec, x=x, wait=True)
        deadline = time.monotonic() + 600
        while window.session_model.session is None:     # the load is delivered by an event
            if failed or time.monotonic() > deadline:
                raise RuntimeError(f"{case} did not open: {failed or 'timed out'}")
            app.processEvents()
            time.sleep(0.01)
        window.first_pass.wait()
        app.processEvents()
        window.grab()
        opened = _status("VmHWM") - base
        session = window.session_model.session
        one_trace = trace_bytes(session.batch, session.steps, session.info.weights)
        window.session_model.seek(session.steps)
        app.processEvents()
        window.grab()
        stepped = _status("VmHWM") - base
        window.close()
    return {"case": case, "steps": session.steps, "units": session.units,
            "checkpointed": session.checkpointed, "trace_mib": round(one_trace / MIB, 1),
            "open_mib": round(opened / MIB, 1), "open_ratio": round(opened / one_trace, 2),
            "to_end_mib": round(stepped / MIB, 1), "to_end_ratio": round(stepped / one_trace, 2)}


def run_all(cases=tuple(CASES)) -> list[dict]:
    """Every case in its own child process (this interpreter, this checkout's code)."""
    out = []
    for case in cases:
        done = subprocess.run([sys.executable, "-m", "benchmarks.window_memory", "--child", case],
                              capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent.parent)
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
    else:
        rows = run_all(tuple(sys.argv[1:]) or tuple(CASES))
        for row in rows:
            print(f"{row['case']}: T={row['steps']:,} N={row['units']} trace "
                  f"{row['trace_mib']} MiB; open +{row['open_mib']} MiB "
                  f"({row['open_ratio']}x); open + step to end +{row['to_end_mib']} MiB "
                  f"({row['to_end_ratio']}x)")
        print(json.dumps(rows))
