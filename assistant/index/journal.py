"""What one Store object changed, so that the snapshot refresh after an ingestion reads those
chunks alone instead of listing the whole store (6.5 s at 1M chunks) to find them.

A refresh may trust it only where this process made every change since the snapshot's
generation: the generations it bumped form an unbroken chain (each bump found the generation the
previous one set), the snapshot's generation is in that chain, and the store's generation now is
the chain's last. Any other writer bumps the generation before it writes, which breaks the chain,
and the refresh falls back to listing (assistant/index/snapshot.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chain: list[str] = []  # generations, from the one found at the first bump
        self._changed: dict[str, bool] = {}  # chunk id -> in the store after the last change
        self._broken = False

    def bumped(self, found: str, new: str) -> None:
        """A bump that found generation `found` and set `new`."""
        with self._lock:
            if self._chain and found != self._chain[-1]:
                self._broken = True  # another writer bumped in between
            if not self._chain:
                self._chain = [found]
            self._chain.append(new)

    def wrote(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._changed.update(dict.fromkeys(ids, True))

    def deleted(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._changed.update(dict.fromkeys(ids, False))

    def since(self, generation: str, current: str) -> dict[str, bool] | None:
        """Every chunk changed since `generation`, and whether it is in the store now; None
        where changes by others cannot be ruled out."""
        with self._lock:
            if self._broken or generation not in self._chain or current != self._chain[-1]:
                return None
            return dict(self._changed)

    def restart(self, generation: str) -> None:
        """A snapshot of `generation` was made: changes are counted from it."""
        with self._lock:
            self._chain, self._changed, self._broken = [generation], {}, False
