"""The archive inside LlamaIndex: `ArchiveRetriever` (our hybrid search as a BaseRetriever),
`archive_query_engine` (cited answers through any llama-index LLM, by our prompt, citation parsing
and support check) and `ChatModelLLM` (one of our chat models, ScriptedLLM say, as a llama-index
LLM). Needs llama-index-core; nothing else in the package imports this module."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.base.response.schema import Response
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from assistant.answering.answerers.base import Answerer
from assistant.answering.asking import Asking
from assistant.answering.llms.base import ChatModel
from assistant.answering.llms.remote import LlamaIndexChat
from assistant.answering.relevance import Hints
from assistant.service import Assistant, Names
from assistant.types import Answer, Citation, Passage

Archive = Assistant | str | Path  # an Assistant, or the store folder to open one on
# What a node's text is shown with: to an LLM, where it is from; to an embedding model, its title.
SHOWN = ("title", "date", "source", "page")
FIELDS = ("title", "date", "source", "url", "page", "path", "doc_id", "collection", "chunk")


def readable(who: Any) -> Sequence[str] | None:
    """The collections a caller may read: a user (anything with `.readable`, such as the
    server's Principal), a list of collection names, or None for all of them."""
    return who.readable if hasattr(who, "readable") else who


def open_archive(archive: Archive, collections: Any = None) -> Assistant:
    """The Assistant for `archive` (opened on a store folder when given one), within `collections`."""
    a = archive if isinstance(archive, Assistant) else Assistant(store=archive)
    return a.within(readable(collections))


def node(p: Passage, **extra: Any) -> NodeWithScore:
    """A passage as a llama-index node: its chunk id as the node id, its document as the source."""
    meta = {k: v for k in FIELDS if (v := getattr(p, k)) is not None}
    meta.update(extra)
    text = TextNode(id_=p.id, text=p.text, metadata=meta,
                    excluded_llm_metadata_keys=[k for k in meta if k not in SHOWN],
                    excluded_embed_metadata_keys=[k for k in meta if k != "title"],
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=p.doc_id)})
    return NodeWithScore(node=text, score=p.score)


class ArchiveRetriever(BaseRetriever):
    """The k best passages of the archive for a query, as `Assistant.search` finds them (hybrid
    dense and keyword search), within the caller's `collections` (a user or a list of names)
    and the filters (dates as ISO text, sources, document types, collections), as nodes."""

    def __init__(self, archive: Archive, *, k: int = 10, collections: Any = None, since: str | None = None,
                 until: str | None = None, source: Names = None, kind: Names = None, collection: Names = None,
                 callback_manager: CallbackManager | None = None) -> None:
        self.assistant = open_archive(archive, collections)
        self.k = k
        self.filters: dict[str, Any] = dict(since=since, until=until, source=source, kind=kind,
                                            collection=collection)
        self.assistant.filters(**self.filters)  # a bad date or name fails here, not at the first query
        super().__init__(callback_manager=callback_manager)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [node(p) for p in self.assistant.search(query_bundle.query_str, self.k, **self.filters)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # Searches are safe to run side by side (assistant/answering/retrieve.py).
        return await asyncio.to_thread(self._retrieve, query_bundle)


class ArchiveQueryEngine(BaseQueryEngine):
    """Questions answered as `Assistant.ask` answers them. The Response's text is the answer
    with its [n] markers, its source nodes the cited passages in citation order (node
    metadata["citation"] = n), and its metadata the whole Answer (`answer`), with `citations`,
    `refused` and `grounded` besides."""

    def __init__(self, assistant: Assistant, filters: dict[str, Any],
                 callback_manager: CallbackManager | None = None) -> None:
        self.assistant = assistant
        self.filters = filters
        super().__init__(callback_manager)

    def _query(self, query_bundle: QueryBundle) -> Response:
        seen = _Seen(self.assistant.answerer)
        asking = copy.copy(self.assistant)  # its own Asking, whose answerer notes what it was given
        asking.asking = Asking(asking.settings, asking.retriever, seen)
        answer = asking.ask(query_bundle.query_str, **self.filters)
        sources = [] if answer.refused else [_cited(c, seen.passages) for c in answer.citations]
        return Response(response=answer.text, source_nodes=sources,
                        metadata={"answer": answer, "citations": answer.citations, "refused": answer.refused,
                                  "grounded": answer.grounded})

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await asyncio.to_thread(self._query, query_bundle)

    def _get_prompt_modules(self) -> dict[str, Any]:
        return {}  # the prompts are the archive's own (prompts/), not llama-index prompt templates


def archive_query_engine(archive: Archive, llm: LLM, *, collections: Any = None, since: str | None = None,
                         until: str | None = None, source: Names = None, kind: Names = None,
                         collection: Names = None, name: str = "llama-index") -> ArchiveQueryEngine:
    """A query engine answering from `archive` with `llm` (any llama-index LLM): retrieval, the
    relevance gate, our prompt, [n] parsing and the support check are the assistant's own;
    the LLM only writes. `name`: the answers' backend name. The reply's length is the LLM's
    own setting (its max_tokens, num_predict, ...)."""
    a = open_archive(archive, collections)
    filters: dict[str, Any] = dict(since=since, until=until, source=source, kind=kind, collection=collection)
    a.filters(**filters)
    return ArchiveQueryEngine(a.with_llm(chat_model(llm, name)), filters)


def chat_model(llm: LLM, name: str = "llama-index") -> ChatModel:
    """A llama-index LLM as one of our chat models (its streamed chat; no grammar)."""
    meta = llm.metadata

    def stream_chat(chat: list[Any], max_tokens: int, grammar: str | None) -> Iterator[Any]:
        return llm.stream_chat(chat)

    return LlamaIndexChat(name, meta.model_name, meta.context_window, type(llm).__name__, stream_chat)


class ChatModelLLM(CustomLLM):
    """One of our chat models (assistant.testing.ScriptedLLM, a backend's model) as a llama-index
    LLM: chat messages pass through whole, a completion prompt is sent as one user message."""

    max_tokens: int = 200
    _model: Any = PrivateAttr()

    def __init__(self, model: ChatModel, max_tokens: int = 200, **kwargs: Any) -> None:
        super().__init__(max_tokens=max_tokens, **kwargs)
        self._model = model

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self._model.context_window, num_output=self.max_tokens,
                           is_chat_model=True, model_name=self._model.model)

    def _pieces(self, messages: Sequence[ChatMessage]) -> Iterator[str]:
        chat = [{"role": m.role.value, "content": m.content or ""} for m in messages]
        return self._model.stream(chat, self.max_tokens)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._pieces(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for piece in self._pieces(messages):
                text += piece
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._pieces([ChatMessage(role=MessageRole.USER, content=prompt)])))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for piece in self._pieces([ChatMessage(role=MessageRole.USER, content=prompt)]):
                text += piece
                yield CompletionResponse(text=text, delta=piece)

        return gen()

    @classmethod
    def class_name(cls) -> str:
        return "ChatModelLLM"


class _Seen:
    """An answerer that notes the passages it is given (one per query: it holds state), so that
    each citation can be traced to its passage, and the passage's chunk id."""

    def __init__(self, inner: Answerer) -> None:
        self.inner = inner
        self.name = inner.name
        self.passages: list[Passage] = []

    def answer(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Answer:
        self.passages += passages
        return self.inner.answer(question, passages, hints)

    def stream(self, question: str, passages: list[Passage], hints: Hints | None = None) -> Iterator[str | Answer]:
        self.passages += passages
        return self.inner.stream(question, passages, hints)


def _cited(c: Citation, passages: list[Passage]) -> NodeWithScore:
    """The passage a citation quotes (citations copy it: Citation.from_passage)."""
    where = (c.path, c.doc_id, c.page, c.text)
    p = next((p for p in passages if (p.path, p.doc_id, p.page, p.text) == where), None)
    if p is None:  # joined from several passages (an extractive answer): named by its document
        p = Passage(id=f"{c.doc_id}#p{c.page or 0}#c{c.n}", text=c.text, doc_id=c.doc_id, path=c.path,
                    title=c.title, date=c.date, source=c.source, url=c.url, page=c.page,
                    collection=c.collection)
    return node(p, citation=c.n)


__all__ = ["ArchiveQueryEngine", "ArchiveRetriever", "ChatModelLLM", "archive_query_engine", "chat_model",
           "open_archive", "readable"]
