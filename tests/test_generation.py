"""The generative answerer, exactly: prompt building, packing, [n] parsing, support flags,
refusals and follow-up rewriting, with the scripted LLM (assistant.testing) and the real
embedding model and store."""

from pathlib import Path

import pytest

from assistant import Answer, Assistant
from assistant.answering.citations import MarkerStream, cite_grammar, renumbered
from assistant.answering.context import Prompts, answer_messages
from assistant.errors import ConfigError
from assistant.testing import ScriptedLLM
from assistant.types import Passage

from conftest import ROOT

REFUSAL = (ROOT / "prompts" / "refusal.txt").read_text().strip()
WHY = "Why did Marvala reject the 2023 OHCHR report?"
# A sentence of the Ministry's statement (statements/2023-08-16-mfa-statement-ohchr-report.md).
QUOTE = ("The Government rejects the report because, in its view, the OHCHR relied on unverified claims "
         "supplied by non-governmental organisations")


def ask(store: Path, replies, question: str = WHY, piece: int = 3, **kw) -> tuple[Answer, list[str], ScriptedLLM]:
    llm = ScriptedLLM(replies, piece=piece)
    a = Assistant(store=store, llm=llm, **kw)
    stream = a.stream(question)
    pieces = list(stream)
    assert all(isinstance(i, str) for i in pieces)
    return stream.answer, pieces, llm


def test_the_prompt_holds_rules_example_numbered_passages_and_question(sample_store: Path) -> None:
    answer, _, llm = ask(sample_store, [f"{QUOTE} [1]."])
    system, example_q, example_a, user = llm.calls[0]
    assert system["role"] == "system" and REFUSAL in system["content"] and "[1]" in system["content"]
    assert example_q["role"] == "user" and example_a["role"] == "assistant" and "[1]" in example_a["content"]
    assert user["content"].startswith("Passages:\n[1] ") and user["content"].rstrip().endswith(f"Question: {WHY}")
    numbers = [line.split("]")[0] + "]" for line in user["content"].splitlines() if line.startswith("[")]
    assert numbers == [f"[{n}]" for n in range(1, len(numbers) + 1)] and 1 <= len(numbers) <= 3
    # Most relevant first: the Ministry's statement is passage [1].
    assert "Ministry of Foreign Affairs" in user["content"].split("\n[2]")[0]
    assert llm.max_tokens == [200]
    assert answer.citations[0].path.endswith("2023-08-16-mfa-statement-ohchr-report.md")


def passages(n: int, words: int) -> list[Passage]:
    return [Passage(id=str(i), text=" ".join(f"w{i}x{j}" for j in range(words)) + ".", doc_id=str(i),
                    path=f"/a/{i}.md", title=f"Doc {i}") for i in range(1, n + 1)]


def test_packing_fits_the_window_and_drops_the_lowest_ranked_first() -> None:
    p = Prompts.load()
    roomy = answer_messages("Q?", passages(4, 50), p, context_window=4096, max_tokens=200)
    assert len(roomy.passages) == 4 and roomy.dropped == 0
    tight = answer_messages("Q?", passages(4, 100), p, context_window=1100, max_tokens=200)
    assert 0 < len(tight.passages) < 4 and tight.dropped == 4 - len(tight.passages)
    assert [x.id for x in tight.passages] == [str(i) for i in range(1, len(tight.passages) + 1)]
    assert tight.tokens * 1.25 + 200 <= 1100
    # A best passage too long for the window is cut, never dropped.
    cut = answer_messages("Q?", passages(1, 3000), p, context_window=1100, max_tokens=200)
    assert cut.cut and len(cut.passages) == 1 and "w1x0" in cut.messages[-1]["content"]
    with pytest.raises(ConfigError, match="llm_context_window"):
        answer_messages("Q?", passages(1, 10), p, context_window=300, max_tokens=200)


def test_markers_split_across_pieces_bogus_ones_dropped_and_renumbered() -> None:
    s = MarkerStream(3)
    pieces = ["Rejected", " it [", "3", "] and", " more [7", "]. Also [1, ", "3]. End", ". [", "2", "]"]
    out = "".join(s.feed(p) for p in pieces) + s.flush()
    assert out == "Rejected it [1] and more. Also [2][1]. End. [3]"
    assert s.order == [3, 1, 2] and s.dropped == [7]
    assert renumbered("A [2023] year [4] and [0] none [2", 3) == ("A [2023] year and none", [])


def test_streamed_answer_renumbers_citations_and_drops_bogus_markers(sample_store: Path) -> None:
    reply = f"{QUOTE} [2]. The sky is green [7]. {QUOTE} [1]."
    answer, pieces, llm = ask(sample_store, [reply], piece=1)
    assert "".join(pieces) == answer.text and len(pieces) > 20
    assert "[7]" not in answer.text and "[2]" in answer.text
    prompt = llm.prompts[0]
    second = prompt.split("\n[2] ")[1].splitlines()[0]
    assert answer.citations[0].title == second.split(" (")[0]  # the model's [2] is now [1]
    assert [c.n for c in answer.citations] == [1, 2]


def test_each_sentence_is_checked_against_what_it_cites(sample_store: Path) -> None:
    reply = f"{QUOTE} [1]. The moon is made of green cheese and orbits Jupiter [1]. Reforms began in 2022."
    answer, _, _ = ask(sample_store, [reply])
    quote, moon, uncited = answer.claims
    assert quote.supported and quote.cites == [1] and quote.support >= 0.5
    assert not moon.supported and moon.cites == [1] and moon.support < quote.support
    assert not uncited.supported and uncited.cites == [] and uncited.support == 0
    assert not answer.grounded and not answer.refused
    assert any("unverified claims" in s for s in answer.citations[0].supporting)
    only_quote, _, _ = ask(sample_store, [f"{QUOTE} [1]."])
    assert only_quote.grounded
    no_citation, _, _ = ask(sample_store, [f"{QUOTE}."])
    assert not no_citation.grounded and not no_citation.citations


@pytest.mark.parametrize("reply", [REFUSAL, "The passages do not say why the report was rejected.",
                                   "I'm sorry, I cannot answer that from the documents provided.", ""])
def test_an_llm_that_cannot_answer_is_marked_refused(sample_store: Path, reply: str) -> None:
    answer, pieces, _ = ask(sample_store, [reply])
    assert answer.refused and not answer.grounded and "".join(pieces) == answer.text
    assert answer.text == (reply or REFUSAL)
    # What came closest stays on hand for the reader, the statement the quote is from first.
    assert answer.related and answer.related[0].path.endswith("2023-08-16-mfa-statement-ohchr-report.md")


def test_a_question_retrieval_cannot_answer_is_refused_without_calling_the_llm(sample_store: Path) -> None:
    answer, pieces, llm = ask(sample_store, [], question="Who won the 2022 football World Cup?")
    assert answer.refused and answer.text == REFUSAL and pieces == [REFUSAL]
    assert llm.calls == [] and answer.related == []  # nothing in the archive comes close
    near, _, llm = ask(sample_store, [], question="Who is the President of Marvala?")
    assert near.refused and llm.calls == [] and near.related


def test_a_follow_up_is_rewritten_by_the_llm_before_retrieval(sample_store: Path) -> None:
    llm = ScriptedLLM(['Standalone question: "Who invited the UN Special Rapporteur to visit Sennport in 2022?"',
                       "The Government invited her [1]."])
    a = Assistant(store=sample_store, llm=llm)
    history = [("When did the UN Special Rapporteur visit Sennport?", "From 7 to 16 March 2022 [1].")]
    answer = a.ask("Who invited her for that visit?", history=history)
    assert answer.standalone_question == "Who invited the UN Special Rapporteur to visit Sennport in 2022?"
    condense_prompt = llm.prompts[0]
    assert "When did the UN Special Rapporteur visit Sennport?" in condense_prompt
    assert "From 7 to 16 March 2022" in condense_prompt and "Who invited her for that visit?" in condense_prompt
    assert llm.prompts[1].endswith(f"Question: {answer.standalone_question}")
    assert answer.question == "Who invited her for that visit?"


def test_an_unusable_rewrite_falls_back_to_the_documented_rule(sample_store: Path) -> None:
    llm = ScriptedLLM(["", "The Government invited her [1]."])
    a = Assistant(store=sample_store, llm=llm)
    first = "When did the UN Special Rapporteur visit Sennport?"
    answer = a.ask("Who invited her for that visit?", history=[{"role": "user", "content": first},
                                                                {"role": "assistant", "content": "In 2022."}])
    assert answer.standalone_question == "Who invited her for that visit? UN Special Rapporteur visit Sennport"


def test_a_grammar_is_sent_only_to_models_that_take_one(sample_store: Path) -> None:
    plain = ScriptedLLM([f"{QUOTE} [1]."])
    Assistant(store=sample_store, llm=plain).ask(WHY)
    assert plain.grammars == [None]
    constrained = ScriptedLLM([f"{QUOTE} [1]."], grammar=True)
    Assistant(store=sample_store, llm=constrained).ask(WHY)
    grammar = constrained.grammars[0]
    assert grammar and REFUSAL in grammar and '" [" number "]"' in grammar
    assert grammar == cite_grammar(grammar.count('| "') + 1, REFUSAL)


def test_the_answerer_keeps_nothing_between_questions_and_prepare_shows_the_prompt(sample_store: Path) -> None:
    llm = ScriptedLLM([f"{QUOTE} [1].", f"{QUOTE} [1]."])
    a = Assistant(store=sample_store, llm=llm)
    before = dict(vars(a.answerer))
    a.ask(WHY)
    assert vars(a.answerer) == before  # no per-question state: one instance serves concurrent requests
    prepared = a.answerer.prepare(WHY, a.search(WHY, a.settings.top_k))
    assert prepared.packed is not None and prepared.packed.messages == llm.calls[0]
    assert max(prepared.scored.relevance) >= a.settings.min_relevance
    a.ask(WHY)
    assert llm.calls[1] == llm.calls[0]
