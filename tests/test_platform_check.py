"""Without Qt's xcb libraries, 'python main.py' names what to install in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui import platform_check

ROOT = Path(__file__).resolve().parents[1]
LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffc)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""


def test_missing_libraries_become_package_names():
    missing = platform_check.missing_libraries(LDD_MISSING)
    assert missing == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxkbcommon-x11.so.0"]
    assert [platform_check.package_for(s) for s in missing] == [
        "libxcb-cursor0", "libxcb-icccm4", "libxkbcommon-x11-0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux-only")
def test_main_prints_one_line_and_exits_2(tmp_path):
    """A fake ldd that reports the libraries missing stands in for a bare system."""
    fake = tmp_path / "ldd"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + LDD_MISSING + "EOF\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "DISPLAY": ":99", "HOME": str(tmp_path),
           "QT_QPA_PLATFORM": "xcb", "NUMBA_CACHE_DIR": os.environ["NUMBA_CACHE_DIR"]}
    proc = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True,
                          text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "libxcb-cursor0 libxcb-icccm4 libxkbcommon-x11-0" in lines[0]
    assert "qt.qpa.plugin" not in proc.stderr
