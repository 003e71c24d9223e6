"""Serve a GGUF model (default: the bundled SmolLM2-135M) over llama.cpp's OpenAI-compatible HTTP
API on 127.0.0.1, for the `openai` backend and its tests:

    python -m assistant.answering.llms.server --port 8080
    assistant ask "..." --llm openai --llm-url http://127.0.0.1:8080/v1
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from assistant.answering.llms.local import load_server, model_path
from assistant.errors import AssistantError
from assistant.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m assistant.answering.llms.server", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a .gguf file (default: the bundled SmolLM2-135M-Instruct)")
    p.add_argument("--port", type=int, default=8080, help="0: any free port (printed)")
    p.add_argument("--ctx", type=int, default=4096, help="context window in tokens")
    args = p.parse_args(argv)
    try:
        path = model_path(Settings(llm="local", llm_model=args.model))
        server = load_server(str(path), args.ctx, args.port)
    except AssistantError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    print(f"Serving {path.name} at {server.listening_address}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
