"""The faces: the command line, the HTTP server and its guards, the JSON and OpenAI-compatible
API, the chat UI and its rendering, and uploads. The only package that may use both the read
path (`assistant.answering`) and the write path (`ingest`)."""
