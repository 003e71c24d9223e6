"""Saved conversations in a real browser (Debian's Chromium, driven by Playwright): they come back
after a reload and a server restart, open whole with their sources and highlights, take feedback,
are shared read-only, are nobody else's business, and go when deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_browser import SHOWCASE, ask, new_page, shot

from assistant.accounts import Accounts, History
from assistant.app.pool import Pool
from assistant.app.server import build_app, serve
from assistant.settings import Settings

FOLLOW_UP = "Who responded to that?"


@pytest.fixture
def team(sample_store: Path, tmp_path: Path) -> Settings:
    """The sample store, copied (its state is this test's own), with two users."""
    store = tmp_path / "store"
    shutil.copytree(sample_store, store, ignore=shutil.ignore_patterns("state.db*", "audit.jsonl"))
    settings = Settings(store=store, archive_dir=tmp_path / "archive")
    with Accounts.open(settings) as accounts:
        accounts.add("alice", "editor", "alice's long password", read=["main"], write=["main"])
        accounts.add("ben", "reader", "ben's long password", read=["main"])
    return settings


def log_in(browser, url: str, name: str):
    page = new_page(browser)
    page.goto(url)
    page.fill("#name", name)
    page.fill("#password", f"{name}'s long password")
    page.click("button[type=submit]")
    page.wait_for_selector("#archive-status .archive-status")
    return page


def conversations(page) -> list[str]:
    page.click("#conversations-bar .toggle-button")
    page.wait_for_selector("#conversation-search textarea")
    return page.locator("#conversation-list label").all_inner_texts()


def test_a_conversation_comes_back_opens_whole_and_stays_private(browser, team: Settings) -> None:
    with serve(build_app(Pool(team))) as served:
        page = log_in(browser, served.url, "alice")
        ask(page, SHOWCASE, answers_before=0)
        ask(page, FOLLOW_UP, answers_before=1)
        # Thumbs down on the follow-up's answer, with a comment.
        page.locator("#chat button[aria-label='Dislike']").nth(1).click()
        page.wait_for_selector("#feedback-comment textarea")
        page.fill("#feedback-comment textarea", "missed the league's response")
        page.click("#feedback-send")
        page.wait_for_selector("#feedback-comment", state="hidden")
        page.reload()
        page.wait_for_selector("#archive-status .archive-status")
        assert page.locator("#chat .answer").count() == 0  # a reload starts afresh...
        listed = conversations(page)  # ...and the conversation is in the sidebar
        assert len(listed) == 1 and listed[0].startswith(SHOWCASE)
        page.locator("#conversation-list label").first.click()
        page.wait_for_function("document.querySelectorAll('#chat .answer').length === 2")
        assert "rejects the report" in page.inner_text("#chat")
        assert page.locator("#sources mark.support").count() > 0  # the latest answer's sources, highlighted
        page.locator("#chat .answer").first.locator("a.cite").first.click()  # the first answer's source
        page.wait_for_selector("#sources .source.open")
        assert "Sources of answer 1 of 2" in page.inner_text("#sources")
        assert page.locator("#chat button[aria-label='Disliked']").count() == 1  # the verdict, as left
        page.click("#conversation-share")
        page.wait_for_selector("#share-link a")
        link = page.get_attribute("#share-link a", "href")
        shot(page, "conversation-reopened")
        # A follow-up continues the opened conversation, not a new one.
        ask(page, "When did the UN Special Rapporteur visit Sennport?", answers_before=2)
    with History.open(team) as saved:
        mine = saved.conversations("alice")
        assert [c.turns for c in mine] == [3]
        verdicts = saved.rated()
        assert [(v.rating, v.comment, v.turn.question) for v in verdicts] == \
            [("down", "missed the league's response", FOLLOW_UP)]

    with serve(build_app(Pool(team))) as served:  # a new server on the same state: a restart
        page = log_in(browser, served.url, "alice")
        assert conversations(page)[0].startswith(SHOWCASE)
        other = log_in(browser, served.url, "ben")
        assert conversations(other) == []  # nobody else's, and none of it shows
        assert SHOWCASE not in other.inner_text("body")
        other.goto(served.url + link)  # the share link: read-only, for a colleague who may read it all
        other.wait_for_selector("main#shared")
        text = other.inner_text("body")
        assert SHOWCASE in text and FOLLOW_UP in text and "Amara Veldt" in text
        shot(other, "conversation-shared")
        page.locator("#conversation-list label").first.click()
        page.wait_for_function("document.querySelectorAll('#chat .answer').length === 3")
        page.once("dialog", lambda d: d.accept())
        page.click("#conversation-delete")
        page.wait_for_selector("#conversation-empty", state="visible")
        assert page.locator("#chat .answer").count() == 0
        page.reload()
        page.wait_for_selector("#archive-status .archive-status")
        assert conversations(page) == []
        other.goto(served.url + link)  # deleted: the link opens nothing
        assert "No such shared conversation" in other.inner_text("body")


def test_the_admin_page_shows_what_failed_grouped_with_a_weekly_plot(browser, team: Settings) -> None:
    with Accounts.open(team) as accounts:
        accounts.add("carol", "admin", "carol's long password")
    with serve(build_app(Pool(team))) as served:
        page = log_in(browser, served.url, "ben")
        assert page.locator("#feedback-tab-button").count() == 0  # readers have the chat alone
        for n, question in enumerate(["What is the price of tea in Sennport?",
                                      "How much does tea cost in Sennport?", SHOWCASE]):
            ask(page, question, answers_before=n)
        assert page.locator("#chat .answer.refused").count() == 2
        page.locator("#chat button[aria-label='Dislike']").nth(2).click()  # the showcase's answer
        page.fill("#feedback-comment textarea", "<b>missed</b> the league's response")
        page.click("#feedback-send")
        page.wait_for_selector("#feedback-comment", state="hidden")
        admin = log_in(browser, served.url, "carol")
        admin.click("#feedback-tab-button")
        admin.wait_for_selector("#feedback-report svg")
        admin.wait_for_selector("#feedback-report table tbody tr")
        rows = admin.locator("#feedback-report table tbody tr")
        assert rows.count() == 2
        top = rows.first.inner_text()  # the two ways of asking about tea, one gap, asked twice
        assert "tea" in top and top.split()[0] == "2"
        assert "<b>missed</b> the league's response" in rows.nth(1).inner_text()  # shown as typed, not as HTML
        assert admin.locator("#feedback-report b").count() == 0
        assert "ben" not in admin.inner_text("#feedback-report")  # questions, not who asked them
        shot(admin, "feedback-admin")
