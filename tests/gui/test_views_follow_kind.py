"""The views follow the cell kind of the run they show (docs/architecture.md, "Cell kinds"):
colours by signal name, signal lists read from the run at each model switch, never at import."""

from __future__ import annotations

from gui.theme import DARK, LIGHT, OKABE_ITO_FALLBACK, SIGNAL_COLOURS, signal_colour

OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}


def test_each_kind_gets_distinct_colour_blind_safe_colours_by_name():
    for signals in (("f", "i", "o", "g", "c"), ("u", "r", "n")):      # an LSTM's, a GRU's
        colours = [signal_colour(name) for name in signals]
        assert len(set(colours)) == len(colours), signals
        assert set(colours) <= OKABE_ITO
        for palette in (LIGHT, DARK):           # h is the theme's foreground, apart from all
            assert palette.signal("h") not in colours
    assert set(SIGNAL_COLOURS.values()) <= OKABE_ITO


def test_a_name_the_table_does_not_know_still_gets_one_okabe_ito_colour():
    first = signal_colour("stabilizer")
    assert first in OKABE_ITO_FALLBACK and first in OKABE_ITO
    assert signal_colour("stabilizer") == first == LIGHT.signal("stabilizer")
    assert len({signal_colour(name) for name in ("m", "normalizer", "stabilizer", "q", "k")}) > 1
