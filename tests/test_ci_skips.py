"""CI counts skips: a test skipped for a reason .ci/allowed-skips does not list, or more often
than it allows, fails .ci/run (.ci/check_skips.py), so a broken framework of the test extra can
never pass as a skip."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CHECK = ROOT / ".ci" / "check_skips.py"
ALLOWED = ROOT / ".ci" / "allowed-skips"


def _report(path: Path, skips: list[tuple[str, str]]) -> Path:
    cases = "".join(
        f'<testcase classname="tests.t" name="test_{k}"><skipped type="{kind}" message="{msg}"/>'
        f"</testcase>" for k, (kind, msg) in enumerate(skips))
    path.write_text(f'<testsuites><testsuite name="pytest">{cases}'
                    f'<testcase classname="tests.t" name="test_ok"/></testsuite></testsuites>')
    return path


def _check(report: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(report), str(ALLOWED)],
                          capture_output=True, text=True, timeout=60)


def test_known_skips_within_their_counts_pass(tmp_path):
    report = _report(tmp_path / "r.xml", [
        ("pytest.skip", "/sys/kernel/notes does not exist on this machine"),
        ("pytest.skip", "the xcb plugin is Linux-only"),
        ("pytest.xfail", "an expected failure is not a skip")])
    proc = _check(report)
    assert proc.returncode == 0, proc.stderr


def test_an_unknown_skip_fails_naming_the_test_and_reason(tmp_path):
    report = _report(tmp_path / "r.xml", [("pytest.skip", "could not import 'keras': broken")])
    proc = _check(report)
    assert proc.returncode == 1
    assert "tests.t::test_0" in proc.stderr and "could not import 'keras'" in proc.stderr


def test_more_skips_of_a_reason_than_allowed_fail(tmp_path):
    report = _report(tmp_path / "r.xml", [("pytest.skip", f"/dev/x{k} does not exist on this machine")
                                          for k in range(5)])
    proc = _check(report)
    assert proc.returncode == 1 and "5 tests skipped" in proc.stderr and "at most 4" in proc.stderr


def test_every_skip_in_the_suite_has_an_allowed_reason():
    """Each pytest.skip / skipif reason written in tests/ matches a line of .ci/allowed-skips
    (the f-string part of a reason stands for any path)."""
    patterns = [re.compile(line.partition(" ")[2]) for line in ALLOWED.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    reasons = []
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        reasons += re.findall(r'pytest\.skip\(f?"([^"]*)"', text)
        reasons += re.findall(r'skipif\([^\n]*reason="([^"]*)"', text)
    assert reasons
    for reason in reasons:
        example = re.sub(r"\{[^}]*\}", "/dev/x", reason)
        assert any(p.search(example) for p in patterns), reason
    assert "importorskip" not in "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py") if p.name != Path(__file__).name)
