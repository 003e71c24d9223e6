"""The staff chat's layout and event handlers (Gradio); HTML comes from ui_render and ui_archive,
words for internals from ui_words, serving from server."""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr  # at module level: Gradio finds `request: gr.Request` through this module's names

from assistant.accounts import AuditLog, History
from assistant.app import ui_archive as archived
from assistant.app import ui_render as render
from assistant.app.access import Access, Remembered, Visit, cited
from assistant.app.pool import Pool
from assistant.app.ui_admin import AdminTab
from assistant.app.ui_conversations import ChatParts, Conversations
from assistant.app.ui_render import Turn
from assistant.app.ui_words import backend_label, example_questions, kind_choices
from assistant.app.uploads import accepted_types, ingest_uploads, remove_uploads, uploaded
from assistant.errors import AssistantError
from assistant.service import Assistant

TITLE = "Report archive assistant"
_EXPORTS = Path(tempfile.gettempdir()) / "report-assistant-exports"
EXPORT_KEEP_S = 86400  # Gradio serves its own copy of each; ours are pruned after a day

def _export(turns: list[Turn]) -> str:
    _EXPORTS.mkdir(parents=True, exist_ok=True)
    for old in _EXPORTS.glob("conversation-*.md"):
        try:
            if time.time() - old.stat().st_mtime > EXPORT_KEEP_S:
                old.unlink()
        except OSError:
            pass  # another session pruned it first
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = _EXPORTS / f"conversation-{stamp}-{uuid.uuid4().hex[:6]}.md"
    path.write_text(render.export_markdown(turns, TITLE), encoding="utf-8")
    return str(path)


def model_name(assistant: Assistant) -> str | None:
    """The LLM an assistant answers with (None for quoting): its answerer's llm.model."""
    return getattr(getattr(assistant.answerer, "llm", None), "model", None)


def build(assistant: Assistant | Pool, audit: AuditLog, saved: History | None = None) -> Any:
    """The chat as a gr.Blocks (mount it with assistant.app.server, which adds HEAD and CSS, and
    the Guard that puts each request's caller where `Visit.of` finds it)."""
    pool = assistant if isinstance(assistant, Pool) else Pool(assistant.settings, assistant)
    access = Access(pool, audit)
    chosen: Remembered[str] = Remembered()  # each session's upload collection
    current: Remembered[str] = Remembered()  # each session's saved conversation (in `saved`)
    narrowed: Remembered[list[str]] = Remembered()  # each session's collections filter
    models = {name: model_name(pool.get(name)) for name in pool.names}
    kept = Conversations(saved, access, current, models, _export)
    admin = AdminTab(saved, access)

    def respond(message: str, turns: list[Turn], chat: list[dict[str, Any]], since: str, until: str,
                sources: list[str], kinds: list[str], backend: str | None,
                request: gr.Request) -> Iterator[tuple[Any, ...]]:
        visit = Visit.of(request)
        turns, chat = list(turns or []), list(chat or [])
        turn = Turn(question=message or "")
        chat += [{"role": "user", "content": render.question_html(turn.question)},
                 {"role": "assistant", "content": render.partial_html("")}]
        yield chat, turns, gr.skip(), "", gr.skip()
        history = [(t.question, t.answer.text) for t in turns if t.answer is not None]
        text = ""
        try:
            stream = access.assistant(visit, backend).stream(
                message, history, since=since or None, until=until or None, source=sources or None,
                kind=kinds or None, collection=narrowed.get(request.session_hash) or None)
            for piece in stream:
                text += piece
                chat[-1] = {"role": "assistant", "content": render.partial_html(text)}
                yield chat, turns, gr.skip(), "", gr.skip()
            turn.answer = stream.answer
        except AssistantError as e:
            turn.error = str(e)
        access.record(visit, "ask", "chat", 200 if turn.error is None else 400,
                      cited(turn.answer.citations) if turn.answer else (), question=message)
        if turn.answer is not None and saved is not None and saved.saving:  # kept as it happens
            filters = {"since": since, "until": until, "source": sources, "kind": kinds,
                       "collection": narrowed.get(request.session_hash)}
            ids = saved.save(visit.principal.name, current.get(request.session_hash), message,
                             turn.answer.to_dict(collections=True), turn.answer.backend,
                             {k: v for k, v in filters.items() if v})
            current.put(request.session_hash, ids[0] if ids else None)
            turn.id = ids[1] if ids else None
        turns.append(turn)
        n = len(turns) - 1
        note = render.filters_note(since, until, sources or (), kinds or ())
        chat[-1] = {"role": "assistant", "content": render.error_html(turn.error or "No answer.")
                    if turn.answer is None else
                    render.answer_html(turn.answer, n, note, models.get(turn.answer.backend))}
        yield (chat, turns, render.sources_html(turns), "",
               gr.DownloadButton(value=_export(turns), interactive=True))

    def open_citation(key: str, turns: list[Turn]) -> Any:
        m = re.match(r"^(\d+):(\d+)", key or "")
        if not m or not turns:
            return gr.skip()
        return render.sources_html(turns, int(m.group(1)), int(m.group(2)))

    tracker = gr.Progress(track_tqdm=True)  # Gradio finds it by the default; ingestion's tqdm feeds it

    def choose(collection: str | None, request: gr.Request) -> None:
        chosen.put(request.session_hash, collection)

    def narrow(names: list[str] | None, request: gr.Request) -> None:
        narrowed.put(request.session_hash, list(names or []))

    def upload(files: list[str] | None, request: gr.Request, progress: Any = tracker) -> tuple[Any, ...]:
        visit = Visit.of(request)
        if not files:
            return archived.ingest_html([], "Choose files first."), *refresh(request)
        target = chosen.get(request.session_hash) or access.default_target(visit)
        if target is None or not visit.principal.can_write(target):
            access.record(visit, "upload", "chat", 403, [target] if target else [])
            return archived.ingest_html([], f"Nothing added: you may not add to {target or 'the archive'!r}."), \
                *refresh(request)
        progress(0, desc="Saving the files")
        result = ingest_uploads([(Path(f).name, f) for f in files], pool.settings,
                                on_start=lambda: progress(0.05, desc="Adding to the archive"), collection=target)
        pool.store_changed()  # the next question sees the new documents, not a snapshot up to 2 s old
        access.record(visit, "upload", "chat", 200 if result.ok else 400, [target])
        return archived.ingest_html(result.rows, result.summary), *refresh(request)

    def remove(paths: list[str] | str | None, request: gr.Request) -> tuple[Any, ...]:
        visit = Visit.of(request)
        paths = [paths] if isinstance(paths, str) else paths
        if not paths:  # none chosen, or the confirmation declined
            return archived.ingest_html([], "Nothing removed: choose uploaded files, then confirm."), \
                *refresh(request)
        # Only files the caller can see and may write: another collection's path is refused unnamed.
        mine = {f.path: f.collection for f in access.assistant(visit).files()
                if visit.principal.can_write(f.collection)}
        allowed = [p for p in paths if p in mine]
        if len(allowed) < len(paths):
            access.record(visit, "removal", "chat", 403)
            return archived.ingest_html([], "Nothing removed: you may remove only uploads in collections you "
                                            "may write."), *refresh(request)
        result = remove_uploads(allowed, pool.settings)
        pool.store_changed()  # the next question no longer finds them
        access.record(visit, "removal", "chat", 200 if result.ok else 400, {mine[p] for p in allowed})
        return archived.ingest_html(result.rows, result.summary), *refresh(request)

    def refresh(request: gr.Request) -> tuple[Any, ...]:
        visit = Visit.of(request)
        seen = access.assistant(visit)
        facets, files = pool.facets(visit.principal.readable), seen.files()
        writable = set(access.writable(visit))
        ours = set(uploaded([f.path for f in files if f.collection in writable], pool.settings))
        choices = sorted((Path(f.path).name, f.path) for f in files if f.path in ours)
        readable = [c.name for c in seen.collections()]
        writer = bool(writable)
        return (archived.status_html(seen.status()), gr.Dropdown(choices=facets.sources),
                gr.Dropdown(choices=kind_choices(facets.kinds)), archived.files_html(files),
                gr.Dropdown(choices=choices, value=[]),
                gr.Dropdown(choices=readable, visible=len(readable) > 1),
                gr.Dropdown(choices=sorted(writable), value=chosen.get(request.session_hash) or
                            access.default_target(visit), visible=writer and len(writable) > 1),
                gr.Column(visible=writer), gr.Column(visible=writer), archived.user_html(visit.principal, visit.how))

    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        turns = gr.State([])
        with gr.Row(equal_height=True):
            gr.Markdown(f"## {TITLE}", elem_id="title")
            status = gr.HTML(elem_id="archive-status")
            user = gr.HTML(elem_id="user")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat", elem_id="chat-tab"), gr.Row():
                with gr.Column(scale=3):
                    chat = gr.Chatbot(label="Conversation", height=560, elem_id="chat", render_markdown=False,
                                      latex_delimiters=[], buttons=["copy"],
                                      feedback_options=("Like", "Dislike") if saved and saved.saving else None,
                                      placeholder="Ask a question about the archive. Answers cite the passages "
                                                  "they rest on: click a [n] marker to read one.")
                    if saved is not None and saved.saving:
                        kept.feedback(chat, turns)
                    box = gr.Textbox(placeholder="Ask a question about the archive…", show_label=False,
                                     elem_id="question", submit_btn=True, max_length=4000)
                    with gr.Row():
                        clear = gr.Button("New conversation", variant="secondary", size="sm")
                        export = gr.DownloadButton("Export as Markdown", value=None, interactive=False,
                                                   size="sm", elem_id="export")
                    with gr.Accordion("Filters" if len(pool.names) == 1 else "Filters and answers", open=False,
                                      elem_id="filters"):
                        with gr.Row():
                            since = gr.Textbox(label="Since", placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                                               elem_id="since")
                            until = gr.Textbox(label="Until", placeholder="YYYY, YYYY-MM or YYYY-MM-DD",
                                               elem_id="until")
                        with gr.Row():
                            sources = gr.Dropdown(label="Sources", multiselect=True, choices=[], elem_id="source")
                            kinds = gr.Dropdown(label="Document types", multiselect=True, choices=[],
                                                elem_id="kind")
                        collections = gr.Dropdown(label="Collections", multiselect=True, choices=[],
                                                  elem_id="collection", visible=False)
                        backend = gr.Dropdown(label="Answers", value=pool.names[0], elem_id="backend",
                                              choices=[(backend_label(n, models[n]), n) for n in pool.names],
                                              visible=len(pool.names) > 1)
                    examples = example_questions(pool.settings)  # the archive's own; none without its file
                    if examples:
                        gr.Examples(examples, inputs=box, label="Examples", elem_id="examples")
                with gr.Column(scale=2):
                    panel = gr.HTML(render.sources_html([]), elem_id="sources", label="Sources")
            admin_tab = admin.build()
        relisting = kept.sidebar(ChatParts(chat, turns, panel, export))
        with gr.Sidebar(open=False, label="Archive", elem_id="archive-bar", position="right"):
            with gr.Column(visible=False) as writing:  # shown to those who may write somewhere
                gr.Markdown("### Add documents")
                files = gr.File(file_count="multiple", file_types=accepted_types(), label="Documents",
                                elem_id="upload", type="filepath")
                target = gr.Dropdown(label="Add to the collection", choices=[], elem_id="upload-collection",
                                     visible=False)
                add = gr.Button("Add to the archive", variant="primary", elem_id="ingest")
                ingested = gr.HTML(elem_id="ingest-report")
            gr.Markdown("### In the archive")
            listing = gr.HTML(elem_id="archive-files")
            with gr.Column(visible=False) as removing:
                gr.Markdown("### Remove uploads")
                doomed = gr.Dropdown(label="Uploaded files", multiselect=True, choices=[],
                                     elem_id="remove-files")
                drop = gr.Button("Remove from the archive", variant="stop", elem_id="remove")
        opener = gr.Textbox(visible="hidden", elem_id="open-citation")

        # As for uploads, the chosen collections are remembered per session, not sent with each
        # question: the question event's inputs keep the shape clients post.
        collections.change(narrow, collections, None, queue=False, api_name="choose_collections")
        box.submit(respond, [box, turns, chat, since, until, sources, kinds, backend],
                   [chat, turns, panel, box, export], concurrency_limit=pool.settings.ui_concurrency,
                   concurrency_id="answers").then(kept.relist, *relisting, queue=False, show_progress="hidden")
        opener.change(open_citation, [opener, turns], panel, queue=False, show_progress="hidden")
        def forget(request: gr.Request) -> tuple[Any, ...]:
            current.put(request.session_hash, None)  # the next question starts a new saved conversation
            return [], [], render.sources_html([]), gr.DownloadButton(value=None, interactive=False)

        for leaving in (clear.click, chat.clear):  # the button, and the chat's own bin icon
            leaving(forget, None, [chat, turns, panel, export], queue=False).then(
                kept.relist, *relisting, queue=False, show_progress="hidden")
        archive = [status, sources, kinds, listing, doomed, collections, target, writing, removing, user]
        # The upload event's only input stays the files (clients post it so); the collection is
        # remembered per session as it is chosen.
        target.change(choose, target, None, queue=False, api_name="choose_collection")
        add.click(upload, files, [ingested, *archive], concurrency_limit=1,
                  concurrency_id="ingest").then(lambda: None, None, files)
        # Asked in the browser first; declining sends no files, and nothing is removed.
        drop.click(remove, doomed, [ingested, *archive], concurrency_limit=1, concurrency_id="ingest",
                   js="(paths) => [(paths && paths.length && confirm('Remove ' + paths.length + "
                      "' file(s) from the archive? Answers will no longer cite them.')) ? paths : []]")
        app.load(refresh, None, archive, queue=False)
        app.load(kept.relist, *relisting, queue=False)
        app.load(admin.visible, None, admin_tab, queue=False)
    return app
