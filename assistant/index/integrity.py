"""Checks that a local store's vector index files are whole before Chroma's native code reads them.

Chroma loads its HNSW index (`chroma/<segment uuid>/*.bin`, hnswlib's persistence format, and
`index_metadata.pickle`, its map from chunk ids to index labels) without checking it: measured
with chromadb 1.5, a truncated `data_level0.bin` silently returns the wrong neighbours, an
emptied `length.bin` returns wrong vectors, garbled links crash the whole process with a
segmentation fault, and an id map cut short fails every read. These checks read the format's
own header and reject files that cannot be a valid index. A format they do not know (another
persistence version) is left to Chroma rather than guessed at.

Chroma rewrites these files in place as it goes, so a process killed at the wrong moment
leaves them cut short. The index is derived data (the database holds every chunk), so damage
there is a DamagedIndexError, which opening the store repairs (assistant/index/repair.py); a
damaged database is a StoreError that says to rebuild.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from assistant.errors import DamagedIndexError, StoreError

# hnswlib's persisted header: version, offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, label_offset, offsetData, maxlevel, enterpoint_node, maxM, maxM0,
# M, mult, ef_construction.
_HEADER = struct.Struct("<i6QiI3QdQ")
_VERSION = 1
_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin")
_MAX_DEGREE = 1 << 16  # link counts are 16-bit
ID_MAP = "index_metadata.pickle"
# Written beside `chroma/` while a repair runs, naming the Chroma collections being re-indexed:
# a repair cut short is redone by the next open.
REPAIRING = "repairing.json"


def check_files(store: Path, repairing: bool = False) -> None:
    """A local store's files, before Chroma opens them: Chroma would quietly start an empty
    database in place of a missing one, and crashes or answers wrongly on a damaged index.
    `repairing`: the repair itself opens it (its mark is no damage then)."""
    folder = store / "chroma"
    if not folder.is_dir():
        return
    database = folder / "chroma.sqlite3"
    has_index = any(p.is_dir() for p in folder.iterdir())
    if has_index and not (database.is_file() and database.stat().st_size > 0):
        raise StoreError(f"The store at {store} is damaged: its database chroma.sqlite3 is missing or "
                         f"empty. Rebuild it: ingest into a new --store (or delete this one).")
    damaged = {segment: problems for segment, problems in segment_problems(folder).items() if problems}
    if damaged or (store / REPAIRING).exists() and not repairing:
        detail = "; ".join(f"{name}: {p}" for name, problems in damaged.items() for p in problems)
        raise DamagedIndexError(f"The store at {store} is damaged: {detail or 'a repair was cut short'}. "
                                f"Rebuild it: ingest into a new --store (or delete this one).", sorted(damaged))


def segment_problems(chroma_dir: Path) -> dict[str, list[str]]:
    """Each HNSW segment folder under a local Chroma folder, with what is wrong with it."""
    found: dict[str, list[str]] = {}
    for segment in sorted(p for p in chroma_dir.iterdir() if p.is_dir()):
        present = [f for f in _FILES if (segment / f).is_file()]
        if not present:
            continue  # not an index segment (or one not yet written)
        missing = [f for f in _FILES if f not in present]
        found[segment.name] = [f"{', '.join(missing)} missing"] if missing else _segment_problems(segment)
        id_map = segment / ID_MAP
        if id_map.is_file() and not _whole_pickle(id_map):
            found[segment.name].append(f"{ID_MAP} is cut short")
    return found


def _whole_pickle(path: Path) -> bool:
    """A pickle ends with its STOP opcode; one cut short (or emptied) does not."""
    with path.open("rb") as fh:
        if fh.seek(0, 2) == 0:
            return False
        fh.seek(-1, 2)
        return fh.read(1) == b"."


def _segment_problems(segment: Path) -> list[str]:
    raw = (segment / "header.bin").read_bytes()
    if len(raw) < 4:
        return [f"header.bin is {len(raw)} bytes"]
    if int.from_bytes(raw[:4], "little", signed=True) != _VERSION:
        return []  # a format these checks do not know: Chroma's to judge
    if len(raw) != _HEADER.size:
        return [f"header.bin is {len(raw)} bytes, not {_HEADER.size}"]
    (_, offset0, max_elements, count, per_element, label_offset, data_offset, max_level, entry,
     max_m, max_m0, m, _mult, _ef) = _HEADER.unpack(raw)
    sane = (offset0 == 0 and count <= max_elements and 0 < m <= max_m <= max_m0 < _MAX_DEGREE
            and data_offset == 4 + 4 * max_m0 and data_offset < label_offset == per_element - 8
            and (count == 0 or (0 <= max_level < 64 and entry < count)))
    if not sane:
        return ["header.bin holds impossible values"]
    if count == 0:
        return []
    problems = [f"{name} is {size:,} bytes, shorter than the {need:,} its {count:,} elements need"
                for name, need in (("data_level0.bin", count * per_element), ("length.bin", count * 4))
                if (size := (segment / name).stat().st_size) < need]
    if problems:
        return problems
    # Level 0: each element starts with a 16-bit link count and max_m0 neighbour ids.
    data = np.memmap(segment / "data_level0.bin", dtype=np.uint8, mode="r", shape=(count * per_element,))
    counts = np.ndarray((count,), np.uint16, data, 0, (per_element,))
    links = np.ndarray((count, max_m0), np.uint32, data, 4, (per_element, 4))
    if not _links_ok(counts, links, max_m0, count):
        problems.append("data_level0.bin has links outside the index")
    if not _upper_levels_ok(segment / "link_lists.bin", count, max_m, max_level):
        problems.append("link_lists.bin is damaged")
    return problems


def _links_ok(counts: np.ndarray, links: np.ndarray, degree: int, count: int) -> bool:
    if counts.size and int(counts.max()) > degree:
        return False
    used = np.arange(degree) < counts[:, None]
    return not used.any() or int(links[used].max()) < count


def _upper_levels_ok(path: Path, count: int, max_m: int, max_level: int) -> bool:
    """link_lists.bin: per element a uint32 byte size, then that many bytes of upper-level
    link lists (each a 4-byte count and max_m ids)."""
    raw = path.read_bytes()
    per_level = 4 + 4 * max_m
    blocks: list[bytes] = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(raw):
            return False
        size = int.from_bytes(raw[pos:pos + 4], "little")
        pos += 4
        if size:
            if size % per_level or size // per_level > max_level or pos + size > len(raw):
                return False
            blocks.append(raw[pos:pos + size])
            pos += size
    if not blocks:
        return True
    lists = np.frombuffer(b"".join(blocks), dtype=np.uint32).reshape(-1, 1 + max_m)
    return _links_ok((lists[:, 0] & 0xFFFF).astype(np.uint16), lists[:, 1:], max_m, count)
