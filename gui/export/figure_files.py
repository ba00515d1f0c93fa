"""What a drawn figure becomes: the size limits of a picture, PNG bytes, SVG metadata, and
the frames an animation may hold. Every file goes through the one atomic writer
(engine.system.files)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
from PySide6.QtGui import QImage

from engine.errors import ScopeError
from engine.system.files import write_bytes

MAX_GIF_FRAMES = 1000
MAX_PNG_PIXELS = 120_000_000              # ~480 MB of RGBA: beyond this, say so before trying
MAX_GIF_PIXELS = 800_000_000              # every frame is held (1 byte a pixel) until written


def max_width(logical: QSize, frames: int = 1) -> int:
    """The widest picture of a figure of ``logical`` size that LSTM Scope draws: at most
    MAX_PNG_PIXELS in one image, and MAX_GIF_PIXELS over the frames of an animation."""
    limit = MAX_PNG_PIXELS if frames <= 1 else min(MAX_PNG_PIXELS, MAX_GIF_PIXELS // frames)
    w_logical, h_logical = max(1, logical.width()), max(1, logical.height())

    def pixels(width: int) -> int:
        return width * max(1, round(h_logical * width / w_logical))
    width = max(1, math.isqrt(limit * w_logical // h_logical))
    while width > 1 and pixels(width) > limit:
        width -= 1
    while pixels(width + 1) <= limit:
        width += 1
    return width


def check_positions(positions: range, steps: int) -> None:
    if len(positions) == 0:
        raise ScopeError(f"no step in {positions.start}:{positions.stop} (the run has {steps} steps)")
    if positions.start < 0 or positions[-1] >= steps:
        raise ScopeError(f"steps {positions.start}:{positions.stop} are outside 0:{steps}")
    if len(positions) > MAX_GIF_FRAMES:
        raise ScopeError(f"{len(positions)} frames is too long an animation (at most "
                         f"{MAX_GIF_FRAMES}); choose fewer steps")


def add_svg_metadata(svg: str, meta: dict[str, Any]) -> str:
    """Put what the figure shows into a <metadata> element right after <svg ...>."""
    block = f'<metadata id="lstm-scope">{escape(json.dumps(meta))}</metadata>'
    match = re.search(r"<svg\b[^>]*>", svg)
    if match is None:
        return svg
    return svg[:match.end()] + "\n" + block + svg[match.end():]


def save_qimage(image: QImage, path: str | Path, fmt: str) -> None:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not image.save(buffer, fmt):
        raise ScopeError(f"{path}: Qt could not encode the image as {fmt}")
    buffer.close()
    write_bytes(path, bytes(data))
