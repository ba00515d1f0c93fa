"""The README's Python example runs as written, and its two set-up commands are what CI runs."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no python example"
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(1, 50, 1024) float32" in proc.stdout


def test_long_run_example_runs():
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S)
              if "checkpoint_above" in b]
    assert blocks, "README has no long-run example"
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(1, 2000, 8) True" in proc.stdout


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(pip install[^\n]*)\n```", README)
    assert len(commands) == 2, commands
    install_and_open, install_and_test = commands
    assert install_and_open.endswith("python main.py")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci
    assert "-eq 5" in ci  # pytest's "no tests collected" must fail CI
    assert "check_skips.py" in ci and "--junitxml" in ci   # and so must an unknown skip


def test_export_examples_with_the_demo_run(tmp_path, capsys):
    """Every ``python main.py export demo ...`` line of the README works as written (in this
    process: the command line is main.main's; a fresh interpreter per line only adds start-up,
    which test_cli and test_export_cli cover)."""
    import main
    lines = re.findall(r"^python main.py (export demo[^#\n]*)", README, flags=re.M)
    assert len(lines) >= 3, lines
    for line in lines:
        args = shlex.split(line)
        out = args.index("--out") + 1
        args[out] = str(tmp_path / args[out])
        code = main.main(args)
        assert code == 0, (line, capsys.readouterr().err)
        assert (tmp_path / Path(args[out]).name).stat().st_size > 0


def test_live_module_example_runs():
    """The 'From a script or notebook' example: engine.from_torch on a conv + LSTM module."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "from_torch" in b]
    assert blocks, "README has no engine.from_torch example"
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "['rnn.l0']" in proc.stdout and "(2, 30, 16) (2, 30, 16)" in proc.stdout


def test_every_engine_path_the_readme_names_resolves():
    """``engine.teaching.top_links``, ``engine.debugger.Debugger`` ...: each dotted path the README
    names imports as written in a fresh interpreter, wherever the engine keeps that code."""
    paths = sorted(set(re.findall(r"\bengine(?:\.[A-Za-z_]\w*)+", README)))
    assert {"engine.debugger.Debugger", "engine.teaching.top_links", "engine.features.find_units",
            "engine.stateful.trace_segments"} <= set(paths), paths
    check = ("import importlib, sys\n"
             "for path in sys.argv[1:]:\n"
             "    parts = path.split('.')\n"
             "    for cut in range(len(parts), 0, -1):\n"
             "        try:\n"
             "            obj = importlib.import_module('.'.join(parts[:cut]))\n"
             "            break\n"
             "        except ModuleNotFoundError:\n"
             "            continue\n"
             "    for name in parts[cut:]:\n"
             "        obj = getattr(obj, name)\n")
    proc = subprocess.run([sys.executable, "-c", check, *paths], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
