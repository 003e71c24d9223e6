"""The chat's Archive sidebar and status line: what the archive holds, what an upload did."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from assistant.accounts import Principal
from assistant.app.ui_render import esc
from assistant.app.ui_words import kind_word
from assistant.types import ArchiveFile, ArchiveStatus


def status_html(status: ArchiveStatus) -> str:
    last = status.last_ingested
    when = datetime.fromtimestamp(last).strftime("%Y-%m-%d %H:%M") if last else "never"
    busy = status.writing
    note = f' · <span class="writing">being updated ({esc(str(busy.get("purpose", "")))})</span>' if busy else ""
    return (f'<div class="archive-status"><b>Archive:</b> {status.documents:,} documents · '
            f'{status.chunks:,} passages · last updated {esc(when)}{note}</div>')


ROLE_WORDS = {"reader": "reader", "editor": "editor", "admin": "administrator"}


def user_html(principal: Principal, how: str) -> str:
    """Who is signed in, and the way out (a session's only: Basic credentials live in the browser
    until it closes, and a proxy's sign-in is the proxy's). Nothing for the open single-user chat."""
    if how in ("", "open"):
        return ""
    role = ROLE_WORDS.get(principal.role.value, principal.role.value)
    out = (f'<form class="signed-in" method="post" action="/logout"><span>Signed in as <b>{esc(principal.name)}</b>'
           f' ({esc(role)})</span>')
    if how == "cookie":
        out += ' <button type="submit" id="logout">Log out</button>'
    return out + "</form>"


def ingest_html(rows: Sequence[tuple[str, str, str]], summary: str) -> str:
    """Per-file results of an upload: (file name, status, reason)."""
    items = "".join(f'<tr class="st-{esc(status)}"><td>{esc(name)}</td><td>{esc(status)}</td>'
                    f"<td>{esc(reason)}</td></tr>" for name, status, reason in rows)
    table = f'<table class="ingest"><tr><th>file</th><th>result</th><th>why</th></tr>{items}</table>' \
        if rows else ""
    return f'<div class="ingest-report"><p>{esc(_staff_words(summary))}</p>{table}</div>'


FILES_SHOWN = 200  # rows in the sidebar's list; `assistant status --files` lists them all


def files_html(files: Sequence[ArchiveFile], limit: int = FILES_SHOWN) -> str:
    """The sidebar's list of ingested files (`Assistant.files()`), the latest ingested first."""
    if not files:
        return '<div class="archive-files"><p>Nothing in the archive yet.</p></div>'
    latest = sorted(files, key=lambda f: f.path)
    latest.sort(key=lambda f: f.ingested or "", reverse=True)  # stable: by path within a time
    # Two lines a file, as the sidebar is narrow: its name, then its type and passages.
    rows = "".join(
        f'<tr><td title="{esc(f.path)}"><span class="file-name">{esc(_base(f.path))}</span><br>'
        f'<span class="file-meta">{esc(_kind(f))} · {f.chunks:,} passage{"" if f.chunks == 1 else "s"}</span></td>'
        f'<td>{esc((f.ingested or "")[:10])}</td></tr>'
        for f in latest[:limit])
    more = len(files) - limit
    note = f"<p>… and {more:,} more (<code>assistant status --files</code> lists them all).</p>" if more > 0 else ""
    return (f'<div class="archive-files"><p>{len(files):,} files</p><table><tr>'
            f"<th>file</th><th>added</th></tr>{rows}</table>{note}</div>")


def _kind(f: ArchiveFile) -> str:
    """The file's type in words, with its count of documents where it holds several (JSON records)."""
    return kind_word(f.kind) + (f" ({f.documents:,})" if f.documents != 1 else "")


def _staff_words(summary: str) -> str:
    """An upload's summary (assistant.app.uploads, shared with the API) in the chat's words."""
    words = re.sub(r"\bchunks embedded\b", "passages indexed", summary).replace(" chunks", " passages")
    return re.sub(r"\b1 passages\b", "1 passage", words).replace("in the store", "in the archive")


def _base(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] or path
