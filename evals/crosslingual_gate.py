"""The gate for questions in another language than the archive's: which coverage a passage in
another language is credited with (`crosslingual_coverage`, assistant/index/models.py), chosen
per model on the cross-lingual dev questions of evals/crosslingual/.

A passage's gate score is 0.65 meaning + 0.35 coverage of the question's terms
(assistant/answering/relevance.py). A French question shares no words with an English passage
but its names and figures, so its coverage is near 0 and the gate refuses every one (the first
cross-lingual run: 0 of 48 French and Spanish questions answered). Crediting such a passage
with a fixed coverage lets its meaning decide against the same `min_relevance`. The value is
the one that best separates the French and Spanish questions the archive answers from the
project's written unanswerable ones in those languages (evals/crosslingual/unanswerable.jsonl):
the largest difference between their pass rates (Youden's J), the smallest value on a tie, so
that no more is let through than the separation needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import corpora

UNANSWERABLE = Path(__file__).parent / "crosslingual" / "unanswerable.jsonl"
GRID = tuple(round(0.05 * i, 2) for i in range(21))
FOREIGN = ("fr", "es")


@dataclass
class GateScores:
    """Each question's gate score (the best passage's relevance) at every value of the grid."""

    answerable: dict[str, list[list[float]]] = field(default_factory=lambda: {lang: [] for lang in FOREIGN})
    unanswerable: dict[str, list[list[float]]] = field(default_factory=lambda: {lang: [] for lang in FOREIGN})

    def rate(self, which: str, value: float, threshold: float) -> float:
        """The share of `which` questions (French and Spanish together) passing the gate."""
        i = GRID.index(value)
        rows = [r for lang in FOREIGN for r in getattr(self, which)[lang]]
        return round(sum(r[i] >= threshold for r in rows) / len(rows), 3) if rows else 0.0


def unanswerable(names: list[str]) -> dict[str, list[dict[str, str]]]:
    """The written unanswerable dev questions in French and Spanish, by corpus."""
    out: dict[str, list[dict[str, str]]] = {name: [] for name in names}
    for r in corpora._lines(UNANSWERABLE):
        if r["corpus"] in out and r.get("split", "dev") == "dev":
            out[r["corpus"]].append({lang: r[lang] for lang in FOREIGN})
    return out


def credit(a: Any, value: float) -> None:
    """Set the Assistant's (extractive answerer's) `crosslingual_coverage` for this run."""
    a.answerer.relevance.crosslingual_coverage = value


def scores(a: Any, question: str) -> list[float]:
    """The gate's score for `question` at each grid value (one search; the sentences' vectors
    are remembered by the Assistant between values)."""
    relevance = a.answerer.relevance
    given = a.search(question, a.settings.top_k)
    saved = relevance.crosslingual_coverage
    try:
        out = []
        for value in GRID:
            relevance.crosslingual_coverage = value
            out.append(max(relevance.relevance(question, given), default=0.0))
        return out
    finally:
        relevance.crosslingual_coverage = saved


def measure(model: str, stores: dict[str, Path], answerable: dict[str, list[dict[str, str]]],
            threshold: float) -> GateScores:
    """Every foreign question's gate scores over the grid, on the model's stores, at `threshold`."""
    from assistant import Assistant

    got = GateScores()
    written = unanswerable(list(stores))
    for name, store in stores.items():
        a = Assistant(store=store, embed_model=model, min_relevance=threshold)
        for texts in answerable.get(name, []):
            for lang in FOREIGN:
                got.answerable[lang].append(scores(a, texts[lang]))
        for texts in written[name]:
            for lang in FOREIGN:
                got.unanswerable[lang].append(scores(a, texts[lang]))
    return got


def choose(got: GateScores, threshold: float) -> dict[str, Any]:
    """The grid value with the largest J (smallest on a tie), and the rates at every value."""
    table = [{"value": v, "answerable": got.rate("answerable", v, threshold),
              "unanswerable": got.rate("unanswerable", v, threshold)} for v in GRID]
    best = max(table, key=lambda row: (round(row["answerable"] - row["unanswerable"], 3), -row["value"]))
    return {"chosen": best["value"], "table": table,
            "questions": {"answerable": sum(map(len, got.answerable.values())),
                          "unanswerable": sum(map(len, got.unanswerable.values()))}}


def markdown(gates: dict[str, dict[str, Any]]) -> list[str]:
    """The calibration's section of the cross-lingual results."""
    lines = ["", "## The gate for French and Spanish questions (`crosslingual_coverage`)", "",
             "Share of French and Spanish dev questions passing the gate, by the coverage credited to a "
             "passage in another language (evals/crosslingual_gate.py): the questions the archive answers "
             "(evals/crosslingual/questions.jsonl) and the written unanswerable ones "
             "(evals/crosslingual/unanswerable.jsonl). Chosen: the largest difference, the smallest value on "
             "a tie.", ""]
    models = list(gates)
    lines += ["| coverage | " + " | ".join(f"{m} answerable | unanswerable" for m in models) + " |",
              "|---|" + "---|---|" * len(models)]
    for i, value in enumerate(GRID):
        cells = []
        for m in models:
            row = gates[m]["table"][i]
            mark = "**" if value == gates[m]["chosen"] else ""
            cells.append(f"{mark}{row['answerable']:.3f}{mark} | {mark}{row['unanswerable']:.3f}{mark}")
        lines.append(f"| {value:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "Chosen: " + "; ".join(f"{m} {g['chosen']:.2f} ({g['questions']['answerable']} answerable, "
                                        f"{g['questions']['unanswerable']} unanswerable questions)"
                                        for m, g in gates.items()) + "."]
    return lines
