"""The layering docs/architecture.md describes, enforced rather than hoped for.

The import-linter contracts live in pyproject.toml (engine imports no Qt, panels never import
the window, gui is layered); on top of them, no module of gui may reach itself again through
its imports, however deep.
"""

from __future__ import annotations

from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_import_cycle_in_gui():
    graph = grimp.build_graph("gui", "engine", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.find_descendants("gui") | {"gui"}):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.split(".")[0] == "gui" and graph.chain_exists(imported, module):
                back = graph.find_shortest_chain(imported, module)
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
