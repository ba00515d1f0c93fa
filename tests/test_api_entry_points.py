"""The Python API where people call it: a plain script with no ``if __name__ == "__main__":``
guard that imports torch, Keras or JAX first, a script fed on stdin, ``python -c`` and a real
Jupyter kernel. Each opens a ``.keras`` and a ``.h5`` file (the HDF5 reader's worker), a model
only Keras can run (the Keras capture worker), ``from_torch``/``from_keras`` and a Session; the
script's own side effect must run exactly once (a worker that re-imports the caller's
``__main__`` runs it again, or fails because it cannot).

The script importing torch runs the engine's compiled steps as a user's would; the others run
the numpy path (``LSTM_SCOPE_JIT=0``): what they test is the process boundary, and numba's
import and cached kernels cost each of them about a second of CPU (numba next to torch, Keras
and JAX in one process is what the test process itself runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import FIXTURES

pytestmark = pytest.mark.slow

# each framework's part of the script: import it first, then what it lets a user do
FIRST = {
    "torch": """
        import torch
        """,
    "keras": """
        import keras
        """,
    "jax": """
        import jax
        import jax.numpy as jnp
        jnp.zeros(3).block_until_ready()       # XLA's threads are running
        """,
}
LIVE = {
    "torch": """
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.LSTM(3, 4, batch_first=True))
        live = engine.from_torch(net, torch.zeros(1, 5, 3))
        ref, _ = net(torch.zeros(1, 5, 3))
        assert np.allclose(live.result().layer(0).h, ref.detach().numpy(), atol=1e-5)
        """,
    "keras": """
        net = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, name="lstm")])
        live = engine.from_keras(net, np.zeros((1, 5, 3), np.float32))
        assert live.model.traced_layers[0].name == "lstm"
        """,
    "jax": "",
}
# what every script does after its framework: files through the HDF5 reader, a Session,
# and a model whose Conv1D only Keras can run (the capture worker)
COMMON = """
    import pathlib
    import numpy as np
    import engine

    FIX = pathlib.Path({fixtures!r})
    with open({mark!r}, "a") as fh:
        fh.write("ran\\n")
    for name in ("keras3/bidirectional_concat.keras", "keras2/lstm_plain.h5"):
        model = engine.load_model(FIX / name)
        ref = np.load(FIX / (name.rsplit(".", 1)[0] + ".npz"))
        result = model.trace(ref["x"])
        assert np.allclose(result.layer(0).h, ref["layer0_h"], atol=1e-5), name
        s = engine.Session(model, ref["x"])
        s.seek(3)
        assert s.t == 3
    captured = engine.load_model(FIX / "capture" / "conv1d_lstm.keras")
    signal = np.load(FIX / "capture" / "conv1d_lstm.input.npz")["signal"]
    assert captured.trace(signal).layer(0).h.shape[:2] == signal.shape[:2]
    """


def script(tmp_path: Path, framework: str, capture: bool = True) -> str:
    """A user's script, no ``__main__`` guard; it appends one line to ``ran.txt``."""
    common = COMMON.format(fixtures=str(FIXTURES), mark=str(tmp_path / "ran.txt"))
    if not capture:
        common = common[:common.index("    captured =")]
    parts = [FIRST[framework], common, LIVE[framework], 'print("DONE")\n']
    return "\n".join(textwrap.dedent(p) for p in parts)


def env(compiled: bool = False) -> dict[str, str]:
    """The test's environment for a child, Keras on numpy; without the compiled steps unless
    ``compiled`` (see the module docstring)."""
    out = dict(os.environ)
    out.setdefault("KERAS_BACKEND", "numpy")
    if not compiled:
        out["LSTM_SCOPE_JIT"] = "0"
    return out


def assert_ran_once(proc: subprocess.CompletedProcess, tmp_path: Path) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "DONE", proc.stdout
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


@pytest.mark.parametrize("framework", ["torch", "keras", "jax"])
def test_a_script_without_a_main_guard(tmp_path, framework):
    path = tmp_path / "user_script.py"
    path.write_text(script(tmp_path, framework, capture=framework == "torch"))
    proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path,
                          env=env(compiled=framework == "torch"),
                          capture_output=True, text=True, timeout=600)
    assert_ran_once(proc, tmp_path)


def test_a_script_fed_on_stdin(tmp_path):
    """``python - < script.py``: its ``__main__`` has no file at all."""
    proc = subprocess.run([sys.executable, "-"], input=script(tmp_path, "torch", capture=False),
                          cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=600)
    assert_ran_once(proc, tmp_path)


def test_python_dash_c(tmp_path):
    proc = subprocess.run([sys.executable, "-c", script(tmp_path, "keras", capture=False)],
                          cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=600)
    assert_ran_once(proc, tmp_path)


def test_a_jupyter_kernel(tmp_path, monkeypatch):
    """A real ipykernel, driven by nbclient as Jupyter drives it: one cell per step."""
    monkeypatch.setenv("LSTM_SCOPE_JIT", "0")            # the kernel inherits this environment
    import nbformat
    from nbclient import NotebookClient
    cells = [FIRST["torch"] + FIRST["keras"],
             COMMON.format(fixtures=str(FIXTURES), mark=str(tmp_path / "ran.txt")),
             LIVE["torch"], LIVE["keras"], 'print("DONE")']
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(c))
                                         for c in cells])
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(out.get("text", "") for cell in nb.cells for out in cell.outputs)
    assert "DONE" in printed
    assert (tmp_path / "ran.txt").read_text() == "ran\n"
