"""The staff chat: a Gradio app over an Assistant, with each answer's sources beside it."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from assistant.errors import AssistantError
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.types import Answer, Citation

TITLE = "Report archive assistant"
EXAMPLES = ["Why did Marvala reject the 2023 OHCHR report?",
            "When did the UN Special Rapporteur visit Sennport?"]


def _link(c: Citation) -> str:
    url = c.url if c.url and c.url.startswith(("http://", "https://")) else None
    if url:
        return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">' \
               f"{html.escape(url)}</a>"
    return f"<code>{html.escape(c.path)}</code>"


def sources_html(answer: Answer | None) -> str:
    """The cited passages as safe HTML: every document string is escaped, never rendered."""
    if answer is None or not answer.citations:
        note = "No sources: the archive does not hold the answer." if answer and answer.refused else \
            "Sources of the answer appear here."
        return f'<p class="sources-empty">{note}</p>'
    parts = []
    for c in answer.citations:
        meta = " · ".join(html.escape(str(x)) for x in (c.date, c.source, c.page and f"p. {c.page}") if x)
        parts.append(
            f'<details class="source" id="source-{c.n}" open><summary><b>[{c.n}]</b> '
            f"{html.escape(c.title or c.path)}</summary>"
            f'<div class="source-meta">{meta}</div><div class="source-link">{_link(c)}</div>'
            f'<blockquote class="source-text" style="white-space: pre-wrap">{html.escape(c.text)}'
            "</blockquote></details>")
    return "\n".join(parts)


def status_line(a: Assistant) -> str:
    s = a.status()
    when = datetime.fromtimestamp(s["last_ingested"]).strftime("%Y-%m-%d %H:%M") \
        if s["last_ingested"] else "never"
    return (f"**Archive:** {s['documents']} documents, {s['chunks']} chunks · last ingestion {when} · "
            f"answers: {s['llm']}")


def build(a: Assistant) -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
        history = list(history or [])
        history.append({"role": "user", "content": message})
        try:
            answer = a.ask(message, history=history[:-1])
            reply = answer.text
        except AssistantError as e:
            answer, reply = None, f"Error: {e}"
        history.append({"role": "assistant", "content": reply})
        yield history, sources_html(answer), ""

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        gr.Markdown(f"## {TITLE}")
        gr.Markdown(status_line(a), elem_id="archive-status")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=520, elem_id="chat")
                box = gr.Textbox(placeholder="Ask a question about the archive…", show_label=False,
                                 elem_id="question", submit_btn=True)
                gr.Examples(EXAMPLES, inputs=box)
                clear = gr.Button("New conversation", variant="secondary")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="sources")
        box.submit(respond, [box, chat], [chat, sources, box])
        clear.click(lambda: ([], sources_html(None)), None, [chat, sources])
    return app


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    app = build(Assistant(settings=settings))
    app.queue(default_concurrency_limit=4).launch(server_name=host, server_port=port,
                                                  footer_links=[], show_error=True)
