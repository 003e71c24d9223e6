"""What a shared conversation shows its viewer: every turn whose sources the viewer may read.

An answer that cites a collection the viewer may not read is withheld whole, not just the
citation: its words quote (extractive) or paraphrase (an LLM) the withheld passages, so the
citation alone cannot be taken out. A refusal's closest passages are shown only from
collections the viewer may read. The question is always shown: it is the owner's, not the
archive's."""

from __future__ import annotations

from dataclasses import dataclass, replace

from assistant.accounts import Conversation, Principal
from assistant.app.ui_render import Turn
from assistant.types import Answer, Citation

WITHHELD = "This answer cites a collection you may not read, so it is not shown."


@dataclass(frozen=True)
class SharedView:
    """A shared conversation as one viewer sees it."""

    title: str
    turns: list[Turn]
    withheld: int  # answers not shown to this viewer
    cited: list[str]  # the collections of what is shown (for the audit)


def _readable(c: Citation, viewer: Principal) -> bool:
    return viewer.can_read(c.collection or "main")


def for_viewer(conversation: Conversation, viewer: Principal) -> SharedView:
    turns: list[Turn] = []
    withheld = 0
    cited: set[str] = set()
    for saved in conversation.turns:
        answer = Answer.from_dict(saved.answer)
        if not all(_readable(c, viewer) for c in answer.citations):
            withheld += 1
            turns.append(Turn(saved.question, None, WITHHELD, saved.id))
            continue
        answer = replace(answer, related=[c for c in answer.related if _readable(c, viewer)])
        cited |= {c.collection or "main" for c in [*answer.citations, *answer.related]}
        turns.append(Turn(saved.question, answer, None, saved.id))
    return SharedView(conversation.info.title, turns, withheld, sorted(cited))
