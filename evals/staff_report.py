"""The staff question sets' results (evals/staff.py): a JSON file per corpus, split and label,
and a report with every label's figures side by side, then the latest label's answers with
what went wrong in each."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from evals.staff_records import TYPES, Metrics, Record

COLUMNS = [("answer_correct", "correct"), ("first_correct", "first sentence"),
           ("citation_precision", "cit. precision"), ("gold_cited", "gold cited"),
           ("wrongly_refused", "wrongly refused"), ("wrongly_answered", "wrongly answered"), ("seconds", "s/question")]
ORDER = {"before": 0, "after": 1}
SHOWN = 400  # characters of an answer in the report


@dataclass
class Result:
    corpus: str
    split: str
    label: str
    questions_file: str
    commit: str | None
    run_at: str
    support_threshold: float | None
    metrics: dict[str, Metrics]
    records: list[Record]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Result:
        d = json.loads(text)
        return cls(**{**d, "metrics": {k: Metrics(**m) for k, m in d["metrics"].items()},
                      "records": [Record.from_dict(r) for r in d["records"]]})


def commit() -> str | None:
    """The code's commit, for telling apart the labels' runs."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def save(result: Result, out: Path) -> None:
    """Its JSON file, and the report of every label found beside it (this one the latest)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"staff-{result.corpus}-{result.split}"
    (out / f"{stem}-{result.label}.json").write_text(result.to_json(), encoding="utf-8")
    found = [Result.from_json(p.read_text(encoding="utf-8")) for p in sorted(out.glob(f"{stem}-*.json"))]
    (out / f"{stem}.md").write_text(markdown([r for r in found if r.label != result.label] + [result], result),
                                    encoding="utf-8")


def ordered(results: list[Result]) -> list[Result]:
    """before, after, then any other label by name."""
    return sorted(results, key=lambda r: (ORDER.get(r.label, 2), r.label))


def table(results: list[Result]) -> str:
    """Rows per type and overall; a column per metric and label (labels ordered by `ordered`)."""
    results = ordered(results)
    many = len(results) > 1
    heads = [f"{h}: {r.label}" if many else h for _, h in COLUMNS for r in results]
    rows = [t for t in [*TYPES, "overall"] if any(t in r.metrics for r in results)]
    lines = ["| type | n | " + " | ".join(heads) + " |", "|---" * (len(heads) + 2) + "|"]
    for t in rows:
        ns = sorted({r.metrics[t].n for r in results if t in r.metrics})
        cells = []
        for key, _ in COLUMNS:
            for r in results:
                v = getattr(r.metrics[t], key) if t in r.metrics else None
                cells.append("–" if v is None else f"{v:.2f}" if key == "seconds" else f"{v:.3f}")
        name = f"**{t}**" if t == "overall" else t
        lines.append(f"| {name} | {'/'.join(map(str, ns))} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def failures(r: Record) -> list[str]:
    if not r.answerable:
        return ["wrongly answered"] if r.wrongly_answered else []
    if r.refused:
        return ["wrongly refused"]
    out = [f"missing {'; '.join(repr(m) for m in r.missing)}"] if r.missing else []
    out += ["first sentence"] if r.first_correct is False else []
    return out + ([] if r.gold_cited else ["no gold document cited"])


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SHOWN else text[:SHOWN].rsplit(" ", 1)[0] + " …"


def markdown(results: list[Result], latest: Result) -> str:
    results = ordered(results)
    labels = "; ".join(f"{r.label}: {r.metrics['overall'].n} questions, commit {r.commit or '?'}, {r.run_at}"
                       for r in results)
    m = latest.metrics["overall"]
    lines = [f"# Staff questions on {latest.corpus} ({latest.split})", "",
             f"Questions: `{latest.questions_file}` ({m.answerable} answerable, {m.n - m.answerable} "
             f"unanswerable); extractive backend; support threshold {latest.support_threshold}. "
             "Metrics are defined in evals/staff.py. Labels: " + labels + ". Where a label's count of "
             "a type differs, n shows each.", "", table(results),
             f"## Answers ({latest.label})", "",
             "✗ marks a question with a failure: wrongly refused or answered, a missing fact, a first "
             "sentence without the answer, or no gold document cited.", ""]
    for r in latest.records:
        bad = failures(r)
        note = ", age note given" if r.age_note else ""
        lines.append(f"- {'✗' if bad else '✓'} **{r.id}** ({r.type}, {r.split}, "
                     f"{'refused' if r.refused else 'answered'}{note}, {r.seconds} s) {r.question}  ")
        if r.turns:
            lines.append("  after: " + " / ".join(r.turns) + "  ")
        if bad:
            lines.append("  **failed:** " + ", ".join(bad) + "  ")
        lines.append(f"  > {_short(r.answer)}")
    return "\n".join(lines) + "\n"
