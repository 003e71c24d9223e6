"""One typed settings object: defaults that work with no file, then a TOML file, then the environment.

Precedence (last wins): field defaults < config file < ASSISTANT_* environment variables
< keyword arguments. Nothing is read at import time: call `Settings.load()`.
The config file is `$ASSISTANT_CONFIG`, else `./assistant.toml` if it exists.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError

# Settings whose default depends on the embedding model (assistant/index/models.py).
MODEL_THRESHOLDS = ("min_relevance", "support_threshold")


def default_store() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "report-assistant" / "store"


def cache_dir() -> Path:
    """The user cache of derived files (keyword indexes of server stores, the model's ONNX export)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "report-assistant"


def _doc(text: str, **kw: Any) -> Any:
    return field(metadata={"doc": text}, **kw)


@dataclass
class Settings:
    """Every field's description is its documentation (`assistant config` prints them)."""

    store: Path = _doc("Folder of the local Chroma store and its keyword index. "
                       "Env ASSISTANT_STORE.", default_factory=default_store)
    chroma_url: str | None = _doc("Use a Chroma server (`chroma run`) at this http://HOST:PORT "
                                  "instead of the local folder. Env ASSISTANT_CHROMA_URL.", default=None)
    collection: str = _doc("Chroma collection holding the chunks.", default="chunks")
    embed_model: str = _doc("Embedding model: all-MiniLM-L6-v2 (English), or multilingual-e5-small for "
                            "questions and documents in other languages (about 100; `pip install "
                            "'report-assistant[multilingual]'`; some 10x slower to ingest). A store is "
                            "searched only with the model that built it (assistant/index/models.py).",
                            default="all-MiniLM-L6-v2")
    device: str = _doc("auto | cpu | cuda | cuda:N | mps: where the embedding model runs. auto: a "
                       "CUDA GPU, else Apple's MPS, else the CPU. Env ASSISTANT_DEVICE.", default="auto")
    embed_dtype: str = _doc("auto | bfloat16 | float16 | float32. auto: on the CPU bfloat16 where it "
                            "has native bf16 instructions, else float32; on a GPU half precision "
                            "(bfloat16 where supported, else float16) when its vectors agree with "
                            "float32's (cosine 0.99 or more on probe texts), else float32.", default="auto")
    embed_runtime: str = _doc("auto | torch | onnx: what runs the model on the CPU. auto: ONNX Runtime "
                              "(float32) for commands that answer once and exit (`assistant ask`, "
                              "`search`), which then start in 0.2 s instead of 5 s, torch for the "
                              "chat, the servers and ingestion (bfloat16 where the CPU has it: 1.5x "
                              "faster a sentence). onnx needs the model's export, made by `make install` "
                              "or the first one-shot command (assistant/index/onnx_encoder.py). torch "
                              "or onnx: that engine for every search and answer (ingestion always "
                              "encodes in torch).",
                              default="auto")
    embed_batch_size: int = _doc("Chunks per encoder batch; 0: the device's own, 16 on the CPU "
                                 "(measured fastest on 2 cores), 256 on CUDA, 64 on MPS.", default=0)
    embed_process: str = _doc("auto | on | off: encode in separate processes during ingestion (on "
                              "the CPU one single-threaded model per core, at most 8; on a GPU one "
                              "process using it), so parsing and store writes never hold the GIL the "
                              "encoder needs. auto: when the files to ingest total 8 MB or more.",
                              default="auto")
    chunk_tokens: int = _doc("Target chunk size in tiktoken (cl100k_base) tokens; chunks are "
                             "also kept within the embedding model's word-piece limit.", default=200)
    chunk_overlap: int = _doc("Tokens shared by consecutive chunks of a document.", default=30)
    max_file_mb: float = _doc("Files larger than this are refused by ingestion.", default=32.0)
    max_inflated_mb: float = _doc("What one file may inflate to during ingestion: a Word file's zip "
                                  "members together (an archive compressed over 100 times, or whose "
                                  "XML holds over 10,000 tags per MB of this, is refused too), a "
                                  "PDF's extracted text. A Word file of text inflates 10 to 25 times.",
                                  default=200.0)
    max_pages: int = _doc("PDF pages per file; a PDF declaring more is refused before any is read "
                          "(financebench's longest report has 549).", default=5000)
    max_chunks: int = _doc("Chunks per file; a file making more is refused before they are embedded "
                           "(a 32 MB file of prose makes about 40,000; the whole news corpus, one "
                           "23 MB file, 27,699).", default=100_000)
    max_file_seconds: float = _doc("Seconds one file's parsing may take (checked between pages of a "
                                   "PDF and paragraphs of a Word file); financebench's PDFs take "
                                   "under 2 s each.", default=120.0)
    max_parse_mb: float = _doc("Memory (address space, MB) of the worker process that reads PDFs; a "
                               "PDF that needs more fails alone instead of taking the process down "
                               "(a 198 KB page bomb took PDFium past 5.6 GB).", default=2048.0)
    ocr_engine: str = _doc("tesseract | none: what reads scanned PDF pages (`make ocr` installs "
                           "Tesseract). none, or Tesseract missing: such pages are reported as needing "
                           "OCR, and read by the first ingestion that has it.", default="tesseract")
    ocr_languages: str = _doc("Languages of scanned pages, Tesseract's codes joined by '+': eng, fra "
                              "(French), spa (Spanish), ara (Arabic), khm (Khmer), e.g. eng+fra; each "
                              "needs Debian's tesseract-ocr-CODE.", default="eng")
    ocr_threads: int = _doc("Scanned pages read at once; 0: one per idle core (by the load average), "
                            "at most 4.", default=0)
    max_ocr_pages: int = _doc("Pages of one PDF read by OCR (about 3 s each on one core); a PDF with "
                              "more scanned pages is refused before any is read.", default=100)
    retrieval: str = _doc("hybrid | dense | bm25.", default="hybrid")
    dense_weight: float = _doc("hybrid: the dense list's weight in the fusion (0-1; the keyword "
                               "list's is the rest) when the best keyword match holds at least "
                               "`keyword_coverage` of the question's terms (weighted by rarity): "
                               "then the keywords are good evidence, and 0.2 keeps cambodia's gold "
                               "documents first (evals/results/dense-weight.md).", default=0.2)
    dense_weight_weak_keywords: float = _doc("hybrid: the dense weight when the best keyword match "
                                             "holds less than `keyword_coverage_weak` of the question's "
                                             "terms (long questions in other words than the archive's, "
                                             "tables of figures). Set it equal to `dense_weight` for "
                                             "one fixed weight.", default=0.8)
    keyword_coverage: float = _doc("hybrid: the share (0-1) of the question's terms, weighted by "
                                   "rarity, that the best keyword match must hold for `dense_weight` "
                                   "to apply.", default=0.75)
    keyword_coverage_weak: float = _doc("hybrid: below this share (0-1), `dense_weight_weak_keywords` "
                                        "applies; from it up to `keyword_coverage`, the mean of the two "
                                        "weights (staff questions' best matches hold 0.4-0.8 of their "
                                        "terms: evals/results/dense-weight.md). Equal to "
                                        "`keyword_coverage`: two weights only.", default=0.5)
    foreign_keywords: str = _doc("hybrid: keyword search for a question in another language than English "
                                 "(the keyword index's; French, Spanish, German, Portuguese, Italian are "
                                 "told apart by their function words): own (its language's stop words out, "
                                 "stemmed by its language), english (as if English, as before), off "
                                 "(dense search alone). English questions are not affected. Chosen on the "
                                 "cross-lingual dev questions (evals/results/crosslingual.md).",
                                 default="own")
    page_cap: int = _doc("Chunks of one page of a paged document (PDF) ranked before every other "
                         "page's best; the page's further chunks follow the others, in order, so "
                         "the passages cover more pages. Documents without pages are not affected. "
                         "0: off. 1 measured best on financebench dev (gold-page recall at 2,000 "
                         "tokens 0.500 -> 0.543; 2: 0.500); capping news articles, which have no "
                         "pages, lost news dev answers (0.516 -> 0.473).", default=1)
    top_k: int = _doc("Passages handed to the answerer (12, not 8: the passage holding a staff "
                      "question's answer is often a long report's 9th to 12th best; staff cambodia dev "
                      "answer correct 0.753 -> 0.778, 16 lost one).", default=12)
    sentence_cache_mb: float = _doc("Memory (MB) for the vectors of passages' sentences, remembered "
                                    "by their text so a sentence is embedded once while answering, "
                                    "not once an answer (about 2 KB a sentence). 0: off.", default=256)
    sentence_vectors: bool = _doc("Encode the passages' sentences at ingestion and save them beside the "
                                  "store, so answers look them up instead of encoding them (on the news "
                                  "archive, most of an answer's time). Costs ingestion time and disk "
                                  "(docs/scale.md); off: answers encode them as they go.", default=True)
    context_chunks: int = _doc("Neighbouring chunks (same document and page) added on each side of "
                               "a retrieved chunk, so a passage holds the text around the match.",
                               default=0)
    llm: str = _doc("Answer backend: extractive (quotes the passages, no LLM), local (the bundled "
                    "SmolLM2-135M run by llama.cpp), openai (any OpenAI-compatible server), ollama.",
                    default="extractive")
    llm_model: str | None = _doc("openai/ollama: the model name (openai default: the server's only "
                                 "model); local: a .gguf file (default: the bundled SmolLM2-135M-Instruct).",
                                 default=None)
    llm_url: str | None = _doc("openai: base URL (default $OPENAI_BASE_URL, else the OpenAI API); ollama: "
                               "default $OLLAMA_HOST, else http://127.0.0.1:11434. API keys come from "
                               "the environment only: ASSISTANT_LLM_API_KEY, else OPENAI_API_KEY.",
                               default=None)
    llm_context_window: int = _doc("Tokens the LLM reads at once, prompt and reply; passages are "
                                   "packed to fit (counted with tiktoken).", default=2048)
    llm_max_tokens: int = _doc("Longest generated answer, in tokens.", default=200)
    llm_passages: int = _doc("Most passages put in the LLM's prompt (the most relevant first).", default=3)
    llm_temperature: float = _doc("Sampling temperature (0: the same answer every time).", default=0.0)
    llm_grammar: str = _doc("auto | on | off: make the LLM end each sentence with a valid [n] "
                            "(a llama.cpp grammar; small models rarely cite otherwise). auto: on for "
                            "local and for llama.cpp servers.", default="auto")
    llm_timeout: float = _doc("Seconds to wait for an LLM server.", default=120.0)
    answer_sentences: int = _doc("Most sentences an extractive answer uses.", default=4)
    min_relevance: float = _doc("Below this sentence relevance (0-1) the answerer refuses, "
                                "with or without an LLM (no LLM call is made). Default: the embedding "
                                "model's own, chosen on dev: all-MiniLM-L6-v2 0.55 (news dev, "
                                "evals/results/answers-news-2023q4-dev-extractive.md), "
                                "multilingual-e5-small its own (evals/results/crosslingual.md).",
                                default=None)
    support_threshold: float = _doc("A generated sentence counts as supported by the passages it "
                                    "cites from this support score (0-1) up. Default: the embedding "
                                    "model's own (all-MiniLM-L6-v2 0.78, "
                                    "evals/results/support-calibration.md).", default=None)
    prompts_dir: Path | None = _doc("Folder of prompt files; default: the project's prompts/.",
                                    default=None)
    llm_choices: str = _doc("Answer backends the chat and the HTTP API offer besides `llm`, comma-"
                            "separated (e.g. \"extractive,ollama\"); those that cannot load are left out.",
                            default="")
    archive_dir: Path | None = _doc("Folder that documents uploaded in the chat are saved into, then "
                                    "ingested from; default: `archive` beside the store folder.", default=None)
    example_questions: Path | None = _doc("File of example questions the chat offers, one a line (`#` "
                                          "comments and blank lines ignored, at most 8); default: "
                                          "`example-questions.txt` in the store folder (none for a "
                                          "Chroma server).", default=None)
    ui_concurrency: int = _doc("Chat answers computed at once; more requests wait in a queue, so the "
                               "app stays responsive.", default=4)
    allowed_hosts: str = _doc("Host names the chat and the HTTP API answer to, comma-separated, "
                              "beside localhost, IP addresses and (when listening on every "
                              "address) this machine's own name; a request naming any other host "
                              "is refused, so a web page cannot reach the server through DNS "
                              "rebinding. Example: `archive.example.org`.", default="")
    state_url: str | None = _doc("Database of the app's own state (users, grants, sessions, conversations), "
                                 "as an SQLAlchemy URL: default SQLite `state.db` in the store folder; "
                                 "`postgresql://USER@HOST/DB` for several app servers sharing one Chroma "
                                 "server. Env ASSISTANT_STATE_URL.", default=None)
    audit_log: str | None = _doc("JSON-lines audit log of logins, questions, reads and changes: a file, "
                                 "or `-` for standard output; default `audit.jsonl` in the store folder.",
                                 default=None)
    audit_questions: bool = _doc("Write question texts into the audit log (questions can be sensitive).",
                                 default=False)
    trusted_user_header: str = _doc("Header naming the signed-in user, set by an identity-aware proxy "
                                    "(e.g. X-Forwarded-User); honoured only from `trusted_proxies`.", default="")
    trusted_proxies: str = _doc("Addresses or CIDR ranges of the proxies whose `trusted_user_header` is "
                                "believed, comma-separated (e.g. 127.0.0.1/32,10.0.0.0/8).", default="")
    auto_create_users: bool = _doc("Create a user named by `trusted_user_header` as a reader with no "
                                   "collections when it does not exist yet (else it is refused).", default=False)
    session_hours: float = _doc("Hours a chat login lasts.", default=12.0)
    save_conversations: bool = _doc("Keep each user's conversations (and feedback on answers) in the "
                                    "state database; off: nothing asked is kept.", default=True)
    history_days: int = _doc("Days a saved conversation is kept after its last turn (deleted when the "
                             "server starts, and daily while it runs); 0 keeps them.", default=0)

    def __post_init__(self) -> None:
        for f in fields(self):  # Settings(store="dir") works like Settings(store=Path("dir"))
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _coerce(f, value))
        # Thresholds not given are the embedding model's own (its cosines have a range of their own).
        from assistant.index.models import calibrated

        spec = calibrated(self.embed_model)
        unset = frozenset(n for n in MODEL_THRESHOLDS if getattr(self, n) is None)
        for name in unset:
            object.__setattr__(self, name, getattr(spec, name))
        object.__setattr__(self, "_from_model", unset)

    @classmethod
    def load(cls, config: str | Path | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        path = config or os.environ.get("ASSISTANT_CONFIG")
        if path is None and Path("assistant.toml").is_file():
            path = "assistant.toml"
        if path is not None:
            values.update(_read_toml(Path(path)))
        for f in fields(cls):
            env = os.environ.get(f"ASSISTANT_{f.name.upper()}")
            if env not in (None, ""):
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(unknown)}. "
                              f"Valid: {', '.join(known)}.")
        return cls(**{k: _coerce(known[k], v) for k, v in values.items()})

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None leaves a field as it is); values are coerced."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(unknown)}. Valid: {', '.join(known)}.")
        given = {k: _coerce(known[k], v) for k, v in changes.items() if v is not None}
        if given.get("embed_model", self.embed_model) != self.embed_model:
            # Thresholds that were the old model's own become the new model's own.
            given.update({n: None for n in getattr(self, "_from_model", ()) if n not in given})
        return dataclasses.replace(self, **given)

    def offered_llms(self) -> list[str]:
        """`llm` first, then the other backends named in `llm_choices`, without repeats."""
        names = [self.llm] + [n.strip() for n in self.llm_choices.split(",")]
        return list(dict.fromkeys(n for n in names if n))

    def archive_folder(self) -> Path:
        return self.archive_dir or self.store.parent / "archive"

    @classmethod
    def describe(cls) -> list[tuple[str, str, str]]:
        """(name, default, description) for each field."""
        d = cls()
        return [(f.name, str(getattr(d, f.name)), f.metadata.get("doc", "")) for f in fields(cls)]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"Config file {path} is not valid TOML: {e}") from None
    return data.get("assistant", data)


def _coerce(f: dataclasses.Field[Any], value: Any) -> Any:
    kind = str(f.type)
    try:
        if value is None:
            return None
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if "Path" in kind:
            return Path(value).expanduser()
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {f.name}={value!r} is not a valid {kind}.") from None
