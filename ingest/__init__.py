"""The write path: `ingest(paths, settings)` reads an archive into the store and returns a
report; `remove(paths, settings)` takes files out of it."""

from ingest.pipeline import ingest
from ingest.remove import remove
from ingest.report import FileResult, IngestReport

__all__ = ["ingest", "remove", "IngestReport", "FileResult"]
