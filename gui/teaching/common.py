"""What the teaching views share: value -> colour scales and the input's labels per step.

Colours only map numbers the engine computed; nothing here computes LSTM math.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from engine.cells.cell_kind import CellKind
from engine.network.model_input import step_input
from gui.session_model import SessionModel
from gui.signals import choosable, words
from gui.theme import Palette
from gui.widgets.combo import refill

POSITIVE = "#b2182b"      # link colours (ColorBrewer RdBu ends): U > 0 red, U < 0 blue
NEGATIVE = "#2166ac"


def signal_chooser(bar: QHBoxLayout, on_choose: Callable[[str], None]) -> QComboBox:
    """The "colour:" combo every teaching view puts first in its bar: one item per state and
    gate of the run's cell kind (``follow_kind`` fills it), calling ``on_choose(name)`` when
    the user picks one."""
    bar.addWidget(QLabel("colour:"))
    combo = QComboBox()
    combo.setToolTip("Which signal fills the cells")
    combo.currentIndexChanged.connect(lambda i: on_choose(combo.itemData(i)))
    bar.addWidget(combo)
    return combo


def follow_kind(combo: QComboBox, kind: CellKind | None, current: str) -> str:
    """Fill ``combo`` with what a run of ``kind`` can be coloured by (again only when the kind
    changed) and return the signal to show: ``current`` when the kind has it, else its first
    state (the LSTM's C)."""
    if kind is None:
        return current
    names = choosable(kind)
    chosen = current if current in names else names[0]
    if getattr(combo, "kind", None) is not kind:
        combo.kind = kind
        refill(combo, [(words(kind, name), name) for name in names], names.index(chosen))
    elif combo.currentData() != chosen:
        combo.blockSignals(True)
        combo.setCurrentIndex(combo.findData(chosen))
        combo.blockSignals(False)
    return chosen


def accepts(combo: QComboBox, name: str) -> bool:
    """True when the chooser offers ``name`` (before any run, every name: the first run's kind
    decides, ``follow_kind``)."""
    return combo.count() == 0 or combo.findData(name) >= 0


FIGURE_WIDTH = 1280        # logical px a figure is laid out at (at least): a 16:9 slide's width
SMALLEST_TEXT = 0.3        # text shrinks to fit its box down to this share of its size


@dataclass
class TextItem:
    """One text a canvas drew: what, where it ended up, and the box it had to stay in (the
    figure's layout checks read these from the drawing itself)."""

    text: str
    rect: QRectF
    box: QRectF


def draw_fitted(p: QPainter, box: QRectF, text: str, font: QFont,
                flags: Qt.AlignmentFlag = Qt.AlignLeft | Qt.AlignTop, *, wrap: bool = True,
                items: list[TextItem] | None = None) -> QRectF:
    """Draw ``text`` inside ``box``, word-wrapped (if ``wrap``) and shrunk step by step until it
    fits, so a narrow figure gets smaller words, never cut ones. Returns the text's bounds."""
    if wrap:
        flags = _wrapping(flags)
    size, (dx, dy, w, h) = _fitted_size(p, box, text, font, flags)
    need = QRectF(box.x() + dx, box.y() + dy, w, h)
    if size != font.pointSizeF() or not font.resolveMask() & SIZE_RESOLVED:
        fitted = QFont(font)
        fitted.setPointSizeF(size)
        p.setFont(fitted)
        p.drawText(box, flags, text)
    else:        # fits at the size the font sets, as most labels do: no copy of the font
        p.setFont(font)
        p.drawText(box, flags, text)
    p.setFont(font)
    if items is not None:
        items.append(TextItem(text, need, QRectF(box)))
    return need


def fitted_font(p: QPainter, box: QRectF, widest: str, font: QFont,
                flags: Qt.AlignmentFlag = Qt.AlignCenter) -> QFont:
    """The font ``draw_fitted`` would shrink ``widest`` to in ``box``: drawing every label of a
    series with it keeps them one size (each fitted alone, the widest came out smaller)."""
    size, _ = _fitted_size(p, box, widest, font, flags)
    fitted = QFont(font)
    fitted.setPointSizeF(size)
    return fitted


SIZE_RESOLVED = 0x2     # QFont::SizeResolved (PySide6 does not expose ResolveProperties)
_WRAPPING: dict[Qt.AlignmentFlag, Qt.AlignmentFlag] = {}


def _wrapping(flags: Qt.AlignmentFlag) -> Qt.AlignmentFlag:
    """``flags | Qt.TextWordWrap``, combined once per flags (combining Qt flags in Python takes
    about 10 µs, more than a remembered fit)."""
    wrapped = _WRAPPING.get(flags)
    if wrapped is None:
        wrapped = _WRAPPING[flags] = flags | Qt.TextWordWrap
    return wrapped


_FITTED: dict[tuple, tuple[float, tuple[float, float, float, float]]] = {}
FITTED_CACHE_SIZE = 4096


def _fitted_size(p: QPainter, box: QRectF, text: str, font: QFont,
                 flags: Qt.AlignmentFlag) -> tuple[float, tuple[float, float, float, float]]:
    """The point size ``draw_fitted`` draws ``text`` at in a box of this size, and the text's
    bounds relative to the box's corner. Remembered: a canvas repaints the same labels in the
    same boxes every step, and measuring them (up to 14 sizes each) was most of its text cost.
    The key holds a copy of the font (QFont compares by what it asks for; a caller may change
    its own font later) and the flags as given (turning them into an int costs microseconds)."""
    device = p.device()
    dpi = (device.logicalDpiX(), device.logicalDpiY()) if device is not None else None
    key = (text, font, box.width(), box.height(), flags, dpi)
    known = _FITTED.get(key)
    if known is not None:
        return known
    fitted = QFont(font)
    size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
    local = QRectF(0.0, 0.0, box.width(), box.height())
    scale = 1.0
    while True:
        fitted.setPointSizeF(max(3.0, size * scale))
        need = QFontMetricsF(fitted, device).boundingRect(local, flags, text)
        if (need.width() <= box.width() + 0.5 and need.height() <= box.height() + 0.5) \
                or scale <= SMALLEST_TEXT:
            break
        scale -= 0.05
    if len(_FITTED) >= FITTED_CACHE_SIZE:
        _FITTED.clear()
    key = (text, QFont(font), *key[2:])
    _FITTED[key] = known = (fitted.pointSizeF(), (need.x(), need.y(), need.width(), need.height()))
    return known


class PaintedCanvas(QWidget):
    """A widget drawn by ``paint_on(painter, width, height)``: the same code paints the screen
    and an export's picture at any size (subclasses define ``paint_on``). ``figure_size`` is
    the logical size an exported figure lays it out at (default: as on screen)."""

    text_items: list[TextItem]

    def figure_size(self):
        return self.size()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        painter = QPainter(self)
        try:
            self.paint_on(painter, self.width(), self.height())
        finally:
            painter.end()


@dataclass
class ColourScale:
    """A value -> colour map: viridis on [0, 1] for the sigmoid gates, a diverging map
    symmetric about 0 for g, C and h (white-ish at 0, so sign reads at a glance)."""

    name: str
    lo: float
    hi: float
    diverging: bool

    def __post_init__(self) -> None:
        self.map_name = "CET-D1" if self.diverging else "viridis"
        cmap = pg.colormap.get(self.map_name)
        self.lut = cmap.getLookupTable(nPts=256, alpha=False).astype(np.uint8)

    def index(self, values: np.ndarray) -> np.ndarray:
        """LUT index per value (-1 where the value is NaN: not computed yet)."""
        v = np.asarray(values, np.float64)
        span = self.hi - self.lo if self.hi > self.lo else 1.0
        with np.errstate(invalid="ignore"):
            k = np.clip(np.round((v - self.lo) / span * 255), 0, 255)
        return np.where(np.isfinite(v), k, -1).astype(int)

    def rgb(self, value: float) -> tuple[int, int, int] | None:
        k = int(self.index(np.array([value]))[0])
        return None if k < 0 else tuple(int(c) for c in self.lut[k])

    def qcolours(self) -> tuple[QColor, ...]:
        """The 256 colours as QColors, made once per colour map: a canvas asks for them on
        every paint, and building 256 QColors took longer than filling its cells."""
        colours = _QCOLOURS.get(self.map_name)
        if colours is None:
            colours = _QCOLOURS[self.map_name] = tuple(QColor(int(r), int(g), int(b))
                                                        for r, g, b in self.lut)
        return colours


_QCOLOURS: dict[str, tuple[QColor, ...]] = {}     # colour map name -> its 256 QColors


def colour_scale(name: str, weights, full_values: np.ndarray | None = None) -> ColourScale:
    """The scale for signal ``name`` of a layer with ``weights``: a gate's activation range, or
    +-the 99th percentile of |value| over ``full_values`` (the whole run, or a checkpointed
    run's span: so colours do not change while stepping, and one unit whose C runs far away
    does not wash out all the others; beyond the range colours saturate)."""
    w = weights
    act = w.activation_of(name)
    if act is not None and act.bounded:
        return ColourScale(name, float(act.lo), float(act.hi), bool(act.lo < 0))
    m = 1.0
    if full_values is not None and np.isfinite(full_values).any():
        m = float(np.nanpercentile(np.abs(full_values), 99))
        m = m if np.isfinite(m) and m > 0 else 1.0
    if name in w.kind.positive:           # an sLSTM's normalizer: from 0, sequential
        return ColourScale(name, 0.0, m, False)
    return ColourScale(name, -m, m, True)


def span_values(model: SessionModel, signal: str, first: int, count: int) -> np.ndarray:
    """(count, N) ``signal`` of the current sample at input positions first..first+count-1
    as read so far (NaN where not read yet, or outside a checkpointed run's span:
    docs/architecture.md, "Long runs"); the engine's numbers, only placed."""
    live = model.live()
    arr = live.signal(signal)[model.sample]                         # (span, N)
    out = np.full((count, arr.shape[1]), np.nan, np.float32)
    lo, hi = max(first, live.start), min(first + count, live.start + live.steps)
    if hi > lo:
        out[lo - first:hi - first] = arr[lo - live.start:hi - live.start]
    return out


def vocabulary(model: SessionModel) -> list[str] | None:
    demo = model.demo
    return getattr(demo, "vocabulary", None) if demo is not None else None


def token_ids(model: SessionModel, a: int = 0, b: int | None = None) -> np.ndarray | None:
    """(b-a,) token ids of the current sample at positions a:b (default all), or None for a
    model that reads vectors."""
    raw = step_input(model.session, model.sample)[a:b]
    return raw.astype(int) if raw.ndim == 1 else None


def step_labels(model: SessionModel, a: int = 0, b: int | None = None) -> list[str]:
    """One short label per input position a..b-1 (default all): the token (from the demo's
    vocabulary, or its id), or the value of a one-feature input, or "x_t" for a vector."""
    raw = step_input(model.session, model.sample)[a:b]
    if raw.ndim == 1:
        vocab = vocabulary(model)
        out = []
        for tok in raw.astype(int):
            if vocab and 0 <= tok < len(vocab):
                ch = vocab[tok]
                out.append({" ": "␣", "\n": "⏎", "\t": "⇥"}.get(ch, ch))
            else:
                out.append(str(int(tok)))
        return out
    if raw.shape[1] == 1:
        return [f"{float(v):.2f}" for v in raw[:, 0]]
    return ["x"] * raw.shape[0]


def text_of(model: SessionModel, a: int = 0, b: int | None = None) -> str | None:
    """The input (positions a:b, default all) as text when every token is one character of
    the demo's vocabulary."""
    ids = token_ids(model, a, b)
    vocab = vocabulary(model)
    if ids is None or not vocab:
        return None
    if any(not 0 <= k < len(vocab) or len(vocab[k]) != 1 for k in ids):
        # multi-character tokens (the counter's '<pad>' is never in an input): spell ids
        if any(not 0 <= k < len(vocab) for k in ids):
            return None
        return "".join(vocab[k] if len(vocab[k]) == 1 else "·" for k in ids)
    return "".join(vocab[k] for k in ids)


def view_font(palette: Palette, scale: float = 1.0, bold: bool = False) -> QFont:
    font = QFont()
    base = palette.font_pt or font.pointSizeF() or 9.0
    font.setPointSizeF(max(5.0, base * scale))
    font.setBold(bold)
    return font


def arrow(p: QPainter, a: QPointF, b: QPointF, colour: QColor) -> None:
    p.setPen(QPen(colour, 1.2))
    p.drawLine(a, b)
    d = b - a
    length = max((d.x() ** 2 + d.y() ** 2) ** 0.5, 1e-6)
    arrow_head(p, b, QPointF(d.x() / length, d.y() / length), 5, colour)


def arrow_head(p: QPainter, tip: QPointF, direction: QPointF, size: float, colour: QColor) -> None:
    nx, ny = -direction.y(), direction.x()
    back = QPointF(tip.x() - direction.x() * size, tip.y() - direction.y() * size)
    poly = QPolygonF([tip, QPointF(back.x() + nx * size * 0.5, back.y() + ny * size * 0.5),
                      QPointF(back.x() - nx * size * 0.5, back.y() - ny * size * 0.5)])
    p.save()
    p.setPen(Qt.NoPen)
    p.setBrush(colour)
    p.drawPolygon(poly)
    p.restore()
