"""Save and reopen a debugging session as one file (a zip: ``session.json`` + ``.npy`` arrays).

What is saved: the model's source and the SHA-256 of its file, the input (as the session
prepared it), the traced layer, the cursor, the sample, breakpoints, watches, forks (their
*edits*, replayed on open — never their arrays), an optional second input for comparison, and
an opaque ``view`` dict the GUI hands in and gets back.

Writes go through ``engine.files.atomic_write``: a crash or error leaves the previous file as
it was. Opening refuses, with a
ScopeError naming the file, a file that is not a session, is corrupt, was written by a newer
format version, or whose model file changed since (hash differs).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ScopeError
from .files import atomic_write
from .forks import Edit

FORMAT = "lstm-scope-session"
VERSION = 1
SUFFIX = ".lstmscope"


def model_file(source: str) -> Path | None:
    """The file behind a model source ("demo:NAME", "file.pt#PREFIX", a path), if any."""
    if not source:
        return None
    if source == "demo" or source.startswith("demo:"):
        from .loaders.demos import DEMO_DIR, demo_info
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
    x: np.ndarray
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


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def save_session(path: str | Path, debugger, *, view: dict[str, Any] | None = None,
                 compare_input: Any = None) -> Path:
    """Write ``debugger`` (with its session) to ``path`` atomically; returns the path."""
    s = debugger.session
    source = s.model.source
    mfile = model_file(source)
    forks = []
    if debugger._forks is not None:
        for name, fork in debugger.forks.forks.items():
            forks.append({"name": name, "parent": debugger.forks.parent_name(fork),
                          "edit": fork.edit.to_dict(),
                          "via": [e.to_dict() for e in debugger.forks.hidden_chain(fork)]})
    meta: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "model": {"source": source, "sha256": sha256_file(mfile) if mfile else None,
                  "format": s.model.format},
        "layer": s.layer_index, "layer_name": s.info.name, "t": s.t, "sample": debugger.sample,
        "layer_input": bool(s._layer_input),
        "breakpoints": [b.to_dict() for b in debugger.breakpoints],
        "watches": [w.expression for w in debugger.watches],
        "forks": forks,
        "view": view or {},
    }
    arrays = {"input.npy": _npy(s.x)}
    state = s._initial_state
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
    with atomic_write(path, inputs=[("model", mfile)]) as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("session.json", text)
            for name, data in arrays.items():
                zf.writestr(name, data)
    return path


def read_session(path: str | Path) -> SessionFile:
    """Decode a session file (no model is opened); ScopeError when it cannot be trusted."""
    path = Path(path)
    if not path.is_file():
        raise ScopeError(f"{path}: no such session file")
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("session.json").decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ScopeError(f"{path}: not an LSTM Scope session file")
            version = meta.get("version")
            if not isinstance(version, int):
                raise ScopeError(f"{path}: the session file has no format version")
            if version > VERSION:
                raise ScopeError(f"{path}: written by a newer LSTM Scope (session format {version}; "
                                 f"this version reads up to {VERSION})")

            def load(name: str) -> np.ndarray:
                return np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
            x = load("input.npy")
            state = None
            if meta.get("initial_state"):
                state = {name: (load(f"state_{k}_h.npy"), load(f"state_{k}_c.npy"))
                         for k, name in enumerate(meta["initial_state"])}
            compare = load("compare.npy") if "compare.npy" in zf.namelist() else None
            model = meta["model"]
            return SessionFile(
                model_source=str(model["source"]), model_sha256=model.get("sha256"), x=x,
                layer=int(meta["layer"]), layer_name=str(meta.get("layer_name", "")),
                t=int(meta["t"]), sample=meta.get("sample"),
                layer_input=bool(meta.get("layer_input", False)), initial_state=state,
                breakpoints=list(meta.get("breakpoints", [])),
                watches=[str(w) for w in meta.get("watches", [])],
                forks=list(meta.get("forks", [])), compare_input=compare,
                view=dict(meta.get("view") or {}), version=version)
    except ScopeError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, UnicodeDecodeError, OSError,
            EOFError, AttributeError) as exc:
        raise ScopeError(f"{path}: the session file is corrupt ({type(exc).__name__}: {exc})") from None


def open_session(path: str | Path, *, loader=None):
    """Reopen a saved session exactly: returns (session, debugger, SessionFile).

    The model is opened from its recorded source and refused when its file's hash changed.
    """
    from .debugger import Breakpoint, Debugger
    from .loaders import load_model
    from .session import Session

    data = read_session(path)
    mfile = model_file(data.model_source)
    if data.model_sha256 is not None:
        if mfile is None:
            raise ScopeError(f"{path}: the model file {data.model_source} is missing")
        if sha256_file(mfile) != data.model_sha256:
            raise ScopeError(f"{path}: the model file {mfile} changed since the session was "
                             f"saved (SHA-256 differs); open the model again instead")
    model = (loader or load_model)(data.model_source)
    try:
        session = Session(model, data.x, layer=data.layer, initial_state=data.initial_state,
                          layer_input=data.layer_input)
        if data.layer_name and session.info.name != data.layer_name:
            raise ScopeError(f"{path}: layer {data.layer} is now '{session.info.name}', "
                             f"the session traced '{data.layer_name}'")
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
        raise ScopeError(f"{path}: cannot restore the session: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ScopeError(f"{path}: the session file is corrupt ({type(exc).__name__}: {exc})") from None
    return session, dbg, data
