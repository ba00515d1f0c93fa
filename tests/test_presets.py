"""Input presets: shapes, values, tokens and the memory guard."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import InputFileError
from engine.system.presets import (
    PRESETS,
    check_budget,
    decode_tokens,
    encode_text,
    generate,
    parse_token_ids,
    trace_bytes,
)


@pytest.mark.parametrize("preset", [p.name for p in PRESETS])
def test_every_preset_has_the_model_shape(preset):
    x = generate(preset, 37, 3)
    assert x.shape == (37, 3) and x.dtype == np.float32 and np.all(np.isfinite(x))


def test_preset_values():
    s = generate("sine", 40, 2, frequency=0.25, phase=0.0)
    assert np.allclose(s[:5, 0], [0, 1, 0, -1, 0], atol=1e-6)
    assert not np.allclose(s[:, 0], s[:, 1])            # features are phase-shifted
    assert set(np.unique(generate("square", 40, 1))) <= {-1.0, 1.0}
    st = generate("step", 10, 1, at=4)
    assert np.all(st[:4] == 0) and np.all(st[4:] == 1)
    imp = generate("impulse", 10, 2, at=3, amplitude=2)
    assert imp.sum() == 4 and np.all(imp[3] == 2)
    assert np.allclose(generate("ramp", 5, 1)[:, 0], [-1, -0.5, 0, 0.5, 1])
    assert np.array_equal(generate("noise", 9, 2, seed=4), generate("noise", 9, 2, seed=4))
    assert not np.array_equal(generate("noise", 9, 2, seed=4), generate("noise", 9, 2, seed=5))
    assert np.all(generate("constant", 4, 2, value=0.25) == 0.25)
    rep = generate("repeat", 20, 2, period=6)
    assert np.array_equal(rep[:6], rep[6:12]) and np.array_equal(rep[:2], rep[18:20])


def test_bad_preset_requests():
    with pytest.raises(InputFileError, match="unknown preset"):
        generate("saw", 10, 1)
    with pytest.raises(InputFileError, match="at least one step"):
        generate("sine", 0, 1)


def test_text_is_encoded_and_unknown_chars_are_flagged():
    vocab = ["<pad>", " ", "a", "b", "c", "?"]
    tok = encode_text("ab cZ", vocab)
    assert tok.ids.tolist() == [2, 3, 1, 4, 5]
    assert tok.unknown == [(4, "Z")]
    assert decode_tokens(tok.ids[:4], vocab) == "ab c"


def test_token_ids_parse():
    assert parse_token_ids("3 14, 15").tolist() == [3, 14, 15]
    with pytest.raises(InputFileError, match="not a token id"):
        parse_token_ids("3 x 4")
    with pytest.raises(InputFileError, match="0..9"):
        parse_token_ids("3 10", vocab_size=10)


def test_memory_guard_triggers_at_the_budget():
    need = trace_bytes(1, 1000, 64, 8)
    assert need == 4 * 1000 * (16 * 64 + 64 + 64 + 8)
    assert check_budget(1, 1000, 64, 8, budget=need) == (True, need)
    assert check_budget(1, 1000, 64, 8, budget=need - 1) == (False, need)
    assert not check_budget(4, 10_000, 1024, 32)[0]       # ~2.9 GB over the 2 GB default
    assert check_budget(1, 10_000, 1024, 32)[0]
