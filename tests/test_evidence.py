"""Where a cited passage holds its supporting sentences: highlights and evidence-first excerpts."""

from assistant.answering.evidence import excerpt, matching_sentence, spans

PASSAGE = ("The mission visited three provinces in March.\n\nAfter careful study, the **Ministry** "
           "rejects the report\nin its entirety. It calls the findings biased. Talks resume in May.")
CLAIM = "After careful study, the Ministry rejects the report in its entirety."


def test_spans_match_sentences_across_markup_and_line_breaks() -> None:
    [(start, end)] = spans(PASSAGE, [CLAIM])
    assert PASSAGE[start:end] == "After careful study, the **Ministry** rejects the report\nin its entirety."
    # Overlapping or adjacent sentences merge; unknown ones have no span.
    both = spans(PASSAGE, [CLAIM, "It calls the findings biased.", "Not in the passage."])
    assert len(both) == 2 and both[0] == (start, end) and PASSAGE[both[1][0]:both[1][1]] == "It calls the findings biased."


def test_excerpt_starts_at_the_evidence() -> None:
    assert excerpt(PASSAGE, [CLAIM], 60) == "…After careful study, the Ministry rejects the report in…"
    assert excerpt(PASSAGE, [CLAIM], 20) == "…After careful…"  # whole words where one ends near the cut
    whole = excerpt(PASSAGE, [CLAIM], 500)
    assert whole.startswith("…After careful study") and whole.endswith("Talks resume in May.")
    # The first supporting sentence in the passage leads, whatever the order given.
    assert excerpt(PASSAGE, ["It calls the findings biased.", CLAIM], 500) == whole


def test_excerpt_without_evidence_is_the_opening() -> None:
    assert excerpt(PASSAGE, [], 30) == "The mission visited three…"
    assert excerpt(PASSAGE, ["Not in the passage."], 30) == "The mission visited three…"
    assert excerpt("x" * 50, [], 10) == "x" * 9 + "…"  # no word ends near the cut
    assert excerpt("  Short text.", ["Short text."], 30) == "Short text."  # nothing cut before it
    assert excerpt(PASSAGE, [], 10_000) == " ".join(PASSAGE.replace("**", "").split())


def test_search_results_are_excerpted_where_the_query_matches() -> None:
    # Stemmed terms: "rejected reports" meets "rejects the report"; the most terms win.
    assert matching_sentence(PASSAGE, "ministry rejected reports") == [
        "After careful study, the **Ministry** rejects the report in its entirety."]
    assert matching_sentence(PASSAGE, "when do talks resume") == ["Talks resume in May."]
    assert matching_sentence(PASSAGE, "the of and") == []  # stop words only
    assert excerpt(PASSAGE, matching_sentence(PASSAGE, "provinces"), 500).startswith("The mission visited")
