"""Every citation resolves inside the repository: a section of docs/architecture.md that code
cites exists, and no file cites an issue number, "the issue", "the brief" or a path on
someone's machine, which a reader of the repository cannot follow.

A section is cited as ``docs/architecture.md, "Long runs"`` (or ``("Long runs")``): quoted, so
this test finds every one. A cited name resolves when a heading starts with it, or a
subsection's title read after its parent's ("How to add …" + "a view" reads "How to add a
view"), case aside.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = "docs/architecture.md"
BINARY = (".png", ".gif", ".npz", ".npy", ".h5", ".keras", ".onnx", ".pt", ".pth", ".pb", ".zip",
          ".ico", ".svg", ".json", ".bin", ".data", ".index", ".mp4", ".tflite", ".ts")
NOT_A_CITATION = {"tests/test_citations.py"}      # names the patterns it forbids
OUTSIDE = re.compile(r"(?<![\w.])(?:/work/|/home/|/Users/|/root/|[A-Z]:\\Users\\)")
ISSUE = re.compile(r"(?i)\bissue[ _-]?#?\d+|\bthe (?:issue|brief)\b")


def tracked_text_files() -> list[Path]:
    """The repository's text files: what git tracks, or (no git, an unpacked source tree) every
    file outside caches, environments and build output."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", "__pycache__", ".venv", "venv", "build", "dist", ".pytest_cache",
                ".ruff_cache", ".hypothesis", ".grimp_cache", "out"}
        names = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if not skip & set(p.relative_to(ROOT).parts) and ".egg-info" not in str(p)]
    return [ROOT / n for n in names if not n.lower().endswith(BINARY) and n not in NOT_A_CITATION
            and (ROOT / n).is_file()]


def headings() -> list[str]:
    """Every heading of docs/architecture.md, and each subsection's title after its parent's."""
    out, parents = [], {}
    for line in (ROOT / DOC).read_text(encoding="utf-8").splitlines():
        m = re.match(r"(#+)\s+(.*)", line)
        if not m:
            continue
        level, title = len(m.group(1)), m.group(2).strip()
        parents[level] = title
        out.append(title)
        if level - 1 in parents:
            out.append(f"{parents[level - 1].rstrip('…. ')} {title}")
    return [_norm(h) for h in out]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("…", " ")).strip().lower()


def citations(text: str) -> list[tuple[int, str | None]]:
    """(line, section) of every citation of the doc in ``text``; section None when the
    citation names one without quoting it (this test could not check it)."""
    out = []
    for m in re.finditer(re.escape(DOC), text):
        line = text.count("\n", 0, m.start()) + 1
        rest = text[m.end():m.end() + 200]
        sep = re.match(r"(,\s*(?:section\s+)?|\s*\(\s*(?:section\s+)?)", rest)
        if not sep or not sep.group(0).strip():
            continue                                  # the document as a whole
        after = rest[sep.end():]
        if after.startswith('"'):
            end = after.find('"', 1)
            name = re.sub(r"\s*\n\s*(?:#\s*)?", " ", after[1:end])      # wrapped onto a comment line
            out.append((line, name))
        elif re.match(r"[A-Za-z]", after):
            out.append((line, None))
    return out


def test_every_cited_section_of_the_architecture_exists():
    known = headings()
    problems = []
    for path in tracked_text_files():
        if path == ROOT / DOC:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for line, name in citations(text):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name is None:
                problems.append(f"{where}: names a section of {DOC} without quotes")
            elif not any(h.startswith(_norm(name)) for h in known):
                problems.append(f"{where}: {DOC} has no section {name!r}")
    assert not problems, "\n".join(problems)


def test_nothing_cites_an_issue_or_a_path_outside_the_repository():
    problems = []
    for path in tracked_text_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for pattern in (OUTSIDE, ISSUE):
                m = pattern.search(line)
                if m:
                    problems.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)!r} in {line.strip()[:100]!r}")
    assert not problems, "\n".join(problems)


def test_the_citation_reader_finds_what_it_must():
    text = ('x  # docs/architecture.md, "Long runs"\n'
            '"""(docs/architecture.md, "Teaching\n    views"); see docs/architecture.md.\n'
            'docs/architecture.md (units panel)')
    assert citations(text) == [(1, "Long runs"), (2, "Teaching views"), (4, None)]
    assert _norm("How to add …") + " a view" in [_norm("How to add a view")]
    assert ISSUE.search("def issue4(out, rng):") and ISSUE.search("the brief's self-check")
    assert OUTSIDE.search("python3 -m venv /work/venv-tf") and not OUTSIDE.search("docs/work/x")
