"""Save and reopen a debugging session as one file (a zip: ``session.json`` + ``.npy`` arrays).

What is saved: the model's source and the SHA-256 of its file, the input (as the session
prepared it), the traced layer, the cursor, the sample, breakpoints, watches, forks (their
*edits*, replayed on open — never their arrays), an optional second input for comparison, and
an opaque ``view`` dict the GUI hands in and gets back. A checkpointed run (docs/architecture.md,
"Long runs") is saved the same way — its input and cursor are enough, the run is recomputed on
open — plus its checkpoint threshold and interval, so that it reopens checkpointed alike.

Writes go through ``engine.system.files.atomic_write``: a crash or error leaves the previous file as
it was. Opening refuses, with a
ScopeError naming the file, a file that is not a session, is corrupt, was written by a newer
format version, or whose model file changed since (hash differs).

No field of the file decides what code runs or how much memory is used (docs/architecture.md,
"Files in, files out"): the file records that its model was opened with ``--trust``, but
``open_session`` runs the model's own code only when its caller passes ``trust=True`` (the
person's decision); a checkpointed run's interval is taken only up to what LSTM Scope would
choose itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ScopeError, describe
from ..system.archives import load_npy_bytes, open_zip, read_member
from ..system.files import atomic_write, check_readable
from ..what_if.forks import Edit

FORMAT = "lstm-scope-session"
VERSION = 1
SUFFIX = ".lstmscope"
# The one line a session saved with --trust shows when it reopens without it.
TRUST_NOTE = ("this session ran its model's own code with --trust; reopen with --trust / the "
              "dialog's confirmation to do that again")
# Open options a session file may carry into load_model: neither runs code nor widens memory.
REOPEN_OPTIONS = ("config", "allow_length")


def model_file(source: str) -> Path | None:
    """The file behind a model source ("demo:NAME", "file.pt#PREFIX", a path), if any."""
    if not source:
        return None
    if source == "demo" or source.startswith("demo:"):
        from ..loaders.demos import DEMO_DIR, demo_info
        try:
            info = demo_info(source.partition(":")[2] or "sine")
        except ScopeError:
            return None
        if info.raw.get("builtin"):
            return None
        path = DEMO_DIR / info.raw.get("model", f"{info.name}.keras")
        return path if path.is_file() else None
    path = Path(source)
    if not path.exists() and "#" in source:
        path = Path(source.rpartition("#")[0])
    return path if path.is_file() else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class SessionFile:
    """The decoded contents of a session file."""

    model_source: str
    model_sha256: str | None
    x: np.ndarray | dict[str, np.ndarray]   # the input, or every named input
    layer: int
    layer_name: str
    t: int
    sample: int | None = None
    layer_input: bool = False
    initial_state: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
    breakpoints: list[dict[str, Any]] = field(default_factory=list)
    watches: list[str] = field(default_factory=list)
    forks: list[dict[str, Any]] = field(default_factory=list)   # {name, parent, edit}
    compare_input: np.ndarray | None = None
    view: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION
    model_options: dict[str, Any] = field(default_factory=dict)   # load_model's open options (never trust)
    trusted: bool = False       # the model was opened with --trust when the session was saved
    checkpoint: dict[str, int] | None = None    # {"above": bytes, "interval": steps} if checkpointed


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def save_session(path: str | Path, debugger, *, view: dict[str, Any] | None = None,
                 compare_input: Any = None, inputs: Any = ()) -> Path:
    """Write ``debugger`` (with its session) to ``path`` atomically; returns the path.

    ``path`` may be none of the files the session reads: its model file, the model's other
    files (``Model.source_files``: --config, ONNX external data) and ``inputs``, (role, path)
    pairs the caller knows of (the input file it read)."""
    s = debugger.session
    source = s.model.source
    mfile = model_file(source)
    forks = []
    if debugger.has_forks:
        for name, fork in debugger.forks.forks.items():
            forks.append({"name": name, "parent": debugger.forks.parent_name(fork),
                          "edit": fork.edit.to_dict(),
                          "via": [e.to_dict() for e in debugger.forks.hidden_chain(fork)]})
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "model": {"source": source, "sha256": sha256_file(mfile) if mfile else None,
                  "format": s.model.format, "options": dict(s.model.open_options)},
        "layer": s.layer_index, "layer_name": s.info.name, "t": s.t, "sample": debugger.sample,
        "layer_input": s.is_layer_input,
        "breakpoints": [b.to_dict() for b in debugger.breakpoints],
        "watches": [w.expression for w in debugger.watches],
        "forks": forks,
        "view": view or {},
    }
    if s.checkpointed:
        meta["checkpoint"] = {"above": int(s.checkpoint_above), "interval": int(s.store.interval)}
    arrays = {"input.npy": _npy(s.x)}
    if s.inputs is not None:                  # a model with several named inputs: keep them all
        meta["inputs"] = list(s.inputs)
        for k, arr in enumerate(s.inputs.values()):
            arrays[f"input_{k}.npy"] = _npy(arr)
    state = s.initial_state
    if state is not None:
        items = {s.model.traced_layers[0].name: state} if isinstance(state, tuple) else dict(state)
        meta["initial_state"] = list(items)
        for k, (h0, c0) in enumerate(items.values()):
            arrays[f"state_{k}_h.npy"] = _npy(h0)
            arrays[f"state_{k}_c.npy"] = _npy(c0)
    if compare_input is not None:
        arrays["compare.npy"] = _npy(np.asarray(compare_input))
    try:
        text = json.dumps(meta, indent=1, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ScopeError(f"{path}: the view settings cannot be saved ({exc})") from None
    path = Path(path)
    protected = [("model file", mfile), *s.model.source_files, *inputs]
    with atomic_write(path, inputs=protected) as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("session.json", text)
            for name, data in arrays.items():
                zf.writestr(name, data)
    return path


def read_session(path: str | Path) -> SessionFile:
    """Decode a session file (no model is opened); ScopeError when it cannot be trusted.

    Every field is checked here, on open, so that a file that opens also works.
    """
    if not os.path.exists(path):
        raise ScopeError(f"{describe(path)}: no such session file")
    path = check_readable(path, "session file")
    where = describe(path)

    def corrupt(what: str) -> ScopeError:
        return ScopeError(f"{where}: the session file is corrupt ({what})")

    with open_zip(path, where, ScopeError, "LSTM Scope session file") as zf:
        names = set(zf.namelist())
        meta, version = _read_meta(zf, names, where, corrupt)

        def array(name: str) -> np.ndarray:
            if name not in names:
                raise corrupt(f"{name} is missing")
            arr = load_npy_bytes(read_member(zf, name, where, ScopeError), f"{where}: {name}",
                                 ScopeError, as_float32=True)
            if arr.dtype.kind not in "biuf":
                raise corrupt(f"{name} holds {arr.dtype}, not real numbers")
            return arr

        model = _field(meta, "model", dict, corrupt)
        source = _field(model, "source", str, corrupt, "model.source")
        sha = model.get("sha256")
        if sha is not None and not isinstance(sha, str):
            raise corrupt("model.sha256 is not text")
        options = model.get("options") or {}
        if not isinstance(options, dict):
            raise corrupt("model.options is not an object")
        if not isinstance(options.get("trust", False), bool):
            raise corrupt(f"model.options.trust is {options['trust']!r}, not true or false")
        x, state = _read_inputs(meta, array, corrupt)
        layer, layer_name, t, sample = _read_position(meta, corrupt)
        breakpoints, forks = _read_debugging(meta, corrupt)
        view = meta.get("view")
        view = {} if view is None else view
        if not isinstance(view, dict):
            raise corrupt("view is not an object")
        return SessionFile(
            model_source=source, model_sha256=sha, x=x, layer=layer, layer_name=layer_name,
            t=t, sample=sample, layer_input=bool(meta.get("layer_input", False)),
            initial_state=state, breakpoints=breakpoints,
            watches=_list_of(meta, "watches", str, corrupt), forks=forks,
            compare_input=array("compare.npy") if "compare.npy" in names else None,
            view=view, version=version, checkpoint=_read_checkpoint(meta, corrupt),
            model_options={k: v for k, v in options.items() if k in REOPEN_OPTIONS},
            trusted=options.get("trust") is True)


def _read_meta(zf, names: set[str], where: str, corrupt) -> tuple[dict, int]:
    """session.json decoded, and its format version (one this LSTM Scope can read)."""
    if "session.json" not in names:
        raise ScopeError(f"{where}: not an LSTM Scope session file (no session.json)")
    try:
        meta = json.loads(read_member(zf, "session.json", where, ScopeError).decode("utf-8"))
    except RecursionError:
        raise corrupt("session.json is nested too deeply") from None
    except ValueError as exc:        # JSON and UTF-8 errors
        raise corrupt(f"session.json: {str(exc)[:120]}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ScopeError(f"{where}: not an LSTM Scope session file")
    version = meta.get("version")
    if not _is_int(version):
        raise ScopeError(f"{where}: the session file has no format version")
    if version < 1:
        raise ScopeError(f"{where}: the session file's format version is {version}; LSTM Scope "
                         f"writes versions 1 to {VERSION}")
    if version > VERSION:
        raise ScopeError(f"{where}: written by a newer LSTM Scope (session format {version}; "
                         f"this version reads up to {VERSION})")
    return meta, version


def _read_inputs(meta: dict, array, corrupt) -> tuple[Any, dict | None]:
    """The input (one array, or every named input) and the initial state per layer."""
    x = _nonempty(array("input.npy"), corrupt)
    input_names = meta.get("inputs") or []
    if not isinstance(input_names, list) or not all(isinstance(n, str) for n in input_names):
        raise corrupt("inputs is not a list of input names")
    if input_names:
        x = {name: array(f"input_{k}.npy") for k, name in enumerate(input_names)}
    state_names = meta.get("initial_state") or []
    if not isinstance(state_names, list) or not all(isinstance(n, str) for n in state_names):
        raise corrupt("initial_state is not a list of layer names")
    state = {name: (array(f"state_{k}_h.npy"), array(f"state_{k}_c.npy"))
             for k, name in enumerate(state_names)} or None
    return x, state


def _nonempty(x: np.ndarray, corrupt) -> np.ndarray:
    """The session's input, refused when it holds no step to read."""
    if x.size:
        return x
    axis = x.shape.index(0) if 0 in x.shape else None
    what = {0: "samples", 2: "features"}.get(axis, "steps") if x.ndim == 3 else "steps"
    raise corrupt(f"the session's input has 0 {what} (shape {x.shape})")


def _all_nan(x: Any) -> bool:
    arrays = x.values() if isinstance(x, dict) else [x]
    return all(a.dtype.kind == "f" and a.size and bool(np.isnan(a).all()) for a in arrays)


def _read_position(meta: dict, corrupt) -> tuple[int, str, int, int | None]:
    """(layer index, layer name, t, sample) where the session was saved."""
    sample = meta.get("sample")
    if sample is not None and not (_is_int(sample) and sample >= 0):
        raise corrupt(f"sample is {sample!r}, not a sample number")
    layer, t = meta.get("layer"), meta.get("t")
    if not (_is_int(layer) and layer >= 0):
        raise corrupt(f"layer is {layer!r}, not a layer index")
    if not (_is_int(t) and t >= 0):
        raise corrupt(f"t is {t!r}, not a step count")
    layer_name = meta.get("layer_name", "")
    if not isinstance(layer_name, str):
        raise corrupt("layer_name is not text")
    return layer, layer_name, t, sample


def _read_debugging(meta: dict, corrupt) -> tuple[list[dict], list[dict]]:
    """The breakpoints and forks, each checked field by field."""
    breakpoints = _list_of(meta, "breakpoints", dict, corrupt)
    for bp in breakpoints:
        if not isinstance(bp.get("expression"), str):
            raise corrupt("a breakpoint has no expression")
        if not isinstance(bp.get("params") or {}, dict):
            raise corrupt("a breakpoint's params are not an object")
    forks = _list_of(meta, "forks", dict, corrupt)
    for fork in forks:
        _check_fork(fork, corrupt)
    return breakpoints, forks


def _read_checkpoint(meta: dict, corrupt) -> dict | None:
    """A checkpointed run's setting ({above: bytes, interval: steps}), else None."""
    checkpoint = meta.get("checkpoint")
    if checkpoint is not None and not (
            isinstance(checkpoint, dict) and set(checkpoint) == {"above", "interval"}
            and _is_int(checkpoint["above"]) and checkpoint["above"] >= 0
            and _is_int(checkpoint["interval"]) and checkpoint["interval"] > 0):
        raise corrupt("checkpoint is not {above: bytes, interval: steps}")
    return checkpoint


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(obj: dict[str, Any], key: str, kind: type, corrupt, label: str | None = None) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise corrupt(f"{label or key} is missing or not {_KIND_NAMES.get(kind, kind.__name__)}")
    return value


def _list_of(obj: dict[str, Any], key: str, kind: type, corrupt) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise corrupt(f"{key} is not a list of {_KIND_NAMES.get(kind, kind.__name__)}s")
    return value


_KIND_NAMES = {dict: "object", str: "text", list: "list"}
_EDIT_KINDS = ("h", "c", "x", "perturb", "decouple")


def _check_fork(fork: dict[str, Any], corrupt) -> None:
    """A fork entry: a name, an optional parent, and edits with fields of the right type."""
    if not isinstance(fork.get("name"), str):
        raise corrupt("a fork has no name")
    if fork.get("parent") is not None and not isinstance(fork["parent"], str):
        raise corrupt("a fork's parent is not a name")
    via = fork.get("via", [])
    if not isinstance(via, list):
        raise corrupt("a fork's 'via' is not a list")
    for edit in [fork.get("edit"), *via]:
        if not isinstance(edit, dict) or edit.get("kind") not in _EDIT_KINDS:
            raise corrupt("a fork's edit has no known kind")
        if not _is_int(edit.get("position", 0)) or edit.get("position", 0) < 0:
            raise corrupt("a fork's edit position is not a step")
        unit = edit.get("unit")
        if unit is not None and not (_is_int(unit) and unit >= 0):
            raise corrupt("a fork's edit unit is not a unit number")
        delta = edit.get("delta", 0.0)
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not np.isfinite(delta):
            raise corrupt("a fork's edit delta is not a finite number")
        values = edit.get("values")
        if values is not None:
            try:
                arr = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError, OverflowError, RecursionError):
                raise corrupt("a fork's edit values are not numbers") from None
            if arr.size > 10_000_000:
                raise corrupt("a fork's edit values are too many")


def open_session(path: str | Path, *, trust: bool = False, loader=None):
    """Reopen a saved session exactly: returns (session, debugger, SessionFile).

    The model is opened from its recorded source and refused when its file's hash changed.
    ``trust`` is the caller's decision (the person's: ``--trust``, the window's confirmation),
    never the file's: a session saved with trust reopens without it unless ``trust`` is given,
    and its warnings say so (``TRUST_NOTE``).
    """
    from ..loaders import load_model
    from .debugger import Breakpoint, Debugger

    data = read_session(path)
    where = describe(path)
    notes = _check_model_file(data, where)
    config = data.model_options.get("config")
    if config:            # read like every file (engine.loaders.keras_h5), and shown
        notes.append(f"the session opens its model with --config {describe(config)}")
    options = dict(data.model_options, trust=True) if trust else data.model_options
    model = (loader or load_model)(data.model_source, **options)
    if data.trusted and not trust:
        notes.append(TRUST_NOTE)
    nan_input = _all_nan(data.x)
    if nan_input:
        notes.append("the session's input is all NaN: every number of its run is NaN")
    model.warnings.extend(n for n in notes if n not in model.warnings)
    if data.layer >= len(model.traced_layers):
        raise ScopeError(f"{where}: the session traced layer {data.layer}, the model has "
                         f"{len(model.traced_layers)} traced layers")
    try:
        session = _reopen_run(model, data)
        if data.layer_name and session.info.name != data.layer_name:
            raise ScopeError(f"{where}: layer {data.layer} is now '{session.info.name}', "
                             f"the session traced '{data.layer_name}'")
        if data.t > session.steps:
            raise ScopeError(f"{where}: the cursor t={data.t} is past the input's "
                             f"{session.steps} steps")
        if data.sample is not None and data.sample >= session.batch:
            raise ScopeError(f"{where}: sample {data.sample} is outside the input's "
                             f"{session.batch} samples")
        session.seek(data.t)
        dbg = Debugger(session, sample=data.sample)
        for bp in data.breakpoints:
            dbg.add_breakpoint(Breakpoint.from_dict(bp))
        for w in data.watches:
            dbg.add_watch(w)
        for f in data.forks:
            dbg.fork(Edit.from_dict(f["edit"]), parent=f.get("parent"), name=f["name"],
                     via=[Edit.from_dict(e) for e in f.get("via", [])])
    except ScopeError as exc:
        detail = str(exc).removeprefix(f"{where}: ")
        if nan_input:
            raise ScopeError(f"{where}: the session's input is all NaN, which this model cannot "
                             f"read ({detail})") from None
        if data.trusted and not trust:    # the run may have needed the model's own code
            raise ScopeError(f"{where}: {TRUST_NOTE} (without it: {detail})") from None
        if where in str(exc):
            raise
        raise ScopeError(f"{where}: cannot restore the session: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise ScopeError(f"{where}: the session file is corrupt ({type(exc).__name__}: "
                         f"{str(exc)[:120]})") from None
    return session, dbg, data


def _check_model_file(data: SessionFile, where: str) -> list[str]:
    """Refuse a model file whose recorded SHA-256 differs (or that is gone); the warnings to
    show when the file recorded none (a bundled demo needs none)."""
    mfile = model_file(data.model_source)
    if data.model_sha256 is None:
        if mfile is None or data.model_source.startswith("demo"):
            return []
        return [f"the session recorded no SHA-256 of its model file {describe(mfile)}: LSTM Scope "
                f"cannot tell whether the file changed since the session was saved"]
    if mfile is None:
        raise ScopeError(f"{where}: the model file {describe(data.model_source)} is missing")
    if sha256_file(mfile) != data.model_sha256:
        raise ScopeError(f"{where}: the model file {describe(mfile)} changed since the session "
                         f"was saved (SHA-256 differs); open the model again instead")
    return []


def _reopen_run(model, data: SessionFile):
    """The session's run; a checkpointed one reopens checkpointed, at most at this machine's
    memory budget and with chunks no longer than LSTM Scope would choose here."""
    from ..runs.checkpoints import choose_interval
    from ..session import Session
    from ..system.budget import memory_budget
    ck = data.checkpoint or {}

    def run(interval: int | None) -> Session:
        return Session(model, data.x, layer=data.layer, initial_state=data.initial_state,
                       layer_input=data.layer_input,
                       checkpoint_above=min(ck["above"], memory_budget()) if ck else None,
                       checkpoint_interval=interval)
    session = run(ck.get("interval"))
    if session.checkpointed and session.store.interval > choose_interval(session.batch,
                                                                        session.info.weights):
        session = run(None)
    return session
