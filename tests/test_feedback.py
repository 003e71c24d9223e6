"""Feedback that becomes evaluation: the admin view's queries (SQLite and a real PostgreSQL), the
report grouping failed questions with the real embedding model, its HTML (hostile text stays
text), `assistant feedback list|export`, and exported cases replayed by `python -m evals answers`
against the sample store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import assistant.accounts.history as history_module
from assistant.accounts import History
from assistant.accounts.activity import failures, weekly
from assistant.app import cli
from assistant.app.feedback_cases import KINDS, FeedbackCase, read_cases
from assistant.app.feedback_report import SIMILAR, feedback_report, group
from assistant.app.ui_feedback import admin_html
from assistant.index.embedding import Embedder, load_embedder
from assistant.settings import Settings

from conftest import ROOT

OWNER = "zelda-owner"  # must never reach the admin's view
REFUSED = {"answer": "The archive does not say.", "refused": True, "citations": []}
ANSWERED = {"answer": "In March 2022. [1]", "refused": False,
            "citations": [{"n": 1, "path": "/a/visit.md", "doc_id": "/a/visit.md", "title": "Visit", "text": "…"}]}
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The time History stamps turns and verdicts with, moved by the test."""
    now = [datetime(2026, 11, 16, 9, tzinfo=UTC)]
    monkeypatch.setattr(history_module, "now", lambda: now[0])
    return now


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    s = Settings()
    return load_embedder(s.embed_model, s.embed_dtype)


def _ask(h: History, when: datetime, clock: list[datetime], question: str, answer: dict[str, object],
         conversation: str | None = None, rating: str | None = None, comment: str = "") -> tuple[str, str]:
    clock[0] = when
    saved = h.save(OWNER, conversation, question, answer, "extractive", {})
    assert saved is not None
    if rating:
        assert h.rate(OWNER, saved[1], rating, comment)
    return saved


def test_weekly_counts_and_failures_across_users_newest_first(history: History, clock: list[datetime]) -> None:
    sunday = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # ISO week of Monday 23 November
    monday = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # an hour later: the next week
    _ask(history, datetime(2026, 11, 16, 9, tzinfo=UTC), clock, "Old question", ANSWERED, rating="up")
    _ask(history, sunday, clock, "When did the Rapporteur visit?", ANSWERED, rating="up")
    conv, _ = _ask(history, sunday + timedelta(minutes=1), clock, "Who visited Sennport?", REFUSED)
    _ask(history, monday, clock, "And what did she say?", ANSWERED, conversation=conv, rating="down",
         comment="Wrong person")
    _ask(history, monday + timedelta(hours=1), clock, "Population of Sennport?", REFUSED, rating="down")
    _ask(history, monday + timedelta(hours=2), clock, "What is the budget?", ANSWERED)

    weeks = weekly(history.engine)
    assert [(w.week.isoformat(), w.answers, w.refusals, w.down, w.up) for w in weeks] == [
        ("2026-11-16", 1, 0, 0, 1), ("2026-11-23", 1, 1, 0, 1), ("2026-11-30", 2, 1, 2, 0)]
    since = weekly(history.engine, since=monday)
    assert [(w.week.isoformat(), w.questions) for w in since] == [("2026-11-30", 3)]

    found = failures(history.engine)
    assert [f.question for f in found] == ["Population of Sennport?", "And what did she say?", "Who visited Sennport?"]
    assert [(f.refused, f.rating, f.comment) for f in found] == [(True, "down", ""), (False, "down", "Wrong person"),
                                                                 (True, None, "")]
    assert found[1].earlier == ["Who visited Sennport?"] and found[0].earlier == []
    assert found[1].text == ANSWERED["answer"] and found[1].created == monday
    assert [f.question for f in failures(history.engine, since=monday)] == ["Population of Sennport?",
                                                                            "And what did she say?"]
    assert OWNER not in repr(found)  # the admin sees questions and verdicts, not who asked


def test_similar_failed_questions_are_grouped_and_different_ones_are_not(tmp_path: Path, clock: list[datetime],
                                                                          embedder: Embedder) -> None:
    h = History.open(Settings(store=tmp_path / "store"))
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    _ask(h, start, clock, "When did the UN Special Rapporteur visit Sennport?", REFUSED)
    _ask(h, start + timedelta(hours=1), clock, "Who won the 2022 football World Cup?", REFUSED)
    _ask(h, start + timedelta(hours=2), clock, "When was the Special Rapporteur's visit to Sennport?", ANSWERED,
         rating="down", comment="It was in March 2022, not 2023")
    _ask(h, start + timedelta(hours=3), clock, "How many journalists did the Press Freedom Barometer survey?",
         ANSWERED, rating="up")  # a good answer: no gap
    report = feedback_report(h, embedder, since=start)
    h.close()
    [visit, cup] = report.gaps
    assert (visit.question, visit.count, visit.refused, visit.down) == (
        "When was the Special Rapporteur's visit to Sennport?", 2, 1, 1)  # the latest wording leads
    assert visit.comments == ["It was in March 2022, not 2023"] and visit.last_asked == start + timedelta(hours=2)
    assert [f.question for f in visit.examples][1] == "When did the UN Special Rapporteur visit Sennport?"
    assert (cup.count, cup.refused, cup.down) == (1, 1, 0)
    assert [(w.answers, w.refusals, w.down, w.up) for w in report.weeks] == [(2, 2, 1, 1)]
    # The threshold sits between the two kinds of pair (evidence in feedback_report.SIMILAR's comment).
    vectors = embedder.encode([visit.examples[0].question, visit.examples[1].question, cup.question])
    assert float(vectors[0] @ vectors[1]) >= SIMILAR > float(vectors[0] @ vectors[2])
    assert group([], embedder) == []


def test_the_admin_html_escapes_what_users_wrote(tmp_path: Path, clock: list[datetime], embedder: Embedder) -> None:
    h = History.open(Settings(store=tmp_path / "store"))
    assert "No feedback or refusals yet." in admin_html(feedback_report(h, embedder))
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    _ask(h, start, clock, HOSTILE, REFUSED, rating="down", comment=f'"><script>alert(2)</script>{HOSTILE}')
    _ask(h, start + timedelta(days=8), clock, "What is the budget?", ANSWERED, rating="up")
    page = admin_html(feedback_report(h, embedder))
    h.close()
    assert "<img" not in page and "<script" not in page and "onerror=alert(1)&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert page.count("<svg") == 1 and "Week (starting Monday)" in page and "Thumbs-down" in page
    assert page.count('class="fb-refusals"') == 2 + 1  # a bar per week (two weeks) and the legend's swatch
    assert OWNER not in page


def test_bad_input_ends_in_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ["--store", str(tmp_path / "store")]
    assert cli.main(["feedback", "list", "--since", "last tuesday", *store]) == 1
    assert capsys.readouterr().err.strip() == ("Error: Bad date 'last tuesday': use YYYY-MM-DD (or YYYY, YYYY-MM, "
                                               "or an ISO 8601 time such as 2026-01-31T14:00).")
    assert cli.main(["feedback", "export", "--out", str(tmp_path / "nowhere" / "cases.jsonl"), *store]) == 1
    assert capsys.readouterr().err.strip() == (f"Error: Cannot write {tmp_path / 'nowhere' / 'cases.jsonl'}: "
                                               f"the folder {tmp_path / 'nowhere'} does not exist.")
    assert cli.main(["feedback", "export", "--out", str(tmp_path), *store]) == 1
    assert "it is a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["feedback", "export", *store])  # --out is required
    assert stop.value.code == 2 and "--out" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["answers"], "answers needs --corpus (a question set) or --questions (feedback cases), not both"),
    (["answers", "--corpus", "examples", "--questions", "x.jsonl"], "not both"),
    (["answers", "--questions", "x.jsonl"], "--questions needs --store DIR"),
])
def test_the_eval_asks_for_one_question_source(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from evals.__main__ import main

    monkeypatch.setattr(sys, "argv", ["python -m evals", *argv])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_case_file_with_faults_names_each_line(tmp_path: Path) -> None:
    from assistant.app.feedback_cases import CaseError

    good = FeedbackCase("t1", "keep", "When?", gold_docs=["/a.md"])
    assert FeedbackCase.from_dict(json.loads(json.dumps(good.to_dict()))) == good
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(good.to_dict()) + "\n{oops\n" + json.dumps({"id": "t2", "kind": "maybe",
                                                                            "question": "Q"}) + "\n")
    with pytest.raises(CaseError) as e:
        read_cases(path)
    assert str(e.value).splitlines() == [f"{path}:2: not JSON (Expecting property name enclosed in double quotes)",
                                         f"{path}:3: kind 'maybe' is not one of keep, fix, find, refuse"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)


def test_cli_feedback_is_exported_and_replayed_against_the_store(sample_store: Path, tmp_path: Path) -> None:
    """End to end: real answers saved and rated, `assistant feedback export` and `list` as
    commands, then `python -m evals answers --questions` replaying the cases on the same store."""
    from assistant.service import Assistant

    questions = [json.loads(line) for line in (ROOT / "examples" / "questions.jsonl").read_text().splitlines()]
    answerable = [q["question"] for q in questions if not q["refusal"]][:3]
    state = f"sqlite:///{tmp_path / 'state.db'}"
    a = Assistant(settings=Settings(store=sample_store))
    h = History.open(Settings(store=sample_store, state_url=state))
    verdicts = {}
    for n, question in enumerate(answerable):
        answer = a.ask(question)
        assert not answer.refused and answer.citations
        conv, turn = h.save(OWNER, None, question, answer.to_dict(collections=True), answer.backend, {}) or ("", "")
        verdicts[turn] = ("up", "") if n < 2 else ("down", "Too vague")
        if n == 0:  # a follow-up in the same conversation, liked: replayed after its first question
            follow = a.ask("When was that?", history=[(question, answer.text)])
            assert not follow.refused
            _, turn = h.save(OWNER, conv, "When was that?", follow.to_dict(collections=True), follow.backend,
                             {}) or ("", "")
            verdicts[turn] = ("up", "")
    for question, rating in (("Who won the 2022 football World Cup?", "up"), ("What is the capital of France?",
                                                                              "down")):
        refusal = a.ask(question)
        assert refusal.refused
        _, turn = h.save(OWNER, None, question, refusal.to_dict(collections=True), refusal.backend, {}) or ("", "")
        verdicts[turn] = (rating, "Should be in the archive" if rating == "down" else "")
    for turn, (rating, comment) in verdicts.items():
        assert h.rate(OWNER, turn, rating, comment, {"generation": 1})
    h.close()

    out = tmp_path / "cases.jsonl"
    done = _run("assistant", "feedback", "export", "--store", str(sample_store), "--state-url", state,
                "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Wrote 6 case(s) to {out}: 3 keep, 1 fix, 1 find, 1 refuse."
    cases = read_cases(out)
    assert sorted(c.kind for c in cases) == sorted(["keep", "keep", "keep", "fix", "find", "refuse"])
    assert {c.id for c in cases} == set(verdicts) and OWNER not in out.read_text()
    follow_up = next(c for c in cases if c.question == "When was that?")
    assert follow_up.turns == [answerable[0]] and follow_up.kind == "keep" and follow_up.gold_docs
    fix = next(c for c in cases if c.kind == "fix")
    assert fix.comment == "Too vague" and fix.answer and fix.cited and not fix.gold_docs
    archive = (ROOT / "examples" / "archive").resolve()
    assert all(c.gold_docs == c.cited and all(Path(g.partition("#")[0]).resolve().is_relative_to(archive)
                                              for g in c.gold_docs) for c in cases if c.kind == "keep")
    assert all(c.context == {"generation": 1} and c.rated for c in cases)

    listed = _run("assistant", "feedback", "list", "--store", str(sample_store), "--state-url", state, "--json")
    assert listed.returncode == 0, listed.stderr
    report = json.loads(listed.stdout)
    assert sum(w["answers"] for w in report["weeks"]) == 4 and sum(w["refusals"] for w in report["weeks"]) == 2
    assert sum(g["count"] for g in report["gaps"]) == 3  # two refusals and one thumbs-down answer
    text = _run("assistant", "feedback", "list", "--store", str(sample_store), "--state-url", state)
    assert text.returncode == 0 and "Too vague" in text.stdout and "What is the capital of France?" in text.stdout

    results = tmp_path / "results"
    replay = _run("evals", "answers", "--questions", str(out), "--store", str(sample_store), "--out", str(results))
    assert replay.returncode == 0, replay.stderr
    # The store is unchanged, so every keep and refuse case holds, the fix answer is the same,
    # and the refusal nobody fixed is still one.
    assert "4 of 5 still hold." in replay.stdout
    assert "| keep | 3 | 3 | 0 | 0 | 0 | 0 | 1.00 |" in replay.stdout
    assert "| fix | 1 | 0 | 0 | 0 | 1 | 0 |  |" in replay.stdout
    assert "| find | 1 | 0 | 1 | 0 | 0 | 0 |  |" in replay.stdout
    assert "| refuse | 1 | 1 | 0 | 0 | 0 | 0 |  |" in replay.stdout
    md = (results / "feedback-answers.md").read_text()
    assert "4 of 5 still hold" in md and all(f"| {kind} | 1 |" in md for kind in KINDS if kind != "keep")
    assert "What is the capital of France?" in md and "Should be in the archive" in md  # the broken find case
