"""Answer evaluation: per backend, how well answers cover the gold answer, how well their
citations hold up, how often they refuse rightly, and how long they take.

    python -m evals answers --corpus ../shared/corpora/cambodia --llm extractive
    python -m evals answers --corpus examples --llm local

Questions: the corpus's answerable ones (evals/corpora.py says which count), and two kinds
of unanswerable ones: those this project wrote for it (evals/unanswerable/; the sample set has
its own), mostly off-topic, and, for news, the quiz's own questions whose answer is certainly
absent (`absent_questions`): near misses on topics the archive covers, the harder test.

Metrics:
  - coverage (answerable questions; a refusal scores 0): for news, 1 when the answer contains
    a gold answer string (case-insensitive), else 0; for cambodia and the sample set, the
    share of the gold answer's content words (stemmed, stop words out) the answer contains.
  - citation recall and precision by sentence support, in the manner of ALCE (Gao et al.,
    2023), over answered questions: recall = share of answer sentences supported by the
    passages they cite (a sentence citing nothing is unsupported); precision = share of
    (sentence, citation) pairs where the citation is needed: it supports the sentence alone,
    or the sentence is supported by all its citations but not without this one. ALCE judges
    support with an NLI model; none ships offline here, so the judge is assistant/answering/verify.py's
    support score at its calibrated threshold (evals/results/support-calibration.md), applied
    afresh to every backend (the extractive answerer's own claims are not trusted).
  - gold citations: share of answered answerable questions citing a gold passage.
  - refusal accuracy: share refused of unanswerable questions (all, and per kind); share
    answered of answerable.
    Also the answer rate on the answerable questions whose retrieved passages (the ones the
    answerer was given) hold the answer (a gold answer string, document or page): for news,
    "answerable" only means an answer string occurs somewhere in the archive, often in an
    unrelated story ("Paris"), and where retrieval did not find it, refusing is right.
  - news only, from the hand labels (evals/labels.py): the answer rate on the questions the
    archive does answer, how often retrieval brought the labelled evidence document, and the
    refusal rate on those whose answer string occurs only in other stories (unanswerable in
    truth, and the nearest misses of all).
  - seconds per answer: wall time of `Assistant.ask`, retrieval included.
  - the refusal gate's trade-off: each question's relevance (the best passage's score, which
    `min_relevance` is compared with) is recorded, and the table shows what other settings of
    `min_relevance` would have given; for the extractive backend the gate is its only refusal.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.index.keyword import terms
from evals import corpora, labels
from evals.answer_report import gate_sweep, markdown, summary
from evals.labels import Label
from evals.questions import load_sample, matches

UNANSWERABLE = Path(__file__).parent / "unanswerable"


@dataclass
class Item:
    id: str
    question: str
    answerable: bool
    gold_answer: str = ""  # coverage by content words
    strings: list[str] = field(default_factory=list)  # coverage by answer strings (news)
    hit: Callable[[str, str, str, int | None], bool] | None = None  # is a cited passage gold?
    kind: str = ""  # unanswerable ones: "written" (evals/unanswerable/) or "absent" (the corpus's)
    label: Label | None = None  # answerable ones: does the archive answer it? (evals/labels.py)


@dataclass
class Suite:
    name: str
    paths: list[Path]
    items: list[Item]


def suite(root: Path, split: str) -> Suite:
    """The questions for a corpus folder, or for `examples` (the sample archive)."""
    if (root / "questions.jsonl").is_file() and (root / "archive").is_dir():
        items = []
        for q in load_sample(root / "questions.jsonl"):
            if split not in ("all", q.split):
                continue
            hit = (lambda t, p, d, pg, g=q.gold_docs: any(matches(x, p, d) for x in g)) if q.gold_docs else None
            items.append(Item(q.id, q.question, not q.refusal, q.answer, [], hit,
                              kind="written" if q.refusal else ""))
        return Suite("sample", [root / "archive"], items)
    corpus = corpora.load(root)
    answers: dict[str, str] = {}
    for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line) if line.strip() else {}
        if "question" in r:
            answers[str(r.get("id") or r.get("financebench_id"))] = str(r.get("answer") or "")
    items = []
    news = corpus.name == "news-2023q4"
    labelled = labels.load(corpus.name)
    for e in corpus.split(split):
        items.append(Item(e.id, e.question, True, "" if news else answers.get(e.id, ""),
                          e.gold if news else [], e.hit, label=labelled.get(e.id)))
    items += [Item(i, q, False, kind="written")
              for i, q in written_questions(UNANSWERABLE / f"{corpus.name}.jsonl", split)]
    if news:
        items += [Item(i, q, False, kind="absent") for i, q in absent_questions(root, split)]
    return Suite(corpus.name, corpus.paths, items)


def build(s: Suite, settings: Any) -> Any:
    """The suite's store brought in line with its files (a no-op when built already), and files
    it holds from anywhere else removed: the same corpus ingested from another checkout (a git
    worktree of an earlier commit, run for a baseline) is stored under that checkout's paths, and
    every question would then find each passage twice. The ingestion's report."""
    from assistant.index.store import Store
    from ingest import ingest, remove
    from ingest.files import file_key, is_under

    report = ingest(s.paths, settings, quiet=True)
    roots = [file_key(p) for p in s.paths]
    stray = [k for k in Store.open(settings).file_records() if not any(is_under(k, r) for r in roots)]
    if stray:
        gone = remove(stray, settings)
        print(f"Removed {len(gone.removed)} files from elsewhere out of {settings.store}, "
              f"e.g. {stray[0]}", flush=True)
    return report


def written_questions(path: Path, split: str) -> list[tuple[str, str]]:
    """(id, question) of the project's unanswerable questions for a split. A question with a
    `split` belongs to that split only, so that test's refusal figure is not measured on the
    questions `min_relevance` was chosen with; one without (cambodia has only dev) to every split."""
    if not path.is_file():
        return []
    return [(str(r["id"]), str(r["question"])) for r in corpora._lines(path)
            if split in ("all", r.get("split", split))]


_TOKEN = re.compile(r"[\w$£€]+(?:[.,'’]\w+)*")
ABSENT_MAX_WORDS = 4  # a longer answer is a description, which the archive may word otherwise


def _fold(text: str) -> str:
    """Lower case without accents: "Ciarán" and "Ciaran" are one word here."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def absent_questions(root: Path, split: str) -> list[tuple[str, str]]:
    """News quiz questions whose answer the archive certainly lacks: the corpus says no answer
    string occurs in it (`answer_in_archive` false), and, since an answer can be missing only
    as a phrase ("Former Texas Rep. Will Hurd") or a wording, every answer is a name of at
    most ABSENT_MAX_WORDS words with a word of four letters or more that is not in the
    question and occurs in no document (accents and case folded). Figures do not count: the
    archive may give the same one otherwise (the Macallan 1926's "£2.1 million" is there as
    "$2.7 million"). Spelling variants are not caught ("jewellery" for "jewelry")."""
    vocab: set[str] = set()
    for r in corpora._lines(root / "docs.jsonl"):
        vocab.update(_TOKEN.findall(_fold(f"{r.get('title') or ''} {r.get('text') or ''}")))
    out = []
    for r in corpora._lines(root / "questions.jsonl"):
        if r.get("answer_in_archive", True) or split not in ("all", r.get("split")):
            continue
        asked = set(_TOKEN.findall(_fold(r["question"])))
        answers = r.get("answers") or []
        if answers and all(len(a.split()) <= ABSENT_MAX_WORDS and any(
                w not in vocab and w not in asked and sum(c.isalpha() for c in w) >= 4
                for w in _TOKEN.findall(_fold(a))) for a in answers):
            out.append((str(r["id"]), str(r["question"])))
    return out


def coverage(item: Item, text: str) -> float:
    if item.strings:
        return float(any(s.lower() in text.lower() for s in item.strings))
    gold = set(terms(item.gold_answer))
    return len(gold & set(terms(text))) / len(gold) if gold else 0.0


def judge(verifier: Any, answer: Any) -> tuple[int, int, int, int]:
    """(supported sentences, sentences, needed citations, citations), ALCE style."""
    from assistant.answering.verify import split_claims

    parts = split_claims(answer.text)
    by_n = {c.n: c for c in answer.citations}
    numbers = sorted(by_n)
    if not parts:
        return 0, 0, 0, 0
    table = verifier.support([t for t, _ in parts], [(by_n[n].title, by_n[n].text) for n in numbers]) \
        if numbers else [[] for _ in parts]
    ok = verifier.threshold
    supported = needed = cites_total = 0
    for (_, cites), row in zip(parts, table):
        scores = {n: row[numbers.index(n)].score for n in cites if n in by_n}
        whole = bool(scores) and max(scores.values()) >= ok  # support by the best cited passage
        supported += whole
        for n, s in scores.items():
            cites_total += 1
            others = [v for m, v in scores.items() if m != n]
            needed += s >= ok or (whole and not (others and max(others) >= ok))
    return supported, len(parts), needed, cites_total


def evaluate(s: Suite, store: Path, llm: str, options: dict[str, Any], limit: int | None) -> dict[str, Any]:
    from assistant import Assistant
    from assistant.answering import prompts
    from assistant.answering.relevance import Relevance
    from assistant.answering.verify import Verifier

    a = Assistant(store=store, llm=llm, **options)
    verifier = Verifier(a.embedder, a.settings.support_threshold)
    # The relevance every backend's gate compares with `min_relevance`, scored as they score it.
    gate = Relevance(a.embedder, lambda t: a.retriever.snapshot.idf(t),
                     prompts.load("refusal", a.settings.prompts_dir))
    answerable = [i for i in s.items if i.answerable][:limit]
    rows = []
    for item in answerable + [i for i in s.items if not i.answerable]:
        start = time.perf_counter()
        answer = a.ask(item.question)
        seconds = time.perf_counter() - start
        given = a.search(item.question, a.settings.top_k)  # what the answerer was given
        sup, sents, need, cites = (0, 0, 0, 0) if answer.refused else judge(verifier, answer)
        gold = item.hit is not None and any(item.hit(c.text, c.path, c.doc_id, c.page) for c in answer.citations)
        rows.append({"id": item.id, "question": item.question, "answerable": item.answerable,
                     "kind": item.kind, "relevance": round(max(gate.relevance(item.question, given),
                                                               default=0.0), 4),
                     "refused": answer.refused, "grounded": answer.grounded, "seconds": round(seconds, 2),
                     "coverage": round(coverage(item, answer.text), 3) if item.answerable and not answer.refused
                     else 0.0, "supported": sup, "sentences": sents, "needed": need, "citations": cites,
                     "gold_cited": gold, "answer": answer.text,
                     "answer_retrieved": any(item.hit(p.text, p.path, p.doc_id, p.page) for p in given)
                     if item.answerable and item.hit is not None else None,
                     "archive_answers": item.label.archive_answers if item.label else None,
                     "evidence_retrieved": any(p.doc_id == item.label.doc for p in given)
                     if item.label and item.label.archive_answers else None,
                     "cited": [c.path.rsplit("/", 1)[-1] + (f"#{c.doc_id}" if c.doc_id != c.path else "")
                               for c in answer.citations]})
        print(json.dumps({k: rows[-1][k] for k in ("id", "refused", "coverage", "supported", "sentences",
                                                      "seconds")}), flush=True)
    return {"corpus": s.name, "llm": llm, "model": getattr(getattr(a.answerer, "llm", None), "model", None),
            "support_threshold": verifier.threshold, "min_relevance": a.settings.min_relevance,
            "summary": summary(rows), "gate_sweep": gate_sweep(rows), "questions": rows}


def resummarize(path: Path) -> None:
    """Recompute a results file's summary and table from its per-question rows."""
    result = json.loads(path.read_text())
    labelled = labels.load(result["corpus"])
    for r in result["questions"]:  # rows from before the labels, or labels changed since
        if r["answerable"] and r["id"] in labelled:
            r["archive_answers"] = labelled[r["id"]].archive_answers
    result["summary"] = summary(result["questions"])
    if all("relevance" in r for r in result["questions"]):
        result["gate_sweep"] = gate_sweep(result["questions"])
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    path.with_suffix(".md").write_text(markdown(result, result.get("split", "dev")))


def run(root: Path, split: str, llm: str, options: dict[str, Any], stores: Path, out: Path,
        limit: int | None = None) -> dict[str, Any]:
    from assistant.settings import Settings

    s = suite(root, split)
    store = stores / s.name / "ours"
    report = build(s, Settings(store=store))
    print(report.summary(), flush=True)
    result = evaluate(s, store, llm, options, limit)
    result["split"] = split
    if limit:
        result["limit"] = limit
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"answers-{s.name}-{split}-{llm}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    stem.with_suffix(".md").write_text(markdown(result, split))
    print(json.dumps(result["summary"], indent=1))
    return result
