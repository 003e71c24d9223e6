"""Other programs' ways in: the Model Context Protocol (`assistant mcp` over stdio, and /mcp on the
chat server). Only `mcp_server` imports the `mcp` SDK; the tools themselves (`mcp_tools`) call the
same service layer as the JSON API, on an `Assistant` already limited to the caller's collections."""
