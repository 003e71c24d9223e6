"""The project's own evaluation set over examples/archive/, and the answerer's contract."""

from pathlib import Path

import pytest

from assistant import Assistant, QuestionError
from assistant.service import condense
from assistant.types import AnswerStream
from evals.questions import load_sample, matches

from conftest import ROOT

QUESTIONS = load_sample(ROOT / "examples" / "questions.jsonl")
# A near-miss: the archive says the June 2024 announcement is still expected, and an
# extractive answerer cannot tell "expected" from "happened". Strict: fixing it fails the test.
KNOWN_HARD = {"s21": "near-miss unanswerable: only the announcement's expected date is in the archive"}


@pytest.fixture(scope="module")
def assistant(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


def params():
    for q in QUESTIONS:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_HARD[q.id])] if q.id in KNOWN_HARD else []
        yield pytest.param(q, id=q.id, marks=marks)


@pytest.mark.parametrize("q", params())
def test_sample_question(assistant: Assistant, q) -> None:
    answer = assistant.ask(q.question)
    if q.refusal:
        assert answer.refused and not answer.citations
        return
    assert not answer.refused, answer.text
    cited = [(c.path, c.doc_id) for c in answer.citations]
    assert any(matches(g, p, d) for g in q.gold_docs for p, d in cited), (answer.text, cited)


def test_the_eval_set_covers_every_question_type() -> None:
    assert {q.type for q in QUESTIONS} >= {"why", "who", "when", "unanswerable"}
    assert sum(q.refusal for q in QUESTIONS) >= 4


def test_every_answer_sentence_is_quoted_from_the_passage_it_cites(assistant: Assistant) -> None:
    import re

    answer = assistant.ask("Why did Marvala reject the 2023 OHCHR report?")
    by_n = {c.n: " ".join(c.text.replace("**", "").split()) for c in answer.citations}
    pieces = re.findall(r"(.+?) \[(\d+)\](?: \([^()]+\))?(?: |$)", answer.text)  # "[1] (16 Aug 2023)"
    assert pieces and len(pieces) <= assistant.settings.answer_sentences
    for sentence, n in pieces:
        assert sentence.strip() in by_n[int(n)]
    assert sorted(by_n) == list(range(1, len(by_n) + 1))


def test_refusal_is_the_prompt_sentence(assistant: Assistant) -> None:
    answer = assistant.ask("Who won the 2022 football World Cup?")
    refusal = (ROOT / "prompts" / "refusal.txt").read_text().strip()
    assert answer.refused and answer.text == refusal and answer.citations == []


def test_a_stream_gives_text_pieces_then_the_answer(assistant: Assistant) -> None:
    question = "When did the UN Special Rapporteur visit Sennport?"
    stream = assistant.stream(question)
    pieces = list(stream)
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == stream.answer.text and stream.answer.question == question
    assert stream.answer.to_dict() == assistant.ask(question).to_dict()
    early = assistant.stream(question)
    assert next(early) == pieces[0] and early.answer.text == stream.answer.text  # .answer runs the rest
    assert list(early) == []
    with pytest.raises(QuestionError, match="empty"):
        assistant.stream(" ")  # at the call, before anything is iterated


def test_an_answer_stream_that_never_answers_says_so() -> None:
    stream = AnswerStream(iter(["a ", "b"]))
    assert list(stream) == ["a ", "b"]
    with pytest.raises(RuntimeError, match="without an Answer"):
        _ = stream.answer


def test_search_returns_ranked_passages(assistant: Assistant) -> None:
    passages = assistant.search("Special Rapporteur visit", k=5)
    assert 0 < len(passages) <= 5
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert all(p.text and p.path and p.title for p in passages)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_retrieval_mode_finds_the_gold_document(sample_store: Path, mode: str) -> None:
    a = Assistant(store=sample_store, retrieval=mode)
    top = a.search("How many former detainees were interviewed for Behind Closed Doors?", k=3)
    assert any("behind-closed-doors" in p.path for p in top)


@pytest.mark.parametrize("bad,why", [("", "empty"), ("   ", "empty"), ("x" * 100_000, "limit"),
                                     ("why\x00", "control")])
def test_unusable_questions_are_refused_clearly(assistant: Assistant, bad: str, why: str) -> None:
    with pytest.raises(QuestionError, match=why):
        assistant.ask(bad)


def test_follow_up_questions_carry_the_previous_questions_topic() -> None:
    """The earlier question's content words, not the whole question: its "why" would make the
    follow-up's search look for the reasons again."""
    history = [{"role": "user", "content": "Why did Marvala reject the OHCHR report?"},
               {"role": "assistant", "content": "..."}]
    assert condense("Who criticised that decision?", history) == \
        "Who criticised that decision? Marvala reject OHCHR report"
    assert condense("Who chairs the task force?", history) == "Who chairs the task force?"
    assert condense("Who criticised that decision?", None) == "Who criticised that decision?"
    history += [{"role": "user", "content": "Who responded to that?"}, {"role": "assistant", "content": "..."}]
    assert condense("And when?", history) == "And when? Marvala reject OHCHR report responded"


def test_a_follow_up_is_answered_in_context(assistant: Assistant) -> None:
    first = "When did the UN Special Rapporteur visit Sennport?"
    answer = assistant.ask("Who invited her for that visit?", history=[(first, "7 March 2022")])
    assert answer.standalone_question == "Who invited her for that visit? UN Special Rapporteur visit Sennport"
    assert not answer.refused


def test_a_year_the_question_names_must_be_in_the_passage(assistant: Assistant) -> None:
    """Embeddings barely tell one year from another: a report on 2022's contest must not
    answer a question about 2025's, and must answer one about 2022's."""
    from assistant.types import Passage

    passage = Passage(id="e1", doc_id="e", path="eurovision.md", title="Ukraine wins the song contest",
                      date="2022-05-15", text="Kalush Orchestra won the Eurovision Song Contest in Turin "
                      "on Saturday night, carried by a record public televote for the Ukrainian entry.")
    later = assistant.answerer.answer("Who won the 2025 Eurovision Song Contest?", [passage])
    assert later.refused and not later.citations
    same = assistant.answerer.answer("Who won the 2022 Eurovision Song Contest?", [passage])
    assert not same.refused and "Kalush Orchestra" in same.text
