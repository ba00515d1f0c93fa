"""The breakpoint/watch expression language: safe parsing, positions of errors, the values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ScopeError, Session
from engine.debugging.debugger import RangeEnv, check
from engine.debugging.expr import Expr, ExprError
from engine.loaders.demos import random_model

N, D, T = 8, 3, 30


@pytest.fixture(scope="module")
def run():
    model = random_model(N, D, seed=3)
    x = np.random.default_rng(0).normal(0, 2.0, (2, T, D)).astype(np.float32)
    s = Session(model, x)
    runner = s.full_runner()
    return s, runner, s.full()


def evaluate(text, runner, p0=0, p1=T, samples=slice(None)):
    return Expr(text).evaluate(RangeEnv(runner, p0, p1, samples))


# --- the examples README.md names (section "Debugging"), against plain numpy on the trace ----
def test_readme_examples_match_numpy(run):
    _, runner, tr = run
    sat_i = (tr.i <= 0.05) | (tr.i >= 0.95)
    prev_h = np.concatenate([tr.h0[:, None], tr.h[:, :-1]], axis=1)
    expected = {
        "f[3] < 0.1": tr.f[:, :, 3] < 0.1,
        "any(abs(c) > 5)": np.any(np.abs(tr.c) > 5, axis=-1),
        "any(abs(c) > 0.5)": np.any(np.abs(tr.c) > 0.5, axis=-1),
        "any(isnan(h))": np.any(np.isnan(tr.h), axis=-1),
        "mean(saturated(i)) > 0.8": sat_i.mean(axis=-1) > 0.8,
        "mean(saturated(i)) > 0.2": sat_i.mean(axis=-1) > 0.2,
        "count(abs(h - prev(h)) > 0.5) >= 3": np.sum(np.abs(tr.h - prev_h) > 0.5, axis=-1) >= 3,
        "count(abs(h - prev(h)) > 0.1) >= 3": np.sum(np.abs(tr.h - prev_h) > 0.1, axis=-1) >= 3,
    }
    for text, want in expected.items():
        got = evaluate(text, runner)
        assert got.shape == want.shape, text
        assert np.array_equal(got, want), text
    assert expected["mean(saturated(i)) > 0.2"].any()   # the test is not vacuous


def test_signals_parts_slices_and_arithmetic(run):
    _, runner, tr = run
    z = tr.zx + tr.zh + tr.zb
    cases = {
        "h[0:4]": tr.h[:, :, 0:4],
        "h[-1]": tr.h[:, :, -1],
        "c[::2]": tr.c[:, :, ::2],
        "z_f": z[:, :, 1],
        "zx_o - zh_o": tr.zx[:, :, 3] - tr.zh[:, :, 3],
        "-f * 2 + i / 4 - g ** 2": -tr.f * 2 + tr.i / 4 - tr.g.astype(np.float64) ** 2,
        "x[1]": tr.x[:, :, 1],
        "max(h)": tr.h.max(axis=-1),
        "min(c)": tr.c.min(axis=-1),
        "sum(o)": tr.o.sum(axis=-1),
        "max(h, 0)": np.fmax(tr.h, 0),
        "all(f > 0)": np.all(tr.f > 0, axis=-1),
    }
    for text, want in cases.items():
        got = evaluate(text, runner)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=text)
    t = evaluate("t", runner)
    assert np.array_equal(t[0], np.arange(T))


def test_chained_comparison_and_logic(run):
    _, runner, tr = run
    got = evaluate("0.3 < f[0] < 0.7 and not h[1] > 0 or c[2] == c[2] and i[0] != i[0]", runner)
    want = ((0.3 < tr.f[:, :, 0]) & (tr.f[:, :, 0] < 0.7) & ~(tr.h[:, :, 1] > 0))
    assert np.array_equal(got, want)
    vec = evaluate("f > 0.5 or i < 0.2", runner)
    assert np.array_equal(vec, (tr.f > 0.5) | (tr.i < 0.2))


def test_prev_at_the_first_step_is_the_initial_state(run):
    _, runner, tr = run
    got = evaluate("prev(h)", runner, 0, 1)
    assert np.array_equal(got[:, 0], tr.h0)
    assert np.isnan(evaluate("prev(f)", runner, 0, 1)).all()
    assert np.isnan(evaluate("prev(prev(h))", runner, 0, 1)).all()
    two = evaluate("prev(prev(c))", runner, 0, 3)
    assert np.array_equal(two[:, 1], tr.c0) and np.array_equal(two[:, 2], tr.c[:, 0])


def test_backward_layer_walks_in_processing_order():
    from engine.network.layers import LSTM
    from engine.network.model import Model
    base = random_model(N, D, seed=5)
    lstm = base.ops[0]
    model = Model([LSTM("back", lstm.weights, return_sequences=True, go_backwards=True)])
    x = np.random.default_rng(1).normal(size=(1, T, D)).astype(np.float32)
    s = Session(model, x)
    runner = s.full_runner()
    tr = s.full()
    got = evaluate("h[2]", runner)
    assert np.array_equal(got[0], tr.h[0, ::-1, 2])           # processing order
    assert np.array_equal(evaluate("t", runner)[0], np.arange(T)[::-1])
    prev = evaluate("prev(h[2])", runner)
    assert np.array_equal(prev[0, 1:], tr.h[0, ::-1, 2][:-1])


# --- safety -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__('os').system('true')", "h.__class__", "().__class__",
    "__builtins__", "h.mean()", "f.T", "lambda: 1", "[v for v in h]", "(v for v in h)",
    "'abc'", "b'x'", "open('f')", "eval('1')", "exec('1')", "getattr(h, 'x')",
    "h if f else c", "(h, c)", "[1]", "{1: 2}", "f'{h}'", "(y := 1)", "h[f]", "h[0.5]",
    "max(h, c, f)", "any()", "abs(h, key=1)", "prev", "foo", "h @ c", "h // 2", "~h",
    "h[__import__('os')]", "1j", "None", "...", "h[1:2, 3]", "saturated(c)", "t[0]",
    "any(h) any(c)", "f[3] <", "", "   ", "\x00", "h\n.mean",
])
def test_rejected_with_position(text):
    with pytest.raises(ExprError) as info:
        Expr(text)
    err = info.value
    assert isinstance(err, ScopeError)
    assert 0 <= err.column <= max(len(text), 0) + 1
    assert f"at column {err.column}" in str(err)


def test_error_messages_name_the_column():
    with pytest.raises(ExprError, match=r"unknown name 'foo' at column 7"):
        Expr("f[3] < foo")
    with pytest.raises(ExprError) as info:
        Expr("any(abs(c) > 5) and h.real")
    assert info.value.column == 20 and "attribute" in info.value.message
    with pytest.raises(ExprError) as info:
        Expr("mean(x) + __import__('os')")
    assert info.value.column == 10
    with pytest.raises(ExprError) as info:
        Expr("f[3] < 0.1 +")
    assert info.value.column >= 11


def test_index_out_of_range_is_caught_when_checked(run):
    s, runner, _ = run
    with pytest.raises(ExprError, match="out of range") as info:
        check("f[0] + h[99] > 1", runner)
    assert info.value.column == 7
    with pytest.raises(ExprError):
        check("x + h > 0", runner)       # D != N: cannot broadcast
    assert check("f[-8] < 1", runner)


def test_huge_numbers_and_powers_do_not_hang(run):
    _, runner, _ = run
    assert evaluate("2 ** 10 ** 10 > 1", runner).all()
    with pytest.raises(ExprError):
        Expr("1" * 400 + ".0e99999999 > h" + "0" * 5000)
    assert Expr("1e400 > 0")


ALPHABET = "ifgocxhtz_[]():,.<>=!+-*/%&|~^@ 0123456789abdemnlsuqrv'\"\\\n#{}"
TOKENS = ["i", "f", "g", "o", "c", "h", "x", "t", "z_i", "zx_f", "zh_o", "prev(", "abs(",
          "any(", "all(", "max(", "min(", "mean(", "sum(", "count(", "isnan(", "isinf(",
          "saturated(", "(", ")", "[", "]", ":", ",", " < ", " <= ", " > ", " == ", " != ",
          " and ", " or ", "not ", "+", "-", "*", "/", "**", "%", "0", "3", "-1", "0.5",
          "1e9", "__import__", "'os'", ".", "lambda", "__class__", "open", "for", " in "]


def _ok_or_expr_error(text: str, runner) -> None:
    try:
        e = check(text, runner)
    except ExprError as err:
        assert isinstance(err.column, int) and err.column >= 0
        return
    try:  # shapes that do not broadcast (``t < x``) are found when evaluated: still an ExprError
        value = e.evaluate(RangeEnv(runner, 0, 5, slice(None)))
    except ExprError as err:
        assert str(err)
        return
    assert isinstance(value, np.ndarray)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_random_text_only_raises_expr_error(run, text):
    _ok_or_expr_error(text, run[1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_random_token_soup_only_raises_expr_error(run, text):
    _ok_or_expr_error(text, run[1])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_unicode_only_raises_expr_error(run, text):
    _ok_or_expr_error(text, run[1])


def test_deep_nesting_is_an_expr_error(run):
    for text in ("-" * 5000 + "1", "(" * 300 + "1" + ")" * 300, "abs(" * 200 + "h" + ")" * 200,
                 "not " * 3000 + "h"):
        _ok_or_expr_error(text, run[1])


def test_a_long_flat_chain_is_long_not_deep(run):
    """``h[0] + h[1] + ...`` parses as a left-leaning tree as deep as it is long; it must count
    as one level (a sum of 250 terms is an ordinary watch), and fold to the same number."""
    _, runner, tr = run
    terms = [f"h[{k % N}]" for k in range(250)]
    got = evaluate(" + ".join(terms) + " - h[0] * 2", runner)
    want = sum(tr.h[:, :, k % N].astype(np.float64) for k in range(250)) - tr.h[:, :, 0] * 2
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_right_nested_chain_still_counts_as_deep(run):
    from engine.debugging.expr import MAX_DEPTH
    text = "h[0] + (" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5)
    with pytest.raises(ExprError, match="nested too deeply"):
        Expr(text)
