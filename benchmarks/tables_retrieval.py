"""Benchmark: does writing tables as rows (ingest/tables.py) help retrieval? One run scores, on
the same questions, a store built by the code before tables, a store built with them, and
LlamaIndex's default (its own pypdf reader and SentenceSplitter, evals/baseline.py).

The stores are built beforehand, each by `python -m evals retrieval` run from its own checkout
(a store's text is fixed when it is ingested, so "before" needs the old code; searching it uses
today's): for example, with the old code checked out in /tmp/plain,

    (cd /tmp/plain && python -m evals retrieval --corpus ../shared/corpora/financebench \
        --split dev --configs hybrid,llamaindex-default --stores /tmp/store-plain)
    python -m evals retrieval --corpus ../shared/corpora/financebench --split dev \
        --configs hybrid --stores /tmp/store-tables
    python -m benchmarks.tables_retrieval --corpus ../shared/corpora/financebench --split dev \
        --before /tmp/store-plain/financebench --after /tmp/store-tables/financebench \
        --out benchmarks/results/tables-retrieval
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evals import baseline
from evals.corpora import load
from evals.retrieval import evaluate, markdown, ours, plot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--before", type=Path, required=True, help="a store folder (with ours/ and llamaindex/) "
                    "from the code before tables")
    ap.add_argument("--after", type=Path, required=True, help="a store folder (ours/) with tables as rows")
    ap.add_argument("--configs", default="dense,hybrid")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/tables-retrieval"))
    args = ap.parse_args()
    corpus = load(args.corpus)
    questions = corpus.split(args.split)
    runs: list[tuple[str, Any]] = [("llamaindex-default",
                                    baseline.llamaindex_default(corpus, args.before / "llamaindex"))]
    for config in args.configs.split(","):
        runs += [(f"before: {config}", ours(args.before / "ours", config)),
                 (f"tables: {config}", ours(args.after / "ours", config))]
    results = []
    for name, search in runs:
        search(questions[0].question)  # warm-up: model and index loading are not query latency
        results.append(evaluate(name, search, questions))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "first_gold_rank"}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{corpus.name}-{args.split}"
    stem.with_suffix(".json").write_text(json.dumps({"corpus": corpus.name, "split": args.split,
                                                     "metric": corpus.metric, "excluded": corpus.excluded,
                                                     "results": results}, indent=1))
    stem.with_suffix(".md").write_text(markdown(corpus, args.split, results) + f"\n![plot]({stem.name}.png)\n")
    plot(corpus, args.split, results, stem.with_suffix(".png"))
    print(markdown(corpus, args.split, results))


if __name__ == "__main__":
    main()
