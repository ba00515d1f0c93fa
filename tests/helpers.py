"""Shared test helpers: the Contracts' tolerance, fixture readers, running the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ATOL = 1e-5
RTOL = 1e-5


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str = "") -> float:
    """|ours - ref| <= 1e-5 + 1e-5 * |ref| element-wise (NaN must match NaN). Returns max error."""
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    nan_ours, nan_ref = np.isnan(ours), np.isnan(ref)
    assert np.array_equal(nan_ours, nan_ref), f"{what}: NaN positions differ"
    inf_ref = np.isinf(ref)
    assert np.array_equal(ours[inf_ref], ref[inf_ref]), f"{what}: Inf positions differ"
    ok = ~nan_ref & ~inf_ref
    err = np.abs(ours[ok] - ref[ok])
    bound = ATOL + RTOL * np.abs(ref[ok])
    if err.size and not np.all(err <= bound):
        worst = int(np.argmax(err - bound))
        raise AssertionError(f"{what}: max error {err.max():.3g} (worst {err[worst]:.3g} vs "
                             f"bound {bound[worst]:.3g})")
    return float(err.max()) if err.size else 0.0


def load_reference(path: Path) -> dict[str, Any]:
    """A fixture .npz as a dict; ``meta`` decoded from JSON."""
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, Any] = {k: data[k] for k in data.files}
    if "meta" in out:
        out["meta"] = json.loads(str(out["meta"]))
    return out


def reference_layers(ref: dict[str, Any]) -> list[int]:
    """Indices k for which the fixture holds layer{k}_h."""
    ks = []
    k = 0
    while f"layer{k}_h" in ref:
        ks.append(k)
        k += 1
    return ks


def run_cli_process(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` as a user would run it, in a fresh interpreter: for what crosses
    the process boundary (exit codes, no traceback, the environment and BLAS threads set before
    numpy loads, a hung child abandoned within ``timeout``)."""
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``main.main(ARGS)``, the entry point of ``python main.py``, run in this process (an
    interpreter importing numpy, Qt and the engine costs about a second of CPU per call): its
    exit code, and what it wrote to stdout and stderr, Python's and native libraries' writes to
    the file descriptors alike. The environment, warning filters and working folder are put
    back afterwards. What needs a process of its own uses ``run_cli_process``."""
    import main
    out, err = io.StringIO(), io.StringIO()
    saved_env = dict(os.environ)
    before = os.getcwd()
    with tempfile.TemporaryFile() as native_out, tempfile.TemporaryFile() as native_err, \
            warnings.catch_warnings():
        os.chdir(cwd)
        saved_fds = _redirect_fds(native_out, native_err)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main.main([str(a) for a in args])
                except SystemExit as exc:        # argparse: --help, --version, usage errors
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                    if isinstance(exc.code, str):
                        print(exc.code, file=sys.stderr)
        finally:
            _restore_fds(saved_fds)
            os.chdir(before)
            _put_back_environment(saved_env)
        stdout = out.getvalue() + _read_back(native_out)
        stderr = err.getvalue() + _read_back(native_err)
    return subprocess.CompletedProcess(["main.py", *map(str, args)], code, stdout, stderr)


def _put_back_environment(saved: dict[str, str]) -> None:
    """Undo what a command set in ``os.environ``, touching only the variables it changed
    (other threads may read the environment meanwhile)."""
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _redirect_fds(*files: Any) -> list[int]:
    """Point file descriptors 1 and 2 at ``files``; the saved originals."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    for fd, target in zip((1, 2), files):
        os.dup2(target.fileno(), fd)
    return saved


def _restore_fds(saved: list[int]) -> None:
    for fd, original in zip((1, 2), saved):
        os.dup2(original, fd)
        os.close(original)


def _read_back(handle: Any) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def run_cli_unprivileged(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` unable to override file permissions: as root (CI, containers) the
    child drops CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, so a mode-0 file is really unreadable
    and permission-denied paths are exercised instead of skipped."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            import pytest
            pytest.skip("running as root without setpriv (util-linux): cannot drop the "
                        "permission override, so no permission can be denied")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    return subprocess.run([*prefix, sys.executable, str(ROOT / "main.py"), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit code 2, one readable stderr line, no traceback, and the expected words."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])


def image_of(path: Path | str) -> Any:
    """A PIL image of a written picture, read from its bytes: no file is left open (a GIF's
    frames stay seekable)."""
    import io

    from PIL import Image
    return Image.open(io.BytesIO(Path(path).read_bytes()))


def csv_rows(path: Path | str) -> list[list[str]]:
    """The rows of a written CSV file (the file is closed once read)."""
    import csv
    import io
    return list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"), newline="")))


def rezip(data: bytes, change) -> bytes:
    """A zip's bytes with its members (name -> bytes) changed in place by ``change``."""
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


# --- PyTorch / ONNX references -----------------------------------------------------------------
def scripted_lstm_archive(path: Path) -> Path:
    """A small TorchScript archive (``nn.LSTM(3, 4)`` scripted, fixed seed): its code runs only
    if something loads it with ``torch.jit.load``, which the trust tests watch for."""
    import torch

    class Scripted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(3, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y, _ = self.lstm(x)
            return y

    torch.manual_seed(0)
    return save_scripted(Scripted().eval(), path)


def save_scripted(module: Any, path: Path) -> Path:
    """``torch.jit.save(torch.jit.script(module))``: torch deprecates TorchScript, whose
    archives stay a format LSTM Scope reads, so its warning is not the test's."""
    import warnings

    import torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(module), str(path))
    return path


def record_code_runs(monkeypatch) -> list[str]:
    """Every ``torch.jit.load`` (the one way a TorchScript archive's code runs), recorded and
    passed through."""
    import torch
    calls: list[str] = []
    real = torch.jit.load

    def spy(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)
    monkeypatch.setattr(torch.jit, "load", spy)
    return calls


def _torch_gates(w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, x_t: Any, h_prev: Any) -> np.ndarray:
    """i, f, g, o (B, 4, N) of one torch LSTM step from its weight matrices, float64 torch ops."""
    z = x_t.double() @ w_ih.double().T + h_prev.double() @ w_hh.double().T
    if b_ih is not None:
        z = z + b_ih.double() + b_hh.double()
    i, f, g, o = z.chunk(4, dim=-1)                         # torch's gate order
    return np.stack([i.sigmoid().numpy(), f.sigmoid().numpy(), g.tanh().numpy(),
                     o.sigmoid().numpy()], 1)


def torch_layer_references(module: Any, x: np.ndarray) -> list[dict[str, Any]]:
    """Per traced layer of a torch ``nn.LSTM`` / ``nn.LSTMCell``: h and c at every input
    position (input-aligned), computed by torch itself one step at a time.

    Each direction is re-run as a one-layer torch LSTM (or the LSTMCell itself) with the
    module's own weights, stepping a length-1 sequence and carrying (h, c), so c is observed
    at every step. Layer k+1 reads [forward h, reverse h] of layer k. ``gates`` (B, T, 4, N;
    i, f, g, o) come from the direction's own weight matrices with torch ops in float64, on the
    input and the h torch's step read.
    """
    import torch

    x = np.asarray(x, np.float32)
    out: list[dict[str, Any]] = []
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTMCell):
            h = torch.zeros(x.shape[0], module.hidden_size)
            c = torch.zeros_like(h)
            hs, cs, gs = [], [], []
            for t in range(x.shape[1]):
                gs.append(_torch_gates(module.weight_ih, module.weight_hh, module.bias_ih,
                                       module.bias_hh, torch.from_numpy(x[:, t]), h))
                h, c = module(torch.from_numpy(x[:, t]), (h, c))
                hs.append(h.numpy().copy())
                cs.append(c.numpy().copy())
            return [{"name": "", "direction": "forward", "h": np.stack(hs, 1), "c": np.stack(cs, 1),
                     "gates": np.stack(gs, 1)}]
        layer_in = x
        sd = module.state_dict()
        proj = getattr(module, "proj_size", 0) or 0
        for k in range(module.num_layers):
            outs = []
            for rev in ([False, True] if module.bidirectional else [False]):
                sfx = f"_l{k}" + ("_reverse" if rev else "")
                one = torch.nn.LSTM(layer_in.shape[2], module.hidden_size, bias=module.bias,
                                    proj_size=proj, batch_first=True)
                one.load_state_dict({name: sd[name.replace("_l0", "") + sfx]
                                     for name in one.state_dict()}, strict=True)
                b, steps = layer_in.shape[:2]
                h = torch.zeros(1, b, proj or module.hidden_size)
                c = torch.zeros(1, b, module.hidden_size)
                hs = [None] * steps
                cs = [None] * steps
                gs = [None] * steps
                order = range(steps - 1, -1, -1) if rev else range(steps)
                for t in order:
                    gs[t] = _torch_gates(one.weight_ih_l0, one.weight_hh_l0,
                                         getattr(one, "bias_ih_l0", None),
                                         getattr(one, "bias_hh_l0", None),
                                         torch.from_numpy(layer_in[:, t]), h[0])
                    _, (h, c) = one(torch.from_numpy(layer_in[:, t:t + 1]), (h, c))
                    hs[t] = h[0].numpy().copy()
                    cs[t] = c[0].numpy().copy()
                h_all, c_all = np.stack(hs, 1), np.stack(cs, 1)
                out.append({"name": f"l{k}" + ("_reverse" if rev else ""),
                            "direction": "backward" if rev else "forward", "h": h_all, "c": c_all,
                            "gates": np.stack(gs, 1)})
                outs.append(h_all)
            layer_in = np.concatenate(outs, axis=-1)
    return out


def onnx_lstm_model(w: np.ndarray, r: np.ndarray, b: np.ndarray | None = None, *,
                    p: np.ndarray | None = None, lens: np.ndarray | None = None,
                    h0: np.ndarray | None = None, c0: np.ndarray | None = None,
                    outputs: tuple[str, ...] = ("Y", "Y_h", "Y_c"), opset: int = 14,
                    name: str = "lstm", **attrs: Any) -> Any:
    """A one-node ONNX graph ``LSTM(X, W, R, B, sequence_lens, initial_h, initial_c, P)`` with
    every tensor an initializer (X is the graph input)."""
    from onnx import TensorProto, helper, numpy_helper

    inits, ins = [], ["X", "W", "R"]
    inits += [numpy_helper.from_array(np.asarray(w, np.float32), "W"),
              numpy_helper.from_array(np.asarray(r, np.float32), "R")]
    for key, arr, dtype in (("B", b, np.float32), ("L", lens, np.int32), ("H0", h0, np.float32),
                            ("C0", c0, np.float32), ("P", p, np.float32)):
        if arr is None:
            ins.append("")
        else:
            ins.append(key)
            inits.append(numpy_helper.from_array(np.asarray(arr, dtype), key))
    while ins[-1] == "":
        ins.pop()
    attrs.setdefault("hidden_size", int(np.shape(r)[2]))
    node = helper.make_node("LSTM", ins, list(outputs), name=name, **attrs)
    graph = helper.make_graph(
        [node], "lstm_graph", [helper.make_tensor_value_info("X", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs if o],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def onnx_reference_run(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime's outputs; ``onnx.reference`` for graphs ORT refuses (LSTM layout=1)."""
    layout1 = any(n.op_type == "LSTM" and any(a.name == "layout" and a.i == 1 for a in n.attribute)
                  for n in model.graph.node)
    if layout1:
        from onnx.reference import ReferenceEvaluator
        return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, feeds)]
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def onnx_lstm_step_states(x: np.ndarray, w: np.ndarray, r: np.ndarray, b: np.ndarray | None = None,
                          *, lens: np.ndarray | None = None, h0: np.ndarray | None = None,
                          c0: np.ndarray | None = None, **kw: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(h, c) (B, T, N) per direction at every input position, from the reference runtime:
    for the forward direction Y_h/Y_c of the prefix x[:t+1] (lengths min(L, t+1)); for the
    reverse direction Y_h/Y_c of the suffix x[t:] (lengths L - t), which reads L-1 down to t.
    ``x`` is batch-major (B, T, D); ``h0/c0`` are (dirs, B, N) in the node's layout 0 sense."""
    x = np.asarray(x, np.float32)
    bsz, steps = x.shape[:2]
    layout = int(kw.get("layout", 0))
    direction = kw.get("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    n = int(np.shape(r)[2])
    full = np.full(bsz, steps) if lens is None else np.asarray(lens, np.int64)
    zeros = np.zeros((dirs, bsz, n), np.float32)
    h_init = zeros if h0 is None else np.asarray(h0, np.float32)
    c_init = zeros if c0 is None else np.asarray(c0, np.float32)

    def run(xs: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hh = None if h0 is None else (h_init if layout == 0 else h_init.transpose(1, 0, 2))
        cc = None if c0 is None else (c_init if layout == 0 else c_init.transpose(1, 0, 2))
        use_lens = None if lens is None else np.asarray(lengths, np.int32)
        model = onnx_lstm_model(w, r, b, lens=use_lens, h0=hh, c0=cc, **kw)
        feed = xs if layout == 1 else xs.transpose(1, 0, 2)
        _, y_h, y_c = onnx_reference_run(model, {"X": np.ascontiguousarray(feed)})
        if layout == 1:
            y_h, y_c = y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)
        return y_h, y_c                                   # (dirs, B, N)

    hs = np.zeros((dirs, bsz, steps, n), np.float32)
    cs = np.zeros((dirs, bsz, steps, n), np.float32)
    for t in range(steps):
        if direction != "reverse":
            y_h, y_c = run(x[:, :t + 1], np.minimum(full, t + 1))
            hs[0, :, t], cs[0, :, t] = y_h[0], y_c[0]
        if direction != "forward":
            k = dirs - 1
            y_h, y_c = run(x[:, t:], np.maximum(full - t, 1))
            hs[k, :, t], cs[k, :, t] = y_h[k], y_c[k]
            past = t >= full                                # masked: the initial state carries
            hs[k, past, t], cs[k, past, t] = h_init[k, past], c_init[k, past]
    return [(hs[k], cs[k]) for k in range(dirs)]


# --- Keras 3 live references ----------------------------------------------------------------
TRACE_ARRAYS = ("x", "i", "f", "g", "o", "c", "h", "zx", "zh")


def keras_step_direction(layer: Any, x: np.ndarray, mask: np.ndarray | None, backward: bool,
                         h0: np.ndarray | None = None, c0: np.ndarray | None = None) -> dict[str, Any]:
    """One Keras LSTM direction stepped by Keras itself (``layer.cell``), input-aligned.

    h and c come from the cell's own call; gates and z parts from ``keras.ops`` on the cell's
    variables with Keras' activations (i, f, c, o order). Masked steps: NaN gates and z parts,
    h and c carried, like the Contracts.
    """
    import keras
    from keras import ops
    cell = layer.cell
    x = np.asarray(x, np.float32)
    b, steps, _ = x.shape
    n = cell.units
    cfg = layer.get_config()
    act = keras.activations.get(cfg["activation"])
    ract = keras.activations.get(cfg["recurrent_activation"])
    kernel, rec = ops.convert_to_tensor(cell.kernel), ops.convert_to_tensor(cell.recurrent_kernel)
    bias = ops.convert_to_tensor(cell.bias) if cell.use_bias else ops.zeros((4 * n,))
    h = np.zeros((b, n), np.float32) if h0 is None else np.asarray(h0, np.float32).copy()
    c = np.zeros((b, n), np.float32) if c0 is None else np.asarray(c0, np.float32).copy()
    mask = np.ones((b, steps), bool) if mask is None else np.asarray(mask, bool)
    out: dict[str, Any] = {k: np.full((b, steps, n), np.nan, np.float32) for k in "hcifgo"}
    out["zx"] = np.full((b, steps, 4, n), np.nan, np.float32)
    out["zh"] = np.full((b, steps, 4, n), np.nan, np.float32)
    for t in (range(steps - 1, -1, -1) if backward else range(steps)):
        xt = ops.convert_to_tensor(x[:, t])
        zx, zh = ops.matmul(xt, kernel), ops.matmul(ops.convert_to_tensor(h), rec)
        zi, zf, zg, zo = ops.split(zx + zh + bias, 4, axis=1)
        gates = {"i": ract(zi), "f": ract(zf), "g": act(zg), "o": ract(zo)}
        _, (hh, cc) = cell(xt, [h, c], training=False)
        keep = mask[:, t]
        for k, v in gates.items():
            out[k][keep, t] = np.asarray(v, np.float32)[keep]
        out["zx"][keep, t] = np.asarray(zx, np.float32).reshape(b, 4, n)[keep]
        out["zh"][keep, t] = np.asarray(zh, np.float32).reshape(b, 4, n)[keep]
        h = np.where(keep[:, None], np.asarray(hh, np.float32), h)
        c = np.where(keep[:, None], np.asarray(cc, np.float32), c)
        out["h"][:, t], out["c"][:, t] = h, c
    out.update(mask=mask, x=x, direction="backward" if backward else "forward")
    return out


def keras_call(layer: Any, y: Any, mask: Any) -> Any:
    kw = {}
    if getattr(layer, "_call_has_mask_arg", False) and mask is not None:
        kw["mask"] = mask
    if getattr(layer, "_call_has_training_arg", False):
        kw["training"] = False
    return layer(y, **kw)


def keras_reference(model: Any, x: np.ndarray, *, states: dict | None = None
                    ) -> list[tuple[str, dict[str, Any]]]:
    """(name, arrays) per traced direction of a *chain* Keras 3 model, in model order.

    The model is walked eagerly layer by layer with Keras' own ``compute_mask``, so each LSTM
    sees the input and mask Keras gives it; ``states`` maps a traced name to its (h0, c0).
    """
    import keras
    states = states or {}
    traced: list[tuple[str, dict[str, Any]]] = []
    y, m = x, None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        mask = None if m is None else np.asarray(m, bool)
        if isinstance(layer, keras.layers.LSTM):
            traced.append((layer.name, keras_step_direction(
                layer, np.asarray(y), mask, layer.go_backwards, *states.get(layer.name, (None, None)))))
        elif isinstance(layer, keras.layers.Bidirectional):
            for d, sub in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
                name = f"{layer.name}/{d}"
                traced.append((name, keras_step_direction(
                    sub, np.asarray(y), mask, d == "backward", *states.get(name, (None, None)))))
        out = keras_call(layer, y, m)
        m = layer.compute_mask(y, m)
        y = out[0] if isinstance(out, (list, tuple)) else out
    return traced


def assert_trace_matches(result: Any, reference: list[tuple[str, dict[str, Any]]], what: str = "",
                         errors: dict[str, float] | None = None) -> float:
    """Every traced direction's arrays (x, gates, c, h, zx, zh), mask and direction equal the
    reference within the Contracts' tolerance. Returns (and records in ``errors``) the max error."""
    assert result.names == [name for name, _ in reference], (result.names, [n for n, _ in reference])
    worst = 0.0
    for name, ref in reference:
        tr = result.layer(name)
        assert tr.direction == ref["direction"], f"{what} {name}: direction"
        assert np.array_equal(tr.mask, ref["mask"]), f"{what} {name}: mask"
        for key in TRACE_ARRAYS:
            err = assert_close(getattr(tr, key), ref[key], f"{what} {name}.{key}")
            worst = max(worst, err)
    if errors is not None:
        errors[what] = max(errors.get(what, 0.0), worst)
    return worst


def bidirectional_model(units: int = 4):
    """A small Bidirectional (``units`` each way, 2 features) under a Dense: both directions."""
    from engine.cells.cell import CellWeights
    from engine.network.layers import Bidirectional, Dense
    from engine.network.model import Model
    rng = np.random.default_rng(5)

    def cell(n, d):
        return CellWeights(rng.normal(0, .5, (d, 4 * n)).astype(np.float32),
                           rng.normal(0, .5, (n, 4 * n)).astype(np.float32),
                           np.zeros(4 * n, np.float32))
    return Model([Bidirectional("bi", cell(units, 2), cell(units, 2), return_sequences=True),
                  Dense("d", np.ones((2 * units, 1), np.float32), np.zeros(1, np.float32))],
                 source="bi")


def read_npz(path: Path | str) -> dict[str, np.ndarray]:
    """Every array of an .npz, read and closed."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def check_captured_trace(model_path: Path, inputs_path: Path, ref_path: Path, *,
                         exact_x: bool = True) -> tuple[Any, dict[str, np.ndarray], Any]:
    """Trace ``model_path`` on the inputs a fixture script saved and compare the output and
    every recorded layer (its input, h, c, and gates when saved) with the framework's run;
    returns (model, inputs, result) for further checks."""
    from engine.loaders import load_model
    model = load_model(model_path)
    inputs, ref = read_npz(inputs_path), read_npz(ref_path)
    result = model.trace(inputs)
    what = Path(model_path).stem
    assert_close(result.output, ref["output"], f"{what} output")
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layer(str(ref[f"layer{k}_name"]))
        if exact_x:      # what the framework's LSTM received, to 1e-6
            np.testing.assert_allclose(layer.x, ref[f"layer{k}_x"], atol=1e-6, rtol=0)
        assert_close(layer.h, ref[f"layer{k}_h"], f"{what} {layer.name} h")
        assert_close(layer.c, ref[f"layer{k}_c"], f"{what} {layer.name} c")
        gates = np.stack([layer.i, layer.f, layer.g, layer.o])
        assert np.isfinite(gates[:, layer.mask]).all()
        if f"layer{k}_gates" in ref:       # computed by the framework's ops from its weights
            assert_close(layer.gates, ref[f"layer{k}_gates"], f"{what} {layer.name} gates")
        k += 1
    assert k
    return model, inputs, result


def check_trace_against_reference(model, ref: dict[str, np.ndarray]):
    """``model`` traced on ``ref["x"]``: its output and every layer's name, direction and h equal
    the framework's reference (``layer{k}_name/_direction/_h``, all of them); the result."""
    result = model.trace(ref["x"])
    assert_close(result.output, ref["output"], "output")
    k = 0
    while f"layer{k}_name" in ref:
        layer = result.layers[k]
        assert layer.name == str(ref[f"layer{k}_name"])
        assert layer.direction == str(ref[f"layer{k}_direction"])
        assert_close(layer.h, ref[f"layer{k}_h"], f"{layer.name} h")
        k += 1
    assert k == len(result.layers)
    return result
