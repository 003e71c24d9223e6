"""Passages as the chat shows them: Markdown rendered safely, the answer's evidence marked.

A Markdown passage is rendered by markdown-it with raw HTML off, so a document's <script> or
<img onerror> is shown as text; links are kept only to http(s) and mailto, images show their
alt text (nothing is fetched). Other passages (plain text, PDF, Word, web pages as extracted
text) are escaped and keep their line breaks.

The evidence (assistant.answering.evidence.spans, found in the raw text) is carried through
rendering by two sentinel characters inserted at each span's ends; they are then turned into
<mark> elements around every run of text between them, so a sentence that crosses emphasis,
links or paragraphs is marked piece by piece and the HTML stays well nested.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from assistant.answering.evidence import spans

# Symbols (Unicode category So) that no archive uses: Markdown treats them like punctuation, so
# emphasis next to them opens and closes as it would next to a space.
START, END = "\U0001d306", "\U0001d307"
_SENTINELS = re.compile(f"[{START}{END}]")
MARKDOWN_SUFFIXES = (".md", ".markdown")
SAFE_HREF = re.compile(r"^(?:https?://|mailto:)", re.I)
# Block syntax that opens a line: a sentinel before it would turn it into paragraph text.
_BLOCK_PREFIX = re.compile(r"(?:[ \t]*(?:>|#{1,6}(?=[ \t])|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))+[ \t]*")
_MARKUP_LINE = re.compile(r"[ \t]*(?:[-=*_|: \t]{3,}|`{3,}.*|~{3,}.*)(?:\n|$)")
_MARKUP_WORD = re.compile(r"[-=*_#|:+>]+")
_BLOCK_TAG = re.compile(r"</?(?:p|h[1-6]|li|ul|ol|blockquote|pre|tr|td|th|table|thead|tbody|hr|br)\b[^>]*>")
_TAG = re.compile(r"(<[^>]*>)")


def is_markdown(path: str) -> bool:
    return path.lower().endswith(MARKDOWN_SUFFIXES)


def _renderer() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # link_open keeps an unsafe link's text

    # Titles are not shown, but a sentinel in one is kept (after the link), or the marks would run on.
    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
        href = tokens[idx].attrGet("href") or ""
        env["title"] = "".join(_SENTINELS.findall(tokens[idx].attrGet("title") or ""))
        env["dropped"] = not SAFE_HREF.match(href)  # links do not nest, so one flag serves
        if env["dropped"]:
            return ""  # javascript:, data:, relative links into this server: the text alone
        return (f'<a href="{html.escape(href, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer nofollow">')

    def link_close(renderer: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
        return ("" if env.pop("dropped", False) else "</a>") + env.pop("title", "")

    def image(renderer: Any, tokens: Any, idx: int, options: Any, env: dict[str, Any]) -> str:
        alt = renderer.renderInlineAsText(tokens[idx].children or [], options, env)
        title = "".join(_SENTINELS.findall(tokens[idx].attrGet("title") or ""))
        return f'<span class="md-image">[image{": " if alt else ""}{html.escape(alt)}]</span>{title}'

    md.add_render_rule("link_open", link_open)
    md.add_render_rule("link_close", link_close)
    md.add_render_rule("image", image)
    return md


_MD: Any = None


def render_markdown(text: str) -> str:
    """Markdown as safe HTML: raw HTML escaped, only http(s)/mailto links, no images loaded."""
    global _MD
    if _MD is None:
        _MD = _renderer()
    return str(_MD.render(text, {}))


def _with_sentinels(text: str, sentences: Sequence[str], markdown: bool) -> str:
    """The text with START and END around each span of the sentences, moved off block syntax."""
    text = _SENTINELS.sub("\ufffd", text)  # same length, so the spans still fit
    out, cursor = [], 0
    for start, end in spans(text, sentences):
        if markdown:
            start, end = _past_block_syntax(text, start, end), _before_markup(text, start, end)
        if start >= end:
            continue
        out += [text[cursor:start], START, text[start:end], END]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _past_block_syntax(text: str, start: int, end: int) -> int:
    while start < end:
        line = text.rfind("\n", 0, start) + 1
        if text[line:start].strip(" \t>"):
            return start  # not at a line's start: no block syntax here
        if m := _MARKUP_LINE.match(text, start):
            start = m.end()  # a rule, setext underline, table delimiter or fence
        elif (m := _BLOCK_PREFIX.match(text, start)) and m.end() > start:
            start = m.end()
        else:
            return start
        while start < end and text[start] in " \t\n":
            start += 1
    return start


def _before_markup(text: str, start: int, end: int) -> int:
    """The span's end moved back over words of markup alone (a heading's closing #s, a setext
    underline), which a sentinel after them would turn into text."""
    while end > start:
        word = text[start:end].rsplit(None, 1)[-1]
        if not _MARKUP_WORD.fullmatch(word):
            return end
        end = len(text[:end - len(word)].rstrip())
    return end


def _body(text: str, sentences: Sequence[str], markdown: bool) -> str:
    marked = _with_sentinels(text, sentences, markdown)
    return render_markdown(marked) if markdown else html.escape(marked, quote=True)


def passage_html(text: str, sentences: Sequence[str], markdown: bool) -> str:
    """The whole passage as HTML, each supporting sentence in <mark class="support">."""
    out, on = [], False
    for part in _TAG.split(_body(text, sentences, markdown)):
        if part.startswith("<"):  # a sentinel inside an attribute (a link's title): toggled, dropped
            for ch in _SENTINELS.findall(part):
                on = ch == START
            out.append(_SENTINELS.sub("", part))
            continue
        for piece in re.split(f"([{START}{END}])", part):
            if piece in (START, END):
                on = piece == START
            elif piece:
                out.append(f'<mark class="support">{piece}</mark>' if on and piece.strip() else piece)
    return "".join(out).strip()


def snippet_html(text: str, sentences: Sequence[str], markdown: bool, limit: int) -> str:
    """A closed card's excerpt, as plain text: every supporting sentence, marked, with "…"
    where text is left out; without any, the passage's start. Each part at most `limit` chars."""
    def untag(m: re.Match[str]) -> str:  # a sentinel inside a tag (a link's title) is kept
        return (" " if _BLOCK_TAG.match(m.group()) else "") + "".join(_SENTINELS.findall(m.group()))

    plain = _TAG.sub(untag, _body(text, sentences, markdown))
    parts = re.split(f"[{START}{END}]", html.unescape(plain))
    if len(parts) == 1:
        return html.escape(_cut(parts[0], limit))
    out, cut = [], False
    for i, part in enumerate(parts):
        words = " ".join(part.split())
        if i % 2:
            shown = _cut(words, limit)
            out.append(f'<mark class="support">{html.escape(shown)}</mark>')
            cut = shown != words
        elif words and not cut:  # a cut sentence has its "…" already
            out.append("…")
    return " ".join(out)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:max(0, limit - 1)]
    if " " in cut[-20:]:  # end on a whole word where one ends near the limit
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"
