"""Hand labels: does the archive answer a question, and where?

For news-2023q4 the corpus's `answer_in_archive` says only that a correct answer string occurs
somewhere in the archive, often in an unrelated story ("Bedbugs" in a piece on hotels, for a
question on Paris). So each of its countable questions was labelled by reading the archive
(evals/labels/README.md says how): `archive_answers` is true when one document states the
answer to the question as asked, and the label names that evidence by document id and
character offsets, so that it can be checked and no text of the corpus is copied here.

    python -m evals.labels ../shared/corpora/news-2023q4     # check every label against the corpus
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

LABELS = Path(__file__).parent / "labels"
MAX_SPAN = 800  # characters: the evidence is a passage, not a document


@dataclass(frozen=True)
class Label:
    id: str
    archive_answers: bool
    doc: str | None = None
    start: int | None = None
    end: int | None = None
    variant: bool = False  # the span gives the answer in other words than the gold string
    doubtful: bool = False  # the labeller's own flag: a close call either way
    why: str = ""


def load(corpus: str) -> dict[str, Label]:
    """The labels for a corpus by question id; empty when it has none."""
    path = LABELS / f"{corpus}.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, Label] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            label = Label(str(r["id"]), bool(r["archive_answers"]), r.get("doc"), r.get("start"), r.get("end"),
                          bool(r.get("variant", False)), bool(r.get("doubtful", False)), str(r.get("why", "")))
        except (ValueError, KeyError) as e:
            raise SystemExit(f"{path}:{n}: not a label ({e})") from None
        out[label.id] = label
    return out


def problems(labels: dict[str, Label], docs: dict[str, str], answers: dict[str, list[str]]) -> list[str]:
    """What is wrong with the labels, given the archive's texts by document id and each
    question's gold answer strings: one line per problem."""
    out = []
    for q in answers:
        if q not in labels:
            out.append(f"{q}: no label")
    for label in labels.values():
        if label.id not in answers:
            out.append(f"{label.id}: labels a question that does not count")
        elif label.archive_answers:
            text = docs.get(label.doc or "")
            if text is None:
                out.append(f"{label.id}: document {label.doc!r} is not in the archive")
            elif not (isinstance(label.start, int) and isinstance(label.end, int)
                      and 0 <= label.start < label.end <= len(text) and label.end - label.start <= MAX_SPAN):
                out.append(f"{label.id}: span {label.start}:{label.end} is not within {MAX_SPAN} characters "
                           f"of document {label.doc}")
            elif not label.variant and not any(a.lower() in text[label.start:label.end].lower()
                                               for a in answers[label.id]):
                out.append(f"{label.id}: the span holds no gold answer string and is not marked variant")
    return out


def check(root: Path) -> list[str]:
    """Check the labels of the corpus at `root` against its documents and questions."""
    from evals import corpora

    corpus = corpora.load(root)
    labels = load(corpus.name)
    if not labels:
        return [f"no labels for {corpus.name} in {LABELS}"]
    docs = {str(r["id"]): str(r.get("text") or "") for r in corpora._lines(root / "docs.jsonl")}
    counted = {q.id for q in corpus.questions}
    answers = {str(r["id"]): [str(a) for a in r["answers"]] for r in corpora._lines(root / "questions.jsonl")
               if str(r["id"]) in counted}
    return problems(labels, docs, answers)


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpora/news-2023q4")
    found = check(root)
    print("\n".join(found) or f"all labels check out against {root}")
    sys.exit(1 if found else 0)
