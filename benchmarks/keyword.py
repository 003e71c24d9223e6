"""BM25 scored when the query comes, from term counts (assistant/index/postings.py), against
bm25s's index of precomputed scores: the same chunks (a store's live chunks, repeated `--copies`
times to reach a larger size), the same questions, in the same process, alternated; prints each
one's p50 and p95 per question and the ratio, after checking that the scores agree.

    python -m benchmarks.keyword --store .store/evals/news-2023q4/ours \
        --questions ../shared/corpora/news-2023q4/questions.jsonl --copies 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from assistant.index.embedding import offline_env


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--questions", type=Path, required=True, help="JSONL with a `question` field")
    p.add_argument("--copies", type=int, default=10)
    p.add_argument("-n", type=int, default=100, help="questions timed")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    offline_env()
    import bm25s
    from bm25s.tokenization import Tokenized, convert_tokenized_to_string_list

    from assistant.index.keyword import tokenize
    from assistant.index.postings import KeywordIndex, Postings
    from assistant.index.snapshot import Snapshot
    from assistant.index.store import Store
    from assistant.settings import Settings

    snap = Snapshot.load(Store.open(Settings(store=args.store)))
    live = [(s, None if snap.live is None else np.flatnonzero(snap.live[o:o + len(s)]))
            for s, o in zip(snap.parts, snap.keywords.offsets)]
    one = Postings.stack([(s.postings, rows) for s, rows in live])
    counts = Postings.stack([(one, None)] * args.copies)
    ours = KeywordIndex([counts])
    start = time.perf_counter()
    matrix = counts.counts()
    rows = [np.repeat(matrix.indices[a:b], matrix.data[a:b]).tolist()
            for a, b in zip(matrix.indptr[:-1], matrix.indptr[1:])]
    theirs = bm25s.BM25()
    theirs.index(Tokenized(ids=rows, vocab={t: i for i, t in enumerate(counts.vocab)}), show_progress=False)
    build_s = time.perf_counter() - start

    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    queries = [convert_tokenized_to_string_list(tokenize([q]))[0] for q in questions[:args.n]]
    queries = [q for q in queries if q]
    times: dict[str, list[float]] = {"query time, from counts": [], "bm25s, precomputed": []}
    for words in queries:
        for name in times:
            begin = time.perf_counter()
            if name.startswith("query"):
                got = ours.scores(words)
            else:
                want = theirs.get_scores_from_ids(theirs.get_tokens_ids(words))
            times[name].append(time.perf_counter() - begin)
        assert got is not None and np.allclose(got, want, rtol=1e-5, atol=1e-6)
    ms = {k: {"p50_ms": round(statistics.median(v) * 1000, 2),
              "p95_ms": round(float(np.percentile(v, 95)) * 1000, 2)} for k, v in times.items()}
    out = {"chunks": len(counts), "postings": len(counts.rows), "questions": len(queries),
           "bm25s_build_s": round(build_s, 1), "latency": ms,
           "p50_ratio_ours_vs_bm25s": round(ms["query time, from counts"]["p50_ms"]
                                            / ms["bm25s, precomputed"]["p50_ms"], 3)}
    print(json.dumps(out, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
