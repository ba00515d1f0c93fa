"""The one table of model-and-input options: how a model is opened and what one run of it is
made of. ``trace``, ``grad``, ``info``, ``export`` (``main.py``) add their options from it, and
the window's Open-with-options dialog (``gui.widgets.open_options``) builds its rows from it,
so an option is declared, worded and limited to the commands that can use it in one place.
See docs/architecture.md, "Command line".
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COMMANDS = ("trace", "grad", "info", "export", "window")     # "window": Open with options…
ALL = COMMANDS
RUNS = ("trace", "grad", "export", "window")                   # commands that run a model


@dataclass(frozen=True)
class ModelOption:
    """One option: its flag, words, the commands that take it and how the dialog shows it."""

    flag: str
    help: str
    commands: tuple[str, ...]
    part: str                    # "run": what one run is made of; "open": how the file is opened
    kind: str = "text"           # "text", "file" (a path) or "flag" (on/off)
    label: str = ""              # the dialog's words
    file_filter: str = ""        # the dialog's file chooser filter
    placeholder: str = ""
    helps: Mapping[str, str] = field(default_factory=dict)    # a command's own wording

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def help_for(self, command: str) -> str:
        return self.helps.get(command, self.help)


MODEL_OPTIONS: tuple[ModelOption, ...] = (
    ModelOption("--input", "input sequence (.npy .npz .csv); demos have a default", ALL, "run",
                "file", "Input (optional):",
                helps={"info": "an input: also show the shapes only the input decides"}),
    ModelOption("--key", "array name inside an .npz input", ALL, "run", "text",
                "Array in an .npz input:", placeholder="the input's only array"),
    ModelOption("--layer", "traced layer name or index (default: the first)", ALL, "run", "text",
                "Traced layer:", placeholder="name or index (default: the first)",
                helps={"info": "with --layer-input: the traced layer whose own input --input "
                               "is (default: the first)"}),
    ModelOption("--initial-state",
                ".npz with h0 and c0 (batch, units), or LAYER/h0, LAYER/c0 per layer", RUNS, "run",
                "file", "Initial state (optional):", "Initial state (*.npz);;All files (*)"),
    ModelOption("--layer-input", "the input is the chosen layer's own input (for non-chain models)",
                ALL, "run", "flag",
                "The input is the chosen layer's own input (for models that are not a chain)"),
    ModelOption("--config", "Keras model config (JSON, model.to_json()) for a weights-only .h5 "
                "file, or the xlstm package's xLSTMBlockStack config (YAML or JSON) for its "
                "state dict (.pt, .safetensors)",
                ALL, "open", "file", "Model config (weights-only .h5, xLSTM state dict):",
                "Model configs (*.json *.yaml *.yml);;All files (*)",
                placeholder="model.to_json(), or the xLSTMBlockStack config the weights were "
                            "trained with"),
    ModelOption("--allow-length", "run a Keras model at another input length or batch size than "
                "its file fixes (with a warning)", ALL, "open", "flag",
                "Allow another input length or batch size than the file fixes (with a warning)"),
    ModelOption("--trust", "let a TorchScript archive's own code run, to capture what its LSTMs "
                "receive (only for files you trust)", ALL, "open", "flag",
                "Trust this file: let a TorchScript archive's own code run, to capture what its "
                "LSTMs receive"),
)


def options_for(command: str, part: str | None = None) -> list[ModelOption]:
    """The table's options ``command`` takes (of one ``part``), in table order."""
    if command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    return [o for o in MODEL_OPTIONS if command in o.commands and part in (None, o.part)]


def add_model_options(parser: argparse.ArgumentParser, command: str, part: str) -> None:
    """Add ``command``'s options of ``part`` ("run" or "open") to its parser."""
    for option in options_for(command, part):
        if option.kind == "flag":
            parser.add_argument(option.flag, action="store_true", help=option.help_for(command))
        else:
            parser.add_argument(option.flag, help=option.help_for(command))


def load_options(values: Any) -> dict[str, Any]:
    """``load_model``'s keyword options (config, allow_length, trust) from parsed arguments or a
    mapping (the dialog's values)."""
    get = values.get if isinstance(values, Mapping) else (lambda name: getattr(values, name, None))
    return {"config": get("config") or None, "allow_length": bool(get("allow_length")),
            "trust": bool(get("trust"))}


__all__ = ["COMMANDS", "MODEL_OPTIONS", "ModelOption", "add_model_options", "load_options",
           "options_for"]
