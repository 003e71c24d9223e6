"""The index both paths share: the Chroma store and its manifest, integrity checks and repair, the write
lock, the keyword and filter snapshot, embedding, keyword terms, token counts, dates and
sentences. It imports nothing from `assistant.answering`, `assistant.app` or `ingest`."""
