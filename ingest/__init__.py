"""The write path: `ingest(paths, settings)` reads an archive into the store and returns a report."""

from ingest.pipeline import ingest
from ingest.report import FileResult, IngestReport

__all__ = ["ingest", "IngestReport", "FileResult"]
