"""Feedback cases replayed (`assistant feedback export`, docs/feedback.md): each question asked
again, after its conversation's earlier questions and with its saved filters, and judged by its
kind. A report for people, not a gate: it always exits 0.

    python -m evals answers --questions cases.jsonl --store DIR [--llm extractive] [--out DIR]

  - keep (thumbs-up on an answer): holds when answered and every gold document still cited;
    the share of gold documents cited is reported too.
  - fix (thumbs-down on an answer): "changed" when the text differs from the disliked one, else
    "same"; the changed ones are listed with the comment for a person to read (no verdict).
  - find (thumbs-down on a refusal): holds when now answered.
  - refuse (thumbs-up on a refusal): holds when still refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.app.feedback_cases import KINDS, CaseError, FeedbackCase, read_cases
from assistant.errors import AssistantError
from evals.questions import matches

FILTERS = ("since", "until", "source", "kind", "collection")  # what a saved turn's filters may hold


@dataclass
class Replayed:
    case: FeedbackCase
    status: str  # holds, broken, changed, same, or error
    text: str = ""
    refused: bool = False
    cited: list[str] = field(default_factory=list)
    gold_cited: float | None = None  # keep: share of its gold documents cited again
    missing: list[str] = field(default_factory=list)  # keep: gold documents no longer cited
    seconds: float = 0.0
    error: str = ""

    @property
    def holds(self) -> bool | None:
        """None for fix cases: whether a changed answer is better is for a person to say."""
        return None if self.case.kind == "fix" else self.status == "holds"


def judge(case: FeedbackCase, text: str, refused: bool, cited: list[tuple[str, str]], seconds: float) -> Replayed:
    """One replayed answer against its case; `cited`: (path, doc_id) of each citation."""
    paths = [p if not d or d == p else f"{p}#{d}" for p, d in cited]
    r = Replayed(case, "", text, refused, list(dict.fromkeys(paths)), seconds=round(seconds, 2))
    if case.kind == "keep":
        found = [g for g in case.gold_docs if any(matches(g, p, d) for p, d in cited)]
        r.gold_cited = round(len(found) / len(case.gold_docs), 3) if case.gold_docs else None
        r.missing = [g for g in case.gold_docs if g not in found]
        r.status = "holds" if not refused and len(found) == len(case.gold_docs) else "broken"
    elif case.kind == "fix":
        r.status = "same" if " ".join(text.split()) == " ".join(case.answer.split()) else "changed"
    elif case.kind == "find":
        r.status = "holds" if not refused else "broken"
    else:
        r.status = "holds" if refused else "broken"
    return r


def replay(a: Any, case: FeedbackCase) -> Replayed:
    """Ask the case again as it was asked: earlier questions first (their answers the history),
    then the question, with the saved filters."""
    filters = {k: v for k, v in case.filters.items() if k in FILTERS and v}
    try:
        history: list[tuple[str, str]] = []
        for turn in case.turns:
            history.append((turn, a.ask(turn, history=list(history) or None, **filters).text))
        start = time.perf_counter()
        answer = a.ask(case.question, history=history or None, **filters)
    except AssistantError as e:  # a filter or collection that is no more, say: reported, not fatal
        return Replayed(case, "error", error=str(e))
    return judge(case, answer.text, answer.refused, [(c.path, c.doc_id) for c in answer.citations],
                 time.perf_counter() - start)


def counts(results: list[Replayed]) -> dict[str, dict[str, int]]:
    """Per kind present: cases, and how many hold (fix: changed) or broke (fix: same) or failed."""
    out = {}
    for kind in KINDS:
        mine = [r for r in results if r.case.kind == kind]
        if mine:
            out[kind] = {s: sum(r.status == s for r in mine) for s in ("holds", "broken", "changed", "same", "error")}
            out[kind]["cases"] = len(mine)
    return out


def table(results: list[Replayed]) -> str:
    rows = ["| kind | cases | holds | broken | changed | same | error | gold cited |", "|---" * 8 + "|"]
    for kind, c in counts(results).items():
        shares = [r.gold_cited for r in results if r.case.kind == kind and r.gold_cited is not None]
        gold = f"{sum(shares) / len(shares):.2f}" if shares else ""
        rows.append(f"| {kind} | {c['cases']} | {c['holds']} | {c['broken']} | {c['changed']} | {c['same']} "
                    f"| {c['error']} | {gold} |")
    return "\n".join(rows)


def overall(results: list[Replayed]) -> str:
    judged = [r for r in results if r.holds is not None]
    return f"{sum(bool(r.holds) for r in judged)} of {len(judged)} still hold"


def markdown(results: list[Replayed], questions: Path, store: Path, llm: str) -> str:
    out = [f"# Feedback cases replayed\n\n`{questions}` on `{store}`, backend `{llm}`, "
           f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {overall(results)} (fix cases are for a person to read).\n",
           table(results), ""]
    sections = (("Broken: keep, find and refuse cases that no longer hold", lambda r: r.status == "broken"),
                ("Changed: fix cases answered differently (better or not: read them)", lambda r: r.status == "changed"),
                ("Same: fix cases answered as before", lambda r: r.status == "same"),
                ("Errors", lambda r: r.status == "error"))
    for title, chosen in sections:
        picked = [r for r in results if chosen(r)]
        if not picked:
            continue
        out.append(f"## {title}\n")
        for r in picked:
            c = r.case
            out.append(f"- **{c.kind}** `{c.id}` ({c.rated}): {_md(c.question)}")
            if c.turns:
                out.append(f"  - after: {' / '.join(_md(t) for t in c.turns)}")
            if c.comment:
                out.append(f"  - comment: {_md(c.comment)}")
            if r.status == "same":
                out.append(f"  - answer (unchanged): {_md(c.answer)}")
                continue
            if c.kind == "fix":
                out.append(f"  - before: {_md(c.answer)}")
            out.append(f"  - now: {_md(r.error or r.text)}")
            if c.kind == "keep":
                missing = ", ".join(_md(g) for g in r.missing) or "none"
                out.append(f"  - gold cited: {r.gold_cited}; missing: {missing}")
        out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    """User text on one line of a Markdown list, its markup inert."""
    return " ".join(text.replace("<", "&lt;").replace("|", "\\|").split())


def run(questions: Path, store: Path, llm: str, options: dict[str, Any], out: Path) -> list[Replayed]:
    from assistant import Assistant
    from assistant.settings import Settings

    try:
        cases = read_cases(questions)
    except (OSError, CaseError) as e:
        raise SystemExit(f"bad cases file: {e}") from None
    try:
        a = Assistant(settings=Settings.load(store=store, llm=llm, **{k: v for k, v in options.items() if v}))
    except AssistantError as e:
        raise SystemExit(f"Error: {e}") from None
    results = []
    for case in cases:
        results.append(r := replay(a, case))
        print(f"{case.kind:<6} {r.status:<7} {case.id}  {' '.join(case.question.split())[:80]}", flush=True)
    print(table(results))
    print(f"\n{overall(results)}.")
    path = out / "feedback-answers.md" if out.suffix != ".md" else out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(results, questions, store, llm) + "\n", encoding="utf-8")
    print(f"Report: {path}")
    return results
