"""The Assistant: open a store, search it, answer questions with citations."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.answering.answerers import make_answerer
from assistant.answering.llms.base import ChatModel
from assistant.answering.retrieve import Retriever
from assistant.errors import QuestionError
from assistant.index.embedding import load_embedder
from assistant.index.locks import writer
from assistant.index.snapshot import Filters
from assistant.index.store import REMOVING, Store
from assistant.settings import Settings
from assistant.types import Answer, Passage

MAX_QUESTION_CHARS = 2000
_NUMERIC_DATE = re.compile(r"\d{4}(?:-\d{1,2}){0,2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0 and C1, tab and newlines aside
_SURROGATE = re.compile("[\ud800-\udfff]")
# Words that point back into the conversation ("Who criticised that decision?").
_REFERRING = {"that", "this", "those", "these", "it", "its", "they", "them", "their", "he", "him",
              "his", "she", "her", "there", "then", "such"}

History = Sequence[tuple[str, str]] | Sequence[dict[str, str]]


def make_filters(since: str | None = None, until: str | None = None,
                 source: str | Sequence[str] | None = None, kind: str | Sequence[str] | None = None) -> Filters:
    """Filters from user input: dates as ISO text ("2023", "2023-08", "2023-08-14"); `until`
    covers the whole year or month it names; sources and document types match exactly."""
    from assistant.index.dates import parse_date

    def bound(value: str | None, end: bool) -> int | None:
        text = str(value or "").strip()
        if not text:
            return None
        if _NUMERIC_DATE.fullmatch(text):  # strictly: 2023-13 must not pass as 2023
            y, m, d = (int(p) for p in (text.split("-") + ["0", "0"])[:3])
            num = y * 10000 + m * 100 + d
        else:  # words: "August 2023"
            parsed = parse_date(text)
            num = parsed[1] if parsed else 0
        if not _valid(num):
            raise QuestionError(f"Cannot read the date {value!r}; use YYYY, YYYY-MM or YYYY-MM-DD.")
        if end:  # 2023 -> 20239999, 2023-08 -> 20230899: the whole period is included
            num += 9999 if num % 10000 == 0 else 99 if num % 100 == 0 else 0
        return num

    def many(v: str | Sequence[str] | None) -> tuple[str, ...]:  # blank entries mean "any"
        items = (v,) if isinstance(v, str) else v or ()
        return tuple(str(x).strip() for x in items if x is not None and str(x).strip())

    low, high = bound(since, False), bound(until, True)
    if low and high and low > high:
        raise QuestionError(f"The start date {since!r} is after the end date {until!r}.")
    return Filters(low, high, many(source), many(kind))


def _valid(num: int) -> bool:
    """A YYYYMMDD number (month or day 0 when absent) that names a real date."""
    from datetime import date

    y, m, d = num // 10000, num // 100 % 100, num % 100
    try:
        date(y, m or 1, d or 1)
    except ValueError:
        return False
    return bool(m or not d)


def check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(question):,} characters long; the limit is "
                            f"{MAX_QUESTION_CHARS:,}.")
    if _CONTROL.search(question):
        raise QuestionError("The question contains control characters.")
    if _SURROGATE.search(question):  # undecodable bytes, or a broken UTF-16 pair: no text to search for
        raise QuestionError("The question contains characters that are not text (a lone UTF-16 surrogate).")
    return " ".join(question.split())


def user_turns(history: History | None) -> list[str]:
    """The user's earlier questions, from (user, assistant) pairs or {"role", "content"} dicts."""
    out: list[str] = []
    for turn in history or []:
        if isinstance(turn, dict):
            if turn.get("role") == "user":
                out.append(str(turn.get("content", "")))
        else:
            out.append(str(turn[0]))
    return [_text(t) for t in out if t.strip()]


def turns(history: History | None) -> list[tuple[str, str]]:
    """(question, answer) pairs from either history form; an unanswered question has ""."""
    out: list[tuple[str, str]] = []
    for turn in history or []:
        if isinstance(turn, dict):
            content = str(turn.get("content", ""))
            if turn.get("role") == "user":
                out.append((content, ""))
            elif turn.get("role") == "assistant" and out and not out[-1][1]:
                out[-1] = (out[-1][0], content)
        else:
            out.append((str(turn[0]), str(turn[1]) if len(turn) > 1 else ""))
    return [(_text(q), _text(a)) for q, a in out if q.strip()]


def _text(value: str) -> str:
    """Earlier turns as text: a lone surrogate (from a client's broken UTF-16) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def condense(question: str, history: History | None) -> str:
    """A follow-up made standalone without an LLM: when the question refers back ("that",
    "they", ...), the previous question is appended, so retrieval sees what it refers to."""
    previous = user_turns(history)
    words = set(re.findall(r"[a-z']+", question.lower()))
    if previous and words & _REFERRING:
        return f"{question} ({previous[-1]})"
    return question


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
        answer: Answer | None = None
        for item in self.stream(question, history, since=since, until=until, source=source, kind=kind):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None  # stream() always ends with the Answer
        return answer

    def stream(self, question: str, history: History | None = None, *, since: str | None = None,
               until: str | None = None, source: str | Sequence[str] | None = None,
               kind: str | Sequence[str] | None = None) -> Iterator[str | Answer]:
        """`ask`, streamed: yields the answer's text in pieces as it is produced (str), and
        last the complete `Answer`. Joined, the str pieces equal `Answer.text`."""
        question = check_question(question)
        filters = make_filters(since, until, source, kind)
        standalone = self.standalone(question, history)
        passages = self.retriever.search(standalone, self.settings.top_k, filters=filters or None)
        for item in self.answerer.stream(standalone, passages):
            if isinstance(item, Answer):
                item.question = question
                item.standalone_question = standalone if standalone != question else None
            yield item

    def standalone(self, question: str, history: History | None) -> str:
        """The question rewritten to stand alone, when it follows earlier turns: by the LLM
        (prompts/condense.txt) where there is one, else by `condense`, which needs none."""
        earlier = turns(history)
        rewrite = getattr(self.answerer, "condense", None)
        if earlier and rewrite is not None:
            out = rewrite(question, earlier)
            if out:
                return check_question(out)
        return condense(question, history)

    def with_llm(self, name: str | None) -> Assistant:
        """This assistant answering with another backend; the store, the embedding model and
        the retriever are shared. ConfigError for a backend that is unknown or cannot load."""
        if not name or name == self.settings.llm:
            return self
        other = copy.copy(self)
        other.settings = self.settings.replace(llm=name)
        other.answerer = make_answerer(other.settings, self.embedder, self._idf)
        return other

    def status(self) -> dict[str, Any]:
        """What the archive holds: files, documents, chunks, last ingestion time."""
        return archive_status(self.store, self.settings)

    def files(self) -> list[dict[str, Any]]:
        """Each ingested file, by path: `path`, `kind`, `documents`, `chunks`, `bytes`, and
        `ingested` (local time, ISO)."""
        return archive_files(self.store)


# Module functions too: `assistant status` needs the store only, not the model an Assistant loads.
def archive_status(store: Store, settings: Settings) -> dict[str, Any]:
    everything = store.file_records()  # read once: held files, and those a killed removal left
    records = {k: r for k, r in everything.items() if not r.get(REMOVING)}
    return {"store": store.where, "files": len(records),
            "documents": sum(int(r.get("documents", 1)) for r in records.values()),
            "chunks": store.count(),
            "last_ingested": max((float(r.get("ingested_at", 0)) for r in records.values()), default=None),
            "embed_model": settings.embed_model, "llm": settings.llm, "writing": writer(settings),
            "half_removed": sorted(everything.keys() - records.keys())}


def archive_files(store: Store) -> list[dict[str, Any]]:
    out = []
    for path, r in sorted(store.ingested().items()):
        when = r.get("ingested_at")
        out.append({"path": path, "kind": str(r.get("kind", "")), "documents": int(r.get("documents", 1)),
                    "chunks": int(r.get("chunks", 0)), "bytes": int(r.get("size", 0)),
                    "ingested": datetime.fromtimestamp(float(when)).isoformat(" ", "seconds") if when else None})
    return out


__all__ = ["Assistant", "check_question", "condense", "make_filters", "turns"]
