"""Small archives for tests: Markdown files with a title and a date in their front matter."""

from pathlib import Path

from assistant.settings import Settings
from ingest import ingest


def dated_archive(root: Path, docs: dict[str, tuple[str, str, str]]) -> Settings:
    """`docs`: file name -> (title, date, text), written under root/docs and ingested into
    root/store; the settings of that store."""
    folder = root / "docs"
    folder.mkdir()
    for name, (title, date, text) in docs.items():
        (folder / name).write_text(f"---\ntitle: {title}\ndate: {date}\n---\n\n{text}\n")
    settings = Settings(store=root / "store")
    assert ingest([folder], settings).ok
    return settings
