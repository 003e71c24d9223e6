"""Readings found on cambodia's staff dev questions in session 26 (issue 20): a year pair whose
noun is said after each year, "differ in what they said", a speaker's own statement, and a
law's article number, which counts nothing, and a report dated after the year it reports.
Each test failed on the code before it (8fd1f0a; the last on d86f74a)."""

from pathlib import Path

from archives import dated_archive

from assistant import Assistant
from assistant.answering import cues, intent, speakers
from assistant.answering.parts import parts as split
from assistant.answering.parts import read_part
from assistant.answering.relevance import Relevance, Sentence
from assistant.index.search import Filters
from assistant.types import Passage


def test_a_year_pair_with_its_noun_after_each_year_is_two_parts() -> None:
    """Before: "at its 2009 review and at its 2014 review" was one question, answered from the
    2014 review alone."""
    parts = split("What did Japan welcome at Cambodia's 2009 review and at its 2014 review?")
    assert [(p.label, p.question) for p in parts] == [
        ("2009", "What did Japan welcome at Cambodia's 2009 review?"),
        ("2014", "What did Japan welcome at Cambodia's 2014 review?")]
    # Not a pair of occasions: two years, two nouns.
    assert len(split("What did the 2019 report and the 2020 statement say?")) == 1


def test_differ_in_what_they_said_asks_each_for_their_words() -> None:
    """Before: the question asked for nothing in particular, and neither part had a speaker."""
    question = "How did Viet Nam and New Zealand differ in what they said about Cambodia's 2013 elections?"
    whole = intent.read(question)
    assert whole.kind == "said"
    parts = split(question)
    assert [read_part(p, whole).speakers for p in parts] == [["Viet Nam"], ["New Zealand"]]


def test_a_speakers_own_statement_gives_their_words() -> None:
    """Before: in "Statement by Cambodia in the General Debate", only sentences saying "Cambodia
    believes" were Cambodia's words; "considers human rights to be one of the foundations" was
    anyone's, and a sentence from another year that said "believes" led the answer."""
    asked = speakers.words("Cambodia's representative")
    assert speakers.statement_by("Statement by Cambodia in the General Debate of the UN General Assembly, 2000",
                                 asked)
    assert not speakers.statement_by("Report of the Working Group on the Universal Periodic Review: Cambodia", asked)
    assert not speakers.statement_by("Statement of the Ministry of Foreign Affairs", speakers.words("Japan"))

    said = intent.read("What did Cambodia say about human rights in its 2000 General Assembly speech?")
    speech = Passage("a", "", "d1", "speech.md", title="Statement by Cambodia in the General Debate, 2000")
    report = Passage("b", "", "d2", "report.md", title="Report of the Working Group: Cambodia")
    sents = [Sentence(0, 0, "We consider human rights one of the foundations of government."),
             Sentence(0, 1, "Japan said it welcomed the elections."),
             Sentence(1, 0, "The review was held in Geneva.")]
    assert Relevance._theirs(sents, said, [speech, report]) == [True, False, None]


def test_an_articles_number_counts_nothing() -> None:
    """Before: "How many recommendations did Cambodia accept at its fourth UPR?", which the
    archive cannot answer, was answered with a recommendation citing "article 305 of the Penal
    Code", read as a count."""
    many = intent.read("How many recommendations did Cambodia accept at its fourth UPR?")
    assert cues.bonus(many, "Protect free media through the revocation of article 305 of the Penal Code and "
                            "articles 13 and 14 of the Press Law (Portugal);") == 0.0
    assert cues.bonus(many, "It accepted 163 of them under article 5.") >= cues.STRONG_BONUS
    assert cues.bonus(many, "83.02 per cent of voters cast their votes.") >= cues.STRONG_BONUS


def test_a_quotation_cut_by_a_chunks_edge_stays_its_speakers() -> None:
    """Before: Am Sam Ath's quotation, split between two chunks, was nobody's in either, and
    was quoted as Chin Malin's view ("How did Chin Malin view the report?")."""
    named = "Am Sam Ath, deputy director of rights group LICADHO, noted that the denial is not new."
    opened = "“I believe that the UN human rights experts did more than simply trust the reports from CSOs."
    closed = "The UN has its own human rights experts in Cambodia,” he said."
    # The chunk ends inside the quotation: it goes on in the words of the one who spoke just before.
    assert speakers.attributed([named, opened])[1] == speakers.attributed([named])[0]
    # The next chunk begins inside it: read on from the chunk before, where both are here.
    said = intent.read("How did Chin Malin view the UN report?")
    first = Passage("c1", "", "d", "a.md", title="Cambodia dismisses human rights report", chunk=1)
    second = Passage("c2", "", "d", "a.md", title="Cambodia dismisses human rights report", chunk=2)
    sents = [Sentence(0, 0, closed), Sentence(0, 1, "Malin said the report was biased."),
             Sentence(1, 0, named), Sentence(1, 1, opened)]
    assert Relevance._theirs(sents, said, [second, first]) == [False, True, False, False]


def test_a_report_dated_early_the_next_year_is_read_for_the_year_it_reports(tmp_path: Path) -> None:
    """Before: the first review's report, held in December 2009 and dated January 2010, was
    not among the passages read for "... at its 2009 review?": documents dated 2009 were
    searched for the year, and notes that repeat the question's words filled the rest."""
    notes = {f"notes-{n}.md": (f"Freedom of expression review notes {n}", f"{2011 + n % 4}-05-0{1 + n % 9}",
                               f"Notes {n} recall the 2009 review, where the delegation spoke on freedom of "
                               f"expression, and list the press cases of district {n}.") for n in range(40)}
    report = ("Report of the Working Group (review held 1 December 2009)", "2010-01-04",
              "The delegation said that citizens largely enjoyed freedom of expression and that the press was free.")
    settings = dated_archive(tmp_path, {**notes, "report.md": report})
    a = Assistant(settings=settings)
    question = "What did the delegation say about freedom of expression at its 2009 review?"
    passages, _ = a.asking._gather(question, question, Filters(), None, 2014)
    assert "report.md" in {Path(p.path).name for p in passages}
    passages, _ = a.asking._gather(question, question, Filters(since=20090101), None, 2014)
    # A date filter the reader set is kept to: no search for the year's reports beside it.
    assert "report.md" not in {Path(p.path).name for p in passages}
