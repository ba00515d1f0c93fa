"""Data generators for the bundled demos, pure numpy: the training script and the tests that
check the shipped models learned both use these, so held-out data is regenerated exactly."""

from __future__ import annotations

import numpy as np

BRACKETS = ["<pad>", "(", ")"]


def noisy_sine(batch: int, steps: int, seed: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x (B,T,1) a noisy sine of random frequency and phase; y (B,T,1) the next clean value."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.04, 0.12, (batch, 1))
    phase = rng.uniform(0, 2 * np.pi, (batch, 1))
    t = np.arange(steps + 1)[None, :]
    clean = np.sin(2 * np.pi * freq * t + phase)
    x = clean[:, :-1] + rng.normal(0, noise, (batch, steps))
    return x[..., None].astype(np.float32), clean[:, 1:, None].astype(np.float32)


def bracket_strings(batch: int, steps: int, seed: int, max_depth: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(ids, depth): random walks of '(' and ')' that never go below 0 or above max_depth."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch, steps), np.int32)
    depth = np.zeros((batch, steps), np.float32)
    for b in range(batch):
        d = 0
        p_open = rng.uniform(0.35, 0.65)
        for t in range(steps):
            opening = d == 0 or (d < max_depth and rng.random() < p_open)
            d += 1 if opening else -1
            ids[b, t] = 1 if opening else 2
            depth[b, t] = d
    return ids, depth


def text_vocabulary(text: str) -> list[str]:
    return sorted(set(text))


def encode(text: str, vocabulary: list[str]) -> np.ndarray:
    lookup = {ch: k for k, ch in enumerate(vocabulary)}
    return np.array([lookup[ch] for ch in text], np.int32)
