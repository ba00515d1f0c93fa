"""An ``xlstm`` package ``xLSTMBlockStack`` from a saved state dict plus its config
(``--config cfg.yaml|json``): the stack is built as the package's own examples build it from a
config (plain data into ``xLSTMBlockStackConfig`` with ``dacite.from_dict``, strict), its
weights loaded from the file, and its sLSTM and mLSTM cells traced as a live module's are
(``xlstm_modules``; the package's blocks run, the engine steps the cells; docs/architecture.md,
"sLSTM").

The config is data: JSON, or YAML read with ``yaml.safe_load`` (no tags, no objects; OmegaConf
interpolations such as ``${...}`` are not resolved, so they stay strings and are refused where a
number is wanted). What it may choose is what the package's dataclasses hold; a setting that
needs CUDA (the sLSTM's ``cuda`` backend, the package's default, compiles a CUDA kernel and
keeps its weights in another layout) is refused in one line before anything is built. The
weights file is read as every PyTorch file is (``torch.load(weights_only=True)`` or
safetensors' numpy API).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, UnsupportedModelError, describe
from ..network.model import Model
from .keras_common import read_config_text

XLSTM_HINT = "pip install -e '.[xlstm]' (torch and the xlstm package)"
BACKEND_FIX = "set slstm_block: slstm: backend: vanilla in the config and save the weights of " \
              "a model built that way"


def read_stack_config(config_path: str | Path) -> dict[str, Any]:
    """The config file as plain data: a JSON object, or a YAML mapping (safe loader)."""
    where = describe(Path(config_path))
    text = read_config_text(config_path)
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except ImportError:
        raise ModelFileError(f"{where}: reading a YAML config needs PyYAML ({XLSTM_HINT})") from None
    except Exception as exc:  # noqa: BLE001 - json and yaml raise their own error types
        line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{where}: not a JSON or YAML xLSTM config ({line})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{where}: an xLSTM config is a mapping of settings "
                             f"(xLSTMBlockStackConfig's fields), not {type(data).__name__}")
    return data


def refuse_cuda(data: dict[str, Any], where: str) -> None:
    """One line when the config asks for something that needs CUDA: the sLSTM's ``cuda``
    backend (also the package's default when ``backend`` is not given)."""
    block = data.get("slstm_block")
    if block is None:
        return
    layer = block.get("slstm") if isinstance(block, dict) else None
    backend = layer.get("backend", "cuda") if isinstance(layer, dict) else "cuda"
    if backend != "vanilla":
        said = f"backend '{backend}'" if isinstance(layer, dict) and "backend" in layer \
            else "no backend, so the package's default 'cuda'"
        raise UnsupportedModelError(
            f"{where}: the config's sLSTM blocks have {said}, which compiles a CUDA kernel and "
            f"keeps the weights in another layout; LSTM Scope steps the package's reference "
            f"cell on CPU: {BACKEND_FIX}")


def stack_config(data: dict[str, Any], where: str) -> Any:
    """``xLSTMBlockStackConfig`` from plain data, as the package builds it (dacite, strict)."""
    try:
        import dacite
        from xlstm import xLSTMBlockStackConfig
    except ImportError as exc:
        raise ModelFileError(f"{where}: an xLSTM config needs the {exc.name} package: "
                             f"{XLSTM_HINT}") from None
    try:
        return dacite.from_dict(xLSTMBlockStackConfig, data, config=dacite.Config(strict=True))
    except Exception as exc:  # noqa: BLE001 - dacite and the dataclasses' __post_init__ raise anything
        raise ModelFileError(f"{where}: not an xLSTMBlockStack config ({_first_line(exc)})") from None


def load_xlstm_stack(path: Path, kind: str, config_path: str | Path) -> Model:
    """The sLSTM cells of an ``xLSTMBlockStack`` built from ``config_path`` and holding the
    state dict in ``path`` (a torch file or safetensors), traced through the live stack."""
    where = describe(path)
    cfg_where = describe(Path(config_path))
    data = read_stack_config(config_path)
    refuse_cuda(data, cfg_where)
    from .torch_state import safetensors_arrays, torch_arrays
    arrays = safetensors_arrays(path) if kind == "safetensors" else torch_arrays(path)
    _check_block_count(data.get("num_blocks", 1), arrays, where, cfg_where)
    cfg = stack_config(data, cfg_where)
    try:
        import torch
        from xlstm import xLSTMBlockStack
    except ImportError as exc:
        raise ModelFileError(f"{where}: an xLSTM stack needs the {exc.name} package: "
                             f"{XLSTM_HINT}") from None
    shapes = _build(xLSTMBlockStack, cfg, cfg_where, torch.device("meta"))   # no memory yet
    _check_state(shapes, arrays, where, cfg_where)
    module = _build(xLSTMBlockStack, cfg, cfg_where, torch.device("cpu"))
    state = {k: torch.from_numpy(np.ascontiguousarray(arrays[k])).to(v.dtype)
             for k, v in module.state_dict().items()}
    module.load_state_dict(state, strict=True)
    return _stack_model(module.eval(), path, cfg_where)


def _build(stack_class: Any, cfg: Any, cfg_where: str, device: Any) -> Any:
    """The package's stack for ``cfg`` on ``device`` (``meta`` first: shapes, no memory), or
    one line when the package refuses the config."""
    try:
        with device:
            return stack_class(cfg)
    except Exception as exc:  # noqa: BLE001 - the package's constructors raise anything
        raise ModelFileError(f"{cfg_where}: the xlstm package cannot build this stack "
                             f"({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_block_count(num_blocks: Any, arrays: dict[str, np.ndarray], where: str,
                       cfg_where: str) -> None:
    """A config of more blocks than the file holds weights for is refused before the package
    lays them out (``num_blocks: 10**9`` would fill memory with its block map); a value that
    is not a whole number is left to the config's own check."""
    held = {key.split(".")[1] for key in arrays if key.startswith("blocks.")}
    if isinstance(num_blocks, int) and not isinstance(num_blocks, bool) \
            and num_blocks > len(held):
        raise ModelFileError(f"{where}: holds the weights of {len(held)} blocks, but "
                             f"{cfg_where} describes a stack of {num_blocks}")


def _check_state(shapes: Any, arrays: dict[str, np.ndarray], where: str, cfg_where: str) -> None:
    """The file's arrays against the stack the config describes (built on the meta device):
    every key and shape alike, and the whole stack, buffers too, within the memory budget."""
    from ..system.budget import check_bytes
    tensors = [*shapes.parameters(), *shapes.buffers()]
    check_bytes(sum(t.numel() * t.element_size() for t in tensors),
                f"{cfg_where}: the stack it describes", error=ModelFileError)
    own = shapes.state_dict()
    missing = [k for k in own if k not in arrays]
    extra = [k for k in arrays if k not in own]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it lacks {_listed(missing)}")
        if extra:
            parts.append(f"it holds {_listed(extra)} that the config's stack has not")
        raise ModelFileError(f"{where}: not the state dict of the stack {cfg_where} describes: "
                             f"{'; '.join(parts)}")
    for key, value in own.items():
        if tuple(arrays[key].shape) != tuple(value.shape):
            raise ModelFileError(f"{where}: '{key}' has shape {tuple(arrays[key].shape)}, the "
                                 f"stack {cfg_where} describes has {tuple(value.shape)}")


def _listed(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"'{k}'" for k in keys[:limit])
    return shown + (f" ... ({len(keys)} keys)" if len(keys) > limit else "")


def _stack_model(module: Any, path: Path, cfg_where: str) -> Model:
    """A Model of the stack's sLSTM and mLSTM cells, run by the stack itself (capture) on its input
    ``x`` (B, T, embedding_dim)."""
    from ..capture.feed import Runtime
    from ..capture.torch_capture import TorchCapture
    from .xlstm_modules import is_xlstm_cell, xlstm_ops
    ops_by_path = {name: xlstm_ops(name, mod) for name, mod in module.named_modules()
                   if is_xlstm_cell(mod)}
    if not ops_by_path:
        raise UnsupportedModelError(f"{cfg_where}: the stack has no sLSTM or mLSTM blocks, and "
                                    f"LSTM Scope steps only the cells of an xLSTM stack")
    model = Model(ops=[op for ops in ops_by_path.values() for op in ops], source=str(path),
                  format="xlstm state dict + config", name="xLSTMBlockStack", chain=False)
    model.input_names = ["x"]
    model.runtime = Runtime("torch", XLSTM_HINT,
                            lambda: TorchCapture(module, ops_by_path, ["x"]))
    return model
