"""The Gradio chat, served for real on 127.0.0.1 and called over HTTP through gradio_client."""

from pathlib import Path

import pytest

from assistant import Assistant
from assistant.types import Answer, Citation
from assistant.ui import build, sources_html


def test_sources_are_escaped_never_rendered() -> None:
    c = Citation(n=1, doc_id="d", path="/a.html", title="<script>alert(1)</script>",
                 text='<img src=x onerror="alert(2)">', url="javascript:alert(3)")
    out = sources_html(Answer(question="q", text="t [1]", citations=[c]))
    assert "<script>" not in out and "<img" not in out and "javascript:" not in out
    assert "&lt;script&gt;" in out


@pytest.fixture(scope="module")
def served(sample_store: Path):
    app = build(Assistant(store=sample_store))
    app.queue().launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    yield app
    app.close()


def test_the_chat_answers_with_its_sources(served) -> None:
    import httpx
    from gradio_client import Client

    url = served.local_url
    assert httpx.get(url, timeout=30).status_code == 200
    client = Client(url, verbose=False)
    api = next(name for name in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
               if "respond" in name)
    history, sources, box = client.predict("When did the UN Special Rapporteur visit Sennport?", [],
                                           api_name=api)
    assert box == ""
    assert history[-1]["role"] == "assistant" and "7 March 2022" in str(history[-1]["content"])
    assert "[1]" in sources and "Special Rapporteur" in sources
