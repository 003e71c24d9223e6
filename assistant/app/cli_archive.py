"""The `assistant` command's archive collections: `move`, the `--collection` option of ingest,
sync and remove, and the collections `status` lists."""

from __future__ import annotations

import argparse
from typing import Any

from assistant.settings import Settings
from assistant.types import CollectionStatus

COLLECTION_HELP = ("archive collection (a named group of files that permissions are granted on): "
                   "letters, digits, '-', '_' and '.'")


def add_collection_option(p: argparse.ArgumentParser, command: str) -> None:
    """--collection for ingest, sync and remove."""
    helps = {"ingest": "put the files in this collection, moving those stored in another (default: each "
                       "file stays in its own; new files go to main)",
             "sync": "put the files in this collection (as ingest), and remove only this collection's files "
                     "that are gone from disk",
             "remove": "remove only the files of this collection"}
    p.add_argument("--collection", metavar="NAME", help=f"{helps[command]}. {COLLECTION_HELP}")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    text = "put stored files (or every stored file under a folder) in another archive collection"
    p = sub.add_parser("move", parents=[common], help=text, description=text + ", without reading or "
                       "embedding them again.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="as ingested; `assistant status --files` lists them")
    p.add_argument("--collection", metavar="NAME", required=True, help=f"the target. {COLLECTION_HELP}")
    p.add_argument("--wait", action="store_true", help="if another process is writing the store, wait for it")


def cmd_move(args: argparse.Namespace) -> int:
    from ingest import move

    settings = Settings.load(args.config, store=args.store, chroma_url=args.chroma_url)
    report = move(args.paths, args.collection, settings, wait=args.wait)
    print(report.summary())
    return 0 if report.ok else 1


def collection_lines(collections: list[CollectionStatus]) -> list[str]:
    """The collections as `assistant status` prints them."""
    if not collections:
        return []
    width = max(len(c.name) for c in collections)
    return ["Collections:"] + [f"  {c.name:<{width}}  {c.files} files, {c.documents} documents, {c.chunks} chunks"
                               for c in collections]
