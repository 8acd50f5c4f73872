"""A message delivered twice is handled once.

A client that did not get an answer cannot tell whether its message was lost on the way, or
handled and the answer lost (an instance killed after saving, a timeout, a dropped socket).
So Willow's clients send each message with an id of their own and, when in doubt, send it
again with the same id: the web page (``message_id`` in ``user_uttered``), REST clients
(``message_id`` in the body), Telegram (each update's ``update_id``) and Slack (the event id).

Rasa keeps a message's id in its ``UserUttered`` event (``message_id``, stored with the event
in the tracker store). Before a message is handled, this patch of
``MessageProcessor.handle_message`` looks for that id among the conversation's stored events;
if it is there, the message is not run again:

- REST and socket.io (``REPLAY``): the bot messages that answered it the first time are sent
  again to this client, in order, so the client gets its answer;
- Telegram and Slack (``SKIP``): nothing is sent; their answers went out through the
  platform's API during the first handling, so the person has them already.

The check runs inside Rasa's lock for the conversation (``Agent.handle_message`` takes it
before calling the processor), so with several instances sharing a Redis lock store two
deliveries of one message can never both run: the second waits for the first and then finds
its id saved. A handling that died before the end of its turn saved nothing (Rasa saves the
tracker once, at the end), so its retry is handled normally.

Only messages a Willow channel marked with ``mark()`` are checked (one extra read of the
tracker); Rasa's own random ids never repeat. Ids are looked up within one conversation, so a
client can only ever replay answers of its own conversation.
"""
from __future__ import annotations

import inspect
import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

REPLAY = "replay"
SKIP = "skip"
_ATTRIBUTE = "willow_on_duplicate"
# What a client may send as its message id: letters, digits and - _ . : (uuids, counters).
MAX_ID_CHARS = 100
VALID_ID = re.compile(r"[A-Za-z0-9_.:-]{1,%d}\Z" % MAX_ID_CHARS)


def valid_id(value: Any) -> bool:
    return isinstance(value, str) and VALID_ID.match(value) is not None


def mark(message: UserMessage, on_duplicate: Text) -> UserMessage:
    """Asks for the duplicate check for ``message`` (whose ``message_id`` the client chose)."""
    assert on_duplicate in (REPLAY, SKIP)
    setattr(message, _ATTRIBUTE, on_duplicate)
    return message


def answers_to(tracker: DialogueStateTracker, message_id: Text) -> Optional[List[BotUttered]]:
    """The bot messages that answered ``message_id``, or None if it was never handled."""
    replies: Optional[List[BotUttered]] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next message: the answer is complete
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            replies.append(event)
    return replies


_original_handle_message = MessageProcessor.handle_message


async def handle_message(self: MessageProcessor, message: UserMessage) -> Optional[List[Dict[Text, Any]]]:
    on_duplicate = getattr(message, _ATTRIBUTE, None)
    if on_duplicate and message.message_id:
        stored = await self.tracker_store.retrieve(message.sender_id)
        replies = answers_to(stored, message.message_id) if stored is not None else None
        if replies is not None:
            # The channel name and count only: never the id or the text.
            logger.info("A message delivered again was not handled twice (%s, %s).",
                        message.input_channel, "answer sent again" if on_duplicate == REPLAY else "skipped")
            if on_duplicate == REPLAY:
                for reply in replies:
                    await message.output_channel.send_response(message.sender_id, reply.message())
            messages = getattr(message.output_channel, "messages", None)
            return messages if isinstance(messages, list) else None
    return await _original_handle_message(self, message)


def apply() -> None:
    """Installs the check (idempotent). Guarded: a Rasa whose processor changed fails loudly."""
    if getattr(MessageProcessor.handle_message, "_willow_idempotent", False):
        return
    if "tracker_store" not in inspect.signature(MessageProcessor.__init__).parameters:
        raise RuntimeError("Rasa's MessageProcessor has no tracker_store: willow/idempotency.py needs updating")
    handle_message._willow_idempotent = True  # type: ignore[attr-defined]
    MessageProcessor.handle_message = handle_message  # type: ignore[assignment]
