"""Query latency on a large store: hybrid, dense and filtered search, against Chroma's own `where`.

Builds a store of at least 100k chunks from an existing one (real chunk texts and vectors,
copied N times with a little noise on the vectors, so the index has realistic structure; copy
c goes to archive collection COLLECTIONS[c % 4]), then times real questions end to end: query
embedding, exact dense and BM25 search on the snapshot, fusion, fetching texts from Chroma;
filtered by date, source and archive collection (a reader's restriction, and a filter within
it); and, as baselines in the same process, Chroma's own HNSW query and its `where` filter.

    python -m benchmarks.retrieval --source .store/evals/news-2023q4/ours --copies 4 \\
        --questions ../shared/corpora/news-2023q4/questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.embedding import offline_env
from assistant.index.meta import DATE_NUM
from assistant.index.snapshot import Snapshot
from assistant.index.store import Store
from assistant.settings import Settings

COLLECTIONS = ("main", "drafts", "donor-x", "donor-y")


def build(source: Path, copies: int, dest: Path) -> int:
    src = Store.open(Settings(store=source))
    got = src.everything()
    vectors = got.vectors
    settings = Settings(store=dest)
    store = Store.create(settings, vectors.shape[1])
    rng = np.random.default_rng(0)
    for c in range(copies):
        noisy = perturbed(vectors, rng) if c else vectors
        store.upsert([f"{i}-{c}" for i in got.ids], noisy, got.texts,
                     [replace(m, file=f"{m.file}#{c}", collection=COLLECTIONS[c % len(COLLECTIONS)])
                      for m in got.metas])
    store.bump_generation()
    Snapshot.rebuild(store)
    return store.count()


def perturbed(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors a little off the originals: a copy near, not on, the chunks it copies."""
    noisy = vectors + rng.normal(0, 0.01, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def month_filter(dates: np.ndarray) -> tuple[str, str]:
    """(since, until) for the month holding the median dated chunk: a date filter that keeps a
    realistic slice of the archive."""
    mid = int(np.median(dates[dates > 0])) if (dates > 0).any() else 20231101
    return f"{mid // 10000}-{mid // 100 % 100:02d}-01", f"{mid // 10000}-{mid // 100 % 100:02d}"


def timed(fn: Callable[[str], Any], questions: list[str]) -> dict[str, float]:
    for q in questions[:3]:
        fn(q)  # warm-up
    ms = []
    for q in questions:
        start = time.perf_counter()
        fn(q)
        ms.append((time.perf_counter() - start) * 1000)
    ms.sort()
    return {"p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, required=True, help="an existing store to copy chunks from")
    p.add_argument("--copies", type=int, default=4)
    p.add_argument("--questions", type=Path, required=True, help="JSONL with a `question` field")
    p.add_argument("-n", type=int, default=200, help="questions to time")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    offline_env()
    from assistant import Assistant

    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines()][: args.n]
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        n = build(args.source, args.copies, Path(tmp) / "store")
        print(f"store: {n} chunks", flush=True)
        a = Assistant(store=Path(tmp) / "store")
        since, until = month_filter(a.retriever.snapshot.dates)
        source = next((s for s in a.retriever.snapshot.source_names if s), "")
        # A reader granted two of the four collections (half the chunks, with --copies 4), as the
        # server restricts each request; and within it, one collection asked for.
        reader = a.within(list(COLLECTIONS[::2]))

        def chroma_dense(q: str) -> Any:  # what the dense search would cost through Chroma's HNSW
            return a.store.query(a.embedder.encode([q])[0], 10)

        def chroma_where(q: str) -> Any:
            v = a.embedder.encode([q])[0]
            lo, hi = int(since.replace("-", "")), int(until.replace("-", "")) * 100 + 99
            return a.store.chunks.query(query_embeddings=[v], n_results=10,
                                        where={"$and": [{DATE_NUM: {"$gte": lo}}, {DATE_NUM: {"$lte": hi}}]})

        results: dict[str, Any] = {
            "chunks": n,
            "hybrid": timed(lambda q: a.search(q, k=10), questions),
            "dense": timed(lambda q: a.retriever.search(q, 10, mode="dense"), questions),
            "bm25": timed(lambda q: a.retriever.search(q, 10, mode="bm25"), questions),
            "hybrid, date filter": timed(lambda q: a.search(q, k=10, since=since, until=until), questions),
            "hybrid, source filter": timed(lambda q: a.search(q, k=10, source=source), questions),
            "hybrid, collections restricted (2 of 4)": timed(lambda q: reader.search(q, k=10), questions),
            "hybrid, restricted + collection filter (1)": timed(
                lambda q: reader.search(q, k=10, collection=COLLECTIONS[0]), questions),
            "hybrid, collection filter (1 of 4)": timed(lambda q: a.search(q, k=10, collection=COLLECTIONS[1]),
                                                        questions),
            "query embedding alone": timed(a.embedder.encode_query, questions),
            "chroma HNSW, dense only": timed(chroma_dense, questions),
            "chroma where (date), dense only": timed(chroma_where, questions),
            "filter": {"since": since, "until": until, "source": source, "readable": list(COLLECTIONS[::2])},
        }
    print(json.dumps(results, indent=1))
    # Ratios against Chroma's own dense query, timed in the same process: this machine is noisy.
    base = results["chroma HNSW, dense only"]["p50"]
    print("| search | p50 ms | p95 ms | p50 / Chroma HNSW dense |\n|---|---|---|---|")
    for name, r in results.items():
        if isinstance(r, dict) and "p50" in r:
            print(f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p50'] / base:.2f} |")
    dated = results["hybrid, date filter"]["p50"]
    for name in ("hybrid, collections restricted (2 of 4)", "hybrid, collection filter (1 of 4)"):
        print(f"{name}: p50 {results[name]['p50'] / dated:.2f}x the date filter's, "
              f"{results[name]['p50'] / results['hybrid']['p50']:.2f}x unfiltered hybrid's")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
