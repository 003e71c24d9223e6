"""Readings found on a fifth round of staff dev questions (khm-u*, smp-u*, session 27; issue 20):
what someone asked others to do is answered by their recommendations, a when-question by the
date of the thing asked about rather than of another event, and a follow-up that names someone
new but points back with a pronoun stays with the last answer's documents. Each test failed on
the code before it (2bb9ce5)."""

from assistant.answering import cues, intent
from assistant.answering.parts import parts as split
from assistant.answering.parts import read_part


def test_what_someone_asked_for_is_answered_by_their_recommendations() -> None:
    """Before: "What did the League's report ask the government to do?" had no kind; a news
    article's account of the minister attacking the report led, not the report's recommendations."""
    for question in ("What did the Rights Watch League's 2021 detention report ask the government to do?",
                     "And what had the UN rapporteur who visited in 2022 recommended on that?",
                     "What were its main recommendations?"):
        assert intent.read(question).kind == "recommend", question
    assert intent.read("What did Amnesty say about the law?").kind == "said"
    wanted = intent.read("What did the report ask the government to do?")
    for asks in ("Allow independent monitors to make unannounced visits to all places of detention.",
                 "118.47 Cooperate fully with the office of the High Commissioner (Germany);",
                 "The rapporteur urged the Government to repeal the law."):
        assert cues.bonus(wanted, asks) >= cues.BONUS, asks
    assert cues.bonus(wanted, "The report was researched between November 2020 and March 2021.") == 0.0
    # The asking verb is the question's frame, not its subject.
    assert "ask" not in intent.subject("What did the report ask the government to do?").split()


def test_a_when_answer_dates_the_thing_asked_about() -> None:
    """Before: for "When did the CHRC submit its fifth report?", "will defend the report ... in
    March" led "submitted the ... report ... in 2019": saying the action added only 0.04."""
    when = intent.read("When did the CHRC submit Cambodia's fifth report to the UN?")
    submitted = cues.bonus(when, "Malin added that the CHRC submitted the fifth round report to the UN in 2019.")
    defended = cues.bonus(when, "The CHRC will defend the report at the UN Office in Geneva in March.")
    assert submitted - defended >= cues.STRONG_BONUS


def test_a_follow_up_naming_someone_new_may_still_point_back() -> None:
    """Before: "Did the Interior Ministry get a chance to respond before it came out?" named a new
    body, so the last answer's documents (the report) were no longer preferred, and it was refused."""
    assert intent.points_back("Did the Interior Ministry get a chance to respond before it came out?")
    # "that" after a verb is a conjunction: this follow-up is about the Committee's own documents.
    assert not intent.points_back("Did the National Human Rights Committee agree that the report ignored the reforms?")


def test_whose_recommendations_and_which_review() -> None:
    """Before: "What did New Zealand ask ... at its first UPR review, compared with its second in
    2014?" asked the first part about 2014 too, and neither part preferred New Zealand's items."""
    question = ("What did New Zealand ask Cambodia to do about the Khmer Rouge tribunal at its first UPR review, "
                "compared with its second in 2014?")
    first, second = split(question)
    assert "2014" not in first.question and second.question.endswith("second UPR review in 2014?")
    wanted = read_part(first, intent.read(question))
    assert wanted.speakers == ["New Zealand"]
    theirs = cues.bonus(wanted, "82.65 Ensure the work of the Extraordinary Chambers strengthens the judiciary "
                                "(New Zealand); Recommending state: New Zealand.")
    others = cues.bonus(wanted, "82.63 Make further efforts for the early completion of its work (Japan); "
                                "Recommending state: Japan.")
    assert theirs > others >= cues.BONUS
