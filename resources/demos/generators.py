"""Data generators for the bundled demos, pure numpy (no Keras, no engine import).

``scripts/train_demos.py`` trains on these, and the tests regenerate held-out data with them
(with seeds the training never used) to measure the shipped models with the numpy engine.
Seeds used by the training script: sine 1 (train) / 1001 (test), counter 2 / 2002, text 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# token id -> symbol for the counter demo (id 0 is padding; the model was never shown it)
BRACKETS = ["<pad>", "(", ")"]


# --- sine ---------------------------------------------------------------------------------

def noisy_sine(batch: int, steps: int, seed: int, noise: float = 0.05,
               return_angle: bool = False):
    """(x, y): x (B,T,1) a noisy sine of random frequency and phase; y (B,T,1) the next clean value.

    Frequencies are 0.04 to 0.12 cycles per step (8 to 25 steps a period), noise is Gaussian.
    With ``return_angle=True`` also returns the angle (B,T) of the clean wave under x[:, t]
    (x = sin(angle) + noise), for checking which units track the phase.
    """
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.04, 0.12, (batch, 1))
    phase = rng.uniform(0, 2 * np.pi, (batch, 1))
    t = np.arange(steps + 1)[None, :]
    angle = 2 * np.pi * freq * t + phase
    clean = np.sin(angle)
    x = clean[:, :-1] + rng.normal(0, noise, (batch, steps))
    out = x[..., None].astype(np.float32), clean[:, 1:, None].astype(np.float32)
    if return_angle:
        return (*out, angle[:, :-1].astype(np.float32))
    return out


# --- counter ------------------------------------------------------------------------------

def bracket_strings(batch: int, steps: int, seed: int, max_depth: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(ids, depth): (B,T) int32 token ids (1 '(' , 2 ')') and (B,T) float32 nesting depth after
    each token. Random walks that never go below 0 or above ``max_depth``."""
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


def make_bracket_strings(n: int, seed: int, steps: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Alias of ``bracket_strings(n, steps, seed)``."""
    return bracket_strings(n, steps, seed)


def encode_brackets(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids (T,) int32, depth (T,) float32) of a string of '(' and ')'."""
    ids = np.array([BRACKETS.index(ch) for ch in text], np.int32)
    depth = np.cumsum(np.where(ids == 1, 1, -1)).astype(np.float32)
    return ids, depth


# --- text ---------------------------------------------------------------------------------

def corpus_text(path: str | Path | None = None) -> str:
    """The text demo's corpus as the model reads it: newlines become spaces."""
    path = Path(path) if path is not None else HERE / "text_corpus.txt"
    return path.read_text(encoding="utf-8").replace("\n", " ").strip()


def text_vocabulary(text: str) -> list[str]:
    return sorted(set(text))


def encode(text: str, vocabulary: list[str]) -> np.ndarray:
    lookup = {ch: k for k, ch in enumerate(vocabulary)}
    return np.array([lookup[ch] for ch in text], np.int32)


def decode(ids, vocabulary: list[str]) -> str:
    return "".join(vocabulary[int(k)] for k in ids)


def split_corpus(text: str, heldout_fraction: float = 0.1) -> tuple[str, str]:
    """(train, heldout): the held-out part is the tail of the corpus, cut at a sentence end."""
    cut = int(len(text) * (1 - heldout_fraction))
    cut = text.rfind(". ", 0, cut) + 2
    return text[:cut], text[cut:]


# --- code ---------------------------------------------------------------------------------
# Code-like text for the ``code`` demo: assignments and calls with nested brackets, quoted
# strings and '#' comment paragraphs wrapped at a fixed width. What comes next depends on three
# things a reader must remember: whether it is inside a string (strings are in capitals, code
# and comments in lower case), how many brackets are open (a line ends only when all are
# closed, often with several ')' in a row), and how far along the line it is (comments wrap
# before column CODE_WIDTH).

CODE_NAMES = ["x", "y", "n", "k", "total", "count", "value", "items", "data", "size"]
CODE_FUNCS = ["f", "g", "len", "max", "min", "sum", "abs", "get", "add"]
CODE_STRINGS = ("HELLO WORLD CELL STATE UNIT GATE INPUT OUTPUT STEP TIME MEMORY LINE WORD READ "
                "KEEP EACH ALL ONE TWO NEW OLD").split()
CODE_WORDS = ("the a of to and in is it for on with as at by this that from or be are "
              "cell state unit gate input output step time memory value line word read "
              "keep each all one two new old first last next small large").split()
CODE_WIDTH = 40   # comment lines wrap before this column


def _code_string(rng) -> str:
    words = [CODE_STRINGS[k] for k in rng.integers(0, len(CODE_STRINGS), rng.integers(1, 5))]
    return '"' + " ".join(words) + '"'


def _code_expr(rng, depth: int) -> str:
    r = rng.random()
    if depth >= 6 or r < 0.2:
        return CODE_NAMES[rng.integers(len(CODE_NAMES))]
    if r < 0.3:
        return str(int(rng.integers(0, 100)))
    if r < 0.45:
        return _code_string(rng)
    # a call: its last argument is often another call, so lines end in runs of ')'
    args = [_code_expr(rng, depth + 1) for _ in range(int(rng.integers(0, 2)))]
    args.append(_code_expr(rng, depth + 1) if rng.random() < 0.35 else _code_call(rng, depth + 1))
    return CODE_FUNCS[rng.integers(len(CODE_FUNCS))] + "(" + ", ".join(args) + ")"


def _code_call(rng, depth: int) -> str:
    if depth >= 6:
        return CODE_NAMES[rng.integers(len(CODE_NAMES))]
    args = [_code_expr(rng, depth + 1) for _ in range(int(rng.integers(1, 3)))]
    return CODE_FUNCS[rng.integers(len(CODE_FUNCS))] + "(" + ", ".join(args) + ")"


def _code_comment(rng) -> list[str]:
    words = [CODE_WORDS[k] for k in rng.integers(0, len(CODE_WORDS), rng.integers(10, 30))]
    lines, line = [], "#"
    for w in words:
        if len(line) + 1 + len(w) >= CODE_WIDTH:
            lines.append(line)
            line = "#"
        line += " " + w
    lines.append(line)
    return lines


def code_lines(n_lines: int, seed: int) -> list[str]:
    """``n_lines`` lines of code-like text (no newline characters in them)."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    while len(lines) < n_lines:
        r = rng.random()
        if r < 0.2:
            lines.extend(_code_comment(rng))
        elif r < 0.6:
            lines.append(CODE_NAMES[rng.integers(len(CODE_NAMES))] + " = " + _code_call(rng, 0))
        else:
            lines.append(_code_call(rng, 0))
    return lines[:n_lines]


def code_text(n_lines: int, seed: int) -> str:
    """Code-like text, each line ended by a newline."""
    return "".join(line + "\n" for line in code_lines(n_lines, seed))


def code_vocabulary() -> list[str]:
    """Every character ``code_text`` can write, sorted (fixed, so any seed encodes)."""
    chars = set("\n #\"(),=0123456789")
    chars |= set("".join(CODE_NAMES + CODE_FUNCS + CODE_WORDS + CODE_STRINGS))
    return sorted(chars)
