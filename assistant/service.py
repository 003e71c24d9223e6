"""The Assistant: open a store, search it, answer questions with citations."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.answering.answerers import make_answerer
from assistant.answering.asking import Asking
from assistant.answering.llms.base import ChatModel
from assistant.answering.query import History, check_question, condense, make_filters, turns
from assistant.answering.retrieve import Retriever
from assistant.index.embedding import load_embedder
from assistant.index.locks import writer
from assistant.index.store import REMOVING, Store
from assistant.settings import Settings
from assistant.types import Answer, AnswerStream, ArchiveFile, ArchiveStatus, Passage


class Assistant:
    """Answers questions from an archive. `Assistant(store=PATH)`; other settings as keywords."""

    def __init__(self, store: str | Path | None = None, *, settings: Settings | None = None,
                 **options: Any) -> None:
        # llm= is a backend name, or a chat model object (assistant.testing.ScriptedLLM, say).
        model: ChatModel | None = None
        if options.get("llm") is not None and not isinstance(options["llm"], str):
            model = options.pop("llm")
            options["llm"] = model.name
        self.settings = (settings or Settings.load()).replace(
            store=Path(store).expanduser() if store else None, **options)
        self.store = Store.open(self.settings)  # first: a store error needs no model loaded
        self.embedder = load_embedder(self.settings.embed_model, self.settings.embed_dtype)
        self.retriever = Retriever(self.store, self.embedder, self.settings.retrieval,
                                   self.settings.context_chunks, self.settings.dense_weight,
                                   self.settings.dense_weight_weak_keywords, self.settings.keyword_coverage,
                                   self.settings.page_cap)
        self.answerer = make_answerer(self.settings, self.embedder, self._idf, model)
        self.asking = Asking(self.settings, self.retriever, self.answerer)

    def _idf(self, term: str) -> float:
        return self.retriever.snapshot.idf(term)

    def search(self, query: str, k: int = 10, *, since: str | None = None, until: str | None = None,
               source: str | Sequence[str] | None = None, kind: str | Sequence[str] | None = None
               ) -> list[Passage]:
        """The k best passages for the query, best first; optionally only from documents dated
        within [since, until], from these sources, of these types (pdf, html, md, ...)."""
        filters = make_filters(since, until, source, kind)
        return self.retriever.search(check_question(query), k, filters=filters or None)

    def ask(self, question: str, history: History | None = None, *, since: str | None = None,
            until: str | None = None, source: str | Sequence[str] | None = None,
            kind: str | Sequence[str] | None = None) -> Answer:
        """An answer with numbered citations, or a refusal when the archive lacks the answer.
        `history`: earlier (question, answer) pairs or {"role", "content"} messages, for
        follow-up questions. Filters as in `search`."""
        return self.stream(question, history, since=since, until=until, source=source, kind=kind).answer

    def stream(self, question: str, history: History | None = None, *, since: str | None = None,
               until: str | None = None, source: str | Sequence[str] | None = None,
               kind: str | Sequence[str] | None = None) -> AnswerStream:
        """`ask`, streamed: an `AnswerStream`; iterate it for the answer's text in pieces (str)
        as they are produced, then read `.answer` for the complete `Answer`.

        The question, the filters, retrieval and the answer up to its first piece run before
        this returns, so a bad question or an LLM that cannot be reached raises here, before
        anything has been streamed."""
        question = check_question(question)
        filters = make_filters(since, until, source, kind)
        return AnswerStream(self.asking.run(question, turns(history), filters)).start()

    def with_llm(self, name: str | None) -> Assistant:
        """This assistant answering with another backend; the store, the embedding model and
        the retriever are shared. ConfigError for a backend that is unknown or cannot load."""
        if not name or name == self.settings.llm:
            return self
        other = copy.copy(self)
        other.settings = self.settings.replace(llm=name)
        other.answerer = make_answerer(other.settings, self.embedder, self._idf)
        other.asking = Asking(other.settings, self.retriever, other.answerer)
        return other

    def status(self) -> ArchiveStatus:
        """What the archive holds: files, documents, chunks, last ingestion time."""
        return archive_status(self.store, self.settings)

    def files(self) -> list[ArchiveFile]:
        """Each ingested file, by path: `path`, `kind`, `documents`, `chunks`, `bytes`, and
        `ingested` (local time, ISO)."""
        return archive_files(self.store)


# Module functions too: `assistant status` needs the store only, not the model an Assistant loads.
def archive_status(store: Store, settings: Settings) -> ArchiveStatus:
    everything = store.file_records()  # read once: held files, and those a killed removal left
    records = {k: r for k, r in everything.items() if not r.get(REMOVING)}
    return ArchiveStatus(
        store=store.where, files=len(records),
        documents=sum(int(r.get("documents", 1)) for r in records.values()),
        chunks=store.count(),
        last_ingested=max((float(r.get("ingested_at", 0)) for r in records.values()), default=None),
        embed_model=settings.embed_model, llm=settings.llm, writing=writer(settings),
        half_removed=sorted(everything.keys() - records.keys()))


def archive_files(store: Store) -> list[ArchiveFile]:
    out = []
    for path, r in sorted(store.ingested().items()):
        when = r.get("ingested_at")
        out.append(ArchiveFile(
            path=path, kind=str(r.get("kind", "")), documents=int(r.get("documents", 1)),
            chunks=int(r.get("chunks", 0)), bytes=int(r.get("size", 0)),
            ingested=datetime.fromtimestamp(float(when)).isoformat(" ", "seconds") if when else None))
    return out


# The query checks live in assistant.answering.query; they are named here too, where callers found them.
__all__ = ["Assistant", "archive_files", "archive_status", "check_question", "condense", "make_filters", "turns"]
