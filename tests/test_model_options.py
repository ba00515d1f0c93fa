"""One table of model-and-input options (engine.network.model_options): trace, grad, info and export
add theirs from it, worded by it and in its order, and a change to the table changes every
command that takes the option; export gains --layer-input and --initial-state, info takes
--layer-input (with --layer). The window's dialog is tested in tests/gui/test_live_show.py."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

import main
from engine.network import model_options
from engine.network.model_options import MODEL_OPTIONS, ModelOption, options_for
from tests.helpers import FIXTURES, assert_close, load_reference

CLI_COMMANDS = ("trace", "grad", "info", "export")
KERAS3 = FIXTURES / "keras3"


def _parser(command: str) -> argparse.ArgumentParser:
    parser = main.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _model_flags(command: str, flags: set[str]) -> list[argparse.Action]:
    return [a for a in _parser(command)._actions if set(a.option_strings) & flags]


@pytest.mark.parametrize("command", CLI_COMMANDS)
def test_each_command_takes_the_tables_options_in_its_words_and_order(command):
    flags = {o.flag for o in MODEL_OPTIONS}
    actions = _model_flags(command, flags)
    assert [a.option_strings[0] for a in actions] == [o.flag for o in options_for(command)]
    for action, option in zip(actions, options_for(command)):
        assert action.help == option.help_for(command)
        assert isinstance(action, argparse._StoreTrueAction) == (option.kind == "flag")
        assert action.dest == option.dest


def test_an_option_added_to_the_table_reaches_every_command(monkeypatch):
    probe = ModelOption("--probe-option", "a probe", ("grad", "export", "window"), "run")
    monkeypatch.setattr(model_options, "MODEL_OPTIONS", (*MODEL_OPTIONS, probe))
    for command in CLI_COMMANDS:
        taken = bool(_model_flags(command, {"--probe-option"}))
        assert taken == (command in probe.commands), command


def test_every_command_that_runs_a_model_takes_every_run_option():
    for command in ("trace", "grad", "export", "window"):
        assert [o.flag for o in options_for(command)] == [
            "--input", "--key", "--layer", "--initial-state", "--layer-input", "--config",
            "--allow-length", "--trust"], command
    assert "--initial-state" not in [o.flag for o in options_for("info")]


def test_export_with_layer_input_traces_a_graph_that_is_not_a_chain(tmp_path):
    ref = load_reference(KERAS3 / "functional_branches.npz")
    np.save(tmp_path / "lx.npy", ref["layer0_x"])
    out = tmp_path / "units.npz"
    assert main.main(["export", str(KERAS3 / "functional_branches.keras"), "--input",
                      str(tmp_path / "lx.npy"), "--layer-input", "--out", str(out)]) == 0
    with np.load(out) as data:
        assert_close(data["h"], ref["layer0_h"][:1], "export --layer-input h (sample 0)")


def test_export_with_an_initial_state_starts_there(tmp_path):
    h0 = np.full((1, 12), 0.5, np.float32)
    c0 = np.full((1, 12), -0.25, np.float32)
    np.savez(tmp_path / "state.npz", h0=h0, c0=c0)
    base = ["demo", "--initial-state", str(tmp_path / "state.npz")]
    assert main.main(["trace", *base, "--out", str(tmp_path / "t.npz")]) == 0
    assert main.main(["export", *base, "--out", str(tmp_path / "u.npz")]) == 0
    with np.load(tmp_path / "t.npz") as traced, np.load(tmp_path / "u.npz") as exported:
        np.testing.assert_array_equal(exported["h0"], h0)
        np.testing.assert_array_equal(exported["c0"], c0)
        np.testing.assert_array_equal(exported["h"], traced["h"])


def test_info_with_layer_input_shows_that_layers_run(tmp_path, capsys):
    ref = load_reference(KERAS3 / "functional_branches.npz")
    np.save(tmp_path / "lx.npy", ref["layer0_x"])
    assert main.main(["info", str(KERAS3 / "functional_branches.keras"), "--input",
                      str(tmp_path / "lx.npy"), "--layer-input", "--layer", "0", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    (name,) = run["layers"]
    assert run["layers"][name]["h"] == list(ref["layer0_h"].shape)
    assert run["inputs"] == {name: list(ref["layer0_x"].shape)}


@pytest.mark.parametrize(("args", "said"), [
    (["--layer", "0"], "--layer names the layer whose own input --input is"),
    (["--layer-input"], "--layer-input says what --input is: give --input"),
])
def test_info_refuses_layer_options_it_cannot_use_in_one_line(capsys, args, said):
    assert main.main(["info", "demo", *args]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1, err
