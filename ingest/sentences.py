"""Sentence vectors encoded at ingestion (assistant/index/sentence_store.py says why and how they
are kept): after a run's last write and the snapshot's refresh, every live chunk whose sentences
are not saved yet has them encoded, a page of chunks a shard, so that a killed run keeps the
pages it finished and the next run (even one with no file changed) does the rest. An archive
ingested before this existed gets its vectors the next time it is synced.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import numpy as np

from assistant.index.sentence_store import GARBAGE, MAX_SHARDS, SentenceStore, keys_of
from assistant.index.store import Store
from assistant.index.text import sentence_inputs
from ingest.encoder import Encoder

PAGE = 2048  # chunks read, encoded and saved together
PIECE = 256  # sentences in one batch handed to the encoder
STATE = "state.json"  # the store generation whose chunks all have their vectors saved


@dataclass
class Prepared:
    """What a run added: chunks completed and sentence texts encoded."""

    chunks: int = 0
    encoded: int = 0


def prepare_sentences(store: Store, encoder: Encoder, quiet: bool = True) -> Prepared:
    from assistant.index.snapshot import Snapshot

    saved = SentenceStore.of(store.settings)
    done = Prepared()
    generation = store.refresh_generation()
    if not saved.clean() and _state(saved) == generation:
        return done
    dim = int(store.info.get("embed_dim", 0) or 0)
    live = Snapshot.load(store).ids
    covered = saved.covered()
    missing = [c for c in live if c not in covered]
    for start in range(0, len(missing), PAGE):
        if not quiet:
            print(f"Encoding sentences for answers: chunks {start + 1}-{min(start + PAGE, len(missing))} "
                  f"of {len(missing)}", file=sys.stderr)
        chunks = store.fetch(missing[start:start + PAGE])
        texts: list[str] = []
        owners: list[int] = []
        for i, (text, meta) in enumerate(zip(chunks.texts, chunks.metas)):
            texts += (inputs := sentence_inputs(meta.title, text))
            owners += [i] * len(inputs)
        keys = keys_of(texts)
        new = ~saved.has(keys) & _first(keys)  # a text twice on the page: encoded once
        wanted = [t for t, n in zip(texts, new) if n]
        parts = [encoder.submit(wanted[i:i + PIECE]) for i in range(0, len(wanted), PIECE)]
        vectors = np.concatenate([p.result() for p in parts]) if parts else np.zeros((0, dim), np.float32)
        saved.add(chunks.ids, wanted, [o for o, n in zip(owners, new) if n], vectors)
        done.chunks += len(chunks)
        done.encoded += len(wanted)
    alive = set(live)
    covered = saved.covered()
    if len(saved.shards) > MAX_SHARDS or len(covered - alive) > GARBAGE * len(covered):
        saved.merge(alive)  # few shards to look in, and no space kept for files removed since
    saved.folder.mkdir(parents=True, exist_ok=True)
    (saved.folder / STATE).write_text(json.dumps({"generation": generation}))
    return done


def _first(keys: np.ndarray) -> np.ndarray:
    """True where a key is met first."""
    out = np.zeros(len(keys), dtype=bool)
    out[np.unique(keys, return_index=True)[1]] = True
    return out


def _state(saved: SentenceStore) -> str | None:
    try:
        return str(json.loads((saved.folder / STATE).read_text())["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
