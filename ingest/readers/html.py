"""HTML pages: the main text without navigation and boilerplate; title, date, URL from meta tags;
tables as rows with their headers (ingest/tables.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.text import decode
from ingest.tables import Table, from_grid, join_blocks

_DROP = ("script, style, noscript, template, nav, header, footer, aside, form, svg, iframe, "
         "button, select, [role=navigation], [role=banner], [role=contentinfo], [aria-hidden=true]")
_BLOCKS = "p, h1, h2, h3, h4, h5, h6, li, blockquote, pre, tr, dt, dd, figcaption, div, section, br"
_DATE_META = ("article:published_time", "og:published_time", "datePublished", "date", "dc.date",
              "DC.date.issued", "pubdate", "publish-date", "article:modified_time")


def _meta(tree: object, *names: str) -> str | None:
    for name in names:
        for attr in ("property", "name", "itemprop"):
            node = tree.css_first(f'meta[{attr}="{name}"]')  # type: ignore[attr-defined]
            if node is not None and (node.attributes.get("content") or "").strip():
                return str(node.attributes["content"]).strip()
    return None


def read_html(path: Path, data: bytes, limits: Limits | None = None) -> list[Document]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode(data))
    title = _meta(tree, "og:title", "twitter:title")
    if not title and (node := tree.css_first("title")) is not None:
        title = node.text(strip=True)
    canonical = tree.css_first('link[rel="canonical"]')
    url = (canonical.attributes.get("href") if canonical is not None else None) or _meta(tree, "og:url")
    date = _meta(tree, *_DATE_META)
    if not date and (t := tree.css_first("time[datetime]")) is not None:
        date = t.attributes.get("datetime")
    source = _meta(tree, "og:site_name", "publisher", "author")

    root = tree.css_first("article") or tree.css_first("main") or tree.body
    if root is None:
        raise IngestError("no <body> in the HTML")
    for node in root.css(_DROP):
        node.decompose()
    tables = _tables(root)
    for node in root.css(_BLOCKS):
        node.insert_before("\n\n")
    text = root.text(deep=True, separator="")
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    text = re.sub(r"\s*\n\s*(\n\s*)+", "\n\n", text).strip()
    parts = _MARK.split(text)  # prose, table number, prose, ...
    blocks: list[str | Table] = [tables[int(p)] if i % 2 else p.strip() for i, p in enumerate(parts)]
    text, spans = join_blocks(blocks)
    if not text:
        raise IngestError("no readable text in the HTML")
    if not title and (h1 := root.css_first("h1")) is not None:
        title = h1.text(strip=True)
    return [Document(doc_id=str(path), pages=[(None, text)], title=title or path.stem,
                     date=date, source=source, url=url or None, kind="html",
                     tables={None: spans} if spans else {})]


_MARK = re.compile(r"\s*\u2063T(\d+)\u2063\s*")


def _tables(root: Any) -> list[Table]:
    """Each <table> holding no other replaced by a mark (`_MARK`), its rows as a Table: header rows
    are those in <thead> or made only of <th>; a colspan repeats the cell under each column."""
    found: list[Table] = []
    for node in root.css("table"):
        if len(node.css("table")) > 1:  # lexbor's css() matches the node itself too
            continue  # a layout table around others: read as text
        grid: list[list[str]] = []
        heads = 0
        for tr in node.css("tr"):
            cells = tr.css("th, td")
            row = [c.text(deep=True, separator=" ").strip() for c in cells
                   for _ in range(_span(c.attributes.get("colspan")))]
            if not row:
                continue
            if heads == len(grid) and (tr.parent is not None and tr.parent.tag == "thead"
                                       or all(c.tag == "th" for c in cells)):
                heads += 1
            grid.append(row)
        if len(grid) < 2 or max(len(r) for r in grid) < 2:
            continue  # one row or one column: no headers to give
        node.replace_with(f"\n\n\u2063T{len(found)}\u2063\n\n")
        found.append(from_grid(grid, heads))
    return found


def _span(value: str | None) -> int:
    return min(int(value), 50) if value and value.strip().isdigit() and int(value) > 0 else 1
