"""A filter, sort, scale or theme change keeps the units lanes' curve items and refills them
(gui/panels/units_curves.py, ``_make_items``): the lanes then show exactly what a panel built
from scratch shows, item for item."""

from __future__ import annotations

import numpy as np

from engine.loaders.demos import random_model
from tests.gui.conftest import open_session, sine_input


def _items(panel) -> list:
    return [item for group in (panel._live, panel._ghosts) for items in group.values() for item in items]


def _state(panel) -> list:
    """What each live and ghost item draws and how: data, pen, smoothing, path mode, z, shown."""
    out = []
    for item in _items(panel):
        x, y = item.getData()
        data = None if x is None else [np.nan_to_num(v, nan=1e9).tolist() for v in (x, y)]
        out.append((data,
                    item.opts["pen"].color().getRgb(), item.opts["pen"].widthF(), item.opts["antialias"],
                    item.opts["segmentedLineMode"], item.zValue(), item.isVisible()))
    return out


def _fresh_state(panel) -> list:
    """The same panel's items as a build from nothing makes them."""
    panel._drop_items()
    panel.rebuild()
    return _state(panel)


def test_filter_sort_scale_and_theme_refill_the_same_items_as_a_fresh_build_draws(make_window):
    w = make_window()
    open_session(w, random_model(5, 3, 4), sine_input(70, 3))
    panel, sm = w.units_panel, w.session_model
    panel.mode_combo.setCurrentText("lanes")
    sm.session.seek(40)
    items = _items(panel)
    before = {id(item) for item in items}
    assert len(before) > 2 * len(panel._live)            # several chunks per signal
    changes = (lambda: panel.set_filter("1:4"), lambda: panel.set_sort("saturation"),
               lambda: panel.set_shared_scale(True), lambda: panel.set_ghost(False),
               w.act_dark.trigger, lambda: panel.set_filter("0,2"))
    for change in changes:
        change()
        kept = _state(panel)
        assert {id(item) for item in _items(panel)} == before       # the scene was not rebuilt
        assert {id(item) for item in panel.plot.items} >= before
        assert kept == _fresh_state(panel)
        items = _items(panel)
        before = {id(item) for item in items}
    assert w.errors == []


def test_a_rebuild_after_an_svg_export_splits_paths_again_as_on_screen(make_window, tmp_path):
    from gui.export.figure import Figure
    w = make_window()
    open_session(w, random_model(4, 3, 4), sine_input(50, 3))
    panel = w.units_panel
    panel.mode_combo.setCurrentText("lanes")
    with Figure(w, "units") as figure:
        figure.save_svg(tmp_path / "units.svg")
        assert all(item.opts["segmentedLineMode"] == "off" for item in _items(panel))
    panel.set_filter("0:2")
    assert all(item.opts["segmentedLineMode"] == "auto" for item in _items(panel))


def test_a_run_of_another_length_or_kind_gets_items_of_its_own_shape(make_window):
    w = make_window()
    open_session(w, random_model(4, 3, 4), sine_input(50, 3))
    panel = w.units_panel
    first = _items(panel)       # held, so no new item can take one of their ids
    open_session(w, random_model(4, 3, 4), sine_input(200, 3))
    assert not {id(item) for item in first} & {id(item) for item in panel.plot.items}
    assert all(len(items) == panel._chunk_count(200) for items in panel._live.values())
    assert _state(panel) == _fresh_state(panel)
