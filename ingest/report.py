"""What an ingestion run did, file by file, and its one-paragraph summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.ocr import INSTALL

# moved: put in another archive collection, nothing embedded (ingest/move.py)
# needs-ocr: scanned pages wait for an OCR engine (its other pages are in); neither failed nor done
STATUSES = ("added", "updated", "unchanged", "moved", "needs-ocr", "failed", "skipped", "removed", "missing")


@dataclass
class FileResult:
    path: str
    status: str  # one of STATUSES
    reason: str = ""
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    ocr_pages: int = 0  # pages read by OCR
    needs_ocr: int = 0  # scanned pages not read: no OCR engine here


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    chunks_in_store: int = 0
    store: str = ""
    action: str = "ingest"  # or "remove" (ingest/remove.py), "move" (ingest/move.py)
    collection: str = ""  # a move's target
    sentences_encoded: int = 0  # sentence texts encoded ahead for answers (ingest/sentences.py)

    def _of(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def added(self) -> list[FileResult]:
        return self._of("added")

    @property
    def updated(self) -> list[FileResult]:
        return self._of("updated")

    @property
    def unchanged(self) -> list[FileResult]:
        return self._of("unchanged")

    @property
    def failed(self) -> list[FileResult]:
        return self._of("failed")

    @property
    def skipped(self) -> list[FileResult]:
        return self._of("skipped")

    @property
    def moved(self) -> list[FileResult]:
        return self._of("moved")

    @property
    def removed(self) -> list[FileResult]:
        return self._of("removed")

    @property
    def missing(self) -> list[FileResult]:
        """Files the store holds that are gone from disk (kept until --prune)."""
        return self._of("missing")

    @property
    def needs_ocr(self) -> list[FileResult]:
        """Files with scanned pages no OCR engine here could read (their other pages are in)."""
        return self._of("needs-ocr")

    @property
    def documents(self) -> int:
        return sum(f.documents for f in self.files
                   if f.status in ("added", "updated", "unchanged", "moved", "needs-ocr"))

    @property
    def chunks_embedded(self) -> int:
        return sum(f.embedded for f in self.files)

    @property
    def ok(self) -> bool:
        return not self.failed

    def _listing(self, head: str, label: str, items: list[FileResult], reasons: bool = False) -> str:
        """A removal's or a move's summary: the head line, the first 20 files, then the failures."""
        lines = [head] + [f"  {label} {f.path}{f' ({f.reason})' if reasons and f.reason else ''}"
                          for f in items[:20]]
        if len(items) > 20:
            lines.append(f"  ... and {len(items) - 20} more")
        return "\n".join(lines + [f"  failed:  {f.path}: {f.reason}" for f in self.failed])

    def summary(self) -> str:
        def n(items: list[FileResult]) -> int:
            return sum(max(f.documents, 1) for f in items)

        if self.action == "move":
            head = (f"Moved into the collection {self.collection!r} of {self.store}: {len(self.moved)} files, "
                    f"{sum(f.chunks for f in self.moved)} chunks (nothing embedded); "
                    f"{len(self.unchanged)} files were there already. {self.seconds:.1f} s.")
            return self._listing(head, "moved:  ", self.moved, reasons=True)
        if self.action == "remove":
            head = (f"Removed from {self.store}: {len(self.removed)} files, "
                    f"{sum(f.chunks for f in self.removed)} chunks; {self.chunks_in_store} chunks in the "
                    f"store. {self.seconds:.1f} s.")
            return self._listing(head, "removed:", self.removed)
        lines = [
            f"Ingested into {self.store}: {n(self.added)} documents added, {n(self.updated)} updated, "
            f"{n(self.unchanged)} unchanged, {len(self.failed)} files failed, "
            f"{len(self.skipped)} skipped, {len(self.removed)} removed"
            + (f", {n(self.moved)} moved to another collection" if self.moved else "")
            + (f", {len(self.needs_ocr)} need OCR." if self.needs_ocr else "."),
            f"Chunks: {self.chunks_embedded} embedded, {self.chunks_in_store} in the store"
            + (f"; {self.sentences_encoded} sentences encoded ahead for answers" if self.sentences_encoded else "")
            + f". {self.seconds:.1f} s.",
        ]
        ocr = [f for f in self.files if f.ocr_pages]
        if ocr:
            lines.append(f"Read by OCR: {sum(f.ocr_pages for f in ocr):,} scanned pages of {len(ocr)} files.")
        if self.needs_ocr:
            lines.append(f"Need OCR: {sum(f.needs_ocr for f in self.needs_ocr):,} scanned pages of "
                         f"{len(self.needs_ocr)} files are not read (their other pages are). Install OCR ("
                         f"{INSTALL}; setting ocr_engine) and ingest again: those files are read then, "
                         "no --force needed.")
        lines += [f"  failed:  {f.path}: {f.reason}" for f in self.failed]
        lines += [f"  needs OCR: {f.path}: {f.reason}" for f in self.needs_ocr]
        lines += [f"  skipped: {f.path}: {f.reason}" for f in self.skipped]
        lines += [f"  note:    {f.path}: {f.reason}" for f in self.files
                  if f.reason and f.status in ("added", "updated")]
        if self.missing:
            lines.append(f"  {len(self.missing)} files in the store are gone from disk; "
                         f"`--prune` removes them: " + ", ".join(f.path for f in self.missing[:5])
                         + (" ..." if len(self.missing) > 5 else ""))
        return "\n".join(lines)
