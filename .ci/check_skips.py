"""Fail CI when tests skipped for reasons it does not know, or more often than it allows.

    python .ci/check_skips.py REPORT.xml [.ci/allowed-skips]

REPORT.xml is pytest's JUnit report (``--junitxml``); the allowed file lists ``MOST REGEX`` per
line (``#`` starts a comment). Exit 0 when every skip matches a reason within its count, else 1
with one line per problem. An expected failure (xfail) is not a skip.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def allowed_reasons(path: Path) -> list[tuple[int, re.Pattern[str]]]:
    reasons = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            most, _, pattern = line.partition(" ")
            reasons.append((int(most), re.compile(pattern.strip())))
    return reasons


def skipped(report: Path) -> list[tuple[str, str]]:
    """(test id, reason) of every skipped test in a JUnit report."""
    out = []
    for case in ET.parse(report).getroot().iter("testcase"):
        for skip in case.findall("skipped"):
            if skip.get("type") == "pytest.xfail":
                continue
            test = f"{case.get('classname', '')}::{case.get('name', '')}"
            out.append((test, skip.get("message", "")))
    return out


def problems(skips: list[tuple[str, str]], reasons: list[tuple[int, re.Pattern[str]]]) -> list[str]:
    counts = [0] * len(reasons)
    found = []
    for test, message in skips:
        k = next((k for k, (_, rx) in enumerate(reasons) if rx.search(message)), None)
        if k is None:
            found.append(f"{test} skipped for a reason CI does not know: {message!r}")
        else:
            counts[k] += 1
    for (most, rx), count in zip(reasons, counts, strict=True):
        if count > most:
            found.append(f"{count} tests skipped for {rx.pattern!r}, at most {most} may")
    return found


def main(argv: list[str]) -> int:
    report = Path(argv[1])
    allowed = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name("allowed-skips")
    found = problems(skipped(report), allowed_reasons(allowed))
    for line in found:
        print(f"CI: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
