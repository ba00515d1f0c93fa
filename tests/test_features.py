"""engine.analyses.features: the feature language of "Find units for…" and the ranking of units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from engine import Session, load_model
from engine.analyses.features import (
    EXAMPLES,
    Feature,
    FeatureError,
    column,
    correlations,
    depth,
    find_units,
    in_quotes,
)
from engine.loaders.demos import default_demo_input, demo_info

TEXT = 'x = f("Ab (c)", (1 + y))\n# ok\nz'


def values(expr: str, text: str = TEXT) -> list[float]:
    return Feature(expr).values(text).tolist()


def test_state_features_after_each_character():
    assert values("in_quotes", 'a"b"c') == [0, 1, 1, 0, 0]
    assert values("in_quotes(\"'\")", "a'b'c") == [0, 1, 1, 0, 0]
    assert values("depth('(', ')')", "(()(") == [1, 2, 1, 2]
    assert values("col", "ab\ncd") == [1, 2, 0, 1, 2]
    assert values("line", "ab\ncd") == [0, 0, 1, 1, 1]
    assert values("word_pos", "ab c") == [1, 2, 0, 1]
    assert values("since('a')", "xaxx") == [1, 0, 1, 2]
    assert values("count('x')", "xaxx") == [1, 1, 2, 3]
    assert values("t", "abc") == [0, 1, 2]


def test_character_tests_and_logic():
    assert values("ch == '\"'", 'a"b') == [0, 1, 0]
    assert values("ch in 'ab'", "abc") == [1, 1, 0]
    assert values("ch not in 'ab'", "abc") == [0, 0, 1]
    assert values("is_upper", "aBc") == [0, 1, 0]
    assert values("is_digit or is_space", "a1 ") == [0, 1, 1]
    assert values("not is_alpha", "a1") == [0, 1]
    assert values("is_punct", "a(") == [0, 1]
    assert values("abs(depth('(', ')') - 1) * 2", "((") == [0, 2]
    assert values("0 < col <= 1", "ab") == [1, 0]
    assert values("3", "ab") == [3, 3]


def test_helpers_agree_with_the_language():
    np.testing.assert_array_equal(Feature("col").values(TEXT), column(TEXT))
    np.testing.assert_array_equal(Feature("in_quotes").values(TEXT), in_quotes(TEXT))
    np.testing.assert_array_equal(Feature("depth('(', ')')").values(TEXT), depth(TEXT, "(", ")"))
    for example in EXAMPLES:
        assert Feature(example).values(TEXT).shape == (len(TEXT),)


@pytest.mark.parametrize("bad, column_at", [
    ("", 0), ("foo", 0), ("ch", 0), ("ch + 1", 0), ("depth('(')", 0), ("depth('((', ')')", 6),
    ("__import__('os')", 0), ("ch.upper()", 0), ("col[0]", 0), ("lambda: 1", 0),
    ("ch < 'a'", 0), ("col == 'a'", 0), ("(1", 0), ("1 +", 3), ("  nope", 2), ("f'{col}'", 0),
    ("since(x)", 6), ("depth(a='(', b=')')", 0),
])
def test_bad_features_say_where(bad, column_at):
    with pytest.raises(FeatureError) as info:
        Feature(bad)
    assert info.value.column == column_at, info.value


_ALPHABET = st.sampled_from(list("ch=!<>'\"()+-*/%, ._abdeilnopqrstuw0123456789[]:{}\\\n") +
                            ["in_quotes", "depth", "col", "not ", " and ", " or ", "is_upper",
                             "__class__", "lambda", "since", "count", " in "])


@seed(20261130)
@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_ALPHABET, max_size=14).map("".join), st.text(max_size=30))
def test_fuzz_any_text_parses_or_fails_with_a_feature_error(expr, text):
    """Never another exception, never a value of the wrong shape (fixed seed, bounded budget)."""
    try:
        feature = Feature(expr)
    except FeatureError as exc:
        assert 0 <= exc.column <= len(expr)
        return
    out = feature.values(text)
    assert out.shape == (len(text),) and out.dtype == np.float64


FEATURES = {"in_quotes": Feature("in_quotes"), "depth": Feature("depth('(', ')')"),
            "col": Feature("col")}


@seed(7)
@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.text(alphabet='ab()"\n ', max_size=60))
def test_fuzz_state_features_match_a_plain_loop(text):
    quote = d = col = 0
    expected = []
    for ch in text:
        quote ^= ch == '"'
        d += (ch == "(") - (ch == ")")
        col = 0 if ch == "\n" else col + 1
        expected.append((quote, d, col))
    got = zip(*(FEATURES[name].values(text) for name in ("in_quotes", "depth", "col")), strict=True)
    assert [tuple(row) for row in got] == expected


def test_correlations_are_pearson_and_skip_unread_steps():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(50, 3))
    f = rng.normal(size=50)
    v[:, 1] = 2 * f + 1
    v[:, 2] = 4.0                                    # constant: r = 0, not NaN
    v[40:] = np.nan                                  # not read yet
    r = correlations(v, f)
    assert r[0] == pytest.approx(np.corrcoef(v[:40, 0], f[:40])[0, 1])
    assert r[1] == pytest.approx(1.0)
    assert r[2] == 0.0


def test_the_counter_demos_depth_unit_comes_first():
    model = load_model("demo:counter")
    info = demo_info("counter")
    session = Session(model, default_demo_input(info, model))
    text = info.raw["default_input_text"]
    ranked = find_units(session.full(), text, "depth('(', ')')", top=6)
    assert ranked[0].unit == info.metrics["depth_unit"]
    assert abs(ranked[0].r) > 0.9
    assert [abs(m.r) for m in ranked] == sorted((abs(m.r) for m in ranked), reverse=True)
    with pytest.raises(Exception, match="characters but the run has"):
        find_units(session.full(), text[:-1], "col")
