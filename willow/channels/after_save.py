"""Replies leave only once their turn is saved.

Rasa sends each bot message to the channel as soon as it is produced and saves the turn at the
end. If the save fails (PostgreSQL went down mid-turn), the person has read an answer that the
store never kept: the client is told 503 and sends the message again, which is handled again
and answered a second time. Measured in tests/test_faults.py: with PostgreSQL stopped under
load, socket.io users got answers to messages that were then missing from the store.

So the push channels (socket.io, Telegram, Slack) hand Rasa a ``HeldReplies`` around their real
output channel: it keeps the turn's messages and sends them, in order, after the turn was
handled and saved (``send_held``). A turn that fails sends nothing; its retry is answered once.
REST needs none of this: its answer is the HTTP response, which is only written at the end.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa.core.channels.channel import OutputChannel


class HeldReplies(OutputChannel):
    def __init__(self, output: OutputChannel) -> None:
        self.output = output
        self.held: List[Tuple[Text, Dict[Text, Any]]] = []

    def name(self) -> Text:  # responses are chosen per channel ("telegram", "socketio", ...)
        return self.output.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        self.held.append((recipient_id, message))

    async def send_held(self) -> None:
        """Sends what the turn said, once."""
        held, self.held = self.held, []
        for recipient_id, message in held:
            await self.output.send_response(recipient_id, message)
