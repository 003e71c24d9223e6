"""The `assistant` command: ingest, sync, remove, move, ask, search, chat, mcp, status, config, users, audit."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from assistant.answering.evidence import excerpt, matching_sentence
from assistant.answering.llms import BACKENDS
from assistant.app import cli_archive, cli_feedback, cli_history, cli_users
from assistant.app.ui_words import ocr_note
from assistant.errors import AssistantError
from assistant.settings import Settings
from assistant.types import Answer, Citation, search_results


def _settings(args: argparse.Namespace) -> Settings:
    llm = {k: getattr(args, k, None) for k in ("llm", "llm_url", "llm_model")}
    proxy = {k: getattr(args, k, None) for k in ("trusted_user_header", "trusted_proxies")}
    if getattr(args, "auto_create_users", False):
        proxy["auto_create_users"] = True
    return Settings.load(args.config, store=args.store, chroma_url=args.chroma_url,
                         state_url=getattr(args, "state_url", None), **llm, **proxy)


def _common() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--store", help="store folder (default: $ASSISTANT_STORE, else "
                                   "~/.local/share/report-assistant/store)")
    p.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    p.add_argument("--config", help="TOML settings file (default: $ASSISTANT_CONFIG or ./assistant.toml)")
    p.add_argument("--state-url", help="database of users, grants and sessions (default: SQLite state.db in the "
                                       "store folder), e.g. postgresql://assistant@db-host/assistant")
    return p


def parser() -> argparse.ArgumentParser:
    common = _common()
    top = argparse.ArgumentParser(prog="assistant", description="Answer questions from a report "
                                  "archive, citing the passages used.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, text in (("ingest", "add files or folders to the store"),
                       ("sync", "ingest, and remove from the store what is gone from disk")):
        p = sub.add_parser(name, parents=[common], help=text, description=text)
        p.add_argument("paths", nargs="+", metavar="PATH")
        if name == "ingest":
            p.add_argument("--prune", action="store_true", help="remove stored files that are gone")
        cli_archive.add_collection_option(p, name)
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        p.add_argument("--wait", action="store_true", help="if another process is writing the store, "
                       "wait for it instead of stopping (for scheduled runs)")
    text = "take files (or every file under a folder) out of the store; the files stay on disk"
    p = sub.add_parser("remove", parents=[common], help=text, description=text + ", and ingesting "
                       "their folder again adds them back.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="as ingested; `assistant status --files` lists them")
    p.add_argument("--wait", action="store_true", help="if another process is writing the store, wait for it")
    cli_archive.add_collection_option(p, "remove")
    cli_archive.add_parsers(sub, common)
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--since", help="only documents dated on or after (YYYY, YYYY-MM or YYYY-MM-DD)")
    filters.add_argument("--until", help="only documents dated on or before (the whole year or month)")
    filters.add_argument("--source", action="append", help="only this source or publisher (repeatable)")
    filters.add_argument("--type", dest="kind", action="append", help="only this document type: pdf, "
                         "html, md, txt, docx, eml, jsonl (repeatable)")
    filters.add_argument("--collection", action="append", help="only this archive collection (repeatable)")
    llm = argparse.ArgumentParser(add_help=False)
    llm.add_argument("--llm", metavar="NAME", help=f"answer backend: {', '.join(BACKENDS)} (default: extractive)")
    llm.add_argument("--llm-url", help="the LLM server's base URL, e.g. http://127.0.0.1:8080/v1 (openai, ollama)")
    llm.add_argument("--llm-model", help="the model to ask (openai, ollama), or a .gguf file (local)")
    p = sub.add_parser("ask", parents=[common, filters, llm], help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = sub.add_parser("search", parents=[common, filters], help="the ranked passages for a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="how many passages (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    text = "serve the staff chat and the HTTP API (/api, /v1)"
    p = sub.add_parser("chat", parents=[common, llm], help=text, description=text + ". Login: the users "
                       "of `assistant users`, or ASSISTANT_UI_USER and ASSISTANT_UI_PASSWORD (and optionally "
                       "ASSISTANT_API_KEY) as one admin, or a sign-in proxy's header.")
    p.add_argument("--trusted-user-header", metavar="HEADER", help="header naming the signed-in user, set by "
                   "an identity-aware proxy (e.g. X-Forwarded-User); believed only from --trusted-proxy")
    p.add_argument("--trusted-proxy", dest="trusted_proxies", metavar="CIDR", help="the proxy's addresses, "
                   "comma-separated (e.g. 127.0.0.1/32)")
    p.add_argument("--auto-create", dest="auto_create_users", action="store_true", help="a user the proxy "
                   "names who has no account is created as a reader with no collections (else refused)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--allow-open", action="store_true", help="serve on a non-loopback address "
                   "without a login (anyone who can reach it can read the archive)")
    text = "serve the archive over the Model Context Protocol on stdin and stdout (for desktop clients)"
    sub.add_parser("mcp", parents=[common, llm], help=text, description=text + ", as the local user, like "
                   "the other commands; docs/mcp.md says how to configure a client. The chat server serves "
                   "it over HTTP at /mcp, behind its login.")
    p = sub.add_parser("status", parents=[common], help="what the store holds")
    p.add_argument("--files", action="store_true", help="also list every ingested file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("config", parents=[common], help="every setting, its value and what it does")
    cli_users.add_parsers(sub, common)
    cli_history.add_parser(sub, common)
    cli_feedback.add_parser(sub, common)
    return top


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"since": args.since, "until": args.until, "source": args.source, "kind": args.kind,
            "collection": args.collection}


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import ingest

    report = ingest(args.paths, _settings(args), prune=args.command == "sync" or args.prune,
                    quiet=args.quiet, wait=args.wait, collection=args.collection)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_remove(args: argparse.Namespace) -> int:
    from ingest import remove

    report = remove(args.paths, _settings(args), wait=args.wait, collection=args.collection)
    print(report.summary())
    return 0 if report.ok else 1


def _check_input(text: str, args: argparse.Namespace) -> None:
    """Bad input fails at once, before the store is opened and the model loaded."""
    from assistant.answering.query import check_question, make_filters

    check_question(text)
    make_filters(**_filters(args))


def _one_shot(args: argparse.Namespace) -> Settings:
    """Settings for a command that answers once and exits: the model in ONNX Runtime unless
    embed_runtime says otherwise (assistant/index/onnx_encoder.py)."""
    settings = _settings(args)
    return settings.replace(embed_runtime="onnx") if settings.embed_runtime == "auto" else settings


def _export_after(assistant: Any) -> None:
    """Where a one-shot command had to load torch, make the model's ONNX export now, after the
    answer is out, so that the next command starts fast; a failure leaves torch in use."""
    if assistant.settings.embed_runtime != "onnx" or getattr(assistant.embedder, "runtime", "") == "onnx":
        return
    from assistant.index import onnx_encoder

    try:
        onnx_encoder.export(assistant.settings.embed_model)
    except Exception as e:  # no disk space, an unwritable cache, an exporter bug: next time, torch again
        print(f"(Could not save the model's ONNX export, so the next `ask` loads torch again: "
              f"{type(e).__name__}: {e}. Set XDG_CACHE_HOME to a writable folder.)", file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.service import Assistant

    _check_input(args.question, args)
    assistant = Assistant(settings=_one_shot(args))
    if args.json:
        whole = assistant.ask(args.question, **_filters(args))
        print(json.dumps(whole.to_dict(), ensure_ascii=False, indent=2), flush=True)
        _export_after(assistant)
        return 0
    stream = assistant.stream(args.question, **_filters(args))
    for piece in stream:  # text as it is generated
        print(_printable(piece), end="", flush=True)
    print()
    answer = stream.answer
    if answer.backend != "extractive" and not answer.refused:
        print(f"\n{_grounding(answer)}")
    for c in answer.citations:
        _print_source(f"[{c.n}]", c)
    if answer.related:
        print("\nClosest passages (they do not answer the question; look for yourself):")
        for c in answer.related:
            _print_source("-", c)
    sys.stdout.flush()
    _export_after(assistant)
    return 0


def _print_source(mark: str, c: Citation) -> None:
    print(f"\n{mark} {_source_line(c.title, c.date, c.source, c.page, c.url or c.path, ocr_note(c))}")
    print(f"    {_printable(excerpt(c.text, c.supporting, 300))}")  # the evidence first


def cmd_search(args: argparse.Namespace) -> int:
    from assistant.service import Assistant

    _check_input(args.query, args)
    assistant = Assistant(settings=_one_shot(args))
    passages = assistant.search(args.query, k=args.k, **_filters(args))
    if args.json:
        print(json.dumps(search_results(passages), ensure_ascii=False, indent=2), flush=True)
    else:
        for r, p in enumerate(passages, 1):
            print(f"{r:>3}. {p.score:.4f}  {_source_line(p.title, p.date, p.source, p.page, p.path, ocr_note(p))}")
            print(f"     {_printable(excerpt(p.text, matching_sentence(p.text, args.query), 200))}")
        sys.stdout.flush()
    _export_after(assistant)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from assistant.app.server import launch

    launch(_settings(args), host=args.host, port=args.port, allow_open=args.allow_open)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from assistant.integrations.mcp_server import serve_stdio
    from assistant.service import Assistant

    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the protocol: nothing else may reach it
        assistant = Assistant(settings=_settings(args))
    serve_stdio(assistant)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from assistant.index.locks import describe
    from assistant.index.store import Store
    from assistant.service import archive_files, archive_status

    settings = _settings(args)
    store = Store.open(settings)
    s = archive_status(store, settings)
    files = archive_files(store) if args.files else []
    if args.json:
        out = s.to_dict()
        if args.files:
            out["ingested_files"] = [f.to_dict() for f in files]
        print(json.dumps(out, indent=1))
        return 0
    when = datetime.fromtimestamp(s.last_ingested).isoformat(" ", "seconds") if s.last_ingested else "never"
    print(f"{s.store}: {s.files} files, {s.documents} documents, {s.chunks} chunks; last ingestion {when}.")
    for line in cli_archive.collection_lines(s.collections):
        print(_printable(line))
    if s.sentence_chunks is not None and (s.sentence_chunks or settings.sentence_vectors) and s.chunks:
        done = min(s.sentence_chunks, s.chunks)
        print(f"Sentences encoded ahead for answers: {done} of {s.chunks} chunks ({_size(s.sentence_bytes or 0)})"
              + ("." if done >= s.chunks else "; the next sync encodes the rest (answers encode them meanwhile)."))
    if s.writing:
        print(f"Being written now by {describe(s.writing)}.")
    if half := s.half_removed:
        print(f"{len(half)} files were being removed when the removal stopped; `assistant remove` them again "
              f"to finish, or ingest their folder to keep them: "
              + ", ".join(_printable(k) for k in half[:5]) + (" ..." if len(half) > 5 else ""))
    if files:
        width = max(len("collection"), *(len(f.collection) for f in files))
        print(f"\n{'ingested':19}  {'documents':>9}  {'chunks':>6}  {'size':>8}  {'collection':<{width}}  path")
        for f in files:
            print(f"{f.ingested or '':19}  {f.documents:>9}  {f.chunks:>6}  {_size(f.bytes):>8}  "
                  f"{f.collection:<{width}}  {_printable(f.path)}")
    return 0


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1024**2 else f"{n / 1024**2:.1f} MB"


def cmd_config(args: argparse.Namespace) -> int:
    current = _settings(args)
    for name, _default, doc in Settings.describe():
        print(f"{name} = {getattr(current, name)!s}\n    {doc}")
    return 0


def _grounding(answer: Answer) -> str:
    """How far a generated answer rests on its citations, said plainly."""
    weak = [c for c in answer.claims if not c.supported]
    if answer.grounded:
        return "Every sentence is supported by the passage it cites."
    if not answer.citations:
        return "Not grounded: the answer cites no passage."
    return f"Not grounded: {len(weak)} of {len(answer.claims)} sentences are not supported by what they cite: " + \
        "; ".join(f"“{_shorten(c.text, 80)}”" for c in weak[:3])


def _source_line(title: str, date: Any, source: Any, page: Any, where: str, ocr: str = "") -> str:
    bits = [title or where, date, source, f"p. {page}" if page else None, ocr]
    line = " · ".join(str(b) for b in bits if b) + (f"  <{where}>" if where and where != title else "")
    return _printable(line)


def _shorten(text: str, n: int) -> str:
    text = " ".join(_printable(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Document text as the terminal gets it: control characters (escape sequences that could
    retitle, clear or rewrite the user's terminal) become U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


COMMANDS = {"ingest": cmd_ingest, "sync": cmd_ingest, "remove": cmd_remove, "ask": cmd_ask, "search": cmd_search,
            "chat": cmd_chat, "mcp": cmd_mcp, "status": cmd_status, "config": cmd_config, "move": cli_archive.cmd_move,
            "users": cli_users.cmd_users, "audit": cli_users.cmd_audit, "history": cli_history.cmd_history,
            "feedback": cli_feedback.cmd_feedback}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AssistantError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `assistant status --files | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
