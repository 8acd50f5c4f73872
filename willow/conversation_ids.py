"""Conversation ids decided by the server, one namespace per channel.

Rasa keys a conversation (tracker store, lock store, "delete my data", the retention purge) by
its sender id alone, and every channel lets the outside choose that id: a Telegram chat id or a
Slack user id is visible to anyone sharing a group or workspace with the person, and REST and
socket.io clients send whatever id they like. With the raw ids, a REST client sending
``{"sender": "777001"}`` wrote into the Telegram user 777001's conversation and could delete it.

Willow's channels therefore hand Rasa ``<channel>:<id in that channel>``:

==========  =================================================  ===============================
channel     conversation id                                    the id comes from
==========  =================================================  ===============================
REST        ``rest:<sender>``                                  the client (behind a token)
web page    ``web:<session>``                                  the server (``new_web_session``)
Telegram    ``telegram:<chat id>``                             Telegram's signed update
Slack       ``slack:<team id>:<user[_channel[_thread]]>``      Slack's signed event
==========  =================================================  ===============================

Whatever a client sends, its id is put after its own channel's prefix, so it can never equal
another channel's conversation id. Output channels get the namespaced id back as the
recipient and turn it into the channel's own id with ``local_id``.
"""
from __future__ import annotations

import re
import secrets
from typing import Optional, Text

REST = "rest"
WEB = "web"
TELEGRAM = "telegram"
SLACK = "slack"
CHANNELS = (REST, WEB, TELEGRAM, SLACK)
SEPARATOR = ":"

# The SQL tracker store's sender_id column is String(255).
MAX_CHARS = 255

# 128 random bits as 32 lowercase hex digits (what the server hands out); the server accepts
# nothing else from a web client, so a visitor can neither pick nor guess another's session.
WEB_SESSION_BYTES = 16
_WEB_SESSION = re.compile(r"[0-9a-f]{%d}" % (2 * WEB_SESSION_BYTES))


def conversation_id(channel: Text, *parts: Text) -> Text:
    """``conversation_id("telegram", "777001")`` -> ``"telegram:777001"``."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return SEPARATOR.join((channel, *parts))


def max_local_chars(channel: Text) -> int:
    """The longest id a client of ``channel`` may use, so the namespaced id fits the store."""
    return MAX_CHARS - len(channel) - len(SEPARATOR)


def channel_of(conversation: Text) -> Optional[Text]:
    """The channel a conversation id belongs to, or None (for example a `make shell` session)."""
    channel, separator, _ = conversation.partition(SEPARATOR)
    return channel if separator and channel in CHANNELS else None


def local_id(conversation: Text, channel: Text) -> Text:
    """The id inside ``channel``: ``local_id("telegram:777001", "telegram")`` -> ``"777001"``.

    Raises ValueError for another channel's id, so a reply can never leave by the wrong channel.
    """
    prefix = channel + SEPARATOR
    if not conversation.startswith(prefix):
        raise ValueError(f"not a {channel} conversation id")
    return conversation[len(prefix):]


def new_web_session() -> Text:
    return secrets.token_hex(WEB_SESSION_BYTES)


def is_web_session(value: object) -> bool:
    return isinstance(value, str) and _WEB_SESSION.fullmatch(value) is not None
