"""The chat's saved conversations: a sidebar that lists, searches, opens, renames, shares and
deletes them, and the thumbs and comment under each answer. Everything goes through the
caller's own History rows: a session can reach only its user's conversations.

The question event's inputs keep their shape (clients post them): which saved conversation a
session continues is remembered per session (`current`), like its chosen collections."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import gradio as gr  # at module level: Gradio finds `request: gr.Request` through this module's names

from assistant.accounts import AccountError, Conversation, History
from assistant.app import ui_render as render
from assistant.app.access import Access, Remembered, Visit
from assistant.app.ui_render import Turn
from assistant.types import Answer

LISTED = 200  # the newest conversations the sidebar lists; search finds older ones
THUMBS = {True: "up", False: "down"}
CONFIRM_DELETE = "(x) => confirm('Delete this conversation? It cannot be brought back.') ? (x || '') : null"
CONFIRM_DELETE_ALL = ("(x) => confirm('Delete all your conversations? They cannot be brought back.') "
                      "? (x || '') : null")


@dataclass
class ChatParts:
    """The chat's components that opening or leaving a conversation rewrites."""

    chat: Any
    turns: Any
    panel: Any
    export: Any


def turns_of(conversation: Conversation) -> list[Turn]:
    return [Turn(t.question, Answer.from_dict(t.answer), None, t.id, t.rating) for t in conversation.turns]


def chat_of(turns: list[Turn], filters: list[dict[str, Any]], models: dict[str, str | None]) -> list[dict[str, Any]]:
    """The chat's messages for saved turns, as they were shown when asked."""
    out: list[dict[str, Any]] = []
    for n, (t, f) in enumerate(zip(turns, filters)):
        note = render.filters_note(f.get("since"), f.get("until"), f.get("source") or (), f.get("kind") or ())
        out += [{"role": "user", "content": render.question_html(t.question)},
                {"role": "assistant", "content": render.answer_html(t.answer, n, note, models.get(t.answer.backend))
                 if t.answer else render.error_html(t.error or "No answer.")}]
    return out


def thumbs(turns: list[Turn]) -> list[str | None]:
    """The chat's feedback icons, one per answer, as the reader left them."""
    return [{"up": "Like", "down": "Dislike"}.get(t.rating or "") for t in turns]


class Conversations:
    def __init__(self, saved: History | None, access: Access, current: Remembered[str],
                 models: dict[str, str | None], export: Callable[[list[Turn]], str]) -> None:
        self.saved, self.access, self.current, self.models, self.export = saved, access, current, models, export
        self.rated: Remembered[str] = Remembered()  # each session's last rated answer (a comment goes to it)

    def owner(self, request: gr.Request) -> str:
        return Visit.of(request).principal.name

    # -- the sidebar ---------------------------------------------------------------------------
    def sidebar(self, parts: ChatParts) -> Any:
        """The sidebar's components and events; returns the search box and what `relist` writes."""
        with gr.Sidebar(open=False, label="Conversations", elem_id="conversations-bar", position="left"):
            gr.Markdown("### Conversations")
            search = gr.Textbox(placeholder="Search titles…", show_label=False, elem_id="conversation-search",
                                max_length=200)
            listing = gr.Radio(choices=[], show_label=False, elem_id="conversation-list")
            empty = gr.Markdown("No saved conversations yet: your questions and answers are kept here.",
                                elem_id="conversation-empty")
            with gr.Column(visible=False, elem_id="conversation-actions") as actions:
                title = gr.Textbox(label="Title", elem_id="conversation-title", max_length=200)
                with gr.Row():
                    rename = gr.Button("Rename", size="sm", elem_id="conversation-rename")
                    share = gr.Button("Share", size="sm", elem_id="conversation-share")
                    unshare = gr.Button("Stop sharing", size="sm", elem_id="conversation-unshare")
                link = gr.HTML(elem_id="share-link")
                delete = gr.Button("Delete this conversation", variant="stop", size="sm",
                                   elem_id="conversation-delete")
            delete_all = gr.Button("Delete all", variant="secondary", size="sm", elem_id="conversation-delete-all")
        shown = [listing, empty, actions, title, link]
        chat = [parts.chat, parts.turns, parts.panel, parts.export]
        search.input(self.relist, search, shown, queue=False, show_progress="hidden")
        listing.input(self.open, listing, [*chat, *shown], queue=False)
        rename.click(self.rename, [title, search], shown)  # queued: a refusal shows as a toast
        share.click(self.share, None, link, queue=False)
        unshare.click(self.unshare, None, link, queue=False)
        # Asked in the browser first; declining sends None (the title box only carries the answer).
        delete.click(self.delete, title, [*chat, *shown], queue=False, js=CONFIRM_DELETE)
        delete_all.click(self.delete_all, search, [*chat, *shown], queue=False, js=CONFIRM_DELETE_ALL)
        return search, shown

    def relist(self, search: str, request: gr.Request) -> tuple[Any, ...]:
        """The sidebar as the session's user and open conversation make it."""
        mine = self.saved.conversations(self.owner(request), search or "", LISTED) if self.saved else []
        open_id = self.current.get(request.session_hash)
        info = next((c for c in mine if c.id == open_id), None)
        if info is None and open_id and self.saved:  # open, but filtered out of the list by the search
            found = self.saved.conversation(self.owner(request), open_id)
            info = found.info if found else None
        choices = [(f"{c.title} · {c.updated:%d %b %H:%M}", c.id) for c in mine]
        listed = any(c.id == open_id for c in mine)
        return (gr.Radio(choices=choices, value=open_id if listed else None),
                gr.Markdown(visible=not mine and not search),
                gr.Column(visible=info is not None), gr.Textbox(value=info.title if info else ""),
                self._link(info.share if info else None))

    @staticmethod
    def _link(token: str | None) -> str:
        if not token:
            return ""
        path = f"/shared/{token}"
        return (f'<div class="share-link">Read-only link for colleagues: <a href="{render.esc(path)}" '
                f'target="_blank" rel="noopener">{render.esc(path)}</a><br><small>Answers citing a collection '
                "a viewer may not read are not shown to them.</small></div>")

    def open(self, conversation: str | None, request: gr.Request) -> tuple[Any, ...]:
        found = self.saved.conversation(self.owner(request), conversation) if self.saved and conversation else None
        if found is None:  # deleted in another tab, or not this user's: nothing opens
            self.current.put(request.session_hash, None)
            return (*self._blank(), *self.relist("", request))
        self.current.put(request.session_hash, found.info.id)
        turns = turns_of(found)
        messages = chat_of(turns, [t.filters for t in found.turns], self.models)
        self.access.record(Visit.of(request), "conversation-open", "chat")
        return (gr.Chatbot(value=cast(Any, messages), feedback_value=thumbs(turns)), turns, render.sources_html(turns),
                gr.DownloadButton(value=self.export(turns), interactive=True), *self.relist("", request))

    def rename(self, title: str, search: str, request: gr.Request) -> tuple[Any, ...]:
        open_id = self.current.get(request.session_hash)
        if self.saved and open_id:
            try:
                self.saved.rename(self.owner(request), open_id, title)
            except AccountError as e:
                gr.Warning(str(e))
        return self.relist(search, request)

    def share(self, request: gr.Request) -> str:
        open_id = self.current.get(request.session_hash)
        token = self.saved.share(self.owner(request), open_id) if self.saved and open_id else None
        if token:
            self.access.record(Visit.of(request), "share", "chat")
        return self._link(token)

    def unshare(self, request: gr.Request) -> str:
        open_id = self.current.get(request.session_hash)
        if self.saved and open_id and self.saved.unshare(self.owner(request), open_id):
            self.access.record(Visit.of(request), "unshare", "chat")
        return ""

    def delete(self, confirmed: str | None, request: gr.Request) -> tuple[Any, ...]:
        open_id = self.current.get(request.session_hash)
        if confirmed is None or open_id is None:
            return (*(gr.skip(),) * 4, *self.relist("", request))
        if self.saved and open_id and self.saved.delete(self.owner(request), open_id):
            self.access.record(Visit.of(request), "conversation-delete", "chat")
        self.current.put(request.session_hash, None)
        return (*self._blank(), *self.relist("", request))

    def delete_all(self, search: str | None, request: gr.Request) -> tuple[Any, ...]:
        if search is None:  # the confirmation was declined
            return (*(gr.skip(),) * 4, *(gr.skip(),) * 5)
        if self.saved:
            self.saved.delete_all(self.owner(request))
            self.access.record(Visit.of(request), "conversation-delete", "chat")
        self.current.put(request.session_hash, None)
        return (*self._blank(), *self.relist("", request))

    @staticmethod
    def _blank() -> tuple[Any, ...]:
        return [], [], render.sources_html([]), gr.DownloadButton(value=None, interactive=False)

    # -- feedback under answers ------------------------------------------------------------------
    def feedback(self, chat: Any, turns: Any) -> None:
        """Thumbs on every answer; after one, an optional comment for that answer."""
        with gr.Row(visible=False, elem_id="feedback-row") as row:
            comment = gr.Textbox(placeholder="What was wrong or missing? (optional: \"wrong figure\", "
                                             "\"missed the 2023 report\")", show_label=False, scale=4,
                                 elem_id="feedback-comment", max_length=2000)
            send = gr.Button("Send", size="sm", scale=1, elem_id="feedback-send")
        chat.like(self.rate, turns, [row, comment], queue=False)
        send.click(self.comment, [comment, turns], [row, comment])  # queued: its thank-you toast needs it

    def rate(self, turns: list[Turn], data: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        index = data.index if isinstance(data.index, int) else data.index[0]
        rating = THUMBS.get(data.liked) if isinstance(data.liked, bool) else None
        turn = turns[index // 2] if turns and 0 <= index // 2 < len(turns) else None
        if turn is None or turn.id is None or rating is None or self.saved is None:
            return gr.skip(), gr.skip()
        if not self.saved.rate(self.owner(request), turn.id, rating, "", self.access.feedback_context()):
            return gr.skip(), gr.skip()
        self.rated.put(request.session_hash, f"{turn.id}:{rating}")
        self.access.record(Visit.of(request), "feedback", "chat", status=rating)
        prompt = "What was wrong or missing?" if rating == "down" else "Anything to add? (optional)"
        return gr.Row(visible=True), gr.Textbox(value="", placeholder=prompt)

    def comment(self, text: str, turns: list[Turn], request: gr.Request) -> tuple[Any, ...]:
        last = self.rated.get(request.session_hash)
        if last and self.saved and text.strip():
            turn, rating = last.rsplit(":", 1)
            if self.saved.rate(self.owner(request), turn, rating, text, self.access.feedback_context()):
                gr.Info("Thank you: your comment was kept with the answer.")
        self.rated.put(request.session_hash, None)
        return gr.Row(visible=False), gr.Textbox(value="")
