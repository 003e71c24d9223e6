"""Sentence vectors made at ingestion, saved beside the store, read by answers.

An extractive answer scores every sentence of its passages, each read with its document's title
and the best alone (assistant/answering/relevance.py); encoding them was nine tenths of a news
answer's time, and a team's questions seldom repeat enough for the in-memory cache
(sentence_vectors.py) to help. Ingestion encodes them once (ingest/sentences.py) and saves them
here; an answer looks its sentences up and encodes only those not found (a passage joined from
neighbouring chunks, an archive ingested before this existed).

Keyed like the cache, by the exact text encoded (an 8-byte BLAKE2b digest), so a vector can only
belong to its text: nothing is ever stale, and what the archive no longer holds is only unused
space, dropped when shards are merged. Each shard is a folder written whole under a hidden name
and renamed into place, so a reader never sees half of one: its sorted keys, float16 vectors (the
model's bf16 output keeps fewer bits than that), the chunks it covers (all of each one's
sentences are in the store once the shard is) and, per vector, the chunk it was made for. A
shard that fails its checks (CRCs, the vectors' shape) is not read, and the next ingestion makes
it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.index.places import local_cache_dir
from assistant.index.segment import crc, crc_text
from assistant.settings import Settings

FILES = ("keys.npy", "vectors.npy", "owners.npy", "chunks.json")
# The vectors file is checked by its shape against meta.json, not read whole for a CRC: at a
# million chunks it is some 9 GB, seconds at every reader's start and every sync; a flipped bit
# in it nudges one sentence's rank, where one in the keys would hand a sentence another's vector.
CHECKED = ("keys.npy", "owners.npy", "chunks.json")
BLOCK = 65_536  # vectors copied at a time by a merge
MAX_SHARDS = 8  # more than this after an ingestion: merged into one
GARBAGE = 0.25  # ... or when more than this share of the chunks covered is gone from the store
RECHECK_S = 2.0  # how often a reader looks for shards written since (a stat of the folder)


def key_of(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def keys_of(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter((key_of(t) for t in texts), dtype=np.uint64, count=len(texts))


@dataclass
class Shard:
    """Vectors saved together: `keys` sorted, `vectors[i]` for `keys[i]`, made for chunk
    `chunks[owners[i]]`; `chunks` are the chunks whose sentences it completes."""

    name: str
    keys: np.ndarray
    vectors: np.ndarray
    owners: np.ndarray
    chunks: list[str]

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Per key, its row here, or -1."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1)

    @classmethod
    def load(cls, folder: Path) -> Shard | None:
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.pop("check", None) != crc_text(meta):
                return None
            if any(crc(folder / f) != meta["crc"][f] for f in CHECKED):
                return None
            keys = np.load(folder / "keys.npy")
            vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            owners = np.load(folder / "owners.npy")
            chunks = json.loads((folder / "chunks.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None  # damaged, or removed by a merge while being read
        if not len(keys) == len(vectors) == len(owners) == meta["vectors"] or vectors.dtype != np.float16:
            return None
        return cls(folder.name, keys, vectors, owners, chunks)


class SentenceStore:
    """The saved sentence vectors of one store and embedding model. `lookup` is safe from many
    threads; one writer at a time (an ingestion holds the store's write lock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._shards: list[Shard] = []
        self._seen: int | None = None  # the folder's mtime when its shards were listed
        self._checked = 0.0
        self._lock = threading.Lock()

    @classmethod
    def of(cls, settings: Settings) -> SentenceStore:
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", settings.embed_model)
        return cls(local_cache_dir(settings) / "sentences" / model)

    @property
    def shards(self) -> list[Shard]:
        now = time.monotonic()
        with self._lock:
            if self._seen is None or now - self._checked > RECHECK_S:
                self._checked = now
                try:
                    mtime = self.folder.stat().st_mtime_ns
                except OSError:
                    mtime = 0
                if mtime != self._seen:
                    self._seen = mtime
                    self._shards = self._listed()
            return self._shards

    def _listed(self) -> list[Shard]:
        known = {s.name: s for s in self._shards}
        out = []
        for folder in sorted(self._folders()):
            shard = known.get(folder.name) or Shard.load(folder)
            if shard is not None:
                out.append(shard)
        return out

    def _folders(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def saved(self) -> tuple[int, int]:
        """(chunks whose sentences are saved, bytes on disk), from the shards' meta.json alone:
        cheap enough for `assistant status`."""
        chunks = size = 0
        for folder in self._folders():
            try:
                chunks += int(json.loads((folder / "meta.json").read_text())["chunks"])
                size += sum(f.stat().st_size for f in folder.iterdir())
            except (OSError, ValueError, KeyError, TypeError):
                continue  # half written or damaged: the next sync makes it again
        return chunks, size

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found: bool per text, float32 vectors: zero rows where not found)."""
        shards = self.shards
        found = np.zeros(len(texts), dtype=bool)
        if not shards or not texts:
            return found, np.zeros((len(texts), 0), dtype=np.float32)
        keys = keys_of(texts)
        out = np.zeros((len(texts), shards[0].vectors.shape[1]), dtype=np.float32)
        for shard in shards:
            wanted = np.flatnonzero(~found)
            if not len(wanted):
                break
            rows = shard.find(keys[wanted])
            hit = rows >= 0
            out[wanted[hit]] = shard.vectors[rows[hit]]
            found[wanted[hit]] = True
        return found, out

    def has(self, keys: np.ndarray) -> np.ndarray:
        found = np.zeros(len(keys), dtype=bool)
        for shard in self.shards:
            found |= shard.find(keys) >= 0
        return found

    def covered(self) -> set[str]:
        return {c for shard in self.shards for c in shard.chunks}

    def add(self, chunks: list[str], texts: list[str], owners: Sequence[int], vectors: np.ndarray) -> None:
        """A shard completing `chunks`: `vectors[i]` encodes `texts[i]`, one of `chunks[owners[i]]`'s."""
        keys = keys_of(texts)
        order = np.argsort(keys, kind="stable")
        values = np.asarray(vectors, dtype=np.float16)[order]

        def fill(out: np.ndarray) -> None:
            out[:] = values

        self._write(chunks, keys[order], np.asarray(owners, dtype=np.int32)[order], values.shape[1], fill)

    def merge(self, live: Iterable[str]) -> None:
        """The shards as one, keeping only what chunks in `live` were made for; the vectors are
        copied a block at a time, never all held at once."""
        shards = self.shards
        if not shards:
            return
        live = set(live)
        chunks = sorted({c for s in shards for c in s.chunks} & live)
        index = {c: i for i, c in enumerate(chunks)}
        keys, owners, source, rows = [], [], [], []
        for n, shard in enumerate(shards):
            owner = np.array([index.get(c, -1) for c in shard.chunks], dtype=np.int32)[shard.owners]
            kept = np.flatnonzero(owner >= 0)
            keys.append(shard.keys[kept])
            owners.append(owner[kept])
            source.append(np.full(len(kept), n, dtype=np.int32))
            rows.append(kept)
        _, first = np.unique(np.concatenate(keys), return_index=True)  # sorted; a key in two shards: once
        source_of, row_of = np.concatenate(source)[first], np.concatenate(rows)[first]

        def fill(out: np.ndarray) -> None:
            for n, shard in enumerate(shards):
                at = np.flatnonzero(source_of == n)
                for start in range(0, len(at), BLOCK):
                    part = at[start:start + BLOCK]
                    out[part] = shard.vectors[row_of[part]]

        self._write(chunks, np.concatenate(keys)[first], np.concatenate(owners)[first],
                    shards[0].vectors.shape[1], fill)
        for shard in shards:
            shutil.rmtree(self.folder / shard.name, ignore_errors=True)
        self._recheck()

    def clean(self) -> int:
        """Shards a killed writer left half written, and shards that fail their checks, removed;
        how many."""
        if not self.folder.is_dir():
            return 0
        self._recheck()
        good = {s.name for s in self.shards}
        bad = [e for e in self.folder.iterdir() if e.is_dir() and e.name not in good]
        for entry in bad:
            shutil.rmtree(entry, ignore_errors=True)
        self._recheck()
        return len(bad)

    def _write(self, chunks: list[str], keys: np.ndarray, owners: np.ndarray, dim: int,
               fill: Callable[[np.ndarray], None]) -> None:
        """A shard of these sorted `keys`, whose vectors `fill` writes in their order."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".{name}"
        tmp.mkdir(parents=True)
        np.save(tmp / "keys.npy", keys)
        np.save(tmp / "owners.npy", owners)
        vectors = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=np.float16, shape=(len(keys), dim))
        fill(vectors)
        vectors.flush()
        del vectors
        (tmp / "chunks.json").write_text(json.dumps(chunks))
        meta: dict[str, object] = {"crc": {f: crc(tmp / f) for f in CHECKED}, "vectors": len(keys),
                                   "chunks": len(chunks)}
        (tmp / "meta.json").write_text(json.dumps({**meta, "check": crc_text(meta)}))
        for f in (*FILES, "meta.json"):
            with (tmp / f).open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, self.folder / name)
        self._recheck()

    def _recheck(self) -> None:
        with self._lock:
            self._seen = None
