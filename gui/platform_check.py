"""Before the window opens on X11: are the system libraries Qt's xcb plugin needs installed?

Without them Qt prints a long plugin message and aborts. This reads the plugin's dynamic
dependencies (``ldd``) instead and names the missing libraries and the Debian/Ubuntu packages
that provide them, in one line (see docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, if this is a PySide6 install that has one."""
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def missing_libraries(ldd_output: str) -> list[str]:
    """Sonames ``ldd`` reports as 'not found'."""
    return sorted({m.group(1) for m in re.finditer(r"^\s*(\S+)\s*=>\s*not found", ldd_output, re.M)})


def package_for(soname: str) -> str:
    """The Debian package name for a library soname: libxcb-cursor.so.0 -> libxcb-cursor0,
    libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (Debian's naming rule for shared libraries)."""
    match = re.match(r"(lib.+?)\.so\.(\d+)", soname)
    if not match:
        return soname
    name, major = match.group(1).lower(), match.group(2)
    return f"{name}-{major}" if name[-1].isdigit() else f"{name}{major}"


def xcb_problem() -> str | None:
    """One line naming what is missing for an X11 window, or None when it can open (or the
    platform is not xcb, or this cannot be checked here)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return None
    if platform == "" and not os.environ.get("DISPLAY") and os.environ.get("WAYLAND_DISPLAY"):
        return None
    plugin, ldd = xcb_plugin(), shutil.which("ldd")
    if plugin is None or ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    missing = missing_libraries(out)
    if not missing:
        return None
    packages = " ".join(package_for(s) for s in missing)
    return (f"cannot open a window: Qt's X11 (xcb) plugin needs system libraries that are not "
            f"installed ({', '.join(missing)}); install them, e.g. 'sudo apt-get install "
            f"{packages}', or run headless commands (trace, export, info, bench)")
