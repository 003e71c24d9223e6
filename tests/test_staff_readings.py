"""How questions and sentences are read for staff answers (issue 20), found on dev questions
written for this round: a role for a speaker, titles before a name, "was held" of a person,
a schedule that is no reason, which review of a series is meant, follow-ups that name
nothing or ask about a word of their own, a verdict that needs its reason. Each test failed
on the code before (4abfb06)."""

from pathlib import Path

import pytest
from archives import dated_archive

from assistant import Assistant
from assistant.answering import cues, dating, intent, speakers
from assistant.answering.followup import leans_on
from assistant.answering.intent import read
from assistant.answering.parts import parts as split

BAROMETER = "What did the Press Freedom Barometer 2024 say about Marvala?"


@pytest.fixture(scope="module")
def assistant(sample_store: Path) -> Assistant:
    return Assistant(store=sample_store)


def test_a_role_is_read_as_the_speaker() -> None:
    """Before: "the spokesperson said" had no speaker, and one introduced in a role ("government
    spokesperson Dario Vensk") did not speak in it when named again."""
    said = speakers.attributed([
        "At the briefing, government spokesperson Dario Vensk answered questions.",
        "Vensk said the Government had invited the Special Rapporteur.",
        "Asked about detention, the spokesperson said that no reporter was held in Marvala.",
        "The League said the findings stood."])
    assert said[1] is not None and "spokesperson" in said[1]
    assert said[2] == {"spokesperson"}
    assert said[3] is not None and "spokesperson" not in said[3]
    assert speakers.roles("the Foreign Ministry spokesman") == {"spokesperson"}
    titled = speakers.attributed(["The delegation was led by Foreign Minister Tamsin Orvell.", "Orvell said it was old."])
    assert titled[1] is not None and "minister" in titled[1]  # a capitalised title is a role too


def test_what_a_spokesperson_said_about_detention_is_quoted(assistant: Assistant) -> None:
    """Before: "no reporter was held in Marvala" was read as setting a scene ("the meeting was
    held"), and the briefing's logistics led the answer."""
    answer = assistant.ask("What did the government spokesperson say in March 2024 about journalists "
                           "being held in Marvala?")
    assert not answer.refused
    assert "no reporter was held" in answer.text.split(" [", 1)[0], answer.text
    assert not cues.sets_scene(read("What did the spokesperson say?"), "No reporter was held in Marvala.")
    assert cues.sets_scene(read("What did the spokesperson say?"), "The meeting was held in Geneva.")


def test_a_name_after_its_titles_is_a_person() -> None:
    """Before: "Deputy Foreign Minister Jarek Holm" was read as one name with "Foreign" in it,
    a body's word, so the sentence named no person for "Who led the delegation?"."""
    who = read("Who led the delegation?")
    assert cues.bonus(who, "Deputy Foreign Minister Jarek Holm, who led the delegation, said it would study them.") \
        >= cues.STRONG_BONUS
    assert cues.bonus(who, "The Foreign Ministry and the Interior Ministry led the delegation.") < cues.BONUS


def test_a_schedule_or_a_word_in_passing_is_no_reason() -> None:
    """Before: "is due to announce" and "for reasons connected to their work" counted as reasons,
    and "the insults ... which caused the break" did not."""
    assert not cues.gives_reason("Marvala is due to announce which recommendations it supports.")
    assert not cues.gives_reason("No reporter was held for reasons connected to their work.")
    assert cues.gives_reason("The delay was due to the floods.")
    assert cues.gives_reason("The reason for the delay was the floods.")
    assert cues.gives_reason("It was the insults of his Government which caused the break in relations.")
    assert not cues.gives_reason("Police officers are accused of intimidating NGOs.")
    assert cues.gives_reason("The ministry rejected it, accusing the authors of bias.")


def test_a_why_answered_by_a_verdict_also_gives_the_reason(assistant: Assistant) -> None:
    """Before: the timeline's "The Government dismisses the Press Freedom Barometer as biased"
    was the whole answer; the spokesperson's reason (a survey of only 38 journalists) was left out."""
    first = assistant.ask(BAROMETER)
    answer = assistant.ask("Why did the government dismiss it?", history=[(BAROMETER, first.text)])
    assert not answer.refused
    assert "38 journalists" in answer.text, answer.text


def test_which_of_a_series_is_meant() -> None:
    """Before: "its fourth UPR" was answered from the third review's sentences, and "its first
    UPR compared with its second" was one question."""
    assert intent.occasions("at its 4th UPR review") == {"fourth"}
    assert intent.occasions("in the third-cycle review") == {"third"}
    assert intent.occasions("for the first time in years") == set()
    assert read("How many recommendations did it accept at its fourth UPR?").occasions == {"fourth"}
    parts = split("How many recommendations did Cambodia receive at its first UPR compared with its second?")
    assert [(p.label, p.question) for p in parts] == [
        ("First", "How many recommendations did Cambodia receive at its first UPR?"),
        ("Second", "How many recommendations did Cambodia receive at its second UPR?")]


def test_a_comparison_of_two_clauses_is_answered_in_parts() -> None:
    """Before: "... the League's 2021 report, compared with what OHCHR found in 2023?" was one
    question whose two years had to meet in one passage."""
    parts = split("How long were detainees held according to the League's 2021 report, compared with "
                         "what OHCHR found in 2023?")
    assert [p.label for p in parts] == ["League 2021", "OHCHR 2023"]
    assert parts[0].question == "How long were detainees held according to the League's 2021 report?"
    assert "OHCHR" in parts[1].question and "detainees" in parts[1].question


def test_follow_ups_that_name_nothing_or_ask_a_word_of_their_own() -> None:
    """Before: "How many seats were up for election?" after two turns on an election was read
    as a new question; "Which countries" asked for a person; "How did it justify" for nothing."""
    election = ["What did FIDH say about Cambodia's 2023 general election?", "When was polling day?"]
    assert leans_on("How many seats were up for election?", election)
    assert leans_on("When was polling day?", election[:1])  # short, and naming nothing
    assert not leans_on("How many seats does the National Assembly have?", election)  # names its own subject
    assert not leans_on("Who chairs the task force?", election)  # goes on with nothing said
    assert read("Which countries made up the troika?").kind == ""
    assert read("Which official signed it?").kind == "who"
    assert read("How did it justify police turning up at NGO events?").kind == "why"


def test_a_follow_ups_own_word_may_be_answered_by_a_sentence_said_before(assistant: Assistant) -> None:
    """Before: the timeline's note "For the reasons given by each side, readers should consult
    ..." led, and the dismissal itself, close to a sentence the last answer gave, was ranked
    down though it says what the follow-up newly asks ("dismiss")."""
    first = assistant.ask(BAROMETER)
    answer = assistant.ask("Why did the government dismiss it?", history=[(BAROMETER, first.text)])
    assert "biased" in answer.text.split(" [", 1)[0], answer.text


def test_a_timelines_entry_is_as_old_as_its_own_date() -> None:
    """Before: an answer quoting "13 April 2021 — ..." from a 2024 timeline was dated 2024, so
    "Who is the Interior Minister?" named the 2021 minister with no word on how old that is."""
    assert dating.quoted_date("2024-04-30", ["13 April 2021 — Interior Minister Halvard Brenn calls it biased."]) == "2021"
    assert dating.quoted_date("2024-04-30", ["13 April 2021 — One.", "The timeline records events."]) == "2024-04-30"
    assert dating.quoted_date("2024-04-30", ["Since 2019, the League has ..."]) == "2024-04-30"


def test_who_is_the_minister_says_how_old_the_answer_is(assistant: Assistant) -> None:
    answer = assistant.ask("Who is Marvala's Interior Minister?")
    assert answer.refused or ("Halvard Brenn" in answer.text and answer.age_note), answer.text


def test_a_year_in_the_files_name_counts_and_a_count_with_no_number_is_refused(tmp_path: Path) -> None:
    """Before: the State Department's report on 2018, published in 2019 as
    "state_gov_cambodia_section5_2018.md", was never quoted for a question naming 2018 (its text
    and date say 2019); and "How much money ...?" was answered with a sentence naming no sum."""
    settings = dated_archive(tmp_path, {
        "harbour_rights_report_2018.md": ("Harbour rights report", "2019-03-01",
                                          "Approximately 25 human rights groups operated in Kestrel Bay, most of "
                                          "them with fewer than ten staff."),
        "league_2021.md": ("Harbour League replies to the ministry", "2021-04-14",
                           "The Harbour League said every grant it receives from foreign donors is listed on its "
                           "website.")})
    assistant = Assistant(settings=settings)
    answer = assistant.ask("How many human rights groups operated in Kestrel Bay according to the report on 2018?")
    assert not answer.refused and "Approximately 25" in answer.text, answer.text
    money = assistant.ask("How much money does the Harbour League receive from foreign donors each year?")
    assert money.refused and money.related, money.text


def test_by_when_and_when_did_read_the_meeting_and_the_verb() -> None:
    """Before: "no later than at the 41st session" was no date to be done by, and "When did the
    CHRC submit ...?" favoured any dated sentence, not one that says it was submitted."""
    by_when = read("By when did he say Cambodia had to respond?")
    assert by_when.action == "respond"
    assert cues.bonus(by_when, "He said Cambodia must respond no later than at the 41st session, in June.") \
        > cues.bonus(by_when, "The session opened on 1 June.")
    submit = read("When did the CHRC submit its fifth report to the UN?")
    assert submit.action == "submit"
    assert read("When did parliament pass the Assemblies Act?").action == "pass"
    assert cues.bonus(submit, "The CHRC submitted the fifth report to the UN in 2019.") \
        > cues.bonus(submit, "The CHRC will defend the report in Geneva in March.")
