"""Readings found on the staff dev questions in session 27 (issue 20): "how long" and "what
period" ask for a span, a question's frame ("how long", "according to", "what X found") is not
its subject, a comparison of two sources asks the first part's question of the second source,
and a recommendation's figure is what it asks for, not what happened. Each test failed on the
code before it (6e89f75; the last on ac70763)."""

from pathlib import Path

from archives import dated_archive

from assistant import Assistant
from assistant.answering import cues, intent
from assistant.answering.answerers.extractive import ExtractiveAnswerer
from assistant.answering.parts import parts as split
from assistant.answering.relevance import Sentence
from assistant.settings import Settings
from assistant.types import Passage


def test_how_long_and_what_period_ask_for_a_span() -> None:
    """Before: neither had a kind, so no sentence was preferred for giving a duration."""
    for question in ("How long were detainees held before seeing a judge?",
                     "What period did the Secretary-General's 2018 report cover?",
                     "Which periods did her two reports cover?"):
        assert intent.read(question).kind == "long", question
    long = intent.read("How long were detainees held?")
    for span in ("Most waited between five and twelve days for a first hearing.",
                 "It covers the period from 1 July to 31 December 2017.",
                 "During the year under review (June 2018–June 2019), she visited twice.",
                 "They were held for more than 48 hours."):
        assert cues.bonus(long, span) >= cues.STRONG_BONUS, span
    assert cues.bonus(long, "The League interviewed 63 former detainees.") == 0.0


def test_a_recommendations_figure_is_not_a_finding() -> None:
    """Before: "Bring every detainee before a judge within the 48 hours the law requires" led an
    answer to how long detainees were held: the figure is what it asks for."""
    for question in ("How long were detainees held?", "How many hours were detainees held?"):
        wanted = intent.read(question)
        assert cues.bonus(wanted, "Bring every detainee before a judge within the 48 hours the law requires.") == 0.0
        assert cues.bonus(wanted, "118.5 Release the 12 detained activists (Norway);") == 0.0
        assert cues.bonus(wanted, "Detainees were held for 48 hours or more.") >= cues.STRONG_BONUS


def test_the_questions_frame_is_not_its_subject() -> None:
    """Before: "according" and "long" were the rarest words of "How long ... according to the
    League's report?", and a passage that answered it without them scored below the gate."""
    words = set(intent.subject("How long were detainees held according to what OHCHR found?").lower().split())
    assert {"detainees", "held", "ohchr"} <= words
    assert not words & {"long", "according", "found"}
    said = intent.subject("What did the Committee say about the law, and how did it differ?")
    assert "say" not in said.split() and "differ" not in said and "law" in said


def test_a_comparison_of_two_sources_asks_each_the_same_question() -> None:
    """Before: the second part was "What about what OHCHR found in 2023 (long were detainees
    held ... according League's report)?", which searched the League's report again."""
    parts = split("How long were detainees held before seeing a judge according to the League's 2021 "
                         "report, compared with what OHCHR found in 2023?")
    assert [(p.label, p.question) for p in parts] == [
        ("League 2021", "How long were detainees held before seeing a judge according to the League's 2021 report?"),
        ("OHCHR 2023", "How long were detainees held before seeing a judge according to what OHCHR found in 2023?")]
    # Without a named source, the second part borrows the first's topic words, stop words out.
    parts = split("How did the picture of overcrowding at the Dunmere centre in the League's 2021 report "
                         "compare with what the Committee found in 2023?")
    assert parts[0].label == "League 2021"
    assert "overcrowding at the Dunmere centre according to what the Committee found in 2023" in parts[1].question


def test_a_comparison_of_two_sources_answers_both(tmp_path: Path) -> None:
    """Before: both parts were refused: the first for a score under the gate (its frame words
    counted as missing), the second because it searched the first part's source."""
    settings = dated_archive(tmp_path, {
        "league.md": ("Locked Away: pre-trial detention in Hallan (a Hallan Rights League report)", "2021-05-03",
                      "This report by the Hallan Rights League examines how people arrested in Hallan are held "
                      "before trial. The League interviewed 51 former detainees and 12 defence lawyers.\n\n"
                      "Hallan law allows a suspect to be held for 48 hours before a judge reviews the arrest. "
                      "Most of the people we spoke to waited between four and nine days for that first hearing."),
        "ombudsman.md": ("Annual report of the Hallan Ombudsman 2023", "2023-09-20",
                         "The Ombudsman reviewed 230 complaints from detainees during the year. In 41 of the cases "
                         "it reviewed, people were held longer than the 48 hours the law permits before seeing a "
                         "judge."),
        "budget.md": ("Hallan adopts its 2023 budget", "2023-01-10",
                      "Parliament adopted the budget for 2023 after a week of debate. Spending on roads rises."),
    })
    answer = Assistant(settings=settings).ask(
        "How long were detainees held before seeing a judge according to the League's 2021 report, "
        "compared with what the Ombudsman found in 2023?")
    assert not answer.refused
    league, ombudsman = answer.text.split("**Ombudsman 2023**")
    assert "four and nine days" in league
    assert "In 41 of the cases" in ombudsman


def _answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(Settings(), embedder=None, idf=lambda _: 1.0, vectors=None)  # type: ignore[arg-type]


def test_a_reason_without_cue_words_leads_when_it_ranks_far_above() -> None:
    """Before: for a why, any sentence with a cue word ("denounced") led, even one ranked far below
    the sentence that gave the reason in other words ("who confessed to being an agent ...");
    the reason was then left out of the answer altogether."""
    speech = Passage("p", "", "d", "speech.md", title="Statement by Cambodia, 2017")
    reason = Sentence(0, 0, "The arrest of an opposition leader who confessed to being an agent of a foreign "
                            "Power working to overthrow the Government.", score=0.79, rank=0.88)
    cued = Sentence(0, 1, "Elsewhere such speeches are denounced or even condemned.", score=0.59, rank=0.75,
                    fits=True)
    chosen = _answerer()._select([cued, reason], best=0.79, passages=[speech], kind="why")
    assert chosen[0] is reason
    # Within MARGIN, the sentence that gives the kind of answer asked for still leads.
    cued.rank = 0.80
    assert _answerer()._select([cued, reason], best=0.79, passages=[speech], kind="why")[0] is cued


def test_a_document_about_as_relevant_as_the_best_may_give_the_answer() -> None:
    """Before: only the best sentence's document could give a duration from below the gate, so
    the report's "between five and twelve days" was left out for a news article that scored
    0.02 higher."""
    news = Passage("n", "", "d1", "news.md", title="Minister brands detention study biased")
    report = Passage("r", "", "d2", "report.md", title="Behind Closed Doors (summary)")
    top = Sentence(0, 0, "Lawyers said families had waited for such a report for months.", score=0.60, rank=0.69)
    background = Sentence(1, 0, "The League interviewed 63 former detainees.", score=0.58, rank=0.67)
    law = Sentence(1, 1, "The law allows a suspect to be held for 48 hours before a judge reviews it.", score=0.44,
                   rank=0.64, fits=True)
    span = Sentence(1, 2, "Most waited between five and twelve days for that first hearing.", score=0.47,
                    rank=0.63, fits=True)
    chosen = _answerer()._select([top, background, law, span], best=0.60, passages=[news, report], kind="long")
    assert chosen[0] is law and span in chosen


def test_a_speechs_courtesies_only_set_the_scene() -> None:
    """Before: "Today I have the signal honour of reading out the following message ..." led the
    answer to what Sihanouk's 1989 message said about condemning the Khmer Rouge."""
    said = intent.read("What did Norodom Sihanouk say in his 1989 message about the Khmer Rouge?")
    for courtesy in ("Today I have the signal honour of reading out the following message addressed to the "
                     "Assembly by His Royal Highness Samdech Norodom Sihanouk.",
                     "It is a great honour and privilege for me to address you and your august Assembly.",
                     "It is a pleasure to take the floor on behalf of my Government."):
        assert cues.sets_scene(said, courtesy), courtesy
    assert not cues.sets_scene(said, "One should also condemn the Hanoi leaders for their crimes against humanity.")
    assert not cues.sets_scene(said, "He had the honour of chairing the Council.")
