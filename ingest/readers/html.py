"""HTML pages: the main text without navigation and boilerplate; title, date, URL from meta tags."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.errors import IngestError
from ingest.document import Document
from ingest.limits import Limits
from ingest.readers.text import decode

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
    for node in root.css(_BLOCKS):
        node.insert_before("\n\n")
    text = root.text(deep=True, separator="")
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    text = re.sub(r"\s*\n\s*(\n\s*)+", "\n\n", text).strip()
    if not text:
        raise IngestError("no readable text in the HTML")
    if not title and (h1 := root.css_first("h1")) is not None:
        title = h1.text(strip=True)
    return [Document(doc_id=str(path), pages=[(None, text)], title=title or path.stem,
                     date=date, source=source, url=url or None, kind="html")]
