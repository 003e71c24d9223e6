"""Each user's conversations and feedback in the state database (SQLite, and a real PostgreSQL):
saved as they happen, listed latest first, private to their owner (another's id reads like none),
renamed, deleted, purged by age; one verdict per answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.accounts import AccountError, History
from assistant.accounts import accounts as accounts_module
from assistant.settings import Settings

ANSWER = {"answer": "The bridge reopens on 4 May 2026. [1]", "refused": False,
          "citations": [{"n": 1, "path": "/a/orchid.md", "title": "Orchid memo", "text": "The bridge reopens …"}]}


def test_turns_are_saved_in_order_and_a_conversation_comes_back_whole(history: History) -> None:
    conv, first = history.save("ann", None, "When does the Orchid bridge reopen?", ANSWER, "extractive",
                               {"since": "2026"}) or ("", "")
    again = history.save("ann", conv, "Who said so?", {**ANSWER, "answer": "The harbour board. [1]"}, "extractive", {})
    assert again is not None and again[0] == conv and again[1] != first
    [info] = history.conversations("ann")
    assert (info.id, info.title, info.turns) == (conv, "When does the Orchid bridge reopen?", 2)
    got = history.conversation("ann", conv)
    assert got is not None and [t.question for t in got.turns] == ["When does the Orchid bridge reopen?",
                                                                  "Who said so?"]
    assert got.turns[0].answer == ANSWER and got.turns[0].filters == {"since": "2026"}
    assert got.to_dict()["turns"][1]["answer"]["answer"] == "The harbour board. [1]"


def test_conversations_are_private_to_their_owner(history: History) -> None:
    conv, turn = history.save("ann", None, "Ann's question", ANSWER, "extractive", {}) or ("", "")
    assert history.conversations("bob") == []
    assert history.conversation("bob", conv) is None  # the same as an id that does not exist
    assert history.conversation("bob", "0" * 32) is None
    assert history.save("bob", conv, "continuing Ann's?", ANSWER, "extractive", {}) is None
    assert not history.rename("bob", conv, "mine now") and not history.delete("bob", conv)
    assert not history.rate("bob", turn, "down", "spite")
    got = history.conversation("ann", conv)
    assert got is not None and len(got.turns) == 1 and got.info.title == "Ann's question"
    assert got.turns[0].rating is None


def test_listing_is_latest_first_with_search_over_titles(history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [datetime(2026, 12, 1, tzinfo=UTC)]
    monkeypatch.setattr(accounts_module, "now", lambda: clock[0])
    import assistant.accounts.history as history_module

    monkeypatch.setattr(history_module, "now", lambda: clock[0])
    ids = []
    for question in ("Budget of the harbour board", "Ferry timetable 100%", "Harbour dredging plans"):
        clock[0] += timedelta(hours=1)
        ids.append((history.save("ann", None, question, ANSWER, "extractive", {}) or ("", ""))[0])
    assert [c.title for c in history.conversations("ann")] == ["Harbour dredging plans", "Ferry timetable 100%",
                                                               "Budget of the harbour board"]
    assert [c.title for c in history.conversations("ann", "harbour")] == ["Harbour dredging plans",
                                                                         "Budget of the harbour board"]
    assert [c.title for c in history.conversations("ann", "100%")] == ["Ferry timetable 100%"]
    assert history.conversations("ann", "_") == []  # a wildcard in SQL, a plain character here
    clock[0] += timedelta(hours=1)
    assert history.save("ann", ids[0], "More on the budget", ANSWER, "extractive", {}) is not None
    assert history.conversations("ann")[0].id == ids[0]  # continued: now the latest
    assert history.rename("ann", ids[1], "  Ferries,\n2026  ")
    assert {c.title for c in history.conversations("ann")} >= {"Ferries, 2026"}
    with pytest.raises(AccountError, match="cannot be empty"):
        history.rename("ann", ids[1], "   ")
    # Retention: what was not touched for a day goes, the rest stays.
    clock[0] += timedelta(hours=23, minutes=30)
    assert history.purge(timedelta(days=1)) == 2
    assert [c.id for c in history.conversations("ann")] == [ids[0]]


def test_deleting_one_or_all_takes_turns_and_feedback_with_it(history: History) -> None:
    a, turn = history.save("ann", None, "one", ANSWER, "extractive", {}) or ("", "")
    b, _ = history.save("ann", None, "two", ANSWER, "extractive", {}) or ("", "")
    history.save("bob", None, "bob's", ANSWER, "extractive", {})
    assert history.rate("ann", turn, "up")
    assert history.delete("ann", a) and history.conversation("ann", a) is None
    assert history.rated() == [] and [c.id for c in history.conversations("ann")] == [b]
    assert history.delete_all("ann") == 1 and history.conversations("ann") == []
    assert len(history.conversations("bob")) == 1


def test_one_verdict_per_answer_with_its_context(history: History) -> None:
    conv, turn = history.save("ann", None, "When does the bridge reopen?", ANSWER, "extractive", {}) or ("", "")
    assert history.rate("ann", turn, "down", "wrong date", {"retrieval": "hybrid", "generation": "g7"})
    assert history.rate("ann", turn, "up", "  fine after all ")
    [rated] = history.rated()
    assert (rated.owner, rated.conversation, rated.rating, rated.comment) == ("ann", conv, "up", "fine after all")
    assert rated.turn.question == "When does the bridge reopen?" and rated.turn.answer == ANSWER
    assert rated.context == {} and history.rated(rating="down") == []
    got = history.conversation("ann", conv)
    assert got is not None and (got.turns[0].rating, got.turns[0].comment) == ("up", "fine after all")
    with pytest.raises(AccountError, match="'up' or 'down'"):
        history.rate("ann", turn, "meh")
    assert history.rated(since=datetime.now(UTC) + timedelta(hours=1)) == []


def test_a_database_from_before_history_is_migrated_with_its_users(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy.exc import DBAPIError

    from assistant.accounts import Accounts, db

    settings = Settings(store=tmp_path / "store")
    engine = db.engine_for(db.database_url(settings))
    with db.writing(engine) as conn:  # the schema as the accounts release left it
        command.upgrade(db._alembic_config(conn), "0001")
    engine.dispose()
    with pytest.raises(DBAPIError, match="conversations"):  # no such table yet
        History(db.engine_for(db.database_url(settings))).conversations("ann")
    with Accounts.open(settings) as accounts:  # opening migrates to the newest revision
        accounts.add("ann", "reader", "pw", read=["main"])
    with Accounts.open(settings) as accounts:
        assert accounts.get("ann") is not None
    h = History.open(settings)
    assert h.save("ann", None, "first", ANSWER, "extractive", {}) is not None
    h.close()


def test_a_removed_users_conversations_go_with_them(tmp_path: Path) -> None:
    from assistant.accounts import Accounts

    settings = Settings(store=tmp_path / "store")
    with Accounts.open(settings) as accounts:
        accounts.add("ann", "reader", "pw", read=["main"])
        h = History(accounts.engine)
        conv, _ = h.save("ann", None, "a private question", ANSWER, "extractive", {}) or ("", "")
        accounts.remove("ann")
        accounts.add("ann", "reader", "another person's pw", read=["main"])  # the name given to someone else
        assert h.conversations("ann") == [] and h.conversation("ann", conv) is None


def test_history_lists_and_exports_a_users_conversations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assistant.app.cli import main

    settings = Settings(store=tmp_path / "store")
    h = History.open(settings)
    conv, _ = h.save("ann", None, "When does the Orchid bridge reopen?", ANSWER, "extractive", {}) or ("", "")
    h.save("bob", None, "Bob's own question", ANSWER, "extractive", {})
    h.close()
    assert main(["history", "--user", "ann", "--store", str(settings.store)]) == 0
    listed = capsys.readouterr().out
    assert conv in listed and "Orchid" in listed and "Bob's" not in listed
    out = tmp_path / "export"
    assert main(["history", "--user", "ann", "--export", str(out), "--store", str(settings.store)]) == 0
    [md] = list(out.glob("*.md"))
    [js] = list(out.glob("*.json"))
    text = md.read_text(encoding="utf-8")
    assert text.startswith("# When does the Orchid bridge reopen?") and "The bridge reopens on 4 May 2026. [1]" in text
    assert "Orchid memo" in text and json.loads(js.read_text(encoding="utf-8"))["id"] == conv
    assert main(["history", "--user", "nobody", "--store", str(settings.store)]) == 0
    assert "No saved conversations for 'nobody'" in capsys.readouterr().out


def test_retention_deletes_old_conversations_on_start_and_daily(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.accounts.history as history_module

    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(accounts_module, "now", lambda: clock[0])
    monkeypatch.setattr(history_module, "now", lambda: clock[0])
    settings = Settings(store=tmp_path / "store", history_days=30)
    h = History.open(settings)
    old, _ = h.save("ann", None, "January's question", ANSWER, "extractive", {}) or ("", "")
    clock[0] += timedelta(days=20)
    recent, _ = h.save("ann", None, "A later question", ANSWER, "extractive", {}) or ("", "")
    clock[0] += timedelta(days=10, hours=12)  # the first is 30.5 days old: over the 30 kept
    h._purged = clock[0] - timedelta(hours=12)  # as if applied half a day ago
    assert h.keep_to_retention() == 0  # not again within a day
    clock[0] += timedelta(hours=13)
    assert h.keep_to_retention() == 1
    assert [c.id for c in h.conversations("ann")] == [recent]
    h.close()
    assert History.open(Settings(store=tmp_path / "store")).keep_to_retention() == 0  # 0 days: keep all


def test_refusals_saved_before_the_flag_existed_are_flagged_by_the_migration(tmp_path: Path) -> None:
    from alembic import command

    from assistant.accounts import db
    from assistant.accounts.activity import failures

    settings = Settings(store=tmp_path / "store")
    engine = db.engine_for(db.database_url(settings))
    with db.writing(engine) as conn:  # the schema as the first history release left it
        command.upgrade(db._alembic_config(conn), "0002")
    old = History(engine)
    with db.writing(engine) as conn:  # saved by that release: no refused column yet
        conn.exec_driver_sql(
            "INSERT INTO conversations (id, owner, title, created, updated) VALUES ('c1', 'ann', 't', "
            "'2026-12-01 10:00:00', '2026-12-01 10:00:00')")
        for n, answer in enumerate((ANSWER, {"answer": "Not in the archive.", "refused": True, "citations": []})):
            conn.exec_driver_sql(
                "INSERT INTO turns (id, conversation_id, position, question, answer, backend, filters, created) "
                f"VALUES ('t{n}', 'c1', {n}, 'q{n}', ?, 'extractive', '{{}}', '2026-12-01 10:0{n}:00')",
                (json.dumps(answer),))
    old.close()
    with History.open(settings) as h:  # opening migrates to the newest revision
        assert [(f.turn, f.refused) for f in failures(h.engine)] == [("t1", True)]
        assert h.conversation("ann", "c1").info.share is None


def test_a_share_link_opens_one_conversation_until_it_is_stopped(history: History) -> None:
    conv, _ = history.save("ann", None, "first", ANSWER, "extractive", {})
    assert history.share("bob", conv) is None and history.unshare("bob", conv) is False  # not bob's
    token = history.share("ann", conv)
    assert token and history.share("ann", conv) == token  # the same link while shared
    owner, found = history.shared(token)
    assert owner == "ann" and [t.question for t in found.turns] == ["first"]
    assert history.shared("") is None and history.shared(token + "x") is None
    assert history.unshare("ann", conv) and history.shared(token) is None
    assert history.share("ann", conv) != token  # shared again: a new link; the old one stays dead


def test_a_viewer_sees_only_answers_whose_sources_they_may_read(history: History) -> None:
    from assistant.accounts import Principal, Role
    from assistant.app.sharing import WITHHELD, for_viewer

    def cite(n: int, collection: str) -> dict[str, object]:
        return {"n": n, "path": f"/a/{collection}.md", "title": collection, "text": "…", "collection": collection}

    board = {**ANSWER, "citations": [cite(1, "main"), cite(2, "board")]}
    refusal = {"answer": "Not found.", "refused": True, "citations": [],
               "related": [cite(1, "main"), cite(2, "board")]}
    conv, _ = history.save("ann", None, "public", {**ANSWER, "citations": [cite(1, "main")]}, "extractive", {})
    history.save("ann", conv, "board minutes", board, "extractive", {})
    history.save("ann", conv, "nothing", refusal, "extractive", {})
    whole = history.conversation("ann", conv)
    reader = Principal.build("bob", Role.READER, [("main", False)])
    seen = for_viewer(whole, reader)
    assert seen.withheld == 1 and [t.question for t in seen.turns] == ["public", "board minutes", "nothing"]
    assert seen.turns[1].answer is None and seen.turns[1].error == WITHHELD
    assert [c.collection for c in seen.turns[2].answer.related] == ["main"] and seen.cited == ["main"]
    admin = for_viewer(whole, Principal.build("root", Role.ADMIN, []))
    assert admin.withheld == 0 and admin.cited == ["board", "main"]
