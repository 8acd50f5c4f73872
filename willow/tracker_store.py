"""Tracker stores that really delete a conversation when the user asks Willow to forget it.

Rasa 3.6 has no API to delete a tracker, and the action server never sees the tracker
store, so the deletion happens where the data lives: in the tracker store itself.

The flow (data/rules/privacy.yml): ``forget_me`` -> ``utter_ask_forget_confirm`` ->
``affirm`` -> ``utter_conversation_deleted``. Rasa sends that confirmation to the channel
while it runs the action and saves the tracker only at the end of the turn. When a tracker
is saved whose latest turn (the events after the newest user message) executed
``utter_conversation_deleted``, these stores delete every stored event of that sender,
from every session, instead of saving. The confirmation has reached the user by then; the
next message from the same sender starts a new, empty conversation.

The trigger is a domain response, not a custom action, so forgetting works even when the
action server is down.

Configure in endpoints.yml (Rasa loads a tracker store by module path; the class gets
``host`` from ``url`` and every other key as a keyword argument, like ``type: sql``)::

    tracker_store:
      type: willow.tracker_store.ForgetfulSQLTrackerStore
      dialect: sqlite          # or postgresql, with url/port/username/password
      db: data/willow.db

or ``type: willow.tracker_store.ForgetfulInMemoryTrackerStore`` for a memory-only store.
A plain ``type: sql`` (or no tracker store at all) keeps forgotten conversations.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Text

from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# The response that tells the user their conversation is deleted (domain/privacy.yml).
# Executing it is what makes the store delete the conversation.
FORGET_ACTION = "utter_conversation_deleted"


def asked_to_forget(tracker: DialogueStateTracker) -> bool:
    """Whether the latest turn confirmed the deletion (ran ``FORGET_ACTION``)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


class ForgetsOnRequest:
    """Mixin for a tracker store: a confirmed "delete my data" deletes instead of saving."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_forget(tracker):
            await self.delete(tracker.sender_id)
        else:
            await super().save(tracker)  # type: ignore[misc]

    async def delete(self, sender_id: Text) -> int:
        raise NotImplementedError


class ForgetfulSQLTrackerStore(ForgetsOnRequest, SQLTrackerStore):
    """Rasa's SQL tracker store (SQLite, PostgreSQL...) that deletes forgotten conversations."""

    async def delete(self, sender_id: Text) -> int:
        """Deletes every stored event of ``sender_id``; returns how many there were."""
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        # Neither the sender id nor any text: only that it happened.
        logger.info("Deleted a conversation at the user's request (%d events).", deleted)
        return deleted


class ForgetfulInMemoryTrackerStore(ForgetsOnRequest, InMemoryTrackerStore):
    """Rasa's in-memory tracker store that deletes forgotten conversations."""

    def __init__(self, domain: Any = None, event_broker: Optional[Any] = None, **kwargs: Any) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url, which memory has no use for
        super().__init__(domain, event_broker, **kwargs)

    async def delete(self, sender_id: Text) -> int:
        """Forgets ``sender_id``'s conversation; returns 1 if there was one, else 0."""
        deleted = 1 if self.store.pop(sender_id, None) is not None else 0
        logger.info("Deleted a conversation at the user's request.")
        return deleted
