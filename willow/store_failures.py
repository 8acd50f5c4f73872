"""A tracker store that fails says so, instead of Rasa quietly forking the conversation.

Rasa 3.6 wraps every tracker store in ``FailSafeTrackerStore``. When the store fails (PostgreSQL
restarting, the SQLite disk full) it logs the error's text and carries on: a failed ``retrieve``
returns no tracker, so the message starts a new, empty conversation (the person's earlier turns,
slots and the safety check's state are gone for this turn), and a failed ``save`` keeps the
turn in the process's memory, where other instances never see it and a restart loses it. Its
log line quotes the database error, which can include the SQL parameters: what the person wrote.
Measured with PostgreSQL stopped under load (tests/test_faults.py): every message got a 200
answer from a blank conversation, and nothing of it reached PostgreSQL.

Here the wrapper raises instead, after logging only the error's type; Willow's channels answer
503 for store outages (``willow.outages``) so the client sends the same message again once the
store is back (``willow.idempotency``), and 500 for anything else. Applied once, when Rasa
imports Willow's channels.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from rasa.core.tracker_store import FailSafeTrackerStore

logger = logging.getLogger(__name__)

METHODS = ("retrieve", "retrieve_full_tracker", "save", "keys")


def _raising(name: str) -> Callable[..., Any]:
    async def method(self: FailSafeTrackerStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._tracker_store, name)(*args, **kwargs)
        except Exception as error:
            # The type only: the text of a database error can quote the conversation.
            logger.warning("The tracker store failed in %s (%s).", name, type(error).__name__)
            raise

    method.__name__ = name
    method._willow_raises = True  # type: ignore[attr-defined]
    return functools.wraps(getattr(FailSafeTrackerStore, name), assigned=("__doc__",))(method)


def apply() -> None:
    """Idempotent. Guarded: a Rasa whose wrapper changed shape fails loudly here."""
    for name in METHODS:
        current = getattr(FailSafeTrackerStore, name, None)
        if current is None:
            raise RuntimeError(f"FailSafeTrackerStore.{name} is gone: willow/store_failures.py needs updating")
        if not getattr(current, "_willow_raises", False):
            setattr(FailSafeTrackerStore, name, _raising(name))
