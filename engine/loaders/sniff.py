"""Which model format a file holds, read from its first bytes (and a zip's member names),
never from its suffix: checkpoints arrive as ``model``, ``best.ckpt`` or ``weights.bin``.

Kinds: ``keras3`` (zip with config.json), ``torch`` (torch.save zip with ``*/data.pkl``, or a
legacy pickle), ``torchscript`` (torch.jit.save zip: ``*/constants.pkl`` or ``*/code/``),
``safetensors`` (8-byte little-endian header length, then a JSON object), ``h5`` (HDF5
signature), ``onnx`` (a protobuf ModelProto: field 1 ``ir_version`` first, then a known field).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from ..system.archives import BadMemberName, zip_archive

_HDF5 = b"\x89HDF\r\n\x1a\n"
# ModelProto field tags (field number << 3 | wire type) that may follow ir_version
_ONNX_NEXT_TAGS = {0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x52, 0x72, 0x7A, 0x82}
SUFFIX_KINDS = {".keras": "keras3", ".h5": "h5", ".hdf5": "h5", ".pt": "torch", ".pth": "torch",
                ".bin": "torch", ".ckpt": "torch", ".jit": "torchscript",
                ".safetensors": "safetensors", ".onnx": "onnx"}
TORCH_KINDS = ("torch", "torchscript", "safetensors")


def sniff(path: Path) -> str | None:
    """The format of ``path`` by content, or None when the bytes say nothing we know."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PK"):
        return _zip_kind(path)
    if head.startswith(_HDF5):
        return "h5"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "torch"                       # a pickle: torch.save's legacy format
    if _is_safetensors(path, head):
        return "safetensors"
    if _is_onnx(head):
        return "onnx"
    return None


def kind_of(path: Path) -> str | None:
    """Content first; the suffix only for files whose bytes are unrecognisable (so that the
    loader of the format the user meant reports what is wrong with them)."""
    return sniff(path) or SUFFIX_KINDS.get(path.suffix.lower())


def _zip_kind(path: Path) -> str | None:
    """The kind of a zip by its member names; ``BadMemberName`` (a name that is not UTF-8)
    propagates: no loader could read such an archive either."""
    try:
        with zip_archive(path) as archive:
            names = archive.namelist()
    except BadMemberName:
        raise
    except (zipfile.BadZipFile, OSError):
        return None
    if "config.json" in names:
        return "keras3"
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "torch"
    return None


def _is_safetensors(path: Path, head: bytes) -> bool:
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and 2 <= length <= path.stat().st_size - 8


def _is_onnx(head: bytes) -> bool:
    """ir_version (tag 0x08, a small varint), then another ModelProto field."""
    return len(head) >= 3 and head[0] == 0x08 and 0 < head[1] < 0x80 and head[2] in _ONNX_NEXT_TAGS
