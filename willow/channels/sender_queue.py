"""Each conversation's messages are handled one at a time, in arrival order, with no idle wait.

Rasa serialises the messages of one conversation with its lock store, but a message that
finds the lock taken polls it once a second (``LockStore.lock(wait_time_in_seconds=1)`` in
Rasa 3.6.21). Two messages from one sender arriving together therefore cost the second up
to a second, and a burst of 40 messages that call the action server took 37 s instead of
about 3 s (measured on this 2-core machine). In a long queue, tickets can also outlive
their 60 s lifetime (``TICKET_LOCK_LIFETIME``).

Willow's channels (REST, socket.io) first queue each sender's messages here, on an
``asyncio.Lock`` (first come, first served), so Rasa's lock is free whenever a message
reaches it. Rasa's lock store still guards conversations across processes (several Rasa
instances sharing a Redis lock store); this queue only removes the polling inside one.

At most ``max_pending`` messages of one sender wait or run at a time: more raise ``Busy``
(the REST channel answers 429), so one sender cannot pile up unbounded work.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Dict, List, Text

DEFAULT_MAX_PENDING = 100


class Busy(Exception):
    """This sender already has ``max_pending`` messages waiting or running."""


class SenderQueues:
    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self.max_pending = max_pending
        # sender -> [lock, number of messages holding or waiting for it]
        self._queues: Dict[Text, List] = {}

    def pending(self, sender_id: Text) -> int:
        entry = self._queues.get(sender_id)
        return entry[1] if entry else 0

    def full(self, sender_id: Text) -> bool:
        return self.pending(sender_id) >= self.max_pending

    def __len__(self) -> int:
        """How many senders have a message waiting or running."""
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def turn(self, sender_id: Text) -> AsyncIterator[None]:
        """Waits until the sender's earlier messages are done; raises ``Busy`` if its queue is full."""
        entry = self._queues.get(sender_id)
        if entry is None:
            entry = self._queues[sender_id] = [asyncio.Lock(), 0]
        elif entry[1] >= self.max_pending:
            raise Busy(sender_id)
        entry[1] += 1  # no await between the check and here: nothing else runs in between
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self._queues.get(sender_id) is entry:
                del self._queues[sender_id]


# One queue per process, shared by the channels: the same sender id is the same conversation.
queues = SenderQueues()
