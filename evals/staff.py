"""Staff question sets (evals/staff/README.md): each question asked as staff would ask it,
a follow-up after its earlier turns, and the answer scored against the facts it must hold.

    python -m evals staff --corpus ../shared/corpora/cambodia --split dev --label after
    python -m evals staff --corpus examples --split all --questions /tmp/staff.jsonl

Metrics, per type and overall (answerable: every type but out-of-archive and stale):
  - answer correct (answerable): not refused, and each fact has a spelling in the text (`contains`).
  - first sentence correct (answerable; comparison and follow-up only with a `first`): the first
    sentence (`first_sentence`) contains a spelling of `first`, by default of any fact; a refusal fails.
  - citation precision: evals/answers.py's (ALCE style, its support judge), over answered questions.
  - gold cited: share of answered answerable questions citing a gold document.
  - wrongly refused: share of answerable questions refused.
  - wrongly answered: share of unanswerable questions answered; a stale one whose answer carries
    its `age_note` (a sentence saying how old its sources are) is answered rightly.

For "before" figures the harness is copied into a worktree of an older commit, so it relies only
on Assistant(store=, llm=).ask(q, history=), the Answer's text/refused/citations and
evals/answers.py's suite and judge; `age_note` is read with getattr.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.answers import build, judge, suite
from evals.corpora import Corpus, EvalQuestion
from evals.questions import matches
from evals.staff_records import TYPES, Cited, Metrics, Record

if TYPE_CHECKING:
    from evals.staff_report import Result

UNANSWERABLE = ("out-of-archive", "stale")
LISTS = ("turns", "gold_docs", "evidence", "parts")
OPTIONAL = {"turns", "gold_docs", "evidence", "first", "parts", "note"}
REQUIRED = ("id", "split", "type", "question", "answerable", "facts")
HERE = Path(__file__).parent / "staff"


class QuestionFileError(ValueError):
    """A question file that does not follow evals/staff/README.md; the message lists every fault."""


@dataclass
class StaffQuestion:
    id: str
    split: str
    type: str
    question: str
    answerable: bool
    facts: list[list[str]]  # each fact: its acceptable spellings
    turns: list[str] = field(default_factory=list)
    gold_docs: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    first: list[str] | None = None
    parts: list[str] = field(default_factory=list)
    note: str = ""


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)


def _faults(r: dict[str, Any]) -> list[str]:
    out = [f"unknown field {k!r}" for k in sorted(set(r) - set(REQUIRED) - OPTIONAL)]
    out += [f"missing field {k!r}" for k in REQUIRED if k not in r]
    if out:
        return out
    if r["split"] not in ("dev", "test"):
        out.append(f"split {r['split']!r} is not dev or test")
    if r["type"] not in TYPES:
        out.append(f"type {r['type']!r} is not one of {', '.join(TYPES)}")
    out += [f"{k} must be a non-empty string" for k in ("id", "question", "note") if k in r and not _strings([r[k]])]
    if r["answerable"] is not (r["type"] not in UNANSWERABLE):
        out.append(f"answerable must be {str(r['type'] not in UNANSWERABLE).lower()} for type {r['type']!r}")
    out += [f"{k} must be a list of non-empty strings" for k in LISTS if k in r and not _strings(r[k])]
    if "first" in r and not (_strings(r["first"]) and r["first"]):
        out.append("first must be a non-empty list of non-empty strings")
    if not (isinstance(r["facts"], list) and all(_strings(f) and f for f in r["facts"])):
        out.append("facts must be a list of facts, each a non-empty list of spellings")
    elif r["answerable"] is True and not r["facts"]:
        out.append("an answerable question needs facts")
    if r["answerable"] is True and not r.get("gold_docs"):
        out.append("an answerable question needs gold_docs")
    if (r["type"] == "follow-up") != bool(r.get("turns")):
        out.append("turns must be non-empty for a follow-up and empty otherwise")
    if r.get("parts") and r["type"] != "comparison":
        out.append("parts is for comparison questions only")
    return out


def load_questions(path: Path) -> list[StaffQuestion]:
    """The questions of a file, checked; QuestionFileError names every faulty line and why."""
    out: list[StaffQuestion] = []
    errors: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            r = f"not JSON ({e.msg})"
        if not isinstance(r, dict):
            errors.append(f"{path}:{n}: {r if isinstance(r, str) and r.startswith('not JSON') else 'not an object'}")
            continue
        faults = _faults(r) + (["duplicate id"] if any(q.id == r.get("id") for q in out) else [])
        if faults:
            errors += [f"{path}:{n} ({r.get('id', '?')}): {f}" for f in faults]
            continue
        out.append(StaffQuestion(**r))
    if errors:
        raise QuestionFileError("\n".join(errors))
    return out


def as_retrieval(corpus: str) -> Corpus:
    """A corpus's staff questions as retrieval questions: a hit is a passage holding one of the
    question's evidence sentences (its first 70 characters, normalised: a chunk may end inside
    a long one). Follow-ups, which need their conversation, and questions without evidence are
    left out; a comparison is searched whole, as asked."""
    s = suite(Path(corpus), "dev")
    found: list[EvalQuestion] = []
    excluded = {"follow-up": 0, "no evidence": 0}
    for q in load_questions(HERE / f"{s.name}.jsonl"):
        if q.turns or not q.evidence:
            excluded["follow-up" if q.turns else "no evidence"] += 1
            continue
        wanted = [normalize(e)[:70] for e in q.evidence]

        def hit(text: str, path: str, doc: str, page: int | None, wanted: list[str] = wanted) -> bool:
            held = normalize(text)
            return any(w in held for w in wanted)

        found.append(EvalQuestion(q.id, q.question, q.split, hit, q.evidence))
    return Corpus(s.name, Path(corpus), "evidence hit", s.paths, found, excluded, "staff")


_FOLD = str.maketrans({**dict.fromkeys("‘’‚‛′`", "'"), **dict.fromkeys("“”„‟″«»", '"'),
                       **dict.fromkeys("‐‑‒–—―−", "-")})
# An [n] marker (or [1, 2]) and the date in parentheses a citation may carry after it.
_CITED = re.compile(r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\](?:\s*\([^()]{0,48}?\d{4}[^()]{0,16}\))?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")  # "1,200" is "1200"
_END_CITED = re.compile(r"[.!?][\"'”’»)]*\s*(?=\[\s*\d)|" + _CITED.pattern + r"\s*[.!?](?=\s|$)")
_END = re.compile(r"[.!?][\"'”’»)]*(?=\s|$)")


def strip_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_CITED.sub(" ", text).split()))


def normalize(text: str) -> str:
    """NFKC, case folded, quotes and dashes ASCII, punctuation a space, spaces collapsed."""
    t = _THOUSANDS.sub("", unicodedata.normalize("NFKC", text).translate(_FOLD).casefold())
    return " ".join("".join(" " if unicodedata.category(c).startswith("P") else c for c in t).split())


def contains(text: str, spelling: str) -> bool:
    """Does the answer text hold this spelling, as whole words ("10" is not in "2010")?"""
    s = normalize(strip_markers(spelling))  # an age note may carry its markers too
    return bool(s) and f" {s} " in f" {normalize(strip_markers(text))} "


def first_sentence(text: str) -> str:
    """Up to the first sentence end that a [n] marker follows (so "Dr. Valcourt" does not end
    it), else the first ". ", "! " or "? "; without markers."""
    m = _END_CITED.search(text) or _END.search(text)
    return strip_markers(text[:m.end()] if m else text)


def record(q: StaffQuestion, text: str, refused: bool, citations: list[Cited], age_note: str | None,
           seconds: float, support: tuple[int, int, int, int] = (0, 0, 0, 0)) -> Record:
    """One answer, judged."""
    r = Record(q.id, q.type, q.split, q.question, q.turns, q.answerable, text, refused, citations, age_note,
               round(seconds, 2), support)
    r.gold_cited = any(matches(g, c.path, c.doc_id) for g in q.gold_docs for c in citations)
    r.missing = [f[0] for f in q.facts if not any(contains(text, s) for s in f)]
    if q.answerable:
        r.correct = not refused and not r.missing
        if q.first or q.type not in ("comparison", "follow-up"):
            head = first_sentence(text)
            r.first_correct = not refused and any(contains(head, s) for s in q.first or [s for f in q.facts for s in f])
    else:
        dated = q.type == "stale" and bool(age_note and age_note.strip()) and contains(text, age_note or "")
        r.wrongly_answered = not refused and not dated
    return r


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def summarize(rs: list[Record]) -> Metrics:
    ans = [r for r in rs if r.answerable]
    answered = [r for r in rs if not r.refused]
    cites = sum(r.support[3] for r in answered)
    return Metrics(
        len(rs), len(ans), _share([bool(r.correct) for r in ans]),
        _share([r.first_correct for r in ans if r.first_correct is not None]),
        round(sum(r.support[2] for r in answered) / cites, 3) if cites else None,
        _share([r.gold_cited for r in ans if not r.refused]), _share([r.refused for r in ans]),
        _share([bool(r.wrongly_answered) for r in rs if not r.answerable]),
        round(sum(r.seconds for r in rs) / len(rs), 2) if rs else None)


def metrics(rs: list[Record]) -> dict[str, Metrics]:
    """Per type present (in TYPES order), then "overall"."""
    by_type = {t: summarize([r for r in rs if r.type == t]) for t in TYPES if any(r.type == t for r in rs)}
    return {**by_type, "overall": summarize(rs)}


def ask(a: Any, verifier: Any, q: StaffQuestion) -> Record:
    history: list[tuple[str, str]] = []
    for turn in q.turns:  # the earlier turns' answers are the history, as in a chat
        history.append((turn, a.ask(turn, history=list(history) or None).text))
    start = time.perf_counter()
    answer = a.ask(q.question, history=history or None)
    seconds = time.perf_counter() - start
    support = (0, 0, 0, 0) if answer.refused else judge(verifier, answer)
    return record(q, answer.text, answer.refused, [Cited(c.path, c.doc_id) for c in answer.citations],
                  getattr(answer, "age_note", None), seconds, support)


def run(corpus: str, split: str, label: str, stores: Path, out: Path, questions: Path | None = None,
        llm: str = "extractive", types: tuple[str, ...] = ()) -> Result:
    """`llm`: the answer backend (an LLM one condenses follow-ups with its own rewrite);
    `types`: only questions of these types."""
    from assistant import Assistant
    from assistant.answering.verify import Verifier
    from assistant.settings import Settings
    from evals.staff_report import Result, commit, save, table
    s = suite(Path(corpus), "dev")  # its name and what to ingest, as evals/answers.py has them
    path = questions or HERE / f"{s.name}.jsonl"
    qs = [q for q in load_questions(path) if split in ("all", q.split) and (not types or q.type in types)]
    if not qs:
        raise SystemExit(f"{path} has no {split} questions")
    store = stores / s.name / "ours"
    print(build(s, Settings(store=store)).summary(), flush=True)  # a no-op when built
    a = Assistant(store=store, llm=llm)
    threshold = a.settings.support_threshold
    verifier = Verifier(a.embedder, threshold)
    records = []
    for q in qs:
        records.append(r := ask(a, verifier, q))
        print(json.dumps({"id": r.id, "refused": r.refused, "correct": r.correct, "first": r.first_correct,
                          "missing": r.missing, "seconds": r.seconds}, ensure_ascii=False), flush=True)
    result = Result(s.name, split, label, str(path), commit(), time.strftime("%Y-%m-%d %H:%M:%S"), threshold,
                    metrics(records), records)
    save(result, out)
    print(table([result]))
    return result


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", default="extractive", help="answer backend: extractive (default), local, ...")
    p.add_argument("--types", default="", help="only these question types, comma-separated (follow-up, ...)")
    p.add_argument("--corpus", required=True, help="../shared/corpora/cambodia, or examples (the sample set)")
    p.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    p.add_argument("--label", default="after", type=_label, help="names this run's results: before, after, ...")
    p.add_argument("--questions", type=Path, help="question file (default evals/staff/<corpus>.jsonl)")
    p.add_argument("--stores", type=Path, default=Path(".store/evals"), help="where stores are built and reused")
    p.add_argument("--out", type=Path, default=Path("evals/results"))


def _label(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.]+", v):  # it goes into file names, where "-" splits the parts
        raise argparse.ArgumentTypeError("letters, digits, _ and . only")
    return v


def main(args: argparse.Namespace) -> None:
    try:
        run(args.corpus, args.split, args.label, args.stores, args.out, args.questions, args.llm,
            tuple(t for t in args.types.split(",") if t))
    except QuestionFileError as e:
        raise SystemExit(f"bad question file:\n{e}") from None


if __name__ == "__main__":  # `python -m evals.staff ...`: the same, for a copy in an older worktree
    from assistant.index.embedding import offline_env

    parser = argparse.ArgumentParser(prog="python -m evals.staff")
    arguments(parser)
    offline_env()
    main(parser.parse_args())
