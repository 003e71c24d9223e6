"""LlamaIndex's own RetrieverEvaluator (hit rate, MRR) on ArchiveRetriever and on a plain
`VectorStoreIndex` retriever (evals/baseline.py, same embedding model), beside our own search
scored by evals/retrieval.py; all three at the same k, in one run.

    python -m evals llama-index --corpus ../shared/corpora/cambodia --split dev

Expected ids are documents, not chunks: a corpus's gold evidence names documents (cambodia: gold
files; a JSONL record as FILE#RECORD), and the retrievers cut them into unlike chunks with unlike
ids. So a postprocessor (`DocumentKeys`) names each retrieved node by its document, its path
under the corpus's docs/ (#doc_id for a record of a JSONL file), the form of the gold keys; hit
rate is then "a passage of a gold document among the k" and MRR the inverse rank of the first,
the hit that evals/retrieval.py counts with evals/questions.py's `matches`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.evaluation import RetrieverEvaluator
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from evals import baseline, retrieval
from evals.corpora import Corpus, EvalQuestion
from evals.search import Hit, with_title

K = 10  # passages per question for every retriever (MRR is MRR@10, as evals/retrieval.py reports it)
METRICS = ["hit_rate", "mrr"]


def document_key(path: str, doc_id: str, docs: Path) -> str:
    """A passage's document as the gold keys name it: its path under `docs`, with #doc_id for a
    record of a JSONL file (whose doc_id is the record's, not the file's path)."""
    file = Path(path).resolve()
    key = file.relative_to(docs).as_posix() if file.is_relative_to(docs) else file.as_posix()
    return f"{key}#{doc_id}" if file.suffix == ".jsonl" and doc_id != str(file) else key


def gold_keys(q: EvalQuestion) -> list[str]:
    return list(q.gold)  # cambodia's gold_docs, "docs/" removed: paths under docs/ already


class DocumentKeys(BaseNodePostprocessor):
    """Each retrieved node renamed by its document (`document_key`), in rank order."""

    docs: str = Field(description="the corpus's docs/ folder, resolved")

    @classmethod
    def class_name(cls) -> str:
        return "DocumentKeys"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> \
            list[NodeWithScore]:
        out = []
        for n in nodes:
            meta = n.node.metadata
            key = document_key(str(meta.get("path", "")), str(meta.get("doc_id", "")), Path(self.docs))
            out.append(NodeWithScore(node=TextNode(id_=key, text=n.node.get_content()), score=n.score))
        return out


def scored(name: str, retriever: Any, questions: list[EvalQuestion], docs: Path) -> dict[str, Any]:
    """LlamaIndex's RetrieverEvaluator over the questions: mean hit rate and MRR, and each first rank."""
    evaluator = RetrieverEvaluator.from_metric_names(METRICS, retriever=retriever,
                                                     node_postprocessors=[DocumentKeys(docs=str(docs))])
    results = [evaluator.evaluate(q.question, expected_ids=gold_keys(q)) for q in questions]
    n = max(len(results), 1)
    return {"retriever": name, "scored_by": "llama-index RetrieverEvaluator", "questions": len(results),
            "hit_rate": sum(r.metric_vals_dict["hit_rate"] for r in results) / n,
            "mrr": sum(r.metric_vals_dict["mrr"] for r in results) / n,
            "first_gold_rank": {q.id: next((i + 1 for i, d in enumerate(r.retrieved_ids) if d in r.expected_ids),
                                           None) for q, r in zip(questions, results)}}


def own_search(assistant: Any, questions: list[EvalQuestion]) -> dict[str, Any]:
    """`Assistant.search` at k = K, scored by evals/retrieval.py (its hit: evals/corpora.py)."""
    def search(q: str) -> list[Hit]:
        return [Hit(with_title(p.title, p.text), p.path, p.doc_id, p.page) for p in assistant.search(q, K)]

    r = retrieval.evaluate("Assistant.search", search, questions)
    return {"retriever": "Assistant.search (ours)", "scored_by": "evals/retrieval.py", "questions": len(questions),
            "hit_rate": r["top_k"][str(K)], "mrr": r["mrr@10"], "first_gold_rank": r["first_gold_rank"]}


def compare(corpus: Corpus, split: str, ours: Path, plain: Path) -> list[dict[str, Any]]:
    """The three retrievers on one split: ArchiveRetriever and the plain VectorStoreIndex
    retriever by LlamaIndex's evaluator, our own search by ours. `ours`: our store of the corpus;
    `plain`: the folder of the VectorStoreIndex's Chroma (built there when empty)."""
    from assistant import Assistant
    from assistant.integrations.llama_index import ArchiveRetriever

    questions = corpus.split(split)
    docs = (corpus.root / "docs").resolve()
    assistant = Assistant(store=ours)
    vector = baseline.llamaindex_index(corpus, plain).as_retriever(similarity_top_k=K)
    return [scored("ArchiveRetriever", ArchiveRetriever(assistant, k=K), questions, docs),
            scored("VectorStoreIndex (plain)", vector, questions, docs),
            own_search(assistant, questions)]


def markdown(corpus: Corpus, split: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"# LlamaIndex retrievers on {corpus.name} ({split} split, {rows[0]['questions']} questions, k = {K})",
             "", "A hit: a passage of a gold document among the k (evals/llama_index.py says how gold documents "
             "become expected ids).", "",
             "| retriever | scored by | hit rate | MRR |", "|---|---|---|---|"]
    lines += [f"| {r['retriever']} | {r['scored_by']} | {r['hit_rate']:.3f} | {r['mrr']:.3f} |" for r in rows]
    return "\n".join(lines) + "\n"


def run(corpus: Corpus, split: str, stores: Path, out: Path) -> list[dict[str, Any]]:
    retrieval.build_ours(corpus, stores / corpus.name / "ours")
    rows = compare(corpus, split, stores / corpus.name / "ours", stores / corpus.name / "llamaindex")
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"llama-index-{corpus.name}-{split}"
    stem.with_suffix(".json").write_text(json.dumps({"corpus": corpus.name, "split": split, "k": K, "results": rows},
                                                    indent=1))
    stem.with_suffix(".md").write_text(markdown(corpus, split, rows))
    print(markdown(corpus, split, rows))
    return rows
