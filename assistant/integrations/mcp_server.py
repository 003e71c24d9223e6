"""The archive over the Model Context Protocol, with the `mcp` SDK: over stdio for a desktop client
(`assistant mcp`, the local user, like the CLI) and over streamable HTTP at the chat server's /mcp
(each request's caller resolved by the server's Guard, as for /api). The only module that imports
`mcp`; the tools' work is in `mcp_tools`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

from assistant.errors import AssistantError
from assistant.integrations import mcp_tools as tools
from assistant.integrations.mcp_tools import Caller
from assistant.service import Assistant

NAME = "report-archive"
INSTRUCTIONS = ("A report and news archive. ask_archive answers from it with numbered citations and says so when "
                "the archive does not hold the answer; search_archive finds passages; read_document reads more of "
                "a cited document; archive_status says what you may read. Quote the citations you rely on.")
Callers = Callable[[Any], Caller]  # the transport's request (None over stdio) -> who calls
_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                             open_world_hint=False)


def build(callers: Callers) -> MCPServer:
    """The MCP server with the archive's tools; `callers` says who each call comes from."""
    server: MCPServer = MCPServer(NAME, title="Report archive assistant", instructions=INSTRUCTIONS,
                                  log_level="WARNING")

    def caller(ctx: Context) -> Caller:
        return callers(ctx.request_context.request)

    @server.tool(description=tools.SEARCH, annotations=_READ_ONLY)
    def search_archive(ctx: Context, query: tools.Query, k: tools.K = 10, since: tools.Since = None,
                       until: tools.Until = None, source: tools.Source = None,
                       collection: tools.Collection = None) -> tools.SearchResults:
        with _as_tool_errors():
            return tools.search_archive(caller(ctx), query, k, since, until, source, collection)

    @server.tool(description=tools.ASK, annotations=_READ_ONLY)
    def ask_archive(ctx: Context, question: tools.Question, history: tools.History = None,
                    since: tools.Since = None, until: tools.Until = None, source: tools.Source = None,
                    collection: tools.Collection = None) -> tools.Reply:
        with _as_tool_errors():
            return tools.ask_archive(caller(ctx), question, history, since, until, source, collection)

    @server.tool(description=tools.READ, annotations=_READ_ONLY)
    def read_document(ctx: Context, path: tools.Path, page: tools.Page = None, around: tools.Around = None,
                      chars: tools.Chars = 6000) -> tools.DocumentText:
        with _as_tool_errors():
            return tools.read_document(caller(ctx), path, page, around, chars)

    @server.tool(description=tools.STATUS, annotations=_READ_ONLY)
    def archive_status(ctx: Context) -> tools.Status:
        with _as_tool_errors():
            return tools.archive_status(caller(ctx))

    return server


@contextmanager
def _as_tool_errors() -> Iterator[None]:
    """What a caller can cause (a bad date, a collection they may not read, a path not in the
    archive) becomes a tool error with its message: an isError result the model reads."""
    try:
        yield
    except AssistantError as e:
        raise ToolError(str(e)) from e


def serve_stdio(assistant: Assistant) -> None:
    """Serve over stdin and stdout until the client closes them (`assistant mcp`)."""
    server = build(lambda _request: Caller(assistant))
    anyio.run(server.run_stdio_async)


class HttpMount:
    """/mcp on the chat server: streamable HTTP, stateless (every POST is authenticated on its
    own by the server's Guard, and no session outlives it) with JSON replies. The Guard checks
    Host and Origin for every route, so the SDK's own check is off. Run `lifespan` in the app's."""

    def __init__(self, callers: Callers) -> None:
        server = build(callers)
        server.streamable_http_app(stateless_http=True, json_response=True,
                                   transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self.manager = server.session_manager
        self.app = StreamableHTTPASGIApp(self.manager)

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        async with self.manager.run():
            yield
