"""Property: no field of any file LSTM Scope reads makes it run the file's code.

For every kind of file (session, Keras ``.keras`` and ``.h5``, a weights-only ``.h5``'s
``--config``, an xLSTM state dict's ``--config``, a PyTorch state dict, a TorchScript archive, ``.safetensors``, ONNX, ``.npy`` /
``.npz`` inputs and ``--initial-state`` files) and every option-like field of it (trust,
safe_mode, weights_only, allow_pickle, budgets, paths, versions), the field is set to a drawn
value (sometimes with one more option-like key added elsewhere) and the file is opened the way
a user opens it, without trust. Every entry point that runs code from a file is watched and
fails loudly: TorchScript (``torch.jit.load``), ``torch.load`` without ``weights_only=True``,
Keras with ``safe_mode`` off or a Lambda's marshalled bytecode, the unpicklers
(``pickle.load(s)``, ``numpy.load(allow_pickle=True)``). None may be reached. A positive
control shows that the watchers do fire when the person asks for it.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import main
from engine import ScopeError, Session, load_model
from engine.debugging.debugger import Debugger
from engine.debugging.session_file import open_session, save_session
from tests.generative import generative_settings
from tests.helpers import FIXTURES, rezip, scripted_lstm_archive

pytestmark = pytest.mark.generative
PROPERTY = generative_settings(3)

OPTION_KEYS = ("trust", "safe_mode", "weights_only", "allow_pickle", "unsafe", "trusted",
               "memory_budget", "LSTM_SCOPE_MEMORY_BUDGET", "config", "path", "source", "version")
TRUTHY = (True, 1, "true", "yes", [True], {"trust": True})
ANY = (*TRUTHY, False, 0, -1, 2**62, None, "", "../../../../etc/passwd", "/dev/zero")
LAMBDA = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
          "config": {"name": "lstm", "function": {"class_name": "__lambda__",
                                                  "config": {"code": "4wAAAA==", "defaults": None,
                                                             "closure": None}}}}


class CodeRan(BaseException):
    """A code-running entry point was reached (BaseException: no handler may swallow it)."""


@pytest.fixture
def watched(monkeypatch) -> list[str]:
    """The code-running entry points, each recording its call and failing loudly."""
    import keras
    from keras.src.utils import python_utils
    calls: list[str] = []

    def refuse(name: str) -> Callable:
        def entry(*args, **kwargs):
            calls.append(name)
            raise CodeRan(name)
        return entry

    def only_if(name: str, real: Callable, safe: Callable[[dict], bool]) -> Callable:
        def entry(*args, **kwargs):
            if not safe(kwargs):
                calls.append(name)
                raise CodeRan(name)
            return real(*args, **kwargs)
        return entry

    weights_only = only_if("torch.load(weights_only=False)", torch.load,
                           lambda kw: kw.get("weights_only") is True)
    for owner, attr, entry in (
            (torch.jit, "load", refuse("torch.jit.load")),
            (torch, "load", weights_only), (torch.serialization, "load", weights_only),
            (pickle, "load", refuse("pickle.load")), (pickle, "loads", refuse("pickle.loads")),
            (np, "load", only_if("numpy.load(allow_pickle=True)", np.load,
                                 lambda kw: not kw.get("allow_pickle"))),
            (keras.saving, "load_model", only_if("keras load_model(safe_mode=False)",
                                                 keras.saving.load_model,
                                                 lambda kw: kw.get("safe_mode", True) is True)),
            (keras.config, "enable_unsafe_deserialization",
             refuse("keras enable_unsafe_deserialization")),
            (python_utils, "func_load", refuse("keras func_load (a Lambda's bytecode)"))):
        monkeypatch.setattr(owner, attr, entry)
    return calls


# --- the files, as a user has them ---------------------------------------------------------------
class Pickled:
    """What a pickle would rebuild by running code: a class of the file's."""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    import keras
    tmp = tmp_path_factory.mktemp("no_code")
    archive = scripted_lstm_archive(tmp / "scripted.pt")
    x3 = np.random.default_rng(0).standard_normal((1, 6, 3)).astype(np.float32)
    np.save(tmp / "x3.npy", x3)
    save_session(tmp / "s.lstmscope", Debugger(Session(load_model(str(archive)), x3)))
    keras.utils.set_random_seed(4)
    m = keras.Sequential([keras.Input((None, 3)), keras.layers.LSTM(4, name="lstm")])
    m.save_weights(tmp / "m.weights.h5")
    (tmp / "m.json").write_text(m.to_json())
    torch.save(Pickled(), tmp / "object.pt")            # only unpickling could open it
    np.save(tmp / "objects.npy", np.array([Pickled()], dtype=object), allow_pickle=True)
    return {"archive": archive, "x3": tmp / "x3.npy", "session": tmp / "s.lstmscope",
            "weights": tmp / "m.weights.h5", "config": tmp / "m.json",
            "object.pt": tmp / "object.pt", "objects.npy": tmp / "objects.npy"}


def _resolve(value: Any, files: dict[str, Path]) -> Any:
    """``{name}`` in a drawn value names one of ``files``."""
    if isinstance(value, str) and "{" in value:
        return value.format(**{k.replace(".", "_"): v for k, v in files.items()})
    return value


# --- setting one field ---------------------------------------------------------------------------
def _set(doc: Any, path: str, value: Any) -> None:
    """``doc[a][b]... = value`` for ``path`` "a.b..." (numbers index lists; missing objects
    are added)."""
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _objects(value: Any) -> list[dict]:
    found = [value] if isinstance(value, dict) else []
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        found += _objects(child)
    return found


@st.composite
def set_field(draw, doc: Any, path: str, values: tuple) -> Any:
    """``doc`` (JSON) with ``path`` set to a drawn value, and sometimes one more option-like
    key set in one of its objects."""
    doc = json.loads(json.dumps(doc))
    _set(doc, path, draw(st.sampled_from(values)))
    if draw(st.booleans()):
        obj = draw(st.sampled_from(_objects(doc)))
        obj[draw(st.sampled_from(OPTION_KEYS))] = draw(st.sampled_from(ANY))
    return doc


def _json_member(draw, data: bytes, member: str, path: str, values: tuple) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = json.loads(zf.read(member))
    doc = draw(set_field(doc, path, values))
    return rezip(data, lambda m: m.__setitem__(member, json.dumps(doc).encode()))


def _trace(tmp: Path, model: Path, x: Path, *extra: Any) -> None:
    """``main.py trace`` as a user runs it (no --trust), writing into ``tmp``: it succeeds or
    refuses in one line."""
    code = main.main(["trace", str(model), "--input", str(x), "--out", str(tmp / "trace_out.npz"),
                      *map(str, extra)])
    assert code in (0, 2)


# --- each kind of file: its option-like fields and how a user opens it --------------------------
def _session(draw, files, tmp, field, values) -> None:
    values = tuple(_resolve(v, files) for v in values)
    path = tmp / "s.lstmscope"
    path.write_bytes(_json_member(draw, files["session"].read_bytes(), "session.json", field, values))
    open_session(path)


def _keras_rebuild(path: Path, config: Path | None = None) -> None:
    """What the capture worker runs to rebuild a Keras file (here, in this process)."""
    from engine.capture.keras_capture import load_keras_file
    load_keras_file(path, None if config is None else str(config))


def _keras3(draw, files, tmp, field, values) -> None:
    member, _, path_in = field.partition(":")
    path = tmp / "m.keras"
    path.write_bytes(_json_member(draw, (FIXTURES / "keras3" / "lstm_last.keras").read_bytes(),
                                  member, path_in, values))
    _trace(tmp, path, FIXTURES / "keras3" / "lstm_last.npz")
    _keras_rebuild(path)


def _h5(draw, files, tmp, field, values) -> None:
    import h5py
    path = tmp / "m.h5"
    shutil.copy(FIXTURES / "keras2" / "lstm_plain.h5", path)
    attr, _, path_in = field.partition(":")
    with h5py.File(path, "r+") as h5:
        if path_in:
            doc = draw(set_field(json.loads(h5.attrs[attr]), path_in, values))
            h5.attrs[attr] = json.dumps(doc)
        else:
            h5.attrs[attr] = json.dumps(draw(st.sampled_from(values)))
    _trace(tmp, path, FIXTURES / "keras2" / "lstm_plain.npz")
    _keras_rebuild(path)


def _config(draw, files, tmp, field, values) -> None:
    path = tmp / "c.json"
    path.write_text(json.dumps(draw(set_field(json.loads(files["config"].read_text()), field,
                                              values))))
    _trace(tmp, files["weights"], files["x3"], "--config", path)
    _keras_rebuild(files["weights"], path)


def _xlstm_config(draw, files, tmp, field, values) -> None:
    """An xLSTM state dict's --config (YAML) with one field set: the config is data, built into
    the package's dataclasses; nothing in it names code to run."""
    import yaml
    values = tuple(_resolve(v, files) for v in values)
    doc = yaml.safe_load((FIXTURES / "xlstm" / "slstm_h4.yaml").read_text(encoding="utf-8"))
    path = tmp / "c.yaml"
    path.write_text(yaml.safe_dump(draw(set_field(doc, field, values))), encoding="utf-8")
    _trace(tmp, FIXTURES / "xlstm" / "slstm_h4.pt", FIXTURES / "xlstm" / "slstm_h4.npz",
           "--key", "x", "--config", path)


def _torchscript(draw, files, tmp, field, values) -> None:
    data = files["archive"].read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = zf.namelist()[0].split("/")[0]
    value = json.dumps(draw(st.sampled_from(values))).encode()
    path = tmp / "m.pt"
    path.write_bytes(rezip(data, lambda m: m.__setitem__(f"{root}/{field}", value)))
    _trace(tmp, path, files["x3"])


def _torch(draw, files, tmp, field, values) -> None:
    if field == "a pickled object":
        path = files["object.pt"]
    else:
        state = dict(torch.load(FIXTURES / "torch" / "lstm_1layer.pt", weights_only=True))
        state[field] = draw(st.sampled_from(values))
        path = tmp / "m.pt"
        torch.save(state, path)
    _trace(tmp, path, FIXTURES / "torch" / "lstm_1layer.npz")


def _safetensors(draw, files, tmp, field, values) -> None:
    raw = (FIXTURES / "torch" / "lstm_safetensors.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    header["__metadata__"] = {**(header.get("__metadata__") or {}),
                              field: str(draw(st.sampled_from(values)))}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = tmp / "m.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])
    _trace(tmp, path, FIXTURES / "torch" / "lstm_safetensors.npz")


def _onnx(draw, files, tmp, field, values) -> None:
    import onnx
    model = onnx.load(str(FIXTURES / "onnx" / "forward.onnx"))
    value = str(draw(st.sampled_from(values)))
    if field == "doc_string":
        model.doc_string = json.dumps({"trust": value})
    else:
        onnx.helper.set_model_props(model, {field: value})
    path = tmp / "m.onnx"
    onnx.save(model, str(path))
    _trace(tmp, path, FIXTURES / "onnx" / "forward.npz")


def _npz(arrays: dict[str, np.ndarray], path: Path, objects: Path | None) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    if objects is not None:              # one member holding pickled objects
        data = rezip(data, lambda m: m.__setitem__("objects.npy", objects.read_bytes()))
    path.write_bytes(data)
    return path


def _inputs(draw, files, tmp, field, values) -> None:
    model = FIXTURES / "keras2" / "lstm_plain.h5"
    x = np.load(FIXTURES / "keras2" / "lstm_plain.npz")["x"]
    objects = files["objects.npy"] if draw(st.booleans()) else None
    option = {field: np.array(json.dumps(draw(st.sampled_from(values))))}
    kind = draw(st.sampled_from(["input .npz", "--initial-state .npz", "input .npy"]))
    if kind == "input .npy":
        _trace(tmp, model, files["objects.npy"])
    elif kind == "input .npz":
        _trace(tmp, model, _npz({"x": x, **option}, tmp / "x.npz", objects), "--key", "x")
    else:
        np.save(tmp / "x.npy", x)
        state = {"h0": np.zeros((2, 4), np.float32), "c0": np.zeros((2, 4), np.float32), **option}
        _trace(tmp, model, tmp / "x.npy", "--initial-state", _npz(state, tmp / "s.npz", objects))


ARCHIVE_PATHS = ("{archive}", "{archive}#lstm", "{object_pt}", "{objects_npy}", "demo:small",
                 "/dev/zero", "../../../../etc/passwd")
KERAS_CONFIG = {"safe_mode": (False, *TRUTHY), "trust": TRUTHY,
                "config.layers.1": (LAMBDA,), "config.layers.1.registered_name": ("builtins>eval",),
                "keras_version": ("2.3.1", "", None)}
KINDS: dict[str, tuple[Callable, dict[str, tuple]]] = {
    "session": (_session, {
        "model.options.trust": (*TRUTHY, False, None),
        "model.options.config": ("{config}", "/dev/zero", "{archive}", 7),
        "model.options.allow_length": TRUTHY,
        "model.sha256": (None, "", "0" * 64),
        "model.source": ARCHIVE_PATHS,
        "model.format": ("torchscript", "pickle", "keras3"),
        "version": (0, -1, 1, 2, "1", True),
        "checkpoint": ({"above": 0, "interval": 2**30}, {"above": 2**62, "interval": 256}),
        "trust": TRUTHY}),
    "keras3": (_keras3, {**{f"config.json:{k}": v for k, v in KERAS_CONFIG.items()},
                         "metadata.json:keras_version": ("2.3.1", "", None),
                         "metadata.json:trust": TRUTHY, "metadata.json:safe_mode": (False,)}),
    "h5": (_h5, {"model_config:config.layers.1": (LAMBDA,), "model_config:safe_mode": (False,),
                 "keras_version": ("2.3.1", "3.15.1", ""), "backend": ("tensorflow", "pickle"),
                 "trust": TRUTHY, "safe_mode": (False,)}),
    "--config": (_config, KERAS_CONFIG),
    "xlstm --config": (_xlstm_config, {
        "trust": TRUTHY, "_target_": ("os.system", "builtins.eval", "{archive}"),
        "slstm_block.slstm.backend": ("cuda", "vanilla", "{archive}", None),
        "slstm_block.slstm.function": ("eval", "{archive}", "slstm"),
        "slstm_block.feedforward.act_fn": ("eval", "os.system", "gelu")}),
    "torchscript": (_torchscript, {"extra/trust": TRUTHY, ".data/version": (1, 99, "x"),
                                   "trust.json": TRUTHY}),
    "torch": (_torch, {"trust": TRUTHY[:3], "weights_only": (False, 0), "allow_pickle": (True,),
                       "a pickled object": (None,)}),
    "safetensors": (_safetensors, {"trust": TRUTHY, "weights_only": (False,),
                                   "format": ("pickle", "pt", "torchscript")}),
    "onnx": (_onnx, {"trust": TRUTHY, "safe_mode": (False,), "doc_string": TRUTHY}),
    "inputs": (_inputs, {"trust": TRUTHY, "allow_pickle": TRUTHY, "meta": ANY}),
}
CASES = [(kind, field) for kind, (_, fields) in KINDS.items() for field in fields]


@pytest.mark.parametrize(("kind", "field"), CASES, ids=[f"{k}:{f}" for k, f in CASES])
@PROPERTY
@given(data=st.data())
def test_no_field_of_any_file_runs_its_code(files, watched, tmp_path_factory, capsys, data,
                                            kind, field):
    watched.clear()
    tmp = tmp_path_factory.mktemp("case")
    opener, fields = KINDS[kind]
    try:
        opener(data.draw, files, tmp, field, fields[field])
    except ScopeError:
        pass                           # a refusal is fine; running the file's code is not
    capsys.readouterr()
    assert watched == [], f"{kind} {field}: reached {watched}"


def test_the_watchers_fire_when_the_person_trusts(files, watched):
    """Positive control: trust given by the person does reach the watched entry point, so the
    property above can fail."""
    with pytest.raises(CodeRan):
        load_model(str(files["archive"]), trust=True)
    with pytest.raises(CodeRan):
        np.load(files["objects.npy"], allow_pickle=True)
    with pytest.raises(CodeRan):
        torch.load(files["object.pt"], weights_only=False)
    assert watched == ["torch.jit.load", "numpy.load(allow_pickle=True)",
                       "torch.load(weights_only=False)"]
