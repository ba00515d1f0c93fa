"""The two wrong pictures of LSTM(units=N) drawn beside the true one ("units = time steps",
"independent copies"), each with one sentence on why it is wrong for this model and what the
decouple what-if measured on this input. A mixin of the unrolled canvas."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPen

from gui.teaching.common import arrow, fitted_font, view_font
from gui.teaching.unrolled_links import count_word


def _heads(session) -> int:
    """How many heads the layer's units form (1: every unit reads every unit through U)."""
    return int(session.info.weights.unit_heads().max(initial=0)) + 1


class WrongPictures:
    """Paints the wrong pictures into an area and knows the height their sentences need."""

    def _paint_wrong(self, p: QPainter, area: QRectF) -> None:
        """The two wrong pictures people draw of units=N, each with why it is wrong."""
        pal = self.view.palette
        half = area.height() / 2
        p.setPen(QPen(QColor(pal.grid), 1))
        p.drawLine(QPointF(area.left() - 4, 6), QPointF(area.left() - 4, area.height() - 6))
        self._paint_wrong_chain(p, QRectF(area.left(), area.top() + 4, area.width() - 6, half - 8))
        self._paint_wrong_copies(p, QRectF(area.left(), area.top() + half + 4, area.width() - 6,
                                           half - 8))

    def _wrong_style(self) -> tuple[QColor, QColor, QColor, QFontMetricsF]:
        """(the wrong pictures' red, foreground, box fill, font metrics)."""
        pal = self.view.palette
        box = QColor(pal.foreground)
        box.setAlpha(40)
        return QColor("#c0392b"), QColor(pal.foreground), box, QFontMetricsF(view_font(pal))

    def wrong_chain_text(self) -> str:
        session = self.view.session_model.session
        n, steps = session.units, session.steps
        shape = tuple(session.info.weights.recurrent_kernel.shape)
        heads = _heads(session)
        if not session.cell_kind.recurrent:          # an mLSTM: no U, the heads' memories
            return (f"Why it is wrong: h has N = {n} entries — all {n} units exist at every step, "
                    f"each reading its head's matrix memory C ({heads} heads of {n // heads}). The "
                    f"number of steps is the input's length (T = {steps}), not units.")
        reading = "read each other" if heads == 1 else f"read the units of their own head ({heads} heads)"
        return (f"Why it is wrong: U is {shape}, so h_t−1 has N = {n} entries — all {n} units "
                f"exist at every step and {reading}. The number of steps is the input's "
                f"length (T = {steps}), not units.")

    def wrong_copies_text(self) -> str:
        v = self.view
        session = v.session_model.session
        n = session.units
        shape = tuple(session.info.weights.recurrent_kernel.shape)
        effect = v.effect()
        if effect is None:
            measured = v.effect_note or "the decouple what-if could not be run for this layer."
        elif not np.isfinite(effect.max_abs):
            measured = "the decouple what-if gave no finite numbers on this input."
        else:
            measured = "the decouple what-if measures it: " + effect.sentence() + " on this input."
        gates = session.cell_kind.gates
        # the LSTM's four gates, a GRU's three; a simple RNN's unit reads h_t−1 with no gate
        readers = f"each unit's {count_word(len(gates))} gates" if gates else "each unit"
        heads = _heads(session)
        if not session.cell_kind.recurrent:          # an mLSTM: nothing reads h_t−1
            dh = n // heads
            return (f"Why it is wrong, though no unit reads h_t−1 (an {session.cell_kind.written} "
                    f"has no recurrent kernel): the {dh} units of a head share its {dh} x {dh} "
                    f"matrix memory C and its two scalar gates, so they are not independent; the "
                    f"{heads} heads, not the units, run as independent copies. There is no U to "
                    f"remove: the decouple what-if changes nothing here.")
        if heads > 1:           # an sLSTM: U is zero between heads, so the heads are the copies
            return (f"Why it is wrong: U is {shape}: {readers} read the {n // heads} entries of "
                    f"h_t−1 of its own head, not only its own. Within a head U links every unit "
                    f"to every other; between the {heads} heads it is 0, so the heads, not the "
                    f"units, run as independent copies. Remove the links and the run changes — "
                    f"{measured}")
        return (f"Why it is wrong: U is {shape}: {readers} read{'' if gates else 's'} all {n} "
                f"entries of h_t−1, not only its own. Its off-diagonal entries link every unit to "
                f"every other; remove them and the run changes — {measured}")

    @staticmethod
    def _chain_box(width: float) -> tuple[float, float]:
        """(box width, height) of the chain picture's boxes: six boxes and the gap fit."""
        bw = float(np.clip((width - 12) / 7.95, 8.0, 58.0))
        return bw, bw * 0.62

    def _copies_label_width(self, width: float) -> float:
        """The copies picture's label column: as wide as its widest label ("unit 1023") at the
        small font, at most a quarter of the picture."""
        n = self.view.session_model.units
        fm = QFontMetricsF(view_font(self.view.palette, 0.85))
        return float(np.clip(fm.horizontalAdvance(f"unit {n - 1}") + 6, 46.0, max(46.0, width / 4)))

    def _copies_box(self, width: float) -> tuple[float, float]:
        cw = float(np.clip((width - self._copies_label_width(width) - 10) / (4 * 2.2), 6.0, 34.0))
        return cw, cw * 0.6

    def _wrong_height(self, width: float) -> float:
        """The height the two wrong pictures need at ``width``: both sentences unshrunk."""
        fm = QFontMetricsF(view_font(self.view.palette))
        wrap = QRectF(0, 0, max(width, 50.0), 1e5)
        _, bh = self._chain_box(width)
        _, ch = self._copies_box(width)
        rows = min(self.view.session_model.units, 4)
        a = 2.2 * fm.height() + bh + fm.height() + 8 + \
            fm.boundingRect(wrap, Qt.TextWordWrap, self.wrong_chain_text()).height() + 12
        b = 2.0 * fm.height() + rows * ch * 1.5 + 6 + \
            fm.boundingRect(wrap, Qt.TextWordWrap, self.wrong_copies_text()).height() + 16
        return 2 * max(a, b)

    def _paint_wrong_chain(self, p: QPainter, a: QRectF) -> None:
        """A: one cell unrolled N times ("units = time steps")."""
        v = self.view
        pal, session = v.palette, v.session_model.session
        n = session.units
        bad, fg, box, fm = self._wrong_style()
        p.setPen(bad)
        self._text(p, QRectF(a.left(), a.top(), a.width(), fm.height() * 1.3),
                   "✗ the wrong picture: “units = time steps”", view_font(pal, 1.1, bold=True),
                   Qt.AlignLeft | Qt.AlignVCenter)
        shown = min(n, 5)
        bw, bh = self._chain_box(a.width())
        y = a.top() + 2.2 * fm.height()
        # every box's label at the size the widest ("unit 1023") fits its box at
        small = fitted_font(p, QRectF(0, 0, bw - 10, bh), f"unit {n - 1}", view_font(pal, 0.85))
        for k in range(shown + 1):
            x = a.left() + 6 + k * bw * 1.3 + (bw * 0.35 if k == shown else 0)
            label = f"unit {k}" if k < shown else f"unit {n - 1}"
            if k == shown and n > shown:
                p.setPen(fg)
                self._text(p, QRectF(x - bw * 0.62, y, bw * 0.5, bh), "…", small, Qt.AlignCenter)
            elif k == shown:
                break
            p.setPen(QPen(fg, 1.2))
            p.setBrush(box)
            p.drawRoundedRect(QRectF(x, y, bw, bh), 5, 5)
            self._text(p, QRectF(x + 2, y, bw - 4, bh), label, small, Qt.AlignCenter)
            self._text(p, QRectF(x, y + bh + 3, bw, fm.height()),
                       f"x_{k if k < shown else n - 1}?", small, Qt.AlignCenter)
            if k > 0 and not (k == shown and n > shown):
                arrow(p, QPointF(x - bw * 0.3, y + bh / 2), QPointF(x, y + bh / 2), fg)
        p.setPen(fg)
        top = y + bh + fm.height() + 8
        self._text(p, QRectF(a.left(), top, a.width(), a.bottom() - top), self.wrong_chain_text(),
                   view_font(pal), wrap=True)

    def _paint_wrong_copies(self, p: QPainter, b: QRectF) -> None:
        """B: N independent copies, with what the decouple what-if measured on this input."""
        v = self.view
        pal, session = v.palette, v.session_model.session
        n = session.units
        bad, fg, box, fm = self._wrong_style()
        p.setPen(QPen(QColor(pal.grid), 1))
        p.drawLine(QPointF(b.left(), b.top() - 4), QPointF(b.right(), b.top() - 4))
        p.setPen(bad)
        self._text(p, QRectF(b.left(), b.top() + 2, b.width(), fm.height() * 1.3),
                   "✗ the wrong picture: “independent copies”", view_font(pal, 1.1, bold=True),
                   Qt.AlignLeft | Qt.AlignVCenter)
        rows, cols = min(n, 4), 4
        cw, ch = self._copies_box(b.width())
        label_w = self._copies_label_width(b.width())
        y0 = b.top() + 2.0 * fm.height()
        # one size for every row's label: the one the last unit's ("unit 63") fits at
        small = fitted_font(p, QRectF(0, 0, label_w - 4, ch), f"unit {n - 1}",
                            view_font(pal, 0.85), Qt.AlignRight | Qt.AlignVCenter)
        for r in range(rows):
            for c in range(cols):
                x = b.left() + label_w + 4 + c * cw * 2.2
                yy = y0 + r * ch * 1.5
                p.setPen(QPen(fg, 1.0))
                p.setBrush(box)
                p.drawRect(QRectF(x, yy, cw, ch))
                if c > 0:
                    arrow(p, QPointF(x - cw * 1.2, yy + ch / 2), QPointF(x, yy + ch / 2), fg)
            p.setPen(fg)
            unit = r if r < rows - 1 or n == rows else n - 1
            self._text(p, QRectF(b.left(), y0 + r * ch * 1.5, label_w - 4, ch), f"unit {unit}",
                       small, Qt.AlignRight | Qt.AlignVCenter)
            if unit != r:         # units left out: "⋮" in the gap above the last row's label
                self._text(p, QRectF(b.left(), y0 + r * ch * 1.5 - ch * 0.5, label_w - 4, ch * 0.5),
                           "⋮", small, Qt.AlignRight | Qt.AlignVCenter)
        p.setPen(fg)
        ytext = y0 + rows * ch * 1.5 + 6
        self._text(p, QRectF(b.left(), ytext, b.width(), b.bottom() - ytext),
                   self.wrong_copies_text(), view_font(pal), wrap=True)
