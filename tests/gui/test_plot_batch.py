"""remove_plot_items leaves a plot exactly as PlotItem.removeItem one by one does."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from gui.widgets.plot_batch import remove_plot_items


def _plot_with_items(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    plot.addLegend()
    curves = [plot.plot(np.arange(5), np.arange(5) * k, name=f"c{k}") for k in range(30)]
    line = pg.InfiniteLine(pos=2)
    plot.addItem(line)
    bars = pg.BarGraphItem(x=[1, 2], height=[1, 2], width=0.5)
    plot.addItem(bars)
    return widget, plot, curves, line, bars


def _state(plot, kept):
    index = {id(item): k for k, item in enumerate(kept)}
    return ([index[id(i)] for i in plot.items], [index[id(i)] for i in plot.dataItems],
            [index[id(i)] for i in plot.curves],
            sorted(index[id(i)] for i in plot.vb.addedItems if id(i) in index),
            [label.text for _, label in plot.legend.items],
            [i.scene() is plot.scene() for i in kept])


def test_batch_removal_equals_removing_one_by_one(qtbot):
    widget_a, one, curves_a, line_a, bars_a = _plot_with_items(qtbot)
    widget_b, batch, curves_b, line_b, bars_b = _plot_with_items(qtbot)
    pick = list(range(0, 30, 3)) + [30]          # every third curve and the line
    everything_a = [*curves_a, line_a, bars_a]
    everything_b = [*curves_b, line_b, bars_b]
    for k in pick:
        one.removeItem(everything_a[k])
    remove_plot_items(batch, [everything_b[k] for k in pick] + [pg.InfiniteLine()])  # a stranger
    assert _state(batch, everything_b) == _state(one, everything_a)
    assert len(batch.curves) == 21 and line_b.scene() is None and bars_b.scene() is batch.scene()
