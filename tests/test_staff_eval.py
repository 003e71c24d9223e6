"""The staff question harness (evals/staff.py): matching, first sentences, metrics, question files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.staff import (
    Cited,
    QuestionFileError,
    StaffQuestion,
    contains,
    first_sentence,
    load_questions,
    metrics,
    record,
)
from evals.staff_report import Result, failures, markdown, table


def q(id: str = "q1", type: str = "why", facts: list[list[str]] | None = None, **kw: object) -> StaffQuestion:
    answerable = type not in ("out-of-archive", "stale")
    return StaffQuestion(id, "dev", type, "Why?", answerable, facts if facts is not None else [["Veldt"]],
                         gold_docs=["news/a.md"] if answerable else [], **kw)  # type: ignore[arg-type]


def test_contains_ignores_case_markers_dates_quotes_and_punctuation() -> None:
    text = "Amara Veldt [1] (16 Aug 2023), the League’s director, said it was “almost name for name” [2, 3]."
    assert contains(text, "amara veldt, the league's director")  # across a marker and its date
    assert contains(text, '"Almost name-for-name"')
    assert contains(text, "League's")
    assert not contains(text, "16 Aug 2023")  # a citation's date is not the answer's
    assert not contains(text, "Veld")  # whole words only
    assert contains("It received 1,200 recommendations [1].", "1200 recommendations")
    assert contains("ｆｕｌｌｗｉｄｔｈ — dash", "fullwidth - dash")  # NFKC, dashes folded
    assert not contains("In 2010.", "10")


def test_first_sentence() -> None:
    assert first_sentence("Dr. Ines Valcourt arrived on 7 March 2022. [1] (7 Mar 2022) She stayed. [1]") \
        == "Dr. Ines Valcourt arrived on 7 March 2022."
    assert first_sentence("Veldt answered [1] (17 Aug 2023). Then more. [2]") == "Veldt answered."
    assert first_sentence("No markers here. Second one.") == "No markers here."
    assert first_sentence("“It is biased.” [1] Brenn said so.") == "“It is biased.”"
    assert first_sentence("One clause only") == "One clause only"


def test_record_judgements() -> None:
    cited = [Cited("/x/archive/news/a.md", "/x/archive/news/a.md")]
    good = record(q(), "Amara Veldt answered. [1]", False, cited, None, 1.0, (1, 1, 1, 1))
    assert good.correct and good.first_correct and good.gold_cited and not good.missing
    late = record(q(facts=[["Veldt"], ["17 August"]]), "The League answered. [1] Veldt spoke on 17 August. [1]",
                  False, [Cited("/x/other.md", "/x/other.md")], None, 1.0)
    assert late.correct and late.first_correct is False and not late.gold_cited
    partial = record(q(facts=[["Veldt"], ["Pennant", "Osric Pennant"]]), "Veldt.", False, cited, None, 1.0)
    assert partial.correct is False and partial.missing == ["Pennant"]
    refused = record(q(), "The archive does not say.", True, [], None, 1.0)
    assert refused.correct is False and refused.first_correct is False and failures(refused) == ["wrongly refused"]
    follow = record(q(type="follow-up", turns=["Who?"]), "x Veldt.", False, cited, None, 1.0)
    assert follow.first_correct is None and follow.correct
    chosen = record(q(type="comparison", first=["rose"]), "It rose. Veldt.", False, cited, None, 1.0)
    assert chosen.first_correct is True


def test_metrics_arithmetic_and_stale_rule() -> None:
    cited = [Cited("/a/news/a.md", "/a/news/a.md")]
    note = "These figures date from 1998 [1]."
    rs = [
        record(q("a"), "Veldt did. [1]", False, cited, None, 2.0, (1, 1, 1, 2)),  # correct, 1 of 2 cites needed
        record(q("b"), "Nobody did. [1]", False, [Cited("/a/b.md", "/a/b.md")], None, 1.0, (0, 1, 0, 1)),
        record(q("c"), "I cannot answer.", True, [], None, 3.0),  # a refusal
        record(q("d", "stale", facts=[["11.4 million"]]), "11.4 million people [1]. " + note, False, cited,
               note, 1.0, (1, 2, 1, 1)),  # answered with its age note: right
        record(q("e", "stale", facts=[]), "11.4 million people. [1]", False, cited, "", 1.0),  # no note: wrong
        record(q("f", "stale", facts=[]), "Some answer. [1]", False, cited, "A note the text lacks.", 1.0),
        record(q("g", "out-of-archive", facts=[]), "No.", True, [], None, 2.0),
    ]
    m = metrics(rs)
    assert list(m) == ["why", "out-of-archive", "stale", "overall"]
    o = m["overall"]
    assert (o.n, o.answerable) == (7, 3)
    assert o.answer_correct == round(1 / 3, 3)
    assert o.first_correct == round(1 / 3, 3)  # the refusal scores 0
    assert o.citation_precision == pytest.approx(round(2 / 4, 3))  # over answered ones, unanswerable included
    assert o.gold_cited == 0.5  # of the two answered answerable ones
    assert o.wrongly_refused == pytest.approx(round(1 / 3, 3))
    assert o.wrongly_answered == pytest.approx(round(2 / 4, 3))
    assert m["stale"].wrongly_answered == pytest.approx(round(2 / 3, 3)) and m["stale"].answer_correct is None
    assert m["out-of-archive"].wrongly_answered == 0.0
    assert o.seconds == pytest.approx(round(11 / 7, 2))


def test_result_round_trip_and_report(tmp_path: Path) -> None:
    rs = [record(q("a"), "Veldt. [1]", False, [Cited("/n/news/a.md", "/n/news/a.md")], None, 1.0, (1, 1, 1, 1)),
          record(q("b"), "x" * 900, False, [], None, 1.0)]
    after = Result("sample", "all", "after", "q.jsonl", "abc", "now", 0.5, metrics(rs), rs)
    again = Result.from_json(after.to_json())
    assert again == after
    before = Result("sample", "all", "before", "q.jsonl", "old", "then", 0.5, metrics(rs[1:]), rs[1:])
    text = markdown([after, before], after)
    assert "correct: before | correct: after" in text and "| why | 1/2 |" in text
    assert "✗ **b**" in text and "✓ **a**" in text and "x" * 901 not in text
    assert table([after]).startswith("| type | n | correct | first sentence |")


def write(tmp_path: Path, *rows: dict[str, object]) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD = {"id": "s1", "split": "dev", "type": "who", "turns": [], "question": "Who?", "answerable": True,
        "gold_docs": ["news/a.md"], "evidence": ["Veldt answered."], "facts": [["Veldt", "Amara Veldt"]]}


def test_load_questions(tmp_path: Path) -> None:
    follow = {**GOOD, "id": "s2", "type": "follow-up", "turns": ["What happened?"], "first": ["Veldt"]}
    stale = {**GOOD, "id": "s3", "type": "stale", "answerable": False, "gold_docs": [], "facts": [["1998"]]}
    qs = load_questions(write(tmp_path, GOOD, follow, stale))
    assert [x.id for x in qs] == ["s1", "s2", "s3"] and qs[1].turns == ["What happened?"]
    assert qs[0].facts == [["Veldt", "Amara Veldt"]] and qs[0].first is None


@pytest.mark.parametrize("change, message", [
    ({"facts": ["Veldt"]}, "facts must be a list of facts"),
    ({"fact": [["x"]]}, "unknown field 'fact'"),
    ({"split": "train"}, "split 'train' is not dev or test"),
    ({"type": "what"}, "type 'what' is not one of"),
    ({"answerable": False}, "answerable must be true for type 'who'"),
    ({"type": "follow-up"}, "turns must be non-empty for a follow-up"),
    ({"gold_docs": []}, "needs gold_docs"),
    ({"first": []}, "first must be a non-empty list"),
    ({"id": 3}, "id must be a non-empty string"),
])
def test_bad_question_file(tmp_path: Path, change: dict[str, object], message: str) -> None:
    with pytest.raises(QuestionFileError, match=message) as e:
        load_questions(write(tmp_path, {**GOOD, **change}))
    assert "q.jsonl:1 (" in str(e.value)


def test_duplicate_ids_and_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, GOOD)
    path.write_text(path.read_text() + "{oops\n")
    with pytest.raises(QuestionFileError) as e:
        load_questions(path)
    assert "q.jsonl:2 (s1): duplicate id" in str(e.value) and "q.jsonl:3: not JSON" in str(e.value)


def test_staff_questions_as_retrieval_questions() -> None:
    """`python -m evals retrieval --staff`: a hit is a passage holding an evidence sentence
    (normalised); follow-ups and questions without evidence are left out and counted."""
    from evals.staff import as_retrieval

    corpus = as_retrieval(str(Path(__file__).parents[1] / "examples"))
    staff = load_questions(Path(__file__).parents[1] / "evals" / "staff" / "sample.jsonl")
    assert corpus.name == "sample" and corpus.question_set == "staff" and corpus.metric == "evidence hit"
    assert {q.id for q in corpus.questions} == {s.id for s in staff if not s.turns and s.evidence}
    assert corpus.excluded["follow-up"] == sum(1 for s in staff if s.turns)
    first = next(s for s in staff if not s.turns and s.evidence)
    question = next(q for q in corpus.questions if q.id == first.id)
    evidence = first.evidence[0]
    assert question.hit(f"Before. {evidence.upper().replace(',', ' ,')} After.", "x.md", "d", None)
    assert not question.hit(evidence[:40], "x.md", "d", None)  # too little of it
