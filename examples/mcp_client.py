"""A Model Context Protocol client session with the archive, printed as a transcript (docs/mcp.md
shows its output): it lists the tools and calls ask_archive, as a desktop client's model would.

    python examples/mcp_client.py --store .store/sample                  # starts `assistant mcp` (stdio)
    python examples/mcp_client.py --url http://127.0.0.1:7860/mcp --key KEY   # a chat server's /mcp

Uses the `mcp` SDK's own client; nothing here is specific to this project but the tool names.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

QUESTION = "Why did Marvala reject the 2023 OHCHR report?"


@asynccontextmanager
async def connect(args: argparse.Namespace) -> AsyncIterator[ClientSession]:
    if args.url:
        import httpx2

        headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
        async with httpx2.AsyncClient(headers=headers, timeout=300) as client, \
                streamable_http_client(args.url, http_client=client) as (read, write), \
                ClientSession(read, write) as session:
            yield session
        return
    command = [sys.executable, "-m", "assistant", "mcp"] + (["--store", args.store] if args.store else [])
    print(f"$ {' '.join(['assistant', *command[3:]])}   (started by the client; it speaks MCP on stdin/stdout)\n")
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        yield session


def wrap(text: str, indent: str = "    ") -> str:
    return "\n".join(textwrap.fill(line, 100, initial_indent=indent, subsequent_indent=indent) or indent
                     for line in text.splitlines())


async def main(args: argparse.Namespace) -> None:
    async with connect(args) as session:
        init = await session.initialize()
        print(f"-> initialize\n<- server {init.server_info.name!r} ({init.server_info.title}), "
              f"protocol {init.protocol_version}\n{wrap(init.instructions or '')}\n")
        print("-> tools/list")
        for tool in (await session.list_tools()).tools:
            schema = tool.input_schema.get("properties", {})
            required = set(tool.input_schema.get("required", []))
            params = ", ".join(name + ("" if name in required else "?") for name in schema)
            print(f"<- {tool.name}({params})\n{wrap(tool.description or '')}")
        call: dict[str, Any] = {"question": args.question}
        print(f"\n-> tools/call ask_archive {json.dumps(call, ensure_ascii=False)}")
        result = await session.call_tool("ask_archive", call)
        if result.is_error:
            print("<- error: " + " ".join(getattr(c, "text", "") for c in result.content))
            return
        reply = result.structured_content or {}
        print(f"<- refused: {str(reply['refused']).lower()}, grounded: {str(reply['grounded']).lower()}, "
              f"{len(reply['citations'])} citation(s)\n{wrap(reply['answer'])}")
        for c in reply["citations"]:
            where = " · ".join(str(x) for x in (c["date"], c["source"], f"p. {c['page']}" if c["page"] else None) if x)
            print(f"\n    [{c['n']}] {c['title']} · {where}\n        {c['url'] or c['path']}")
            for sentence in c["supporting"][:2]:
                print(wrap(f"“{sentence}”", "        "))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", help="the store `assistant mcp` serves (stdio)")
    p.add_argument("--url", help="a chat server's MCP endpoint, e.g. http://127.0.0.1:7860/mcp")
    p.add_argument("--key", help="your API key for --url (`assistant users key NAME`)")
    p.add_argument("--question", default=QUESTION)
    anyio.run(main, p.parse_args())
