"""The LLM's messages: the prompt files filled in, and the passages packed to the model's window.

Token counts use tiktoken's cl100k_base. A model's own tokenizer may split text into more
tokens than cl100k does, so counts are scaled by TOKENIZER_MARGIN (SmolLM2's tokenizer needs
1.1-1.2x cl100k's count on this project's corpora), and each chat message costs
MESSAGE_OVERHEAD more for its template. Passages go in rank order; the first that does not fit
ends the list, so a lower-ranked passage is never kept in place of a higher-ranked one. The
best passage is cut to fit rather than dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.answering import prompts
from assistant.answering.llms.base import Message
from assistant.errors import ConfigError
from assistant.index.language import detect, language
from assistant.index.tokens import count, encoding
from assistant.types import Passage

TOKENIZER_MARGIN = 1.25
MESSAGE_OVERHEAD = 8
MIN_PASSAGE_TOKENS = 48  # less room than this for the best passage: the window is too small


@dataclass
class Prompts:
    """The prompt files, read once."""

    system: str
    answer: str
    example: str  # a worked example: the user's turn, a line "===", the cited answer
    condense: str
    refusal: str
    language: str = ""  # said after a question not in English: answer in its language ({language})

    @classmethod
    def load(cls, folder: Path | None = None) -> Prompts:
        p = cls(*(prompts.load(name, folder) for name in ("system", "answer", "example", "condense", "refusal")))
        try:  # newer than the other files: a prompts_dir made before it falls back to the project's
            p.language = prompts.load("language", folder)
        except ConfigError:
            p.language = prompts.load("language") if folder is not None else ""
        if len(p.example_turns()) != 2:
            raise ConfigError("prompts/example.txt must hold the example question, a line ===, then its answer.")
        return p

    def example_turns(self) -> list[str]:
        return [part.strip() for part in re.split(r"^===\s*$", self.example, flags=re.M)]


@dataclass
class Packed:
    messages: list[Message]
    passages: list[Passage]  # in the prompt, numbered from 1 in this order
    dropped: int = 0  # passages left out for lack of room
    tokens: int = 0  # the prompt's size, as counted (cl100k, before the margin)
    cut: bool = False  # the best passage was cut to fit


def fill(template: str, **values: str) -> str:
    """Placeholders replaced one by one (not str.format: passages may contain braces)."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def answer_language(question: str, p: Prompts) -> str:
    """For a question in another language than English: a line asking for the answer in its
    language (prompts/language.txt); "" for English (its prompt stays as it was)."""
    lang = language(detect(question))
    if lang is None or lang.code == "en" or not p.language:
        return ""
    return "\n" + fill(p.language, language=lang.name)


def passage_block(n: int, p: Passage, text: str | None = None) -> str:
    head = f"[{n}] {p.title or Path(p.path).name}" + (f" ({p.date})" if p.date else "")
    return f"{head}\n{(text if text is not None else p.text).strip()}"


def answer_messages(question: str, passages: list[Passage], p: Prompts, context_window: int,
                    max_tokens: int) -> Packed:
    """system rules; the worked example as a user turn and its answer; then the passages and question.
    (An example given as an earlier turn is copied less by small models than one inline.)"""
    example_q, example_a = p.example_turns()
    head: list[Message] = [{"role": "system", "content": fill(p.system, refusal=p.refusal)},
                           {"role": "user", "content": example_q}, {"role": "assistant", "content": example_a}]
    shell = fill(p.answer, question=question, passages="") + answer_language(question, p)
    fixed = sum(count(m["content"]) for m in head) + count(shell) + (len(head) + 1) * MESSAGE_OVERHEAD
    budget = int((context_window - max_tokens) / TOKENIZER_MARGIN) - fixed
    if budget < MIN_PASSAGE_TOKENS:
        raise ConfigError(f"llm_context_window={context_window} leaves no room for passages after the "
                          f"prompt and llm_max_tokens={max_tokens}; raise it or shorten the question.")
    blocks: list[str] = []
    cut = False
    for n, passage in enumerate(passages, 1):
        block = passage_block(n, passage)
        cost = count(block) + 2  # the blank line between blocks
        if cost > budget:
            if not blocks:  # the best passage is cut, never dropped
                ids = encoding().encode_ordinary(passage.text)
                room = budget - count(passage_block(n, passage, "")) - 2
                block, cut = passage_block(n, passage, encoding().decode(ids[:room]) + " …"), True
                blocks.append(block)
            break
        blocks.append(block)
        budget -= cost
    user = fill(p.answer, question=question, passages="\n\n".join(blocks)) + answer_language(question, p)
    messages = [*head, {"role": "user", "content": user}]
    return Packed(messages, passages[: len(blocks)], len(passages) - len(blocks),
                  sum(count(m["content"]) for m in messages), cut)


def condense_messages(question: str, turns: list[tuple[str, str]], p: Prompts, keep: int = 3) -> list[Message]:
    """The follow-up rewrite prompt, with the last `keep` exchanges (answers shortened)."""
    lines = []
    for user, reply in turns[-keep:]:
        lines.append(f"User: {user}")
        if reply:
            lines.append(f"Assistant: {_short(reply, 300)}")
    return [{"role": "user", "content": fill(p.condense, history="\n".join(lines), question=question)}]


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
