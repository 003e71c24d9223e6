"""What encoding sentences at ingestion costs (ingest/sentences.py): the same chunks' own inputs
(what ingestion always encodes) against their sentences' inputs (each with its title, and alone),
on the ingestion's encoder processes, alternately in one run, so the ratio is of one machine's
state. The ratio times a store's chunk-encoding time is what `sentence_vectors` adds to it.

    python -m benchmarks.sentence_ingest --store .store/evals/news-2023q4/ours --chunks 2000
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from assistant.index.meta import embed_input
    from assistant.index.store import Store
    from assistant.index.text import sentence_inputs
    from assistant.settings import Settings
    from ingest.encoder import EncoderPool
    from ingest.sentences import PIECE

    settings = Settings.load().replace(store=args.store)
    store = Store.open(settings)
    ids = store.all_ids()
    chunks = store.fetch(random.Random(1).sample(ids, min(args.chunks, len(ids))))
    own = [embed_input(m.title, t) for t, m in zip(chunks.texts, chunks.metas)]
    sentences = list(dict.fromkeys(s for t, m in zip(chunks.texts, chunks.metas) for s in sentence_inputs(m.title, t)))
    pool = EncoderPool(settings.embed_model, settings.embed_dtype)
    pool.encode(own[:64])  # the processes started and warm

    def timed(texts: list[str], piece: int) -> float:
        start = time.perf_counter()
        parts = [pool.submit(texts[i:i + piece]) for i in range(0, len(texts), piece)]
        np.concatenate([p.result() for p in parts])
        return time.perf_counter() - start

    chunk_s, sentence_s = [], []
    try:
        for _ in range(args.rounds):
            chunk_s.append(timed(own, 64))  # the writer's batches
            sentence_s.append(timed(sentences, PIECE))
    finally:
        pool.close()
    c, s = min(chunk_s), min(sentence_s)
    result = {"store": str(args.store), "chunks": len(own), "sentence_inputs": len(sentences),
              "processes": pool.processes, "chunk_seconds": chunk_s, "sentence_seconds": sentence_s,
              "chunks_per_s": len(own) / c, "sentence_inputs_per_s": len(sentences) / s,
              "ratio_sentences_to_chunks": s / c, "store_chunks": len(ids),
              "projected_extra_seconds": s * len(ids) / len(own)}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
