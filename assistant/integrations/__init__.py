"""Other programs' ways in, on top of the service layer; each module is imported only by those who
use it. The Model Context Protocol (`assistant mcp` over stdio, and /mcp on the chat server): only
`mcp_server` imports the `mcp` SDK, and the tools (`mcp_tools`) call the same service layer as the
JSON API, on an `Assistant` already limited to the caller's collections. LlamaIndex: `llama_index`
(a retriever and a query engine over the archive, with our citations)."""
