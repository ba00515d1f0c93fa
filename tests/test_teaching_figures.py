"""scripts/make_teaching_figures.py remakes every figure of docs/ that the README shows: its
list of commands runs (in process, through main.main) into a temporary folder, so a change
that breaks one of them fails here, not in the README."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re

from tests.helpers import ROOT


def _script():
    spec = importlib.util.spec_from_file_location("make_teaching_figures",
                                                  ROOT / "scripts" / "make_teaching_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_makes_every_figure_the_readme_shows(tmp_path, monkeypatch):
    import main
    script = _script()
    batch, wave = script.make_inputs(tmp_path)
    commands = script.figures(tmp_path, batch, wave)
    made = {cmd[cmd.index("--out") + 1].rsplit("/", 1)[-1] for cmd in commands}
    shown = set(re.findall(r"\]\(docs/([^)]+\.(?:png|gif))\)", (ROOT / "README.md").read_text()))
    assert shown and shown <= made, f"README images no command makes: {shown - made}"
    monkeypatch.chdir(ROOT)                          # the Bidirectional model's relative path
    for cmd in commands:
        if "--width" in cmd:                         # the same figure, fewer pixels to encode
            cmd[cmd.index("--width") + 1] = "640"
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main.main(cmd)
        assert code == 0, f"main.py {' '.join(cmd)} exited {code}: {out.getvalue()}"
        path = tmp_path / cmd[cmd.index("--out") + 1].rsplit("/", 1)[-1]
        assert path.stat().st_size > 1000, path

