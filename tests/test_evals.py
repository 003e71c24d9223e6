"""The answer evaluation's own rules: which quiz questions count as certainly unanswerable, and
what the relevance gate's sweep reports."""

import json
from pathlib import Path

from evals.answers import UNANSWERABLE, absent_questions, gate_sweep, summary, written_questions


def _write(folder: Path, docs: list[str], questions: list[dict]) -> Path:
    (folder / "docs.jsonl").write_text(
        "\n".join(json.dumps({"id": f"d{i}", "title": "News", "text": t}) for i, t in enumerate(docs)) + "\n")
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    return folder


def _q(id: str, answers: list[str], in_archive: bool = False, split: str = "dev") -> dict:
    return {"id": id, "split": split, "question": f"Question {id} about Storm Ciarán?",
            "answers": answers, "answer_in_archive": in_archive}


def test_absent_questions_are_names_the_archive_never_uses(tmp_path: Path) -> None:
    root = _write(tmp_path, ["Storm Ciaran battered Britain; the Macallan 1926 sold for $2.7 million.",
                             "Former Texas Rep. Will Hurd ended his campaign. Jewellery was seized."],
                  [_q("absent", ["Auxerre"]),
                   _q("also-absent", ["Tigst Assefa", "Assefa"]),
                   _q("accent", ["Ciarán"]),  # in the archive without its accent
                   _q("figure", ["£2.1 million"]),  # a figure may be given otherwise
                   _q("phrase", ["Former Texas Rep. Will Hurd"]),  # every word occurs
                   _q("long", ["A description of more than four words, unmatched"]),
                   _q("one-present", ["Auxerre", "Jewellery"]),  # one answer is in the archive
                   _q("short-word", ["Abc"]),  # too short to be sure of
                   _q("in-archive", ["Auxerre"], in_archive=True),
                   _q("test-split", ["Auxerre"], split="test")])
    assert [i for i, _ in absent_questions(root, "dev")] == ["absent", "also-absent"]
    assert [i for i, _ in absent_questions(root, "all")] == ["absent", "also-absent", "test-split"]


def test_written_questions_belong_to_their_split(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "d", "question": "Q d?", "split": "dev"}, {"id": "t", "question": "Q t?", "split": "test"},
        {"id": "any", "question": "Q any?"}]) + "\n")
    assert [i for i, _ in written_questions(path, "dev")] == ["d", "any"]
    assert [i for i, _ in written_questions(path, "test")] == ["t", "any"]
    assert [i for i, _ in written_questions(path, "all")] == ["d", "t", "any"]
    assert written_questions(tmp_path / "missing.jsonl", "dev") == []
    # The project's news questions: test's are not dev's, so its refusal figure is held out.
    dev, test = (written_questions(UNANSWERABLE / "news-2023q4.jsonl", s) for s in ("dev", "test"))
    assert len(dev) == len(test) == 16 and not {q for _, q in dev} & {q for _, q in test}


def _row(answerable: bool, relevance: float, kind: str = "", retrieved: bool | None = None) -> dict:
    return {"answerable": answerable, "kind": kind, "relevance": relevance, "refused": relevance < 0.5,
            "answer_retrieved": retrieved, "coverage": 0.0, "supported": 0, "sentences": 0, "needed": 0,
            "citations": 0, "gold_cited": False, "grounded": relevance >= 0.5, "seconds": 0.1}


def test_gate_sweep_and_summary_count_each_kind_apart() -> None:
    rows = [_row(True, 0.62, retrieved=True), _row(True, 0.47, retrieved=True), _row(True, 0.42, retrieved=False),
            _row(False, 0.30, "written"), _row(False, 0.44, "written"),
            _row(False, 0.58, "absent"), _row(False, 0.46, "absent"), _row(False, 0.41, "absent")]
    by_t = {g["min_relevance"]: g for g in gate_sweep(rows)}
    assert by_t[0.45] == {"min_relevance": 0.45, "answer_rate": 0.667, "answer_rate_retrieved": 1.0,
                          "refusal_written": 1.0, "refusal_absent": 0.333}
    assert (by_t[0.50]["answer_rate"], by_t[0.50]["refusal_absent"]) == (0.333, 0.667)
    s = summary(rows)  # the run's own refusals: those of the 0.5 gate here
    assert (s["refusal_acc_written"], s["refusal_acc_absent"], s["refusal_acc_unanswerable"]) == (1.0, 0.667, 0.8)
    assert s["refusal_acc_answerable"] == by_t[0.50]["answer_rate"]
