"""engine.from_torch / engine.from_keras given something they cannot use: a ScopeError saying
what was expected and what was given, never an AttributeError from deep inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.errors import ScopeError

X = np.zeros((1, 4, 3), np.float32)


def _keras_model():
    import keras
    return keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(2)])


def _meta_module():
    with torch.device("meta"):
        return torch.nn.Sequential(torch.nn.LSTM(3, 2, batch_first=True))


@pytest.mark.parametrize(("given", "named"), [
    (lambda: {"lstm.weight_ih_l0": torch.zeros(8, 3)}, "a dict"),
    (lambda: None, "None"),
    (_keras_model, "a Keras"),
    (lambda: "model.pt", "a path"),
    (_meta_module, "'meta' device"),
], ids=["dict", "None", "keras model", "path", "meta device"])
def test_from_torch_names_what_it_expected_and_got(given, named):
    with pytest.raises(ScopeError) as info:
        engine.from_torch(given(), X)
    text = str(info.value)
    assert "engine.from_torch" in text and "torch.nn.Module" in text and named in text, text
    assert "\n" not in text


@pytest.mark.parametrize(("given", "named"), [
    (lambda: {"a": 1}, "a dict"),
    (lambda: None, "None"),
    (lambda: torch.nn.LSTM(3, 2, batch_first=True), "a torch"),
    (lambda: "model.keras", "a path"),
], ids=["dict", "None", "torch module", "path"])
def test_from_keras_names_what_it_expected_and_got(given, named):
    with pytest.raises(ScopeError) as info:
        engine.from_keras(given(), X)
    text = str(info.value)
    assert "engine.from_keras" in text and "Keras model" in text and named in text, text
    assert "\n" not in text
