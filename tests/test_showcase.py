"""The showcase corpus under ../shared: ingest it and ask the question the product is built around."""

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.settings import Settings
from ingest import ingest

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def cambodia(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = Settings(store=tmp_path_factory.mktemp("cambodia") / "store")
    report = ingest([shared / "corpora" / "cambodia" / "docs"], settings)
    assert report.ok, report.summary()
    assert report.documents > 400  # 100 files, one JSONL of 348 recommendations
    return Assistant(settings=settings)


def test_why_did_cambodia_reject_the_ohchr_report(cambodia: Assistant) -> None:
    answer = cambodia.ask("Why did Cambodia reject the OHCHR report?")
    assert not answer.refused
    assert any(c.path.endswith("ppp_2023_cambodia_dismisses_human_rights_report.md") for c in answer.citations)
    text = answer.text.lower()
    assert "reliance" in text and "civil society organisations" in text


def test_a_question_the_archive_cannot_answer_is_refused(cambodia: Assistant) -> None:
    answer = cambodia.ask("Which smartphone sold best in Cambodia in 2023?")
    assert answer.refused and not answer.citations
