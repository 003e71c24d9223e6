"""`python -m evals retrieval|answers|llama-index|crosslingual --corpus PATH ...` (see evals/retrieval.py,
evals/answers.py, evals/llama_index.py);
`python -m evals answers --questions CASES.jsonl --store DIR` replays feedback cases (evals/feedback.py)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from assistant.index.embedding import offline_env

CONFIGS = ("dense", "bm25", "hybrid", "llamaindex-default")
WEIGHT = r"(0(\.\d+)?|1(\.0+)?)"


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m evals")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("retrieval", help="compare retrieval configurations on a corpus")
    r.add_argument("--corpus", required=True, help="e.g. ../shared/corpora/news-2023q4")
    r.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    r.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}; "
                   "hybrid@0.3: hybrid with one fixed dense weight, 0.3; hybrid@0.2/0.8: dense weight 0.2 where "
                   "keywords cover the question, 0.8 where they do not, the mean in between; hybrid@0.2/0.8:0.75: "
                   "0.2 where they cover at least 0.75 of it, else 0.8; hybrid@0.2/0.8:0.5-0.75: 0.8 below 0.5, "
                   "the mean up to 0.75; hybrid+cap2: with page_cap 2")
    r.add_argument("--staff", action="store_true", help="the corpus's staff questions (evals/staff/) instead of "
                   "its own: a hit is a passage holding one of a question's evidence sentences")
    r.add_argument("--stores", type=Path, default=Path(".store/evals"), help="where stores are built and reused")
    r.add_argument("--out", type=Path, default=Path("evals/results"))
    a = sub.add_parser("answers", help="evaluate one answer backend on a corpus's questions, or replay "
                       "feedback cases (--questions, --store)")
    a.add_argument("--corpus", help="e.g. ../shared/corpora/cambodia, or examples (the sample set)")
    a.add_argument("--questions", type=Path, metavar="CASES.jsonl",
                   help="feedback cases from `assistant feedback export` (docs/feedback.md), instead of --corpus")
    a.add_argument("--store", type=Path, help="with --questions: the store to ask (the live one, or a candidate)")
    a.add_argument("--llm", default="extractive", help="answer backend: extractive, local, openai, ollama")
    a.add_argument("--llm-url")
    a.add_argument("--llm-model")
    a.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    a.add_argument("--limit", type=int, help="only the first N answerable questions (all unanswerable ones)")
    a.add_argument("--stores", type=Path, default=Path(".store/evals"), help="where stores are built and reused")
    a.add_argument("--out", type=Path, default=Path("evals/results"), help="results folder (--questions: "
                   "writes OUT/feedback-answers.md, or OUT itself when it ends in .md)")
    li = sub.add_parser("llama-index", help="LlamaIndex's RetrieverEvaluator on ArchiveRetriever, a plain "
                        "VectorStoreIndex retriever and our own search")
    li.add_argument("--corpus", required=True, help="e.g. ../shared/corpora/cambodia")
    li.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    li.add_argument("--stores", type=Path, default=Path(".store/evals"), help="where stores are built and reused")
    li.add_argument("--out", type=Path, default=Path("evals/results"))
    x = sub.add_parser("crosslingual", help="English, French and Spanish dev questions (evals/crosslingual/) "
                       "with the default and the multilingual embedding model")
    x.add_argument("--corpus", action="append", required=True, type=Path,
                   help="../shared/corpora/cambodia and/or ../shared/corpora/news-2023q4 (repeat)")
    x.add_argument("--distractors", type=int, default=60, help="news articles besides the gold ones")
    x.add_argument("--seed", type=int, default=2023)
    x.add_argument("--stores", type=Path, default=Path(".store/crosslingual"), help="where stores are built and reused")
    x.add_argument("--out", type=Path, default=Path("evals/results"))
    from evals import staff

    staff.arguments(sub.add_parser("staff", help="run a staff question set (evals/staff/) on a corpus"))
    args = p.parse_args()
    offline_env()
    if args.command == "crosslingual":
        from evals import crosslingual

        crosslingual.run(args.corpus, args.distractors, args.seed, args.stores, args.out)
        return
    if args.command == "staff":
        staff.main(args)
        return
    if args.command == "answers" and (args.corpus is None) == (args.questions is None):
        p.error("answers needs --corpus (a question set) or --questions (feedback cases), not both")
    if args.command == "answers" and args.questions is not None:
        if args.store is None:
            p.error("--questions needs --store DIR (the store to ask)")
        from evals import feedback

        feedback.run(args.questions, args.store, args.llm, {"llm_url": args.llm_url, "llm_model": args.llm_model},
                     args.out)
        return
    if args.command == "answers":
        from evals import answers

        options = {"llm_url": args.llm_url, "llm_model": args.llm_model}
        answers.run(Path(args.corpus), args.split, args.llm, options, args.stores, args.out, args.limit)
        return
    from evals import corpora, retrieval

    if args.command == "llama-index":
        from evals import llama_index

        llama_index.run(corpora.load(args.corpus), args.split, args.stores, args.out)
        return
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    ours = rf"(dense|bm25|hybrid|hybrid@{WEIGHT}(/{WEIGHT}(:{WEIGHT}(-{WEIGHT})?)?)?)(\+cap\d+)?"
    unknown = {c for c in configs if c not in CONFIGS and not re.fullmatch(ours, c)}
    if unknown:
        p.error(f"unknown configs {sorted(unknown)}; valid: {', '.join(CONFIGS)}, or hybrid@W "
                f"or hybrid@W/V (W, V: dense weights, 0-1) or hybrid@W/V:C or hybrid@W/V:C-D (C, D: keyword "
                f"coverage, 0-1), any but llamaindex-default with +capN "
                f"(page_cap N)")
    if args.staff:
        from evals import staff

        corpus = staff.as_retrieval(args.corpus)
    else:
        corpus = corpora.load(args.corpus)
    retrieval.run(corpus, args.split, configs, args.stores, args.out)


if __name__ == "__main__":
    main()
