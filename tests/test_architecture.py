"""The layering docs/architecture.md describes, enforced rather than hoped for.

The import-linter contracts live in pyproject.toml (engine imports no Qt, panels never import
the window, gui is layered, the engine is layered and nothing in it imports its command line);
on top of them, no module of gui or engine may reach itself again through its imports, however
deep (grimp counts an import inside a function too), and the engine's contracts name every
package and top-level module of the engine, so a new one cannot slip past them (a module added
inside a package takes its package's layer); docs/architecture.md's package table names every
package too.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("gui", "engine", exclude_type_checking_imports=True)


@pytest.mark.parametrize("package", ["gui", "engine"])
def test_no_import_cycle(graph, package):
    cycles = []
    for module in sorted(graph.find_descendants(package) | {package}):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.split(".")[0] == package and graph.chain_exists(imported, module):
                back = graph.find_shortest_chain(imported, module)
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _contract(name_start: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name_start))


def _engine_children(graph) -> set[str]:
    return {m.split(".")[1] for m in graph.find_descendants("engine")}


def test_engine_layers_name_every_engine_module(graph):
    listed = {name.strip() for layer in _contract("engine is layered")["layers"]
              for name in layer.replace(":", "|").split("|")}
    assert listed == _engine_children(graph)


def test_nothing_in_engine_imports_the_command_line_is_checked_for_every_module(graph):
    contract = _contract("nothing in the engine imports the command line")
    cli = {m.split(".")[1] for m in contract["forbidden_modules"]}
    sources = {m.split(".")[1] for m in contract["source_modules"]}
    assert sources == _engine_children(graph) - cli


def test_the_package_table_names_every_engine_package(graph):
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = doc[doc.index("## Where each feature lives"):doc.index("### Layering (enforced)")]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| `")}
    packages = {m for m in graph.find_descendants("engine") if m.count(".") == 1
                and graph.find_children(m)}
    missing = {p for p in packages if f"`{p.replace('.', '/')}/`" not in rows}
    assert not missing, f"docs/architecture.md has no row for {sorted(missing)}"


def test_the_suite_runs_with_the_imported_libraries_frozen_out_of_the_collector():
    """tests/conftest.py freezes what collection imported (the suite's CPU time: the collector
    would otherwise walk torch's, Keras' and JAX's objects thousands of times)."""
    import gc
    assert gc.get_freeze_count() > 0
