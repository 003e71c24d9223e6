"""The read path: query checks and filters, retrieval, sentence relevance, the answerers and
their LLM backends, context packing, citations, refusals and claim checks. It reads the index
(`assistant.index`) and never imports `ingest` or `assistant.app`."""
