"""Animated GIFs that stay small and are written fast: one shared palette for every frame.

A per-frame adaptive palette (Pillow's default) costs a median cut per frame and gives every
frame different colour indices, so the GIF writer cannot store only what changed. Here one
palette is cut once from a few frames (the first and the last hold every colour a stepping
figure uses: ghosts, read lanes, text, badges), every frame is mapped to it through a 32768-entry
table of 5-bit colours (one numpy gather per frame, no dithering: flat figure colours stay
flat), and Pillow's writer then keeps only each frame's changed rectangle, with unchanged pixels
inside it transparent (``optimize``). The theme's signal colours (lines and legend text), the
cursor and the page colours are reserved in the palette exactly: a median cut keeps what covers
many pixels, and a legend's few pixels of "o" or "C" would otherwise be drawn in a neighbour's
colour. docs/architecture.md, "Where each feature lives".
"""

from __future__ import annotations

import io

import numpy as np
from PySide6.QtGui import QColor, QImage

from engine.cells.cell_kind import CellKind
from gui.theme import Palette

COLOURS = 255                 # one index stays free for the writer's transparent pixels
BITS = 5                      # per channel in the lookup table (32 levels: 32768 entries)
SAMPLE_PIXELS = 200_000       # the median cut sees at most this many pixels (evenly strided)
MAX_PINNED = 32               # at most this many frequent colours are kept exactly ...
FLAT_SHARE = 0.001            # ... each covering at least this share of the pixels


def rgb_array(image: QImage) -> np.ndarray:
    """(H, W, 3) uint8 copy of a QImage's pixels (never a view of them)."""
    rgb = image.convertToFormat(QImage.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    # a copy: the pixels belong to ``rgb``, freed on return (a view would dangle)
    return data[:, :width * 3].copy().reshape(height, width, 3)


def reserved_colours(palette: Palette, kind: CellKind) -> np.ndarray:
    """(K, 3) uint8: the colours a figure's legend must keep exactly (every signal's line and
    text colour for the run's cell kind, the cursor, the page's background and text)."""
    names = [palette.background, palette.foreground, palette.cursor]
    for signal in kind.display_order:
        names += [palette.signal(signal), palette.signal_text(signal)]
    rgb = [QColor(name).getRgb()[:3] for name in names]
    return np.unique(np.asarray(rgb, np.uint8), axis=0)


def shared_palette(samples: list[np.ndarray], colours: int = COLOURS,
                   reserved: np.ndarray | None = None) -> np.ndarray:
    """(K, 3) uint8, K <= ``colours``: a median cut over the pixels of ``samples`` together,
    holding every ``reserved`` colour exactly."""
    from PIL import Image
    pixels = np.concatenate([s.reshape(-1, 3) for s in samples])
    stacked = np.ascontiguousarray(pixels[::max(1, len(pixels) // SAMPLE_PIXELS)])[None]
    quantized = Image.fromarray(stacked, "RGB").quantize(colors=colours,
                                                         method=Image.Quantize.MEDIANCUT)
    used = len(quantized.getcolors(colours + 1) or []) or colours
    palette = np.asarray(quantized.getpalette()[:3 * used], np.uint8).reshape(-1, 3).copy()
    palette = _pin_flat_colours(palette, stacked[0])
    return palette if reserved is None else _reserve(palette, np.asarray(reserved, np.uint8))


def _reserve(palette: np.ndarray, reserved: np.ndarray) -> np.ndarray:
    """``palette`` with each reserved colour in place of its nearest entry (an entry already
    equal to it included), the reserved ones last so they win the table cells they share."""
    keep = np.ones(len(palette), bool)
    for rgb in reserved.astype(np.int32):
        d = ((palette.astype(np.int32) - rgb) ** 2).sum(1)
        d[~keep] = np.iinfo(np.int32).max
        if keep.sum() + len(reserved) > COLOURS or d.min() == 0:
            keep[int(np.argmin(d))] = False
    return np.concatenate([palette[keep], reserved])[-COLOURS:]


def _pin_flat_colours(palette: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The colours that cover areas (background, lane shading, text) exactly: a median cut
    averages its boxes, which would tint a white page. Each takes its nearest entry's place."""
    code = (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    values, counts = np.unique(code, return_counts=True)
    flat = values[np.argsort(-counts)][:MAX_PINNED]
    flat = flat[np.sort(counts)[::-1][:MAX_PINNED] >= FLAT_SHARE * len(pixels)]
    taken: list[int] = []                 # most frequent first
    for c in flat:
        rgb = np.array([(c >> 16) & 255, (c >> 8) & 255, c & 255], np.int32)
        d = ((palette.astype(np.int32) - rgb) ** 2).sum(1)
        d[list(taken)] = np.iinfo(np.int32).max
        k = int(np.argmin(d))
        palette[k] = rgb
        taken.append(k)
    rest = [k for k in range(len(palette)) if k not in taken]
    # pinned last, the most frequent at the very end: it wins a table cell it shares
    return palette[rest + taken[::-1]]


def colour_table(palette: np.ndarray) -> np.ndarray:
    """(32768,) uint8: the nearest palette index for every 5-bit colour (squared RGB distance
    to the cell's centre), except that a cell holding palette colours maps to one of them."""
    levels = (np.arange(1 << BITS) << (8 - BITS)) + (1 << (7 - BITS))     # cell centres
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    grid = np.stack([r.ravel(), g.ravel(), b.ravel()], 1).astype(np.int32)
    pal = palette.astype(np.int32)
    out = np.empty(len(grid), np.uint8)
    for start in range(0, len(grid), 4096):                               # bounded memory
        d = ((grid[start:start + 4096, None, :] - pal[None]) ** 2).sum(-1)
        out[start:start + 4096] = np.argmin(d, axis=1)
    # a palette colour is drawn with itself: its own cell maps to it (later entries, the
    # pinned flat colours, win a cell they share)
    q = (palette >> (8 - BITS)).astype(np.int64)
    out[(q[:, 0] << (2 * BITS)) | (q[:, 1] << BITS) | q[:, 2]] = np.arange(len(palette))
    return out


def index_frame(rgb: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(H, W) palette indices of an (H, W, 3) frame."""
    q = (rgb >> (8 - BITS)).astype(np.uint16)
    return table[(q[..., 0] << (2 * BITS)) | (q[..., 1] << BITS) | q[..., 2]]


def encode(frames: list[np.ndarray], palette: np.ndarray, duration_ms: int,
           comment: bytes = b"") -> bytes:
    """GIF bytes of indexed frames sharing ``palette``, looping forever."""
    from PIL import Image
    flat = palette.reshape(-1).tolist()
    images = []
    for frame in frames:
        im = Image.fromarray(frame, "P")
        im.putpalette(flat)
        images.append(im)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration_ms, loop=0, optimize=True, comment=comment)
    return buffer.getvalue()
