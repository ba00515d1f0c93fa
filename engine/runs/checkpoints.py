"""Long runs in a fixed memory budget: checkpoints, an overview, windows recomputed on demand.

A ``CheckpointedRun`` keeps the layer's input, the state (h, c) before every K-th processing
index and an ``Overview`` (per unit and signal, min and max over buckets of input positions).
Any window of steps is recomputed from the nearest checkpoint before it by an ordinary
``DirectionRunner`` over that chunk of K steps, with x . W computed in the same aligned blocks
as a full trace (``stepper.input_product``): the same code on the same float32 inputs, so every
recomputed value is bit-identical to the in-memory trace (docs/architecture.md, "Long runs").

Chunks are the unit of work: chunk j covers processing indices jK .. (j+1)K - 1. Computing a
chunk stores the checkpoint after it; the first pass computes them all in order and folds each
into the overview. A few recent chunks stay cached, so stepping and scanning near the cursor
recompute nothing; the first pass keeps its own latest chunks apart from that cache (it must not
push out what the views read), where a reader on another thread still finds them. Thread-safe:
a lock guards the shared state, never a computation, and a chunk is computed by one thread at a
time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cells.cell import CellWeights
from .stepper import XW_BLOCK, DirectionRunner, input_product, layer_input
from .time_axis import input_position, positions
from .trace import LayerTrace, SignalSource

F32 = np.float32
CHUNK_BYTES = 48 * 2**20          # one chunk's buffers; a few are cached
OVERVIEW_BYTES = 64 * 2**20
MAX_BUCKETS = 4096
SUB_BYTES = 128 * 2**20           # the states kept inside chunks, for jumps
FIRST_PASS_KEEPS = 2              # the first pass's latest chunks a reader may take (a window
                                  # read beside it straddles at most one chunk boundary of them)
MIN_SUB = 8                       # steps between those states at best


def bytes_per_step(batch: int, weights: CellWeights) -> int:
    """Bytes one processing index holds in a full trace (gates, zx, zh, x.W+b, c, h, x, zp)."""
    n, h, d = weights.units, weights.state_size, weights.input_dim
    per = 4 * 4 * n + n + h + d + (4 * n if weights.peephole is not None else 0)
    return 4 * batch * per


def choose_interval(batch: int, weights: CellWeights) -> int:
    """Steps per chunk: a power of two multiple of XW_BLOCK whose buffers fit CHUNK_BYTES."""
    k = XW_BLOCK
    while k < 8192 and 2 * k * bytes_per_step(batch, weights) <= CHUNK_BYTES:
        k *= 2
    return k


def choose_bucket(steps: int, batch: int, units: int, signals: int) -> int:
    """Input positions per overview bucket: a power of two, at most MAX_BUCKETS buckets and
    OVERVIEW_BYTES in all (``signals`` signals of the cell kind, min and max, float32)."""
    bucket = 1
    while (-(-steps // bucket) > MAX_BUCKETS
           or -(-steps // bucket) * batch * units * signals * 2 * 4 > OVERVIEW_BYTES):
        bucket *= 2
    return bucket


def choose_sub_interval(steps: int, batch: int, weights: CellWeights, interval: int) -> int:
    """Steps between the states kept inside each chunk once it is computed: a power of two
    from MIN_SUB up to the chunk interval whose states fit SUB_BYTES. A jump to any position
    then recomputes at most this many steps."""
    per_state = 4 * batch * (weights.state_size + weights.units)
    sub = MIN_SUB
    while sub < interval and (steps // sub + 1) * per_state > SUB_BYTES:
        sub *= 2
    return min(sub, interval)


@dataclass
class Overview:
    """Min and max of each signal per unit over buckets of ``bucket`` input positions:
    ``lo[name]``, ``hi[name]`` (B, n_buckets, N); NaN where nothing is known (masked or not yet
    computed). What a zoomed-out view draws, without recomputing any step."""

    bucket: int
    steps: int
    lo: dict[str, np.ndarray]
    hi: dict[str, np.ndarray]

    @classmethod
    def empty(cls, steps: int, batch: int, units: int, bucket: int,
              signals: tuple[str, ...]) -> Overview:
        """Nothing known yet, for the ``signals`` a cell kind records (``CellKind.recorded``)."""
        nb = -(-steps // bucket) if steps else 0
        lo = {s: np.full((batch, nb, units), np.nan, F32) for s in signals}
        hi = {s: np.full((batch, nb, units), np.nan, F32) for s in signals}
        return cls(bucket, steps, lo, hi)

    @classmethod
    def of(cls, trace: LayerTrace, bucket: int) -> Overview:
        """The overview of a whole in-memory trace (same numbers a first pass gives)."""
        out = cls.empty(trace.steps, trace.batch, trace.units, bucket, trace.cell_kind.recorded)
        out.add(trace, 0)
        return out

    @property
    def buckets(self) -> int:
        return -(-self.steps // self.bucket) if self.steps else 0

    def add(self, trace: LayerTrace, first: int) -> None:
        """Fold in a trace's values, its index 0 being input position ``first`` (a projected h
        has fewer columns than units; the rest stay NaN)."""
        kind = trace.cell_kind
        gates = _bucket_reduce(trace.gates, first, self.bucket)
        parts = {name: (gates[0][:, :, k], gates[1][:, :, k], gates[2])
                 for k, name in enumerate(kind.gates)}
        for name in kind.states:
            parts[name] = _bucket_reduce(trace.signal(name), first, self.bucket)
        for name, (lo, hi, cols) in parts.items():
            width = lo.shape[-1]
            self.lo[name][:, cols, :width] = np.fmin(self.lo[name][:, cols, :width], lo)
            self.hi[name][:, cols, :width] = np.fmax(self.hi[name][:, cols, :width], hi)


def _bucket_reduce(values: np.ndarray, first: int, bucket: int):
    """(lo, hi, bucket ids) of values (B, L, ...) over buckets of input positions: whole
    buckets as one reshaped reduction, a ragged head and tail on their own; NaN ignored."""
    length = values.shape[1]
    head = min(length, (-first) % bucket)
    whole = (length - head) // bucket
    pieces = []
    if head:
        pieces.append((values[:, :head], True))
    if whole:
        body = values[:, head:head + whole * bucket]
        pieces.append((body.reshape(body.shape[0], whole, bucket, *body.shape[2:]), False))
    if head + whole * bucket < length:
        tail = values[:, head + whole * bucket:]
        pieces.append((tail, True))
    los, his = [], []
    for arr, partial in pieces:
        if partial:                # one partial bucket: reduce over the time axis
            los.append(np.fmin.reduce(arr, axis=1, keepdims=True))
            his.append(np.fmax.reduce(arr, axis=1, keepdims=True))
        else:
            los.append(np.fmin.reduce(arr, axis=2))
            his.append(np.fmax.reduce(arr, axis=2))
    lo = np.concatenate(los, axis=1) if len(los) > 1 else los[0]
    hi = np.concatenate(his, axis=1) if len(his) > 1 else his[0]
    first_id = first // bucket
    return lo, hi, np.arange(first_id, first_id + lo.shape[1])


class _Window(SignalSource):
    """Input positions a..b-1 of a checkpointed run as a SignalSource (parts recomputed)."""

    def __init__(self, run: CheckpointedRun, a: int, b: int) -> None:
        self.run, self.weights = run, run.weights
        self.p_lo, self.p_hi = positions(a, b, run.steps, run.backward)

    def part(self, array: str, gate: int | None) -> np.ndarray:
        v = self.run.columns(array, self.p_lo, self.p_hi)
        if self.run.backward:
            v = v[:, ::-1]
        return v if gate is None else v[:, :, gate]


@dataclass
class _Job:
    """A chunk one thread is computing; others wanting it wait on ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    runner: DirectionRunner | None = None
    waiters: int = 0


class CheckpointedRun:
    """One traced direction over a long input, kept as checkpoints plus an overview.

    Read it like a ``DirectionRunner`` (``steps``, ``position``, ``state_before``, ``columns``)
    or by input positions (``signal``, ``window``); ``first_pass`` fills every checkpoint and the
    overview (resumable, cancellable, reports progress). Nothing is computed up front."""

    def __init__(self, name: str, weights: CellWeights, x: np.ndarray, *, backward: bool = False,
                 mask: np.ndarray | None = None, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None, interval: int | None = None,
                 bucket: int | None = None, cache_chunks: int = 3,
                 sub_interval: int | None = None) -> None:
        """``sub_interval``: steps between the states kept inside computed chunks (default
        ``choose_sub_interval``; a run held as one chunk keeps none)."""
        x = layer_input(name, weights, x)
        b, t, _ = x.shape
        n, hsize = weights.units, weights.state_size
        self.name, self.weights, self.backward, self.x = name, weights, backward, x
        self.batch, self.steps, self.units = b, t, n
        self.mask = np.ones((b, t), bool) if mask is None else np.asarray(mask, bool).copy()
        self.h0 = np.zeros((b, hsize), F32) if h0 is None else np.array(h0, F32).reshape(b, hsize)
        cs = weights.cell_size                 # N, or 0 for a cell without c (GRU, RNN)
        self.c0 = np.zeros((b, cs), F32) if c0 is None else np.array(c0, F32).reshape(b, cs)
        k = choose_interval(b, weights) if interval is None else int(interval)
        if k <= 0 or k % XW_BLOCK:
            raise ValueError(f"the checkpoint interval must be a positive multiple of {XW_BLOCK}")
        self.interval = k
        self.chunks = -(-t // k) if t else 0
        self._ck_h = np.empty((self.chunks + 1, b, hsize), F32)
        self._ck_c = np.empty((self.chunks + 1, b, cs), F32)
        self._ck_h[0], self._ck_c[0] = self.h0, self.c0
        self._ck_known = 1                     # checkpoints 0 .. _ck_known - 1 are known
        self._cache: OrderedDict[int, DirectionRunner] = OrderedDict()
        self._cache_chunks = max(2, int(cache_chunks))
        self._first_pass_latest: OrderedDict[int, DirectionRunner] = OrderedDict()
        # states every `sub` steps inside the chunks computed so far: a read of a few steps in
        # a chunk not cached runs from the nearest one (same code, same x . W blocks)
        self.sub = choose_sub_interval(t, b, weights, k) if sub_interval is None else int(sub_interval)
        self._sub_h = np.empty((t // self.sub + 1, b, hsize), F32)
        self._sub_c = np.empty((t // self.sub + 1, b, cs), F32)
        self._sub_known = np.zeros(self.chunks, bool)
        self._minis: OrderedDict[int, DirectionRunner] = OrderedDict()
        signals = weights.kind.recorded
        bucket = choose_bucket(t, b, n, len(signals)) if bucket is None else int(bucket)
        self.overview = Overview.empty(t, b, n, bucket, signals)
        self._summarised = 0                   # chunks folded into the overview, in order
        self._lock = threading.RLock()
        self._busy: dict[int, _Job] = {}       # chunks being computed now, by any thread

    # --- facts -------------------------------------------------------------------------------
    @property
    def direction(self) -> str:
        return "backward" if self.backward else "forward"

    @property
    def zp(self) -> bool | None:
        """Truthy when the cell records peephole terms (as ``DirectionRunner.zp``)."""
        return True if self.weights.peephole is not None else None

    @property
    def first_pass_done(self) -> int:
        """Processing indices the first pass has folded into the overview."""
        return min(self.steps, self._summarised * self.interval)

    def position(self, p):
        return input_position(p, self.steps, self.backward)

    def chunk_range(self, j: int) -> tuple[int, int]:
        """Processing indices [p0, p1) of chunk j."""
        return j * self.interval, min(self.steps, (j + 1) * self.interval)

    def checkpoint_bytes(self) -> int:
        return int(self._ck_h.nbytes + self._ck_c.nbytes + self.x.nbytes + self.mask.nbytes
                   + self._sub_h.nbytes + self._sub_c.nbytes
                   + sum(a.nbytes for a in self.overview.lo.values()) * 2)

    # --- computing ---------------------------------------------------------------------------
    def chunk(self, j: int, progress: Callable[[int, int], None] | None = None
              ) -> DirectionRunner:
        """Chunk j computed (from cache, or from its checkpoint, computing earlier chunks first
        when that checkpoint is not known yet). Its local processing index q is jK + q.
        ``progress(done, steps)`` is told how many processing indices of the run are computed
        while this thread computes chunks (every ``stepper.PROGRESS_STEPS`` or so).

        Each chunk runs outside the lock, so a reader of a few steps (the read-outs, the
        inspector) never waits behind a window being recomputed on another thread; a chunk
        another thread is already computing is waited for, not computed twice."""
        if not 0 <= j < self.chunks:
            raise IndexError(f"chunk {j} outside 0..{self.chunks - 1}")
        while True:
            with self._lock:
                runner = self._cache.get(j)
                if runner is None and j in self._first_pass_latest:
                    runner = self._first_pass_latest.pop(j)     # a reader's now
                    self._store(j, runner)
                if runner is not None:
                    self._cache.move_to_end(j)
                    return runner
                k = min(j, self._ck_known - 1)          # the next chunk whose checkpoint is known
                job = self._busy.get(k)
                mine = job is None
                if mine:
                    job = self._busy[k] = _Job()
                else:
                    job.waiters += 1
            if not mine:
                job.done.wait()
                if k == j and job.runner is not None:
                    return job.runner
                continue
            runner = self._run_job(k, job, cache=True, progress=progress)
            if k == j:
                return runner

    def _run_job(self, j: int, job: _Job, *, cache: bool,
                 progress: Callable[[int, int], None] | None = None) -> DirectionRunner:
        """Compute chunk j for the job this thread holds, outside the lock; record it, cache
        it (``cache``, or when a reader waits for this very chunk), else keep it among the first
        pass's latest, and release the waiters."""
        try:
            # without a listener, the plain call (the tests that count chunks wrap it)
            runner = self._run_chunk(j) if progress is None else self._run_chunk(j, progress)
            with self._lock:
                self._record(j, runner)
                if cache or job.waiters:
                    self._store(j, runner)
                else:
                    self._keep_latest(j, runner)
            job.runner = runner
            return runner
        finally:
            with self._lock:
                del self._busy[j]
            job.done.set()

    def _store(self, j: int, runner: DirectionRunner) -> None:
        """Cache chunk j's runner (the oldest leave); the caller holds the lock."""
        self._cache[j] = runner
        self._cache.move_to_end(j)
        while len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)

    def _keep_latest(self, j: int, runner: DirectionRunner) -> None:
        """Keep chunk j among the first pass's latest (the oldest leave): a window read on
        another thread just after the pass computed it takes it instead of computing it again.
        The caller holds the lock."""
        self._first_pass_latest[j] = runner
        while len(self._first_pass_latest) > FIRST_PASS_KEEPS:
            self._first_pass_latest.popitem(last=False)

    def _held(self, j: int) -> bool:
        """Chunk j is in memory: cached, or among the first pass's latest."""
        return j in self._cache or j in self._first_pass_latest

    def _run_chunk(self, j: int, progress: Callable[[int, int], None] | None = None
                   ) -> DirectionRunner:
        """Run chunk j from checkpoint j (known). Writes nothing shared, so the first pass
        runs it outside the lock while the views read other chunks."""
        p0, p1 = self.chunk_range(j)
        return self._run_span(p0, p1, self._ck_h[j], self._ck_c[j], progress)

    def _run_span(self, p0: int, p1: int, h0: np.ndarray, c0: np.ndarray,
                  progress: Callable[[int, int], None] | None = None) -> DirectionRunner:
        """Processing indices [p0, p1) run from the state (h0, c0) before p0, with x . W in the
        blocks aligned to the checkpoints: the one code path behind bit-identity."""
        a, e = positions(p0, p1, self.steps, self.backward)
        zx = input_product(self.weights, self.x, self.backward, p0, p1)
        mask = self.mask[:, a:e]
        if not mask.all():
            zx[~mask] = np.nan
        runner = DirectionRunner(self.name, self.weights, self.x[:, a:e], backward=self.backward,
                                 mask=mask, h0=h0, c0=c0, prefill=False, shared_zx=zx)
        if progress is None:
            runner.run()
            return runner
        runner.run(progress=lambda q: progress(p0 + q, self.steps))
        progress(p1, self.steps)
        return runner

    def _record(self, j: int, runner: DirectionRunner) -> None:
        """What computing chunk j teaches (once each): its kept states, the next checkpoint,
        its part of the overview (in order). The caller holds the lock."""
        p0, p1 = self.chunk_range(j)
        if not self._sub_known[j]:
            for q in range(0, runner.steps, self.sub):
                self._sub_h[(p0 + q) // self.sub], self._sub_c[(p0 + q) // self.sub] = \
                    runner.state_before(q)
            self._sub_known[j] = True
        if self._ck_known == j + 1:
            h, c = runner.state_before(runner.steps)
            self._ck_h[j + 1], self._ck_c[j + 1] = h, c
            self._ck_known = j + 2
        if self._summarised == j:
            a = positions(p0, p1, self.steps, self.backward)[0]
            self.overview.add(runner.to_trace(), a)
            self._summarised = j + 1

    def first_pass(self, progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> bool:
        """Compute every chunk not yet folded into the overview (checkpoints fill in on the
        way); False when ``should_stop()`` ended it early (call again to resume). Each chunk
        runs outside the lock (readers of cached chunks never wait for it) and is recorded
        under it; the first pass does not take the readers' cache.

        The next chunk is chosen under the lock: a reader may have computed (and recorded) it
        since the last one, and its runner may already have left the cache. A chunk a reader
        is computing is waited for, not read back: recording it moves the pass on."""
        while self._summarised < self.chunks:
            if should_stop is not None and should_stop():
                return False
            with self._lock:
                j = self._summarised
                if j >= self.chunks:
                    break
                runner = self._cache.get(j)
                theirs = self._busy.get(j)
                job = None
                if runner is not None:
                    self._record(j, runner)
                elif theirs is None:
                    job = self._busy[j] = _Job()
            if theirs is not None:      # a reader is computing it; should it fail, ours next
                theirs.done.wait()
            elif job is not None:
                self._run_job(j, job, cache=False)
            if progress is not None:
                progress(self.first_pass_done, self.steps)
        return True

    def _mini(self, i: int) -> DirectionRunner:
        """Sub-block i (processing indices i*sub .. (i+1)*sub - 1), run from its kept state
        (outside the lock: a few steps, and two threads computing the same one agree)."""
        with self._lock:
            runner = self._minis.get(i)
            if runner is not None:
                self._minis.move_to_end(i)
                return runner
            h, c = self._sub_h[i].copy(), self._sub_c[i].copy()
        p0, p1 = i * self.sub, min(self.steps, (i + 1) * self.sub)
        runner = self._run_span(p0, p1, h, c)
        with self._lock:
            self._minis[i] = runner
            while len(self._minis) > 8:
                self._minis.popitem(last=False)
        return runner

    def _reader(self, p: int) -> tuple[DirectionRunner, int]:
        """A computed runner holding processing index p and its first index: the cached chunk,
        else (when the chunk was computed once) the sub-block from its kept state."""
        j = p // self.interval
        if not self._held(j) and self._sub_known[j] and self.sub < self.interval:
            i = p // self.sub
            return self._mini(i), i * self.sub
        return self.chunk(j), j * self.interval

    # --- reading -----------------------------------------------------------------------------
    def ready(self, p: int) -> bool:
        """Processing index p reads in a few steps: its chunk is cached or was computed once
        (its kept states are known). Otherwise reading it computes whole chunks, perhaps
        every one before it: a window's GUI thread asks first and leaves that to a worker."""
        j = p // self.interval
        return 0 <= j < self.chunks and (self._held(j) or bool(self._sub_known[j]))

    def state_before(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) before processing index p (a checkpoint, a kept state, or read from the
        runner holding p)."""
        if p % self.interval == 0 and p // self.interval < self._ck_known:
            j = p // self.interval
            return self._ck_h[j], self._ck_c[j]
        if p >= self.steps:
            runner = self.chunk(self.chunks - 1)
            return runner.state_before(runner.steps)
        if p % self.sub == 0 and self._sub_known[p // self.interval]:
            return self._sub_h[p // self.sub], self._sub_c[p // self.sub]
        runner, first = self._reader(p)
        return runner.state_before(p - first)

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        h, c = self.state_before(self.steps)
        return h.copy(), c.copy()

    def columns(self, array: str, a: int, b: int) -> np.ndarray:
        """(B, b-a, ...) of one array for processing indices a..b-1, in processing order, as
        ``DirectionRunner.columns`` (h, c at index -1 are the initial state)."""
        lo = max(a, 0)
        parts = []
        if a < 0:
            first = self.chunk(0) if self.chunks else None
            pad_src = first.columns(array, a, min(b, 0)) if first is not None else None
            if pad_src is not None:
                parts.append(pad_src)
        k = self.interval
        for j in range(lo // k, -(-min(b, self.steps) // k)):
            p0, p1 = self.chunk_range(j)
            s, e = max(lo, p0), min(b, p1)
            if e <= s:
                continue
            if not self._held(j) and self._sub_known[j] and e - s <= 2 * self.sub:
                while s < e:             # a few steps: from the kept states, not the chunk
                    runner, first = self._reader(s)
                    stop = min(e, first + runner.steps)
                    parts.append(runner.columns(array, s - first, stop - first))
                    s = stop
            else:
                parts.append(self.chunk(j).columns(array, s - p0, e - p0))
        if not parts:
            w = self.weights
            tail = {"c": (w.cell_size,), "h": (w.state_size,), "x": (w.input_dim,),
                    "gates": (len(w.kind.gates), w.units)}.get(array, (w.parts, w.units))
            return np.zeros((self.batch, 0, *tail), F32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def window(self, a: int, b: int) -> _Window:
        """Input positions a..b-1 as a SignalSource: ``window(a, b).signal("f")`` (B, b-a, N)."""
        return _Window(self, a, b)

    def signal(self, name: str, a: int, b: int) -> np.ndarray:
        return self.window(a, b).signal(name)

    def window_trace(self, a: int, b: int) -> LayerTrace:
        """Input positions a..b-1 as a LayerTrace (copies); its h0, c0 are the state just
        before the window's first processed step (position a, or b-1 going backward)."""
        w = self.window(a, b)
        h0, c0 = self.state_before(w.p_lo)

        def take(array: str) -> np.ndarray:
            return np.ascontiguousarray(w.part(array, None))
        return LayerTrace(name=self.name, direction=self.direction, weights=self.weights,
                          x=self.x[:, a:b].copy(), mask=self.mask[:, a:b].copy(),
                          h0=np.array(h0), c0=np.array(c0), gates=take("gates"), zx=take("zx"),
                          zh=take("zh"), c=take("c"), h=take("h"),
                          zp=take("zp") if self.weights.peephole is not None else None,
                          start=a)


class OutputRun:
    """One direction run for what it returns only (h, the final state), chunk by chunk from
    its checkpoints: memory is h (B, T, H) and one chunk, not the fourteen recorded arrays.

    A ``DirectionRunner`` stand-in for runs whose traces nobody reads (the layers before a
    checkpointed one, a model output computed whole for a streamed window): ``run``,
    ``to_trace`` (itself), ``final_state``, ``layer_output``. The chunks are the
    checkpointed run's, so h is bit-identical to a full trace's."""

    layer_output = DirectionRunner.layer_output

    def __init__(self, name: str, weights: CellWeights, x: np.ndarray, *, backward: bool = False,
                 mask: np.ndarray | None = None, h0: np.ndarray | None = None,
                 c0: np.ndarray | None = None, **_: object) -> None:
        self._store = CheckpointedRun(name, weights, x, backward=backward, mask=mask, h0=h0,
                                      c0=c0, bucket=1 << 30)
        store = self._store
        self.name, self.weights, self.backward = name, weights, backward
        self.steps, self.batch, self.mask, self.h0 = store.steps, store.batch, store.mask, store.h0
        self.h = np.empty((store.batch, store.steps, weights.state_size), F32)
        self._final = (store.h0, store.c0)

    def position(self, p):
        return input_position(p, self.steps, self.backward)

    def run(self) -> None:
        store = self._store
        h, c = store.h0, store.c0
        for j in range(store.chunks):
            p0, p1 = store.chunk_range(j)
            runner = store._run_span(p0, p1, h, c)
            a, e = positions(p0, p1, self.steps, self.backward)
            self.h[:, a:e] = runner.h
            h, c = (np.array(s) for s in runner.state_before(runner.steps))
        self._final = (h, c)

    def to_trace(self) -> OutputRun:
        return self

    def final_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._final
