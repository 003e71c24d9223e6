"""The chat's Feedback tab, for admins: the weekly counts of answers, refusals and thumbs-down,
and the failed questions grouped by similarity (assistant.app.feedback_report). Questions are
shown without who asked them: conversations stay private, admins included."""

from __future__ import annotations

from typing import Any

import gradio as gr  # at module level: Gradio finds `request: gr.Request` through this module's names

from assistant.accounts import History
from assistant.app.access import Access, Visit
from assistant.app.feedback_report import feedback_report
from assistant.app.ui_feedback import admin_html

ADMINS_ONLY = '<p class="fb-empty">The feedback report is for administrators.</p>'


class AdminTab:
    def __init__(self, saved: History | None, access: Access) -> None:
        self.saved, self.access = saved, access

    def build(self) -> Any:
        """The tab (hidden until `visible` shows it to an admin) and its events; returns the tab."""
        with gr.Tab("Feedback", id="feedback", visible=False, elem_id="feedback-tab") as tab:
            refresh = gr.Button("Refresh", size="sm", elem_id="feedback-refresh")
            report = gr.HTML(elem_id="feedback-report")
        tab.select(self.report, None, report, queue=False)
        refresh.click(self.report, None, report, concurrency_limit=1, concurrency_id="feedback-report")
        return tab

    def visible(self, request: gr.Request) -> Any:
        return gr.Tab(visible=self.saved is not None and Visit.of(request).principal.is_admin)

    def report(self, request: gr.Request) -> str:
        visit = Visit.of(request)
        if self.saved is None or not visit.principal.is_admin:  # a hidden tab's event, posted by hand
            return ADMINS_ONLY
        self.access.record(visit, "feedback-report", "chat")
        return admin_html(feedback_report(self.saved, self.access.pool.default.embedder))
