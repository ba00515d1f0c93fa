"""The breakpoint / watch expression language, parsed safely (never ``eval``).

Text is parsed with ``ast.parse(mode="eval")`` and every node is checked against an explicit
whitelist, then compiled into a small tree of closures over numpy. Nothing of Python's own
evaluation is ever reached: no attribute access, no names but the ones below, no calls but the
functions below, no strings, lambdas or comprehensions.

Names (the traced layer's signals after reading the current step):
    i f g o c h          gates, cell and hidden state, (N,) per sample
    u r n h              a GRU's update and reset gates, candidate and state (an RNN's h alone)
    x                    this layer's input at the step, (D,)
    zx_i .. zx_o         x_t . W per gate;  zh_i .. zh_o  h_{t-1} . U;  z_i .. z_o  their sum + b
                         (a GRU's zx_u .. z_n, an RNN's zx_h zh_h z_h: docs/architecture.md,
                         "GRU and simple RNN")
    t                    the input position read at this step (0-based)
    prev(E)              E one *processing* step earlier (prev(h), prev(c) at the first step are
                         the initial state; anything else before the first step is NaN)
Indexing ``f[3]`` picks a unit (negative counts from the end), slicing ``h[0:8]`` a range; indices
are integer literals. Arithmetic ``+ - * / ** %``, unary ``-``, comparisons (chained too),
``and or not`` (element-wise on vectors). Functions: ``abs isnan isinf saturated`` keep the
shape; ``any all max min mean sum count`` reduce over units (``max(a, b)``/``min(a, b)`` with two
arguments are element-wise); ``saturated(G)`` is True where a gate value lies within 5 % of
either end of its activation's range. ``grad(S)`` (S one of h, c, x) is d target / d S at the
step, ``grad_norm(S)`` its L2 norm over units: the debugger's gradient target through the whole
run (``engine.gradients.grad``; default the sum of squares of the layer's final h).

Vectorisation: every value carries leading "where" axes before the unit axis. At one step they
are (S,) for the S chosen batch samples; over a whole run (S, T) in processing order, so one
expression costs a handful of whole-array ufuncs however long the run. Reductions act on the
unit axis only. The truth of a condition at a step is ``any`` over what is left (units of a
vector result, then the chosen samples): a breakpoint holds when it holds for any chosen sample.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..analyses.analysis import saturated as _saturated
from ..cells.cell import LSTM_CELL
from ..cells.gru_cell import GRU_CELL
from ..cells.mlstm_cell import MLSTM_CELL
from ..cells.rnn_cell import RNN_CELL
from ..cells.slstm_cell import SLSTM_CELL
from ..errors import ScopeError

MAX_LENGTH = 2000
# Evaluation recurses once per level (a few frames each): 100 levels stay far below Python's
# recursion limit even from deep inside the window's event handling.
MAX_DEPTH = 100
CELL_KINDS = (LSTM_CELL, GRU_CELL, RNN_CELL, SLSTM_CELL, MLSTM_CELL)
"""Every kind of cell a run may record: an expression may name any of their signals; one the
run's cell does not record is an error when it is checked against that run (``debugger.check``)."""
SIGNAL_NAMES = (*dict.fromkeys(name for kind in CELL_KINDS for name in kind.recorded), "x")
PART_NAMES = tuple(dict.fromkeys(f"{p}_{g}" for kind in CELL_KINDS for p in ("z", "zx", "zh")
                                 for g in kind.parts))
GATE_NAMES = tuple(dict.fromkeys(g for kind in CELL_KINDS for g in kind.gates))
NAMES = (*SIGNAL_NAMES, *PART_NAMES, "t")
REDUCERS = ("any", "all", "max", "min", "mean", "sum", "count")
ELEMENTWISE = ("abs", "isnan", "isinf", "saturated")
GRADIENTS = ("grad", "grad_norm")
FUNCTIONS = (*REDUCERS, *ELEMENTWISE, "prev", *GRADIENTS)


_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.true_divide, ast.Mod: np.mod}      # ** is _power, added below
_COMPARISONS = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
                ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
_COMPILERS = {ast.Constant: "_constant", ast.Name: "_name", ast.UnaryOp: "_unary",
              ast.BinOp: "_binop", ast.BoolOp: "_boolop", ast.Compare: "_compare",
              ast.Subscript: "_subscript", ast.Call: "_call"}      # Expr method per node type
_FRIENDLY = {"Attribute": "attribute access ('.')", "Lambda": "lambda", "IfExp": "if/else",
             "ListComp": "comprehensions", "GeneratorExp": "comprehensions",
             "DictComp": "comprehensions", "SetComp": "comprehensions", "Tuple": "tuples",
             "List": "lists", "Dict": "dicts", "Set": "sets", "JoinedStr": "strings",
             "NamedExpr": "assignment (':=')", "Starred": "'*'", "Await": "await",
             "Yield": "yield", "YieldFrom": "yield", "Slice": "a slice here"}


class ExprError(ScopeError):
    """A syntax, name or shape error in an expression, with its 0-based column."""

    def __init__(self, message: str, column: int = 0, text: str = "") -> None:
        self.column = max(0, int(column))
        self.message = message
        self.text = text
        super().__init__(f"{message} at column {self.column}")


class Env(Protocol):
    """Where an expression reads its names: one step, or a whole run at once."""

    def value(self, name: str) -> np.ndarray: ...       # (*lead, N) or (*lead, D)
    def position(self) -> np.ndarray: ...               # (*lead,) input positions
    def prev(self) -> Env: ...
    def activation(self, name: str): ...                # Activation of gate i/f/g/o


Fn = Callable[[Env], np.ndarray]


@dataclass
class _Node:
    fn: Fn
    vector: bool              # has the unit axis last
    col: int
    gate: str | None = None   # which gate's activation (for saturated)


def _char_column(text: str, lineno: int, col_offset: int) -> int:
    """ast gives (1-based line, UTF-8 byte offset in the line); we report a char index."""
    lines = text.split("\n")
    lineno = max(1, min(lineno, len(lines)))
    before = sum(len(line) + 1 for line in lines[:lineno - 1])
    line = lines[lineno - 1].encode("utf-8")[:max(0, col_offset)].decode("utf-8", errors="ignore")
    return before + len(line)


class Expr:
    """A compiled expression. ``evaluate(env)`` returns an array over env's leading axes."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ExprError("an expression must be text", 0, "")
        self.text = text
        if not text.strip():
            raise ExprError("empty expression", 0, text)
        if len(text) > MAX_LENGTH:
            raise ExprError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH, text)
        try:
            with warnings.catch_warnings():     # e.g. "invalid decimal literal": we report ours
                warnings.simplefilter("ignore")
                tree = ast.parse(text, mode="eval")
        except SyntaxError as exc:
            msg = (exc.msg or "invalid syntax").split(" (")[0]
            if not exc.offset:      # CPython reports an expression cut short at offset 0
                col = len(text.rstrip())
                if msg == "invalid syntax":
                    msg = "the expression ends too early"
            else:
                col = exc.offset - 1
                if exc.lineno and exc.lineno > 1:
                    col = _char_column(text, exc.lineno, 0) + col
            raise ExprError(msg, min(col, len(text)), text) from None
        except (ValueError, MemoryError, RecursionError, OverflowError) as exc:
            raise ExprError(f"cannot parse: {type(exc).__name__}", 0, text) from None
        if _depth(tree.body) > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (more than {MAX_DEPTH} levels)", 0, text)
        self._uses_x = False
        try:
            self._root = self._compile(tree.body)
        except RecursionError:
            raise ExprError("expression nested too deeply", 0, text) from None
        self.vector = self._root.vector

    # --- compiling -------------------------------------------------------------------------
    def _err(self, node: ast.AST, message: str) -> ExprError:
        col = _char_column(self.text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        return ExprError(message, col, self.text)

    def _compile(self, node: ast.AST) -> _Node:
        """One node: dispatched on its type to the method that knows that construct."""
        col = _char_column(self.text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        method = _COMPILERS.get(type(node))
        if method is None:
            kind = type(node).__name__
            raise self._err(node, f"{_FRIENDLY.get(kind, kind)} is not allowed")
        return getattr(self, method)(node, col)

    def _constant(self, node: ast.Constant, col: int) -> _Node:
        v = node.value
        if isinstance(v, bool):
            c = np.bool_(v)
        elif isinstance(v, int | float) and not isinstance(v, complex):
            try:
                c = np.float64(v)
            except OverflowError:
                raise self._err(node, "number too large") from None
        else:
            raise self._err(node, f"only numbers are allowed, not {type(v).__name__}")
        return _Node(lambda env, c=c: c, False, col)

    def _unary(self, node: ast.UnaryOp, col: int) -> _Node:
        a = self._compile(node.operand)
        if isinstance(node.op, ast.Not):
            return _Node(lambda env, a=a.fn: np.logical_not(_truth(a(env))), a.vector, col)
        op = {ast.USub: np.negative, ast.UAdd: np.positive}.get(type(node.op))
        if op is None:
            raise self._err(node, "operator '~' is not supported (use 'not')")
        return _Node(lambda env, a=a.fn, op=op: op(_num(a(env))), a.vector, col)

    def _binop(self, node: ast.BinOp, col: int) -> _Node:
        """A left-leaning chain ``a + b - c * ...`` as one node folded by a loop: a flat sum
        of many terms is long, not deep (``_depth`` counts the chain as one level)."""
        chain = _left_chain(node)
        ops = []
        for link in chain:
            op = _BINARY.get(type(link.op))
            if op is None:
                raise self._err(link, f"operator {type(link.op).__name__} is not supported")
            ops.append(op)
        first = self._compile(chain[0].left)
        rights = [self._compile(link.right) for link in chain]
        links = tuple(zip(ops, (r.fn for r in rights), strict=True))

        def fold(env, first=first.fn, steps=links):
            out = _num(first(env))
            for op, right in steps:
                out = op(out, _num(right(env)))
            return out
        return _Node(fold, first.vector or any(r.vector for r in rights), col)

    def _boolop(self, node: ast.BoolOp, col: int) -> _Node:
        parts = [self._compile(v) for v in node.values]
        op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolop(env, fns=tuple(p.fn for p in parts), op=op):
            out = _truth(fns[0](env))
            for fn in fns[1:]:
                out = op(out, _truth(fn(env)))
            return out
        return _Node(boolop, any(p.vector for p in parts), col)

    def _compare(self, node: ast.Compare, col: int) -> _Node:
        fns = []
        for o in node.ops:
            if type(o) not in _COMPARISONS:
                raise self._err(node, f"comparison {type(o).__name__} is not supported")
            fns.append(_COMPARISONS[type(o)])
        terms = [self._compile(node.left), *(self._compile(c) for c in node.comparators)]

        def compare(env, terms=tuple(t.fn for t in terms), fns=tuple(fns)):
            left = _num(terms[0](env))
            out = None
            for fn, term in zip(fns, terms[1:], strict=True):
                right = _num(term(env))
                r = fn(left, right)
                out = r if out is None else np.logical_and(out, r)
                left = right
            return out
        return _Node(compare, any(t.vector for t in terms), col)

    def _name(self, node: ast.Name, col: int) -> _Node:
        name = node.id
        if name.startswith("__"):
            raise self._err(node, f"name '{name}' is not allowed")
        if name == "t":
            return _Node(lambda env: env.position(), False, col)
        if name in SIGNAL_NAMES or name in PART_NAMES:
            if name == "x":
                self._uses_x = True
            gate = name if name in GATE_NAMES else None
            return _Node(lambda env, name=name: env.value(name), True, col, gate)
        if name in FUNCTIONS:
            raise self._err(node, f"'{name}' is a function: write {name}(...)")
        raise self._err(node, f"unknown name '{name}'")

    def _index(self, node: ast.AST | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
                and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int):
            v = node.operand.value
            return -v if isinstance(node.op, ast.USub) else v
        raise self._err(node, "an index must be an integer number")

    def _subscript(self, node: ast.Subscript, col: int) -> _Node:
        base = self._compile(node.value)
        if not base.vector:
            raise self._err(node, "only a vector (a signal) can be indexed")
        sl = node.slice
        if isinstance(sl, ast.Slice):
            key: Any = slice(self._index(sl.lower), self._index(sl.upper), self._index(sl.step))
            if key.step == 0:
                raise self._err(sl, "slice step cannot be zero")
            vector = True
        else:
            key = self._index(sl)
            vector = False
        text = self.text

        def index(env, fn=base.fn, key=key):
            v = fn(env)
            if isinstance(key, int) and not -v.shape[-1] <= key < v.shape[-1]:
                raise ExprError(f"index {key} out of range (0..{v.shape[-1] - 1})", col, text)
            return v[..., key]
        return _Node(index, vector, col, base.gate)

    def _call(self, node: ast.Call, col: int) -> _Node:
        if not isinstance(node.func, ast.Name):
            shown = ast.unparse(node.func)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise self._err(node.func, f"'{shown}' cannot be called: only the listed functions can")
        name = node.func.id
        if name not in FUNCTIONS:
            if name in NAMES:
                raise self._err(node.func, f"'{name}' is not a function")
            raise self._err(node.func, f"unknown function '{name}'")
        if node.keywords:
            raise self._err(node.keywords[0].value, f"{name}() takes no keyword arguments")
        args = [self._compile(a) for a in node.args]
        n = len(args)
        if name in ("max", "min") and n == 2:
            op = np.fmax if name == "max" else np.fmin
            a, b = args
            return _Node(lambda env, a=a.fn, b=b.fn, op=op: op(_num(a(env)), _num(b(env))),
                         a.vector or b.vector, col)
        if n != 1:
            raise self._err(node, f"{name}() takes exactly one argument ({n} given)")
        (a,) = args
        if name in GRADIENTS:
            return self._gradient(node, name, col)
        if name == "prev":
            return _Node(lambda env, fn=a.fn: fn(env.prev()), a.vector, col, a.gate)
        if name in ELEMENTWISE:
            if name == "saturated":
                if a.gate is None:
                    raise self._err(node.args[0], "saturated() needs a gate: i, f, g or o "
                                                  "(a GRU's u, r or n)")
                return _Node(lambda env, fn=a.fn, gate=a.gate: _saturated(
                    _num(fn(env)), env.activation(gate)), a.vector, col)
            op = {"abs": np.abs, "isnan": np.isnan, "isinf": np.isinf}[name]
            return _Node(lambda env, fn=a.fn, op=op: op(_num(fn(env))), a.vector, col, None)
        # reducers over the unit axis; on a scalar they are the identity (count: != 0)
        if not a.vector:
            if name == "count":
                return _Node(lambda env, fn=a.fn: (_num(fn(env)) != 0).astype(np.int64), False, col)
            if name in ("any", "all"):
                return _Node(lambda env, fn=a.fn: _truth(fn(env)), False, col)
            return a
        red = {"any": lambda v: np.any(_truth(v), axis=-1),
               "all": lambda v: np.all(_truth(v), axis=-1),
               "max": lambda v: _safe_reduce(np.max, v), "min": lambda v: _safe_reduce(np.min, v),
               "mean": lambda v: _safe_reduce(np.mean, v), "sum": lambda v: np.sum(v, axis=-1),
               "count": lambda v: np.count_nonzero(_truth(v), axis=-1)}[name]
        return _Node(lambda env, fn=a.fn, red=red: red(_num(fn(env))), False, col)

    def _gradient(self, node: ast.Call, name: str, col: int) -> _Node:
        arg = node.args[0]
        if not isinstance(arg, ast.Name) or arg.id not in ("h", "c", "x"):
            raise self._err(arg, f"{name}() takes h, c or x")
        key = "d" + arg.id
        if name == "grad":
            return _Node(lambda env, key=key: env.value(key), True, col)
        return _Node(lambda env, key=key: np.sqrt(np.sum(np.square(
            np.asarray(env.value(key), np.float64)), axis=-1)), False, col)

    # --- evaluating -----------------------------------------------------------------------
    @property
    def uses_x(self) -> bool:
        return self._uses_x

    def evaluate(self, env: Env) -> np.ndarray:
        """The value over env's leading axes (plus the unit axis for a vector expression)."""
        with np.errstate(all="ignore"):
            try:
                return np.asarray(self._root.fn(env))
            except ExprError:
                raise
            except RecursionError:
                raise ExprError("cannot evaluate: nested too deeply", 0, self.text) from None
            except MemoryError:
                raise ExprError("cannot evaluate: out of memory", 0, self.text) from None
            except Exception as exc:  # noqa: BLE001 - any failure is the expression's inline error
                raise ExprError(f"cannot evaluate: {_first_line(exc)}", 0, self.text) from None

    def truth(self, env: Env) -> np.ndarray:
        """Condition truth per leading position: ``any`` over units, then over samples (axis 0).

        Returns (*lead[1:],) — a scalar bool at one step, (T,) over a run.
        """
        v = self.evaluate(env)
        v = _truth(v)
        if self.vector:
            v = np.any(v, axis=-1)
        lead = env.lead_shape() if hasattr(env, "lead_shape") else v.shape
        v = np.broadcast_to(v, lead)
        return np.any(v, axis=0) if v.ndim else v

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


def _left_chain(node: ast.BinOp) -> list[ast.BinOp]:
    """The BinOps of ``((a op b) op c) op d``, innermost first (Python parses a flat sum so)."""
    chain = [node]
    while isinstance(chain[-1].left, ast.BinOp):
        chain.append(chain[-1].left)
    return chain[::-1]


def _children(node: ast.AST) -> list[ast.AST]:
    """What nests one level below ``node``; a left-leaning BinOp chain is one level."""
    if isinstance(node, ast.BinOp):
        chain = _left_chain(node)
        return [chain[0].left, *(link.right for link in chain)]
    return [child for child in ast.iter_child_nodes(node)
            if not isinstance(child, ast.expr_context | ast.operator | ast.cmpop
                              | ast.unaryop | ast.boolop)]


def _depth(root: ast.AST) -> int:
    """Nesting depth of an expression tree, counted without recursion."""
    deepest = 0
    todo = [(root, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo.extend((child, depth + 1) for child in _children(node))
    return deepest


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _num(v: Any) -> np.ndarray:
    v = np.asarray(v)
    return v.astype(np.int64) if v.dtype == np.bool_ else v


def _truth(v: Any) -> np.ndarray:
    v = np.asarray(v)
    if v.dtype == np.bool_:
        return v
    return np.logical_and(v != 0, ~np.isnan(v)) if v.dtype.kind == "f" else v != 0


def _power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.power(np.asarray(a, np.float64), np.asarray(b, np.float64))


def _safe_reduce(fn, v: np.ndarray) -> np.ndarray:
    if v.shape[-1] == 0:
        return np.full(v.shape[:-1], np.nan)
    return fn(v, axis=-1)


_BINARY[ast.Pow] = _power


def parse(text: str) -> Expr:
    """Compile ``text`` or raise ExprError (with a 0-based column)."""
    return Expr(text)
