"""The read-only page a share link opens (/shared/TOKEN), and its JSON (/api/shared/TOKEN).

A link opens for any signed-in user (the Guard sends others to the login first); what each
viewer sees is decided by assistant.app.sharing: answers citing collections they may not read
are withheld. A token nobody shared, or one whose sharing was stopped, answers 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from assistant.accounts import History
from assistant.app import ui_render as render
from assistant.app.access import Access, Visit
from assistant.app.sharing import SharedView, for_viewer
from assistant.app.ui_assets import CSS

TITLE = "Report archive assistant"
NOT_SHARED = "No such shared conversation: the link is wrong, or its owner stopped sharing it."
PAGE_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 860px; padding: 1rem 1.25rem 3rem;
  color: #111827; }
header { border-bottom: 1px solid #e5e7eb; margin-bottom: 1rem; }
header p { color: #6b7280; font-size: .9em; margin: .25rem 0 .75rem; }
.turn { margin-bottom: 2rem; }
.turn h2 { font-size: 1.05em; background: #f3f4f6; border-radius: 8px; padding: .5rem .75rem; }
.turn .withheld { color: #92400e; font-style: italic; }
"""


def view(history: History, access: Access, request: Request, token: str) -> SharedView:
    found = history.shared(token[:64])
    if found is None:
        raise HTTPException(404, NOT_SHARED)
    visit = Visit.of(request)
    shown = for_viewer(found[1], visit.principal)
    access.record(visit, "shared-read", "/shared", collections=shown.cited)
    return shown


def page_html(shown: SharedView) -> str:
    parts = []
    for i, turn in enumerate(shown.turns):
        body = (f'<p class="withheld">{render.esc(turn.error)}</p>' if turn.answer is None else
                render.answer_html(turn.answer, i))
        cards = "".join(f'<div id="cite-{i}-{c.n}">{render.card_html(c, i, True)}</div>'
                        for c in (turn.answer.citations or turn.answer.related if turn.answer else []))
        parts.append(f'<section class="turn"><h2>{render.question_html(turn.question)}</h2>{body}'
                     f'<div id="sources"><div class="sources">{cards}</div></div></section>')
    note = (f" {shown.withheld} answer{'s' if shown.withheld != 1 else ''} cite collections you may not read "
            "and are not shown.") if shown.withheld else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{render.esc(shown.title)} · {TITLE}</title><style>{CSS}{PAGE_CSS}</style></head><body>
<header><h1>{render.esc(shown.title)}</h1><p>A shared conversation, read-only: the answers as they were
given, with the passages they cite.{note} <a href="/">Open the assistant</a></p></header>
<main id="shared">{"".join(parts)}</main></body></html>"""


def router(history: History, access: Access) -> APIRouter:
    r = APIRouter()

    @r.get("/shared/{token}", include_in_schema=False)
    def page(token: str, request: Request) -> HTMLResponse:
        try:
            body, status = page_html(view(history, access, request, token)), 200
        except HTTPException as e:  # a person followed the link: a page, not the API's JSON
            body, status = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>'
                            f"<style>{PAGE_CSS}</style></head><body><p>{render.esc(e.detail)}</p>"
                            '<p><a href="/">Open the assistant</a></p></body></html>'), e.status_code
        return HTMLResponse(body, status, headers={"cache-control": "no-store"})

    @r.get("/api/shared/{token}")
    def read(token: str, request: Request) -> dict[str, Any]:
        shown = view(history, access, request, token)
        return {"title": shown.title, "withheld": shown.withheld,
                "turns": [{"question": t.question, "answer": t.answer.to_dict() if t.answer else None,
                           "withheld": t.answer is None} for t in shown.turns]}

    return r
