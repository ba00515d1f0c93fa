"""What ``pip install .`` ships: only engine, gui and main.py, with resources/ as engine package
data (docs/architecture.md, "Packaging")."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_engine_and_gui_package_is_installed_and_nothing_else():
    code = set(find_packages(str(ROOT), include=["engine", "engine.*", "gui", "gui.*"]))
    data = {"engine.resources", "engine.resources.demos"}
    assert set(SETUPTOOLS["packages"]) == code | data
    assert SETUPTOOLS["py-modules"] == ["main"]


def test_resources_ship_as_engine_data_not_as_a_package():
    assert SETUPTOOLS["package-dir"] == {"engine.resources": "resources"}
    assert not (ROOT / "resources" / "__init__.py").exists()
    from engine.loaders.demos import DEMO_DIR
    assert DEMO_DIR == ROOT / "resources" / "demos" and (DEMO_DIR / "sine.json").exists()
