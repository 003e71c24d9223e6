"""Where a store's derived local files live (its keyword snapshot, its write lock): beside a
local store, or in the user cache for a Chroma server. Apart from store.py, so that the lock
and the snapshot can name the place without importing the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from assistant.settings import Settings, cache_dir


def local_cache_dir(settings: Settings) -> Path:
    """Beside the store, or per server URL and collection."""
    if not settings.chroma_url:
        return settings.store
    tag = hashlib.sha1(f"{settings.chroma_url}/{settings.collection}".encode()).hexdigest()[:16]
    return cache_dir() / tag
