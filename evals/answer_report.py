"""Answer evaluation's figures: the summary of the per-question rows, what the relevance gate
would give at other settings, and the Markdown report (the metrics are defined in evals/answers.py)."""

from __future__ import annotations

import statistics
from typing import Any


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if not r["refused"]]
    found = [r for r in ans if r.get("answer_retrieved")]
    yes = [r for r in ans if r.get("archive_answers") is True]
    no = [r for r in ans if r.get("archive_answers") is False]

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    secs = [r["seconds"] for r in rows]
    return {
        "answerable": len(ans), "unanswerable": len(una),
        "coverage": ratio(sum(r["coverage"] for r in ans), len(ans)),
        "citation_recall": ratio(sum(r["supported"] for r in answered), sum(r["sentences"] for r in answered)),
        "citation_precision": ratio(sum(r["needed"] for r in answered), sum(r["citations"] for r in answered)),
        "gold_cited": ratio(sum(r["gold_cited"] for r in ans if not r["refused"]),
                            sum(not r["refused"] for r in ans)),
        "grounded": ratio(sum(r["grounded"] for r in answered), len(answered)),
        "refusal_acc_unanswerable": ratio(sum(r["refused"] for r in una), len(una)),
        **{f"refusal_acc_{kind}": ratio(sum(r["refused"] for r in una if r.get("kind") == kind),
                                        sum(r.get("kind") == kind for r in una)) for kind in UNANSWERABLE_KINDS},
        "refusal_acc_answerable": ratio(sum(not r["refused"] for r in ans), len(ans)),
        "answer_rate_retrieved": ratio(sum(not r["refused"] for r in found), len(found)),
        "answerable_retrieved": len(found),
        # Where the questions are labelled (evals/labels.py): the archive answers them, or the
        # answer string occurs only elsewhere, so that refusing is right.
        "labelled_answered": len(yes), "labelled_elsewhere": len(no),
        "answer_rate_labelled": ratio(sum(not r["refused"] for r in yes), len(yes)),
        "evidence_retrieved": ratio(sum(r.get("evidence_retrieved") is True for r in yes),
                                    sum(r.get("evidence_retrieved") is not None for r in yes)),
        "refusal_acc_elsewhere": ratio(sum(r["refused"] for r in no), len(no)),
        "seconds_mean": round(statistics.mean(secs), 2) if secs else None,
        "seconds_answered": round(statistics.mean(r["seconds"] for r in answered), 2) if answered else None,
        "seconds_p50": round(statistics.median(secs), 2) if secs else None,
    }


UNANSWERABLE_KINDS = ("written", "absent")
GATE_SWEEP = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65)


def gate_sweep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the relevance gate alone would give at other settings of `min_relevance`: answer
    rates on the answerable questions, refusal rates on each kind of unanswerable one."""
    def rate(group: list[dict[str, Any]], answered: bool, t: float) -> float | None:
        return round(sum((r["relevance"] >= t) == answered for r in group) / len(group), 3) if group else None

    ans = [r for r in rows if r["answerable"]]
    found = [r for r in ans if r.get("answer_retrieved")]
    yes = [r for r in ans if r.get("archive_answers") is True]
    no = [r for r in ans if r.get("archive_answers") is False]
    out = []
    for t in GATE_SWEEP:
        row: dict[str, Any] = {"min_relevance": t, "answer_rate": rate(ans, True, t),
                               "answer_rate_retrieved": rate(found, True, t),
                               "answer_rate_labelled": rate(yes, True, t), "refusal_elsewhere": rate(no, False, t)}
        for kind in UNANSWERABLE_KINDS:
            row[f"refusal_{kind}"] = rate([r for r in rows if r.get("kind") == kind], False, t)
        out.append(row)
    return out


COLUMNS = [("coverage", "coverage"), ("citation_precision", "cit. precision"), ("citation_recall", "cit. recall"),
           ("gold_cited", "gold cited"), ("grounded", "grounded"),
           ("refusal_acc_unanswerable", "refusal acc. (unanswerable)"),
           ("refusal_acc_written", "refusal acc. (written)"), ("refusal_acc_absent", "refusal acc. (absent)"),
           ("refusal_acc_answerable", "answer rate (answerable)"),
           ("answer_rate_retrieved", "answer rate (answer retrieved)"), ("seconds_mean", "s/question"),
           ("seconds_answered", "s/answer (answered)")]


def markdown(result: dict[str, Any], split: str) -> str:
    s = result["summary"]
    kinds = ", ".join(f"{sum(r.get('kind') == k for r in result['questions'])} {k}" for k in UNANSWERABLE_KINDS)
    cell = [("–" if s[k] is None else f"{s[k]:.2f}" if k.startswith("seconds") else f"{s[k]:.3f}") for k, _ in COLUMNS]
    lines = [f"# Answers on {result['corpus']} ({split}): {result['llm']}"
             + (f" ({result['model']})" if result["model"] else ""), "",
             f"{s['answerable']} answerable ({s.get('answerable_retrieved', '?')} with the answer in the retrieved "
             f"passages) and {s['unanswerable']} unanswerable questions ({kinds}); support threshold "
             f"{result['support_threshold']}. Metrics are defined in evals/answers.py.", "",
             "| backend | " + " | ".join(h for _, h in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|",
             f"| {result['llm']} | " + " | ".join(cell) + " |", ""]
    rows = result["questions"]
    if s.get("labelled_answered") or s.get("labelled_elsewhere"):
        lines += [f"Labelled by reading the archive (evals/labels/): of the {s['answerable']} answerable questions, "
                  f"the archive answers {s['labelled_answered']}; for the other {s['labelled_elsewhere']} an answer "
                  "string occurs only in other stories, so refusing them is right.", "",
                  "| answer rate (archive answers) | its evidence document retrieved | "
                  "refusal rate (answer only elsewhere) |", "|---|---|---|",
                  "| " + " | ".join("–" if s.get(k) is None else f"{s[k]:.3f}" for k in
                                   ("answer_rate_labelled", "evidence_retrieved", "refusal_acc_elsewhere")) + " |",
                  ""]
    if rows and all("relevance" in r for r in rows):
        lines += [f"The relevance gate alone at other settings of `min_relevance` (this run: "
                  f"{result.get('min_relevance')}; for the LLM backends the LLM may refuse besides):", "",
                  "| min_relevance | answer rate (answerable) | answer rate (answer retrieved) | "
                  "answer rate (archive answers) | refusal (answer only elsewhere) | "
                  "refusal (written) | refusal (absent) |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {g['min_relevance']:.2f} | " + " | ".join(
            "–" if g.get(k) is None else f"{g[k]:.3f}" for k in (
                "answer_rate", "answer_rate_retrieved", "answer_rate_labelled", "refusal_elsewhere",
                "refusal_written", "refusal_absent")) + " |"
                  for g in gate_sweep(rows)]
        lines.append("")
    lines += ["## Answers", ""]
    for r in rows:
        flag = "refused" if r["refused"] else "grounded" if r["grounded"] else "not grounded"
        labelled = {True: ", archive answers", False: ", answer only elsewhere"}.get(r.get("archive_answers"), "")
        kind = f"answerable{labelled}" if r["answerable"] else \
            f"unanswerable, {r['kind']}" if r.get("kind") else "unanswerable"
        text = " ".join(r["answer"].split())
        lines.append(f"- **{r['id']}** ({kind}, {flag}, {r['seconds']} s) {r['question']}  \n  {text[:400]}")
    return "\n".join(lines) + "\n"
