"""Retrieval evaluation: configurations side by side on one corpus, at fixed context budgets.

Passages (each under its document's title, as answerers read them) are taken in rank order
until the budget (tiktoken cl100k_base tokens) is full, the last one cut to fit, so
configurations with different chunk sizes are compared on what fits in the answerer's context.
Also top-k hit rates, MRR@10 and query latency.

    python -m evals retrieval --corpus ../shared/corpora/news-2023q4 --split dev
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from assistant.index.tokens import encoding
from assistant.settings import Settings
from evals import baseline, labels
from evals.corpora import Corpus, EvalQuestion
from evals.search import DEPTH, Hit, Search, with_title

BUDGETS = (500, 1000, 2000, 4000)
TOP_K = (1, 5, 10, 20)


def ours(store: Path, config: str) -> Search:
    """`dense`, `bm25`, `hybrid` (the settings' defaults), `hybrid@W`: one fixed dense weight W, or
    `hybrid@W/V`: dense weight W where keywords cover the question, V where they do not (and
    their mean in between), with the settings' thresholds; `hybrid@W/V:C`: W where keywords
    cover at least C of the question, else V; `hybrid@W/V:C-D`: W from D, V below C, the mean
    in between; any of them with `+capN`: `page_cap` N."""
    from assistant import Assistant

    config, _, cap = config.partition("+cap")
    mode, _, weights = config.partition("@")
    weights, _, covered = weights.partition(":")
    strong, _, weak = weights.partition("/")
    low, _, high = covered.partition("-")
    a = Assistant(store=store, retrieval=mode, dense_weight=float(strong) if strong else None,
                  dense_weight_weak_keywords=float(weak or strong) if strong else None,
                  keyword_coverage=float(high or low) if low else None,
                  keyword_coverage_weak=float(low) if low else None, page_cap=int(cap) if cap else None)

    def search(q: str) -> list[Hit]:
        return [Hit(with_title(p.title, p.text), p.path, p.doc_id, p.page) for p in a.retriever.search(q, DEPTH)]

    return search


def build_ours(corpus: Corpus, store: Path) -> None:
    from ingest import ingest

    report = ingest(corpus.paths, Settings(store=store), quiet=False)
    print(report.summary(), flush=True)


def within_budget(hits: list[Hit], budget: int) -> list[str]:
    enc, left, out = encoding(), budget, []
    for h in hits:
        ids = enc.encode_ordinary(h.text)
        out.append(h.text if len(ids) <= left else enc.decode(ids[:left]))
        left -= min(len(ids), left)
        if left <= 0:
            break
    return out


def evaluate(name: str, search: Search, questions: list[EvalQuestion]) -> dict[str, Any]:
    budget_hits = {b: 0 for b in BUDGETS}
    topk_hits = {k: 0 for k in TOP_K}
    rr, latencies, tokens, first_rank = 0.0, [], [], {}
    for q in questions:
        start = time.perf_counter()
        hits = search(q.question)
        latencies.append((time.perf_counter() - start) * 1000)
        tokens += [len(encoding().encode_ordinary(h.text)) for h in hits[:20]]
        flags = [q.hit(h.text, h.path, h.doc_id, h.page) for h in hits]
        rank = next((i for i, f in enumerate(flags) if f), None)
        first_rank[q.id] = None if rank is None else rank + 1
        for k in TOP_K:
            topk_hits[k] += rank is not None and rank < k
        rr += 1 / (rank + 1) if rank is not None and rank < 10 else 0.0
        for b in BUDGETS:
            kept = within_budget(hits, b)
            budget_hits[b] += any(q.hit(t, h.path, h.doc_id, h.page) for t, h in zip(kept, hits))
    n = max(len(questions), 1)
    lat = sorted(latencies)
    return {
        "config": name, "questions": len(questions),
        "budget": {str(b): budget_hits[b] / n for b in BUDGETS},
        "top_k": {str(k): topk_hits[k] / n for k in TOP_K},
        "mrr@10": rr / n,
        "latency_ms": {"p50": statistics.median(lat) if lat else 0.0,
                       "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else 0.0},
        "tokens_per_passage": statistics.mean(tokens) if tokens else 0.0,
        "first_gold_rank": first_rank,
    }


def markdown(corpus: Corpus, split: str, results: list[dict[str, Any]]) -> str:
    lines = [f"# Retrieval on {corpus.name} ({split} split, {results[0]['questions']} questions)", "",
             f"Metric: {corpus.metric}. Hits counted within a context budget of cl100k tokens, and in the "
             f"top k passages. Latency per query, embedding included.", ""]
    if corpus.excluded:
        lines += ["Questions left out: " + ", ".join(f"{v} ({k})" for k, v in corpus.excluded.items()) + ".", ""]
    head = ([f"@{b} tok" for b in BUDGETS] + [f"top-{k}" for k in TOP_K]
            + ["MRR@10", "tok/passage", "p50 ms", "p95 ms"])
    lines += ["| config | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for r in results:
        cells = ([f"{r['budget'][str(b)]:.3f}" for b in BUDGETS] + [f"{r['top_k'][str(k)]:.3f}" for k in TOP_K]
                 + [f"{r['mrr@10']:.3f}", f"{r['tokens_per_passage']:.0f}", f"{r['latency_ms']['p50']:.1f}",
                    f"{r['latency_ms']['p95']:.1f}"])
        lines.append(f"| {r['config']} | " + " | ".join(cells) + " |")
    return "\n".join(lines + labelled(corpus, results)) + "\n"


def labelled(corpus: Corpus, results: list[dict[str, Any]]) -> list[str]:
    """Top-k accuracy again, over only the questions the archive answers by its hand labels
    (evals/labels.py): the corpus's own set counts any question whose answer string occurs
    somewhere, so its figures mix in questions no retriever could serve."""
    answered = {i for i, label in labels.load(corpus.name).items() if label.archive_answers}
    ranks = results[0]["first_gold_rank"] if results else {}
    asked = [q for q in ranks if q in answered]
    if not asked:
        return []
    lines = ["", f"On the {len(asked)} of these questions that the archive answers (hand labels, "
             "evals/labels/README.md; same hits; compare configs with passages of unlike size by "
             "the budgets above):", "",
             "| config | " + " | ".join(f"top-{k}" for k in TOP_K) + " | tok/passage |",
             "|---" * (len(TOP_K) + 2) + "|"]
    for r in results:
        got = [r["first_gold_rank"].get(q) for q in asked]
        lines.append(f"| {r['config']} | " + " | ".join(
            f"{sum(g is not None and g <= k for g in got) / len(asked):.3f}" for k in TOP_K)
            + f" | {r['tokens_per_passage']:.0f} |")
    return lines


def plot(corpus: Corpus, split: str, results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for r in results:
        ax.plot(BUDGETS, [r["budget"][str(b)] for b in BUDGETS], marker="o", label=r["config"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(BUDGETS, [str(b) for b in BUDGETS])
    ax.set_xlabel("context budget (cl100k tokens)")
    ax.set_ylabel(corpus.metric)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title(f"{corpus.name}, {split} split ({results[0]['questions']} questions)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(corpus: Corpus, split: str, configs: list[str], stores: Path, out: Path) -> list[dict[str, Any]]:
    questions = corpus.split(split)
    store = stores / corpus.name
    if any(c != "llamaindex-default" for c in configs):
        build_ours(corpus, store / "ours")
    results = []
    for name in configs:
        search = baseline.llamaindex_default(corpus, store / "llamaindex") if name == "llamaindex-default" \
            else ours(store / "ours", name)
        search(questions[0].question)  # warm-up: model and index loading are not query latency
        results.append(evaluate(name, search, questions))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "first_gold_rank"}), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "-".join(x for x in (corpus.name, corpus.question_set, split) if x)
    stem.with_suffix(".json").write_text(json.dumps({"corpus": corpus.name, "split": split, "metric": corpus.metric,
                                                     "excluded": corpus.excluded, "results": results}, indent=1))
    stem.with_suffix(".md").write_text(markdown(corpus, split, results) + f"\n![plot]({stem.name}.png)\n")
    plot(corpus, split, results, stem.with_suffix(".png"))
    print(markdown(corpus, split, results))
    return results
