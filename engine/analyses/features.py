"""Per-step features of an input text, and the units whose state follows them.

"Find units for…" (docs/architecture.md, "Teaching views") asks: which unit's C or h goes up
and down with, say, "inside a string" or "bracket depth"? The user writes the feature in a
small language of its own, parsed like the breakpoint language (``engine.debugging.expr``): the text goes
through ``ast.parse(mode="eval")`` and every node is checked against a whitelist, then compiled
into numpy over the whole text. Nothing reaches Python's own evaluation.

A feature's value at step t describes the text *after reading character t*:

    ch              the character (compare it: ch == '"', ch != ' ', ch in 'aeiou')
    t               the input position (0-based)
    col             characters read since the last newline, this one included (0 at a newline)
    line            newlines read so far
    word_pos        characters since the last space or newline (0 at one)
    in_quotes       1 from an opening '"' up to (not including) its closing '"', else 0
    in_quotes(q)    the same for another one-character quote, e.g. in_quotes("'")
    depth(a, b)     count of a minus count of b so far, e.g. depth('(', ')')
    count(c)        how many c read so far;   since(c)  steps since the last c (t+1 before one)
    is_upper is_lower is_alpha is_digit is_space is_punct     1 or 0 for the character
Numbers, ``+ - * / %``, unary ``-``, comparisons (chained too), ``and or not``, ``abs(E)``.
The result is a float per step (True/False become 1/0).
"""

from __future__ import annotations

import ast
import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ScopeError

MAX_LENGTH = 500
NUMERIC_NAMES = ("t", "col", "line", "word_pos", "in_quotes", "is_upper", "is_lower", "is_alpha",
                 "is_digit", "is_space", "is_punct")
NAMES = ("ch", *NUMERIC_NAMES)
FUNCTIONS = ("depth", "in_quotes", "count", "since", "abs")
EXAMPLES = ("in_quotes", "depth('(', ')')", "col", "ch == ' '", "is_upper", "word_pos",
            "since('\\n')")


class FeatureError(ScopeError):
    """A syntax or name error in a feature, with its 0-based column."""

    def __init__(self, message: str, column: int = 0, text: str = "") -> None:
        self.column = max(0, int(column))
        self.message = message
        self.text = text
        super().__init__(f"{message} at column {self.column}")


# --- the features themselves (pure numpy over one text) --------------------------------------

def _chars(text: str) -> np.ndarray:
    return np.array(list(text), dtype="<U1") if text else np.zeros(0, "<U1")


def column(text: str) -> np.ndarray:
    out, k = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        k = 0 if ch == "\n" else k + 1
        out[i] = k
    return out


def word_position(text: str) -> np.ndarray:
    out, k = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        k = 0 if ch in " \n" else k + 1
        out[i] = k
    return out


def in_quotes(text: str, quote: str = '"') -> np.ndarray:
    flag = np.cumsum(_chars(text) == quote) % 2 == 1        # odd count: a string is open
    return flag.astype(np.float64)


def depth(text: str, opening: str, closing: str) -> np.ndarray:
    c = _chars(text)
    return np.cumsum((c == opening).astype(np.float64) - (c == closing))


def since(text: str, char: str) -> np.ndarray:
    out, last = np.zeros(len(text)), -1
    for i, ch in enumerate(text):
        if ch == char:
            last = i
        out[i] = i - last if last >= 0 else i + 1
    return out


def _predicate(text: str, test: Callable[[str], bool]) -> np.ndarray:
    return np.array([1.0 if test(ch) else 0.0 for ch in text])


def _named(text: str, name: str) -> np.ndarray:
    c = _chars(text)
    if name == "t":
        return np.arange(len(text), dtype=np.float64)
    if name == "col":
        return column(text)
    if name == "line":
        return np.cumsum(c == "\n").astype(np.float64)
    if name == "word_pos":
        return word_position(text)
    if name == "in_quotes":
        return in_quotes(text)
    tests = {"is_upper": str.isupper, "is_lower": str.islower, "is_alpha": str.isalpha,
             "is_digit": str.isdigit, "is_space": str.isspace,
             "is_punct": lambda ch: ch in string.punctuation}
    return _predicate(text, tests[name])


# --- the language -----------------------------------------------------------------------------

Fn = Callable[[str], np.ndarray]


@dataclass
class _Node:
    fn: Fn
    kind: str                 # "num" or "str"
    col: int


class Feature:
    """A compiled feature. ``values(text)`` gives one float per character."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise FeatureError("a feature must be text")
        self.text = text
        if not text.strip():
            raise FeatureError("empty feature", 0, text)
        if len(text) > MAX_LENGTH:
            raise FeatureError(f"feature longer than {MAX_LENGTH} characters", MAX_LENGTH, text)
        self._lead = len(text) - len(text.lstrip())
        body = text.strip()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(body, mode="eval")
        except SyntaxError as exc:
            msg = (exc.msg or "invalid syntax").split(" (")[0]
            if exc.offset and (exc.lineno or 1) == 1:
                col = self._lead + exc.offset - 1
            else:
                col = self._lead + len(body)
                if msg == "invalid syntax":
                    msg = "the feature ends too early"
            raise FeatureError(msg, min(max(col, 0), len(text)), text) from None
        except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
            raise FeatureError(f"cannot parse: {type(exc).__name__}", 0, text) from None
        try:
            root = self._compile(tree.body)
        except RecursionError:
            raise FeatureError("feature nested too deeply", 0, text) from None
        if root.kind != "num":
            raise FeatureError("a feature must be a number per step (compare ch: ch == 'a')",
                               root.col, text)
        self._root = root

    def values(self, text: str) -> np.ndarray:
        """(len(text),) float64: the feature after reading each character."""
        with np.errstate(all="ignore"):
            out = np.asarray(self._root.fn(text), np.float64)
        return np.broadcast_to(out, (len(text),)).copy()

    # --- compiling -------------------------------------------------------------------------
    def _col(self, node: ast.AST) -> int:
        return self._lead + int(getattr(node, "col_offset", 0))

    def _err(self, node: ast.AST, message: str) -> FeatureError:
        return FeatureError(message, self._col(node), self.text)

    def _num(self, node: ast.AST) -> _Node:
        n = self._compile(node)
        if n.kind != "num":
            raise self._err(node, "text here: compare it with == or in (ch == 'a')")
        return n

    def _char_literal(self, node: ast.AST, what: str) -> str:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) == 1):
            raise self._err(node, f"{what} must be one character in quotes, e.g. '('")
        return node.value

    def _compile(self, node: ast.AST) -> _Node:
        col = self._col(node)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                return _Node(lambda text, v=float(v): np.float64(v), "num", col)
            if isinstance(v, int | float) and not isinstance(v, complex):
                try:
                    c = np.float64(v)
                except OverflowError:
                    raise self._err(node, "number too large") from None
                return _Node(lambda text, c=c: c, "num", col)
            if isinstance(v, str):
                return _Node(lambda text, v=v: v, "str", col)
            raise self._err(node, f"{type(v).__name__} values are not allowed")
        if isinstance(node, ast.Name):
            if node.id == "ch":
                return _Node(_chars, "str", col)
            if node.id in NUMERIC_NAMES:
                return _Node(lambda text, name=node.id: _named(text, name), "num", col)
            raise self._err(node, f"unknown name '{node.id}' (known: {', '.join(NAMES)})")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                a = self._num(node.operand)
                return _Node(lambda text, a=a.fn: (np.asarray(a(text)) == 0).astype(np.float64), "num", col)
            if isinstance(node.op, ast.USub | ast.UAdd):
                a = self._num(node.operand)
                sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
                return _Node(lambda text, a=a.fn, s=sign: s * np.asarray(a(text), np.float64), "num", col)
            raise self._err(node, "operator '~' is not supported (use 'not')")
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                   ast.Div: np.true_divide, ast.Mod: np.mod}
            op = ops.get(type(node.op))
            if op is None:
                raise self._err(node, f"operator {type(node.op).__name__} is not supported")
            a, b = self._num(node.left), self._num(node.right)
            return _Node(lambda text, a=a.fn, b=b.fn, op=op:
                         op(np.asarray(a(text), np.float64), np.asarray(b(text), np.float64)),
                         "num", col)
        if isinstance(node, ast.BoolOp):
            parts = [self._num(v) for v in node.values]
            op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

            def boolop(text, fns=tuple(p.fn for p in parts), op=op):
                out = np.asarray(fns[0](text)) != 0
                for fn in fns[1:]:
                    out = op(out, np.asarray(fn(text)) != 0)
                return out.astype(np.float64)
            return _Node(boolop, "num", col)
        if isinstance(node, ast.Compare):
            return self._compare(node, col)
        if isinstance(node, ast.Call):
            return self._call(node, col)
        kind = type(node).__name__
        friendly = {"Attribute": "attribute access ('.')", "Lambda": "lambda", "IfExp": "if/else",
                    "Subscript": "indexing", "List": "lists", "Tuple": "tuples", "Dict": "dicts",
                    "Set": "sets", "ListComp": "comprehensions", "GeneratorExp": "comprehensions",
                    "NamedExpr": "':='", "JoinedStr": "f-strings", "Starred": "'*'",
                    "Await": "await", "Yield": "yield"}.get(kind, kind)
        raise self._err(node, f"{friendly} not allowed in a feature")

    def _compare(self, node: ast.Compare, col: int) -> _Node:
        terms = [self._compile(node.left), *(self._compile(c) for c in node.comparators)]
        numeric = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
                   ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
        steps = []
        for k, o in enumerate(node.ops):
            left, right = terms[k], terms[k + 1]
            if isinstance(o, ast.In | ast.NotIn):
                if left.kind != "str" or right.kind != "str" or not isinstance(node.comparators[k], ast.Constant):
                    raise self._err(node, "use 'in' as ch in 'abc'")
                chars = node.comparators[k].value
                neg = isinstance(o, ast.NotIn)
                steps.append(lambda a, b, chars=chars, neg=neg:
                             np.isin(np.asarray(a), list(chars)) != neg)
                continue
            fn = numeric.get(type(o))
            if fn is None:
                raise self._err(node, f"comparison {type(o).__name__} is not supported")
            if left.kind != right.kind:
                raise self._err(node, "compare text with text (ch == 'a') and numbers with numbers")
            if left.kind == "str" and fn not in (np.equal, np.not_equal):
                raise self._err(node, "text can only be compared with == or !=")
            steps.append(fn)

        def compare(text, fns=tuple(t.fn for t in terms), steps=tuple(steps)):
            out = None
            left = fns[0](text)
            for step, fn in zip(steps, fns[1:], strict=True):
                right = fn(text)
                r = np.asarray(step(left, right), bool)
                out = r if out is None else np.logical_and(out, r)
                left = right
            return np.asarray(out, np.float64)
        return _Node(compare, "num", col)

    def _call(self, node: ast.Call, col: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            raise self._err(node, f"'{_shown(node.func)}' is not a function a feature may call "
                                  f"(known: {', '.join(FUNCTIONS)})")
        if node.func.id not in FUNCTIONS:
            raise self._err(node, f"unknown function '{node.func.id}' (known: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise self._err(node, "keyword arguments are not allowed")
        name, args = node.func.id, node.args
        if name == "depth":
            if len(args) != 2:
                raise self._err(node, "depth takes two characters: depth('(', ')')")
            a, b = (self._char_literal(x, "each argument of depth") for x in args)
            return _Node(lambda text, a=a, b=b: depth(text, a, b), "num", col)
        if name == "in_quotes":
            if len(args) != 1:
                raise self._err(node, "in_quotes takes one quote character: in_quotes(\"'\")")
            q = self._char_literal(args[0], "the quote")
            return _Node(lambda text, q=q: in_quotes(text, q), "num", col)
        if name in ("count", "since"):
            if len(args) != 1:
                raise self._err(node, f"{name} takes one character: {name}('a')")
            c = self._char_literal(args[0], f"the argument of {name}")
            if name == "count":
                return _Node(lambda text, c=c: np.cumsum(_chars(text) == c).astype(np.float64), "num", col)
            return _Node(lambda text, c=c: since(text, c), "num", col)
        if len(args) != 1:
            raise self._err(node, "abs takes one argument")
        a = self._num(args[0])
        return _Node(lambda text, a=a.fn: np.abs(np.asarray(a(text), np.float64)), "num", col)


# --- ranking units ----------------------------------------------------------------------------

@dataclass
class UnitMatch:
    unit: int
    signal: str
    r: float          # Pearson correlation over the steps read (signed)


def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """(N,) Pearson r of each column of ``values`` (T, N) with ``feature`` (T,), over the steps
    where both are finite; 0 for a constant column or feature."""
    v = np.asarray(values, np.float64)
    f = np.asarray(feature, np.float64)
    ok = np.isfinite(f) & np.all(np.isfinite(v), axis=1)
    v, f = v[ok], f[ok]
    if len(f) < 2:
        return np.zeros(v.shape[1])
    vc = v - v.mean(axis=0)
    fc = f - f.mean()
    denom = np.sqrt((vc ** 2).sum(axis=0) * (fc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (vc * fc[:, None]).sum(axis=0) / denom
    return np.where(denom > 1e-12, r, 0.0)


def find_units(trace, text: str, feature: str | Feature, *, signals: tuple[str, ...] = ("c", "h"),
               sample: int = 0, top: int = 5) -> list[UnitMatch]:
    """Units of a traced layer whose ``signals`` follow ``feature`` over ``text`` most closely,
    by |correlation|, best first (each unit once, with its better signal). Steps not read yet
    (NaN) are left out."""
    feat = feature if isinstance(feature, Feature) else Feature(feature)
    steps = trace.steps
    if len(text) != steps:
        raise ScopeError(f"the text has {len(text)} characters but the run has {steps} steps")
    f = feat.values(text)
    best: dict[int, UnitMatch] = {}
    for name in signals:
        r = correlations(trace.signal(name)[sample], f)
        for unit, value in enumerate(r):
            if unit not in best or abs(value) > abs(best[unit].r):
                best[unit] = UnitMatch(unit, name, float(value))
    ranked = sorted(best.values(), key=lambda m: (-abs(m.r), m.unit))
    return ranked[:max(0, int(top))]


def _shown(node: ast.AST) -> str:
    """The refused part of a feature, as the user wrote it (shortened)."""
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."
