"""`python -m evals retrieval --corpus PATH --split dev|test` (see evals/retrieval.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.embedding import offline_env

CONFIGS = ("dense", "bm25", "hybrid", "llamaindex-default")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m evals")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("retrieval", help="compare retrieval configurations on a corpus")
    r.add_argument("--corpus", required=True, help="e.g. ../shared/corpora/news-2023q4")
    r.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    r.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    r.add_argument("--stores", type=Path, default=Path(".store/evals"), help="where stores are built and reused")
    r.add_argument("--out", type=Path, default=Path("evals/results"))
    args = p.parse_args()
    offline_env()
    from evals import corpora, retrieval

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        p.error(f"unknown configs {sorted(unknown)}; valid: {', '.join(CONFIGS)}")
    retrieval.run(corpora.load(args.corpus), args.split, configs, args.stores, args.out)


if __name__ == "__main__":
    main()
