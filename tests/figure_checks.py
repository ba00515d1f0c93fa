"""Layout checks made from a drawing itself: the texts a canvas recorded while it painted
(``PaintedCanvas.text_items``: what, where it ended up, the box it had to stay in)."""

from __future__ import annotations

from gui.teaching.common import TextItem

SLACK = 1.0          # px: antialiased glyph edges


def text_problems(items: list[TextItem]) -> list[str]:
    """Every text that leaves its box, and every pair of texts that overlap."""
    problems = []
    for item in items:
        r, b = item.rect, item.box
        if (r.left() < b.left() - SLACK or r.right() > b.right() + SLACK
                or r.top() < b.top() - SLACK or r.bottom() > b.bottom() + SLACK):
            problems.append(f"{item.text!r} ({_box(r)}) leaves its box ({_box(b)})")
    for k, a in enumerate(items):
        for other in items[k + 1:]:
            both = a.rect.intersected(other.rect)
            if both.width() > SLACK and both.height() > SLACK:
                problems.append(f"{a.text!r} ({_box(a.rect)}) overlaps {other.text!r} "
                                f"({_box(other.rect)})")
    return problems


def _box(r) -> str:
    return f"{r.left():.0f},{r.top():.0f} {r.width():.0f}×{r.height():.0f}"
