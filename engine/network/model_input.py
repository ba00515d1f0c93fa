"""What a model reads, apart from what its traced layer reads.

A model's input and the traced LSTM's own input (``x`` of the trace, (B, T, D)) are the same
thing only for a chain that starts with the LSTM (or an Embedding, a Masking ...). An OCR model
reads an image (1, 1, 64, 160) and its BiLSTM reads 40 columns of 512 CNN features; an audio
model reads a waveform (1, 16000) and its LSTM reads frames of features. Views show the model's
input as what it is (an image, a waveform, a sequence or token ids, else its shape) and the
layer's input as a compact strip of its features (docs/architecture.md, "Model input and
layer input").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# what the model reads, as a view draws it
SEQUENCE = "sequence"      # (B, T, D) or (B, T): read step by step, as the traced layer reads it
TOKENS = "tokens"          # (B, T) integer ids
IMAGE = "image"            # (B, C, H, W) or (B, H, W, C), or (B, H, W)
WAVEFORM = "waveform"      # (B, S) or (B, C, S) samples of a signal, C a few channels
ARRAY = "array"            # anything else: only its shape is shown
LAYER = "layer input"      # --layer-input: the input given is the layer's own
KINDS = (SEQUENCE, TOKENS, IMAGE, WAVEFORM, ARRAY, LAYER)

MAX_CHANNELS = 4           # an image has at most RGBA channels; a waveform a few
MIN_IMAGE_SIDE = 8         # smaller than this both ways is a table, not a picture


@dataclass(frozen=True)
class InputKind:
    """The model's input as a view should show it: its kind and its shape."""

    kind: str
    shape: tuple[int, ...]
    channels_first: bool = True      # an image: (B, C, H, W) rather than (B, H, W, C)

    def describe(self) -> str:
        """A few words for a badge or a tooltip: ``image 1×64×160``."""
        dims = "×".join(str(d) for d in self.shape[1:]) or "scalar"
        return f"{self.kind} {dims}"

    @property
    def is_layer_input(self) -> bool:
        """The model's input is what the traced layer reads step by step (no separate view)."""
        return self.kind in (SEQUENCE, TOKENS, LAYER)


def classify(x: np.ndarray, steps: int) -> InputKind:
    """The kind of one model input ``x`` (batch first) whose traced layer reads ``steps``
    positions: a (B, T, ...) array with T == steps is read step by step, whatever its rank;
    otherwise its shape says what it is."""
    x = np.asarray(x)
    shape = tuple(int(d) for d in x.shape)
    if x.ndim == 2 and shape[1] == steps:
        integral = np.issubdtype(x.dtype, np.integer) or (
            x.size > 0 and np.all(np.isfinite(x)) and np.array_equal(x, np.round(x))
            and float(np.min(x)) >= 0)
        return InputKind(TOKENS if integral else SEQUENCE, shape)
    if x.ndim == 3 and shape[1] == steps:
        return InputKind(SEQUENCE, shape)
    if x.ndim == 2:
        return InputKind(WAVEFORM, shape)
    if x.ndim == 3 and shape[1] <= MAX_CHANNELS and shape[2] > 16 * shape[1]:
        return InputKind(WAVEFORM, shape)
    if x.ndim == 3 and min(shape[1:]) >= MIN_IMAGE_SIDE:
        return InputKind(IMAGE, shape)
    if x.ndim == 4:
        if shape[1] <= MAX_CHANNELS and min(shape[2:]) >= MIN_IMAGE_SIDE:
            return InputKind(IMAGE, shape, channels_first=True)
        if shape[3] <= MAX_CHANNELS and min(shape[1:3]) >= MIN_IMAGE_SIDE:
            return InputKind(IMAGE, shape, channels_first=False)
    return InputKind(ARRAY, shape)


def model_input_kind(session) -> InputKind:
    """What ``session``'s model reads (its first input where it has several)."""
    x = np.asarray(session.x)
    if session.is_layer_input:
        return InputKind(LAYER, tuple(int(d) for d in x.shape))
    return classify(x, session.steps)


def step_input(session, sample: int = 0) -> np.ndarray:
    """What the traced layer reads at each input position, for one sample: (T,) token ids or
    (T, D) values. The model's own input where the layer reads it step by step (tokens, a
    sequence: what the user gave, before an Embedding), else the layer's own input (the CNN
    features of an image, the frames of a waveform)."""
    if model_input_kind(session).is_layer_input:
        return np.asarray(session.x)[sample]
    return np.asarray(session.recorded().x)[sample]


def image_planes(x: np.ndarray, kind: InputKind, sample: int = 0) -> np.ndarray:
    """(H, W) or (H, W, C) of one sample of an image input, channels last (C of 1 dropped)."""
    img = np.asarray(x)[sample]
    if img.ndim == 3 and kind.channels_first:
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def waveform(x: np.ndarray, sample: int = 0) -> np.ndarray:
    """(S,) the first channel of one sample of a waveform input."""
    w = np.asarray(x)[sample]
    return w[0] if w.ndim == 2 else w


__all__ = ["ARRAY", "IMAGE", "KINDS", "LAYER", "SEQUENCE", "TOKENS", "WAVEFORM", "InputKind",
           "classify", "image_planes", "model_input_kind", "step_input", "waveform"]
