"""The Assistant: open a store, search it, answer questions with citations; optionally only
within some archive collections (`collections=`, `within`), applied to every read in the store."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.answering.answerers import make_answerer
from assistant.answering.asking import Asking
from assistant.answering.llms.base import ChatModel
from assistant.answering.query import History, check_question, condense, make_filters, restrict, turns
from assistant.answering.retrieve import Retriever
from assistant.index.locks import writer
from assistant.index.manifest import collection_of
from assistant.index.meta import check_collection
from assistant.index.onnx_encoder import choose_embedder
from assistant.index.search import Filters
from assistant.index.sentence_store import SentenceStore
from assistant.index.sentence_vectors import SentenceVectors
from assistant.index.store import PAGE, REMOVING, Store
from assistant.settings import Settings
from assistant.types import Answer, AnswerStream, ArchiveFile, ArchiveStatus, CollectionStatus, Facets, Passage

Names = str | Sequence[str] | None  # one name or several, as filters take them


class Assistant:
    """Answers questions from an archive. `Assistant(store=PATH)`; other settings as keywords.

    `collections`: the archive collections it may read (None: all; empty: none, so that every
    search finds nothing and every question is refused). Every read keeps to them, in the store:
    searches, answers and their citations, follow-ups, status, files, facets. Filters given to
    `search`/`ask`/`stream` (`collection=`) narrow them, never widen them."""

    readable: tuple[str, ...] | None = None  # the collections it may read (None: all)

    def __init__(self, store: str | Path | None = None, *, settings: Settings | None = None,
                 collections: Sequence[str] | None = None, **options: Any) -> None:
        self.readable = _readable(collections)  # a bad name fails before anything loads
        # llm= is a backend name, or a chat model object (assistant.testing.ScriptedLLM, say).
        model: ChatModel | None = None
        if options.get("llm") is not None and not isinstance(options["llm"], str):
            model = options.pop("llm")
            options["llm"] = model.name
        self.settings = (settings or Settings.load()).replace(
            store=Path(store).expanduser() if store else None, **options)
        self.store = Store.open(self.settings)  # first: a store error needs no model loaded
        self.embedder = choose_embedder(self.settings.embed_model, self.settings.embed_dtype, self.settings.device,
                                        self.settings.embed_runtime)
        self.retriever = Retriever(self.store, self.embedder, self.settings.retrieval,
                                   self.settings.context_chunks, self.settings.dense_weight,
                                   self.settings.dense_weight_weak_keywords, self.settings.keyword_coverage,
                                   self.settings.page_cap, self.settings.foreign_keywords,
                                   keyword_coverage_weak=self.settings.keyword_coverage_weak)
        # One memory of sentence vectors for every answerer on this embedder (with_llm's too).
        self.sentence_vectors = SentenceVectors(self.embedder, self.settings.sentence_cache_mb,
                                                SentenceStore.of(self.settings))
        self.answerer = make_answerer(self.settings, self.embedder, self._idf, model, self.sentence_vectors)
        self.asking = Asking(self.settings, self.retriever, self.answerer)

    def _idf(self, term: str) -> float:
        return self.retriever.snapshot.idf(term)

    def filters(self, since: str | None = None, until: str | None = None, source: Names = None,
                kind: Names = None, collection: Names = None) -> Filters:
        """Filters from user input (assistant.answering.query.make_filters), within this
        assistant's collections."""
        return restrict(make_filters(since, until, source, kind, collection), self.readable)

    def search(self, query: str, k: int = 10, *, since: str | None = None, until: str | None = None,
               source: Names = None, kind: Names = None, collection: Names = None) -> list[Passage]:
        """The k best passages for the query, best first; optionally only from documents dated
        within [since, until], from these sources, of these types (pdf, html, md, ...), in
        these archive collections (within the assistant's own)."""
        filters = self.filters(since, until, source, kind, collection)
        return self.retriever.search(check_question(query), k, filters=filters or None)

    def ask(self, question: str, history: History | None = None, *, since: str | None = None,
            until: str | None = None, source: Names = None, kind: Names = None,
            collection: Names = None) -> Answer:
        """An answer with numbered citations, or a refusal when the archive lacks the answer.
        `history`: earlier (question, answer) pairs or {"role", "content"} messages, for
        follow-up questions. Filters as in `search`."""
        return self.stream(question, history, since=since, until=until, source=source, kind=kind,
                           collection=collection).answer

    def stream(self, question: str, history: History | None = None, *, since: str | None = None,
               until: str | None = None, source: Names = None, kind: Names = None,
               collection: Names = None) -> AnswerStream:
        """`ask`, streamed: an `AnswerStream`; iterate it for the answer's text in pieces (str)
        as they are produced, then read `.answer` for the complete `Answer`.

        The question, the filters, retrieval and the answer up to its first piece run before
        this returns, so a bad question or an LLM that cannot be reached raises here, before
        anything has been streamed."""
        question = check_question(question)
        filters = self.filters(since, until, source, kind, collection)
        return AnswerStream(self.asking.run(question, turns(history), filters)).start()

    def with_llm(self, name: str | ChatModel | None) -> Assistant:
        """This assistant answering with another backend, by name or as a chat model object; the
        store, the embedding model and the retriever are shared. ConfigError for a backend that
        is unknown or cannot load."""
        model = None if name is None or isinstance(name, str) else name
        if model is None and (not name or name == self.settings.llm):
            return self
        other = copy.copy(self)
        other.settings = self.settings.replace(llm=model.name if model is not None else name)
        other.answerer = make_answerer(other.settings, self.embedder, self._idf, model, self.sentence_vectors)
        other.asking = Asking(other.settings, self.retriever, other.answerer)
        return other

    def within(self, collections: Sequence[str] | None) -> Assistant:
        """This assistant reading only `collections` (and never more than it reads now: None
        keeps its own restriction); the store, the model, the retriever and the answerer are
        shared, so this is cheap enough for every request. ConfigError for a bad name."""
        names = _readable(collections)
        if names is None or names == self.readable:
            return self
        other = copy.copy(self)
        other.readable = names if self.readable is None else tuple(c for c in names if c in self.readable)
        return other

    def status(self) -> ArchiveStatus:
        """What the archive holds, as far as this assistant may read: files, documents, chunks,
        last ingestion time, and each collection."""
        return archive_status(self.store, self.settings, self.readable)

    def files(self) -> list[ArchiveFile]:
        """Each ingested file this assistant may read, by path: `path`, `kind`, `documents`,
        `chunks`, `bytes`, `ingested` (local time, ISO) and `collection`."""
        return archive_files(self.store, self.readable)

    def passages_of(self, path: str) -> list[Passage]:
        """Every stored passage of one ingested file this assistant may read, in reading order
        (document, then position); [] for a file the store does not hold and, alike, for one it
        may not read."""
        if not any(f.path == path for f in self.files()):
            return []
        ids = sorted(self.store.ids_for_file(path))
        chunks = [c for i in range(0, len(ids), PAGE) for c in self.store.get(ids[i:i + PAGE]).values()]
        passages = [Passage.from_metadata(c.id, c.text, c.meta) for c in chunks
                    if self.readable is None or c.meta.collection in self.readable]  # a move half done
        return sorted(passages, key=lambda p: (p.doc_id, p.chunk))

    def collections(self) -> list[CollectionStatus]:
        """Each archive collection this assistant may read, by name, with its files, documents
        and chunks (a collection it may read but that holds nothing is listed, empty)."""
        return archive_collections(self.store.ingested(), self.readable)

    def facets(self) -> Facets:
        """The sources and document types of what this assistant may read (the chat's filters)."""
        sources, kinds = self.retriever.snapshot.facets(Filters(collections=self.readable))
        return Facets(sources, kinds)


def _readable(collections: Sequence[str] | None) -> tuple[str, ...] | None:
    if collections is None:
        return None
    if isinstance(collections, str):  # it would read as one collection per letter
        raise TypeError("collections must be a sequence of names (or None), not one string")
    return tuple(sorted({check_collection(c) for c in collections}))


def _within(records: dict[str, dict[str, Any]], collections: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    return records if collections is None else \
        {k: r for k, r in records.items() if collection_of(r) in collections}


# Module functions too: `assistant status` needs the store only, not the model an Assistant loads.
def archive_status(store: Store, settings: Settings, collections: Sequence[str] | None = None) -> ArchiveStatus:
    """What the store holds (only in `collections`, when given: chunks counted from the manifest)."""
    everything = _within(store.file_records(), collections)  # read once: held files, and those a removal left
    records = {k: r for k, r in everything.items() if not r.get(REMOVING)}
    sentences = SentenceStore.of(settings).saved() if collections is None else (None, None)
    return ArchiveStatus(
        store=store.where, files=len(records),
        documents=sum(int(r.get("documents", 1)) for r in records.values()),
        chunks=store.count() if collections is None else sum(int(r.get("chunks", 0)) for r in records.values()),
        last_ingested=max((float(r.get("ingested_at", 0)) for r in records.values()), default=None),
        embed_model=settings.embed_model, llm=settings.llm, writing=writer(settings),
        half_removed=sorted(everything.keys() - records.keys()),
        collections=archive_collections(records, collections),
        sentence_chunks=sentences[0], sentence_bytes=sentences[1])


def archive_collections(records: dict[str, dict[str, Any]],
                        collections: Sequence[str] | None = None) -> list[CollectionStatus]:
    """Each collection of these manifest records (within `collections`, each of which is listed,
    empty or not), by name."""
    out = {name: CollectionStatus(name, 0, 0, 0) for name in collections or ()}
    for r in _within(records, collections).values():
        c = out.setdefault(collection_of(r), CollectionStatus(collection_of(r), 0, 0, 0))
        c.files += 1
        c.documents += int(r.get("documents", 1))
        c.chunks += int(r.get("chunks", 0))
    return [out[n] for n in sorted(out)]


def archive_files(store: Store, collections: Sequence[str] | None = None) -> list[ArchiveFile]:
    out = []
    for path, r in sorted(_within(store.ingested(), collections).items()):
        when = r.get("ingested_at")
        out.append(ArchiveFile(
            path=path, kind=str(r.get("kind", "")), documents=int(r.get("documents", 1)),
            chunks=int(r.get("chunks", 0)), bytes=int(r.get("size", 0)),
            ingested=datetime.fromtimestamp(float(when)).isoformat(" ", "seconds") if when else None,
            collection=collection_of(r)))
    return out


# The query checks live in assistant.answering.query; they are named here too, where callers found them.
__all__ = ["Assistant", "archive_collections", "archive_files", "archive_status", "check_question", "condense",
           "make_filters", "turns"]
