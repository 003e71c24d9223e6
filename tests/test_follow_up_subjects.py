"""Follow-ups from the fifth round of staff dev questions (session 27; issue 20): a follow-up
whose only name is the archive's own subject still leans on the conversation, a year the
earlier turns did not name moves it to other documents, "she" is whom the earlier turns named
("X of the League said" being X's words), and the sentence ranked best for the follow-up may
answer from below the gate's best document. Each test failed on the code before it (7f4fd80)."""

from pathlib import Path

from archives import dated_archive

from assistant import Assistant
from assistant.answering import intent, speakers
from assistant.answering.answerers.extractive import ExtractiveAnswerer
from assistant.answering.followup import leans_on, topic
from assistant.answering.relevance import Sentence
from assistant.settings import Settings
from assistant.types import Passage


def _idf(term: str) -> float:
    """An archive about Marvala: its name is in most chunks."""
    return {"marvala": 0.3, "govern": 0.3}.get(term, 2.0)


def test_the_archives_own_subject_is_no_new_name() -> None:
    """Before: "What is the legal limit in Marvala?" named "Marvala", so it was read as a new
    question, and the turn after it lost the detention question's words."""
    asked = ["What did OHCHR find about people held too long before seeing a judge?"]
    assert leans_on("What is the legal limit in Marvala?", asked, _idf)
    assert not leans_on("What is the legal limit in Marvala?", asked)  # without the archive's word counts
    assert not leans_on("Who chairs the National Human Rights Committee of Marvala?", asked, _idf)
    both = topic("And what had the UN rapporteur recommended on that?",
                 [*asked, "What is the legal limit in Marvala?"], _idf)
    assert "judge" in both and "limit" in both


def test_she_is_whom_the_earlier_turns_named() -> None:
    """Before: "What had she said ...?" asked for nothing in particular ("had" was not read)."""
    wanted = intent.read("What had she said when the UN rapporteur arrived in 2022?")
    assert wanted.kind == "said" and wanted.speakers == ["she"]
    assert intent.with_speaker_from(wanted, "Amara Veldt after Marvala's 2024 UN rights review").speakers == [
        "Amara Veldt"]
    named = intent.read("What did Tamsin Orvell say?")
    assert intent.with_speaker_from(named, "Amara Veldt").speakers == ["Tamsin Orvell"]


def test_the_follow_ups_best_ranked_sentence_may_answer() -> None:
    """Before: only documents whose best sentence scored near the best could give the kind of
    answer asked for from below the gate, so a timeline's entry led, and Veldt's own words of
    2022, ranked first for "What had she said ...?", were left out."""
    timeline = Passage("t", "", "d1", "timeline.md", title="A timeline, 2019-2024")
    radio = Passage("r", "", "d2", "radio.txt", title="UN expert lands in Sennport")
    entry = Sentence(0, 0, "July 2022 - Amara Veldt becomes executive director of the League.", score=0.59,
                     rank=0.65)
    words = Sentence(1, 0, "Amara Veldt said the League had sent the rapporteur a file of case summaries.",
                     score=0.52, rank=0.77, fits=True)
    answerer = ExtractiveAnswerer(Settings(), embedder=None, idf=lambda _: 1.0, vectors=None)  # type: ignore[arg-type]
    assert answerer._select([entry, words], best=0.59, passages=[timeline, radio], kind="said")[0] is words


def test_a_follow_up_naming_another_year_looks_beyond_the_last_answer(tmp_path: Path) -> None:
    """Before: "What had she said when the UN expert arrived in 2022?" after an answer from a 2024
    article was answered from that article, preferred as the last answer's source, not from the
    2022 report of what she said."""
    settings = dated_archive(tmp_path, {
        "upr.md": ("Hallan faces 180 recommendations at its UN rights review", "2024-02-03",
                   "Hallan received 180 recommendations at its fourth review in Geneva on Tuesday. Amara Veldt "
                   "of the Hallan Rights League said the number of recommendations on detention showed that the "
                   "world had read the evidence. Speakers from more than 80 states took the floor. The UN expert "
                   "who visited in 2022 was praised by some delegations."),
        "radio.txt": ("UN expert on protest rights lands in Kestrel for a ten-day mission", "2022-03-07",
                      "The UN expert on protest rights arrived in Hallan on Monday for a ten-day visit. Amara "
                      "Veldt of the Hallan Rights League said the League had sent the expert a file of case "
                      "summaries ahead of her arrival. "
                      "The Foreign Ministry said the country had nothing to hide."),
    })
    assistant = Assistant(settings=settings)
    first = "What did Amara Veldt say after Hallan's 2024 UN rights review?"
    earlier = assistant.ask(first)
    assert "read the evidence" in earlier.text
    answer = assistant.ask("What had she said when the UN expert arrived in 2022?", history=[(first, earlier.text)])
    assert "case summaries" in answer.text.split(" [", 1)[0], answer.text


def test_a_name_of_a_body_said_is_the_names() -> None:
    """Before: "Amara Veldt of the Hallan Rights League said ..." was read as the League's words
    alone, so it was not Amara Veldt's when her words were asked for."""
    said = speakers.attributed(["Amara Veldt of the Hallan Rights League said the League had sent a file."])[0]
    assert said is not None and {"Amara", "Veldt", "League"} <= said
    assert speakers.attributed(["Senior officials of Freedonia said they welcome the visit."])[0] == {"Freedonia"}
