"""Calibrating the support check (assistant/answering/verify.py): its weight MEANING and its threshold.

    python -m evals.support --corpus examples --corpus ../shared/corpora/cambodia [--corpus ...news-2023q4]

Labelled (claim, passage) pairs from dev questions, the passages found by retrieval:
  + supported: the question with its gold answer ("Q? A."), or a gold evidence sentence,
    against the best-ranked gold passage (news: the best-ranked passage holding the answer);
  - wrong fact: the question with a wrong answer against the same gold passage (news: the
    question's wrong multiple-choice options; elsewhere: another question's answer of the same
    type), the error a generating model makes while staying on topic;
  - wrong passage: the question with its gold answer against the best-ranked passage that is
    not gold (same topic, no answer).
For each weight, the threshold maximising balanced accuracy (mean of the two classes' accuracy)
is chosen; the table and the choice go to evals/results/support-calibration.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from evals.answers import build, suite

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


def pairs_for(root: Path, stores: Path) -> list[tuple[str, str, str, str, bool, str]]:
    """(corpus, claim, passage title, passage text, supported?, kind)."""
    from assistant import Assistant
    from assistant.settings import Settings
    s = suite(root, "dev")
    store = stores / s.name / "ours"
    build(s, Settings(store=store))
    a = Assistant(store=store)
    extra = _extra(root)
    out = []
    answerable = [i for i in s.items if i.answerable and i.hit is not None]
    for item in answerable:
        info = extra.get(item.id, {})
        right = item.strings[0] if item.strings else item.gold_answer
        hit = item.hit
        if not right or hit is None:
            continue
        found = a.retriever.search(item.question, 8)
        gold = next((p for p in found if hit(p.text, p.path, p.doc_id, p.page)), None)
        other = next((p for p in found if not hit(p.text, p.path, p.doc_id, p.page)), None)
        # Another question's answer is a wrong fact only if it comes from another document (two
        # facts of one passage are both supported by it, whatever question they are paired with).
        wrong = info.get("wrong") or [
            o.gold_answer for o in answerable if o is not item and o.gold_answer
            and extra.get(o.id, {}).get("type") == info.get("type") and o.hit is not None and gold is not None
            and not o.hit(gold.text, gold.path, gold.doc_id, gold.page)][:2]
        claim = f"{item.question} {right}"
        if gold is not None:
            out.append((s.name, claim, gold.title, gold.text, True, "gold answer"))
            out += [(s.name, f"{item.question} {w}", gold.title, gold.text, False, "wrong fact") for w in wrong if w]
        for e in info.get("evidence", []):  # verbatim sentences: against the gold passage holding them
            holder = next((p for p in a.retriever.search(e, 8) if hit(p.text, p.path, p.doc_id, p.page)
                           and _norm(e)[:60] in _norm(p.text)), None)
            if holder is not None:
                out.append((s.name, e, holder.title, holder.text, True, "evidence"))
        if other is not None:
            out.append((s.name, claim, other.title, other.text, False, "wrong passage"))
    return out


def _norm(text: str) -> str:
    return " ".join(text.replace("“", '"').replace("”", '"').replace("’", "'").split()).lower()


def _extra(root: Path) -> dict[str, dict[str, Any]]:
    """Per question: its type, wrong answers (news choices), evidence sentences (cambodia)."""
    out: dict[str, dict[str, Any]] = {}
    for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        wrong = [c for c in r.get("choices", []) if c not in r.get("answers", [])]
        evidence = r.get("evidence") if isinstance(r.get("evidence"), list) else []
        out[str(r.get("id"))] = {"type": r.get("type"), "wrong": wrong, "evidence": evidence}
    return out


def calibrate(pairs: list[tuple[str, str, str, str, bool, str]], model: str = "all-MiniLM-L6-v2") -> dict[str, Any]:
    """`model`: the embedding model scoring the pairs (the pairs themselves are found with the
    default one, so that each model is calibrated on the same pairs)."""
    from assistant.answering.verify import Verifier
    from assistant.index.embedding import load_embedder

    embedder = load_embedder(model)
    parts = [Verifier(embedder, 0.5).support([claim], [(title, text)])[0][0] for _, claim, title, text, _, _ in pairs]
    labels = [p[4] for p in pairs]
    table = []
    for w in WEIGHTS:
        scores = [w * s.meaning + (1 - w) * s.overlap for s in parts]
        best = max((_rates(scores, labels, t) for t in [x / 100 for x in range(20, 96)]), key=lambda r: r["balanced"])
        table.append({"meaning_weight": w, **best})
    chosen = max(table, key=lambda r: r["balanced"])
    by_kind: dict[str, list[float]] = {}
    w = chosen["meaning_weight"]
    for p, s in zip(pairs, parts):
        by_kind.setdefault(f"{p[0]} / {p[5]}", []).append(w * s.meaning + (1 - w) * s.overlap)
    return {"pairs": len(pairs), "positives": sum(labels), "table": table, "chosen": chosen,
            "by_kind": {k: {"n": len(v), "accepted": round(sum(x >= chosen["threshold"] for x in v) / len(v), 3),
                            "mean_score": round(sum(v) / len(v), 3)} for k, v in sorted(by_kind.items())}}


def _rates(scores: list[float], labels: list[bool], t: float) -> dict[str, float]:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    tpr = sum(s >= t for s in pos) / max(len(pos), 1)
    tnr = sum(s < t for s in neg) / max(len(neg), 1)
    accepted = [y for s, y in zip(scores, labels) if s >= t]
    precision = sum(accepted) / len(accepted) if accepted else 0.0
    return {"threshold": t, "balanced": round((tpr + tnr) / 2, 3), "supported_accepted": round(tpr, 3),
            "unsupported_rejected": round(tnr, 3), "precision": round(precision, 3)}


def markdown(result: dict[str, Any], corpora: list[str]) -> str:
    c = result["chosen"]
    model = result.get("model", "all-MiniLM-L6-v2")
    lines = ["# Support check calibration" + ("" if model == "all-MiniLM-L6-v2" else f" ({model})"), "",
             f"{result['pairs']} labelled (claim, passage) pairs ({result['positives']} supported) from the dev "
             f"questions of {', '.join(corpora)}; how they are made: evals/support.py.", "",
             f"Chosen: MEANING = {c['meaning_weight']}, threshold = {c['threshold']:.2f} "
             f"(balanced accuracy {c['balanced']:.3f}).", "",
             "| meaning weight | best threshold | balanced acc. | supported accepted | unsupported rejected "
             "| precision |",
             "|---|---|---|---|---|---|"]
    for r in result["table"]:
        lines.append(f"| {r['meaning_weight']} | {r['threshold']:.2f} | {r['balanced']:.3f} | "
                     f"{r['supported_accepted']:.3f} | {r['unsupported_rejected']:.3f} | {r['precision']:.3f} |")
    lines += ["", "At the chosen setting, by kind of pair (share accepted as supported):", "",
              "| pairs | n | accepted | mean score |", "|---|---|---|---|"]
    for k, v in result["by_kind"].items():
        lines.append(f"| {k} | {v['n']} | {v['accepted']:.3f} | {v['mean_score']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from assistant.index.embedding import offline_env

    p = argparse.ArgumentParser(prog="python -m evals.support")
    p.add_argument("--corpus", action="append", required=True)
    p.add_argument("--stores", type=Path, default=Path(".store/evals"))
    p.add_argument("--out", type=Path, default=Path("evals/results"))
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="the embedding model scoring the pairs "
                   "(results: support-calibration-MODEL.* for another than the default)")
    args = p.parse_args()
    offline_env()
    pairs = [x for c in args.corpus for x in pairs_for(Path(c), args.stores)]
    result = calibrate(pairs, args.model)
    result["corpora"] = args.corpus
    result["model"] = args.model
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "support-calibration" + ("" if args.model == "all-MiniLM-L6-v2" else f"-{args.model}")
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    names = [Path(c).name for c in args.corpus]
    (args.out / f"{stem}.md").write_text(markdown(result, names))
    print(markdown(result, names))


if __name__ == "__main__":
    main()
