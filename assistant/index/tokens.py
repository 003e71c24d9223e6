"""tiktoken's cl100k_base, loaded offline from the copy that llama-index-core ships."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError


@lru_cache(maxsize=1)
def encoding() -> Any:
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        # Found without importing llama-index, which takes seconds.
        spec = importlib.util.find_spec("llama_index.core")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("tiktoken's files come with llama-index-core: `pip install llama-index-core`.")
        cache = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
        os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count(text: str) -> int:
    return len(encoding().encode_ordinary(text))

