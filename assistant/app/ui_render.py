"""The chat's HTML and Markdown: answers with clickable [n] markers, sources, highlighted passages.

Documents are untrusted: every string that comes from one is escaped here (passages are
rendered by ui_passages, raw HTML off), and only http(s) URLs ever become links. Gradio's
sanitizer runs on chat messages as a second line of defence. Nothing here imports Gradio, so
it is tested as plain functions. Words for internals come from ui_words.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from assistant.app.ui_passages import is_markdown, passage_html, snippet_html
from assistant.app.ui_words import answered_by, kind_word, ocr_note
from assistant.types import Answer, Citation

# A citation marker: [3], or several numbers in one pair of brackets: [1, 2].
MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# The cited source's date, which an answer may carry right after a marker: "[1] (3 Aug 2023)".
CITED_DATE = re.compile(r"[ \t]?\((?=[^()\n]{0,40}\b\d{4}\b)[^()\n]{1,40}\)")
SNIPPET_CHARS = 180
# The marks a page's URL carries, in characters: proxies' default header buffers hold 8 KB.
PAGE_MARK_CHARS = 3000


@dataclass
class Turn:
    """One exchange of a conversation, as the chat keeps it per session."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    id: str | None = None  # the saved answer's id (feedback names it), once saved
    rating: str | None = None  # the reader's verdict on it: "up", "down" or None


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None: `javascript:` and friends never become links."""
    if url and re.match(r"^https?://[^\s\"'<>]+$", url.strip(), flags=re.I):
        return url.strip()
    return None


def file_href(c: Citation) -> str:
    """Where the chat serves the cited file (only files the store holds are served)."""
    href = f"/api/file?path={quote(c.path, safe='')}"
    return href + (f"#page={c.page}" if c.page and c.path.lower().endswith(".pdf") else "")


def page_href(c: Citation) -> str | None:
    """The cited page drawn with its evidence marked (/api/page), where the source is a PDF page."""
    if not (c.page and c.path.lower().endswith(".pdf")):
        return None
    query, used = [("path", c.path), ("page", str(c.page))], 0
    for sentence in c.supporting:
        sentence = " ".join(sentence.split())
        used += len(sentence)
        if used > PAGE_MARK_CHARS:
            break
        query.append(("mark", sentence))
    return "/api/page?" + urlencode(query, quote_via=quote)


# -- answers -------------------------------------------------------------------------------
def question_html(question: str) -> str:
    return esc(question).replace("\n", "<br>")


def partial_html(text: str) -> str:
    """An answer while it streams: markers are plain until the citations arrive."""
    return esc(text).replace("\n", "<br>") + '<span class="typing">▍</span>'


def error_html(message: str) -> str:
    return f'<div class="answer-error">⚠ {esc(message)}</div>'


def filters_note(since: str | None = None, until: str | None = None, sources: Sequence[str] = (),
                 kinds: Sequence[str] = ()) -> str:
    """The filters an answer was searched with, in words ("" when none)."""
    parts = [f"since {since}" if since else "", f"until {until}" if until else "",
             "sources: " + ", ".join(sources) if sources else "",
             "types: " + ", ".join(map(kind_word, kinds)) if kinds else ""]
    return "; ".join(p for p in parts if p)


def answer_html(answer: Answer, turn: int, filters: str = "", model: str | None = None) -> str:
    """The answer with each [n] a link that opens passage n, unsupported claims flagged;
    `filters` (from filters_note) is shown under it, so nobody forgets they were on; `model`:
    the LLM that wrote it, if one did."""
    shown = f'<div class="answer-notes">Filtered: {esc(filters)}</div>' if filters else ""
    if answer.refused:
        near = ('<div class="answer-notes">The closest passages are under Sources: they do not answer '
                "the question, but you can look for yourself.</div>") if answer.related else ""
        return f'<div class="answer refused">{esc(answer.text)}</div>{near}{shown}'
    titles = {c.n: c.title or c.path for c in answer.citations}
    text = answer.text
    spans, missing = _unsupported_spans(text, answer)
    out: list[str] = []
    cursor = 0
    # Each marker with the date that may follow it: one unit, never flagged apart.
    markers = {m.start(): (m, CITED_DATE.match(text, m.end())) for m in MARKER.finditer(text)}
    cuts = sorted({0, len(text), *[p for s in spans for p in s], *markers,
                   *[(date or m).end() for m, date in markers.values()]})
    for start, end in zip(cuts, cuts[1:]):
        if start < cursor:
            continue
        if start in markers:
            m, date = markers[start]
            out.append(_markers(m.group(1), turn, titles))
            if date:
                space = " " if date.group()[0] in " \t" else ""
                out.append(f'{space}<span class="cite-date">{esc(date.group().strip())}</span>')
            cursor = (date or m).end()
            continue
        piece = esc(text[start:end]).replace("\n", "<br>")
        flagged = any(a <= start and end <= b for a, b in spans)
        out.append(f'<span class="unsupported" title="Not supported by the passage it cites">{piece}</span>'
                   if flagged else piece)
        cursor = end
    body = "".join(out)
    notes = []
    if answer.standalone_question:
        notes.append(f"Searched for: {esc(answer.standalone_question)}")
    if filters:
        notes.append(f"Filtered: {esc(filters)}")
    bad = [c for c in answer.claims if not c.supported]
    if bad:
        notes.append(f'<span class="flag">⚠ {len(bad)} of {len(answer.claims)} sentences are not supported '
                     f"by the passages they cite</span>"
                     + "".join(f'<br>· <span class="unsupported">{esc(c.text)}</span>' for c in missing))
    if answer.backend:
        notes.append(esc(answered_by(answer.backend, model)))
    foot = f'<div class="answer-notes">{" · ".join(notes)}</div>' if notes else ""
    return f'<div class="answer">{body}</div>{foot}'


def _markers(group: str, turn: int, titles: dict[int, str]) -> str:
    links = []
    for num in (int(x) for x in group.split(",")):
        if num in titles:
            links.append(f'<a class="cite" href="#cite-{turn}-{num}" title="Open source [{num}]: '
                         f'{esc(titles[num])}">[{num}]</a>')
        else:
            links.append(f'<span class="cite-missing" title="No such source">[{num}]</span>')
    return "".join(links)


def _unsupported_spans(text: str, answer: Answer) -> tuple[list[tuple[int, int]], list[Any]]:
    """Where each unsupported claim sits in the text; the claims that could not be found."""
    spans: list[tuple[int, int]] = []
    missing = []
    cursor = 0
    for claim in answer.claims:
        at = text.find(claim.text, cursor) if claim.text else -1
        if at < 0:
            at = text.find(claim.text) if claim.text else -1
        if at >= 0:
            cursor = at + len(claim.text)
        if not claim.supported:
            if at >= 0:
                spans.append((at, at + len(claim.text)))
            else:
                missing.append(claim)
    return sorted(spans), missing


# -- sources and passages ------------------------------------------------------------------
def meta_line(c: Citation) -> str:
    return " · ".join(esc(x) for x in (c.date, c.source, c.page and f"p. {c.page}", ocr_note(c)) if x)



def link_html(c: Citation) -> str:
    url = safe_url(c.url)
    if url:
        return (f'<a class="source-url" href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{esc(url)}</a>")
    name = c.path.rsplit("/", 1)[-1] or c.path
    return (f'<a class="source-file" href="{esc(file_href(c))}" target="_blank" rel="noopener noreferrer" '
            f'title="{esc(c.path)}">{esc(name)}</a>')


def sources_html(turns: Sequence[Turn], turn: int | None = None, opened: int | None = None) -> str:
    """The sources of one answer (the latest by default); passage `opened` shown in full."""
    if turn is None:
        turn = len(turns) - 1
    answer = turns[turn].answer if 0 <= turn < len(turns) else None
    near = answer is not None and answer.refused and not answer.citations
    shown = (answer.related if near else answer.citations) if answer else []
    if answer is None or not shown:
        note = ("No sources: the archive does not hold the answer." if answer and answer.refused
                else "Sources of the answer appear here. Click a [n] marker to read the passage.")
        return f'<div class="sources"><p class="sources-empty">{note}</p></div>'
    of = f" of {len(turns)}" if len(turns) > 1 else ""
    head = (f'<p class="sources-head">Closest passages to question {turn + 1}{of}: '
            f"<i>{esc(turns[turn].question)}</i>. They do not answer it; look for yourself.</p>" if near else
            f'<p class="sources-head">Sources of answer {turn + 1}{of}: <i>{esc(turns[turn].question)}</i></p>')
    cards = [card_html(c, turn, c.n == opened, near, pages=True) for c in shown]
    return f'<div class="sources" data-turn="{turn}">{head}{"".join(cards)}</div>'


def card_html(c: Citation, turn: int, opened: bool, near: bool = False, *, pages: bool = False) -> str:
    """One source's card; opened, its whole passage. `pages`: a PDF's cited page is shown too,
    drawn by the server with the evidence marked (the chat's script scrolls it to the mark)."""
    title = (f'<a class="cite source-title" href="#cite-{turn}-{c.n}"><b>[{c.n}]</b> '
             f"{esc(c.title or c.path)}</a>")
    meta = f'<div class="source-meta">{meta_line(c)}</div>'
    markdown = is_markdown(c.path)
    if not opened:
        snippet = snippet_html(c.text, c.supporting, markdown, SNIPPET_CHARS)  # every piece of evidence
        return f'<div class="source" id="source-{turn}-{c.n}">{title}{meta}' \
               f'<div class="source-snippet">{snippet}</div></div>'
    count = len(c.supporting)
    what = "sentence" if count == 1 else f"{count} sentences"
    note = (f'<div class="support-note">Highlighted: the {what} '
            f'{"closest to the question" if near else "the answer rests on"}.</div>') if count else ""
    passage = passage_html(c.text, c.supporting, markdown)
    shown = page_href(c) if pages else None
    if shown is None:
        return (f'<div class="source open" id="source-{turn}-{c.n}">{title}{meta}'
                f'<div class="source-link">{link_html(c)}</div>{note}'
                f'<blockquote class="passage {"md" if markdown else "plain"}">{passage}</blockquote></div>')
    name = esc(c.path.rsplit("/", 1)[-1] or c.path)
    url = safe_url(c.url)
    web = f'<div class="source-link">{link_html(c)}</div>' if url else ""
    return (f'<div class="source open" id="source-{turn}-{c.n}">{title}{meta}{web}'
            f'<div class="page-line">Page {c.page} of <span class="page-file" title="{esc(c.path)}">{name}</span>'
            f' · <a class="source-file" href="{esc(file_href(c))}" target="_blank" rel="noopener noreferrer">'
            f"open the whole file</a></div>{note}"
            f'<div class="page-view"><img class="page-image" src="{esc(shown)}" '
            f'alt="Page {c.page} of {name}, the evidence marked"></div>'
            f'<blockquote class="passage plain under-page">{passage}</blockquote></div>')


# -- export ----------------------------------------------------------------------------------
def export_markdown(turns: Sequence[Turn], title: str = "Conversation") -> str:
    """The conversation with each answer's citations, as a Markdown document. Every text from a
    question or a document is HTML-escaped: Markdown viewers pass raw HTML through, and a
    document's <script> must not run where the export is opened."""
    lines = [f"# {title}", "", f"Exported {datetime.now().strftime('%Y-%m-%d %H:%M')}.", ""]
    for i, t in enumerate(turns, 1):
        lines += [f"## {i}. {_md(t.question)}", ""]
        if t.error:
            lines += [f"*Error: {_md(t.error)}*", ""]
            continue
        a = t.answer
        if a is None:
            continue
        lines += [_md(a.text), ""]
        if a.refused:
            if a.related:
                lines += ["Closest passages (they do not answer the question):", ""]
                lines += [f"- **{_md(c.title or c.path)}** — {_where(c)}" for c in a.related]
                lines.append("")
            continue
        bad = [_md(c.text) for c in a.claims if not c.supported]
        if bad:
            lines += ["**Not supported by the passages cited:** " + " / ".join(bad), ""]
        lines += ["Sources:", ""]
        for c in a.citations:
            meta = " · ".join(_md(str(x)) for x in (c.date, c.source, c.page and f"p. {c.page}") if x)
            lines.append(f"{c.n}. **{_md(c.title or c.path)}**" + (f" — {meta}" if meta else "") + f" — {_where(c)}")
            lines += ["", *[f"   > {_md(line)}" if line.strip() else "   >" for line in c.text.splitlines()], ""]
            if c.supporting:
                lines += ["   Supporting: " + " ".join(f"“{_md(s)}”" for s in c.supporting), ""]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    return html.escape(text, quote=False)


def _where(c: Citation) -> str:
    url = safe_url(c.url)
    if url:
        return f"<{url}>"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", c.path)), default=0) + 1)
    pad = " " if c.path.startswith("`") or c.path.endswith("`") else ""
    return f"{fence}{pad}{c.path}{pad}{fence}"  # a code span no backtick in the path can close
