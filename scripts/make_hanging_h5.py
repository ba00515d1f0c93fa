"""Write tests/fixtures/hostile/*.h5: two legacy Keras files on which h5py (HDF5 2.0.0, h5py
3.16.0) loops forever at 100% CPU while reading the root attributes (``model_config``,
``keras_version``). Each is ``tests/fixtures/keras2/lstm_plain.h5`` with one byte changed in the
global heap collection (``GCOL``) that holds those variable-length string attributes; found by a
single-byte mutation search (bit flips, 0x00, 0xFF) over that heap and the root object header.

They keep the bounded HDF5 reader honest against a real hang, not a stub that sleeps
(docs/architecture.md, "Files in, files out"). Deterministic, rerunnable:
``python scripts/make_hanging_h5.py`` (it checks the clean byte before changing it).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "fixtures" / "keras2" / "lstm_plain.h5"
OUT = ROOT / "tests" / "fixtures" / "hostile"

# name: (offset, byte in the clean file, byte written), offsets in lstm_plain.h5 (GCOL at 2048)
MUTATIONS = {
    # the collection's size field (bytes 8-15 of the GCOL header): 4096 -> 6144, past its end
    "gcol_collection_size.h5": (2057, 0x10, 0x18),
    # heap object 1's size (bytes 8-15 of its header; the "2.21.0" keras_version): 6 -> 2054
    "gcol_object_size.h5": (2073, 0x00, 0x08),
}


def mutant(name: str) -> bytes:
    """The bytes of fixture ``name``, made from the clean file."""
    offset, clean, new = MUTATIONS[name]
    data = bytearray(SOURCE.read_bytes())
    if data[offset] != clean:
        raise SystemExit(f"{SOURCE}: byte {offset} is {data[offset]:#04x}, expected {clean:#04x}; "
                         "the clean fixture changed, search again")
    data[offset] = new
    return bytes(data)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in MUTATIONS:
        (OUT / name).write_bytes(mutant(name))
        print(OUT / name)


if __name__ == "__main__":
    main()
