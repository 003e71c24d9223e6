"""The write path: `ingest(paths, settings, collection=...)` reads an archive into the store and
returns a report; `remove(paths, settings)` takes files out of it; `move(paths, collection,
settings)` puts stored files in another archive collection."""

from ingest.move import move as move  # re-exported (see __all__ below)
from ingest.pipeline import ingest
from ingest.remove import remove
from ingest.report import FileResult, IngestReport

# `move` is importable from here too; it joins __all__ when tests/test_public_api.py's pin does.
__all__ = ["ingest", "remove", "IngestReport", "FileResult"]
