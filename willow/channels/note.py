"""The note for the next session (actions/session_note.py) on every channel.

``action_write_note`` sends the note as one bot message with its text and a custom payload
``{"willow_note": {"text": ..., "filename": ...}}``. Rasa would send those as two messages
(the text, split at blank lines, and then the custom JSON, which Rasa's Telegram and Slack
outputs cannot send at all). Here the note is one message on every channel:

- web chat (socket.io): one ``bot_uttered`` event with ``text`` and ``willow_note``; the page
  shows the note with "Copy" and "Download as text" buttons (web/willow-chat.js);
- Telegram and Slack: the note's plain text as one message, nothing else;
- REST and the terminal: Rasa's default (the text, then the custom payload).

Nothing here logs the note.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

KEY = "willow_note"


def note_of(message: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
    """The note payload of an outgoing bot message, or None if it is not the note."""
    custom = message.get("custom")
    note = custom.get(KEY) if isinstance(custom, dict) else None
    return note if isinstance(note, dict) and isinstance(note.get("text"), str) else None


class NoteAsOneMessage:
    """Mixin for an output channel (before the channel's class in the bases): the note goes out
    through ``send_note`` as one message; every other message as the channel sends it."""

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        note = note_of(message)
        if note is None:
            await super().send_response(recipient_id, message)  # type: ignore[misc]
        else:
            await self.send_note(recipient_id, note)

    async def send_note(self, recipient_id: Text, note: Dict[Text, Any]) -> None:
        raise NotImplementedError
