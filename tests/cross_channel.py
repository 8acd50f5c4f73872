"""Issue 13's attack, for any two channels: a person talks to Willow on one channel, and a
stranger on another channel claims that person's id (a Telegram chat id or Slack user id can be
seen by anyone sharing a group; a web session id could be copied), writes to Willow, and asks
for "their" data to be deleted. Used by tests/test_conversation_ids.py (SQLite, the session's
servers) and tests/test_persistence.py (PostgreSQL, the scale-out pair)."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from tests import channel_clients
from tests.socketio_chat import Chat
from tests.willow.channels.fake_slack import FakeSlack
from tests.willow.channels.fake_telegram import FakeTelegram
from willow import conversation_ids, local_servers

CHANNELS = ("rest", "web", "telegram", "slack")
PAIRS = [(person, stranger) for person in CHANNELS for stranger in CHANNELS if person != stranger]
PERSON_SAYS = "I cried in therapy today"
STRANGER_SAYS = ["hello", "delete my data", "yes"]
# input_channel of the user events each channel writes
INPUT_CHANNEL = {"rest": "rest", "web": "socketio", "telegram": "telegram", "slack": "slack"}

# (type_name, input_channel or None, text or None) of each stored event, oldest first
Events = List[Tuple[str, str, str]]


@dataclass
class Channels:
    """Speaks on every channel of one Rasa server, waiting for each reply."""

    servers: local_servers.Servers
    telegram: FakeTelegram
    slack: FakeSlack
    origin: str = "http://127.0.0.1:8080"  # an allowed page origin (credentials.yml's default)
    chats: Dict[str, Chat] = field(default_factory=dict)
    dms: Dict[str, str] = field(default_factory=dict)  # Slack user -> their DM channel

    def speak(self, channel: str, raw_id: str, text: str) -> str:
        """Sends ``text`` as ``raw_id`` on ``channel``; returns the conversation id it went to."""
        if channel == "rest":
            assert self.servers.say(raw_id, text), f"no REST reply to {text!r}"
            return conversation_ids.conversation_id("rest", raw_id)
        if channel == "web":
            chat = self.chats.get(raw_id)
            if chat is None:  # a page whose sessionStorage holds raw_id
                chat = self.chats[raw_id] = Chat(self.servers.url, raw_id, self.origin)
            assert chat.say(text, quiet=0.5), f"no socket.io reply to {text!r}"
            return chat.conversation_id
        if channel == "telegram":
            before = len(self.telegram.sent_to(raw_id))
            assert channel_clients.post_telegram(self.servers, channel_clients.text_update(raw_id, text)).ok
            assert self.telegram.wait_for(lambda: len(self.telegram.sent_to(raw_id)) > before, timeout=30)
            return conversation_ids.conversation_id("telegram", raw_id)
        if channel == "slack":
            dm = self.dms.setdefault(raw_id, channel_clients.new_id("D"))
            before = len(self.slack.posts(dm))
            assert channel_clients.post_slack(self.servers, channel_clients.message_event(raw_id, dm, text)).ok
            assert self.slack.wait_for(lambda fake: len(fake.posts(dm)) > before)
            return conversation_ids.conversation_id("slack", channel_clients.TEAM, raw_id)
        raise ValueError(channel)

    def close(self) -> None:
        for chat in self.chats.values():
            chat.close()


def person_id(channel: str) -> str:
    """A fresh id as the person's channel would have it (a stranger then claims the same one)."""
    if channel == "web":
        return secrets.token_hex(16)  # a session id the page holds (the server keeps well-formed ones)
    if channel == "slack":
        return channel_clients.new_id("U")
    return str(channel_clients.new_chat())  # a Telegram chat id; any string for REST


def settled(read: Callable[[], Events], quiet: float = 0.5, timeout: float = 20) -> Events:
    """What the store holds once it stops changing (Slack and Telegram replies are saved after
    they are sent)."""
    deadline, last = time.monotonic() + timeout, read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = read()
        if now == last:
            return now
        last = now
    return last


@dataclass
class Outcome:
    person: str
    stranger: str
    person_before: Events
    person_after: Events
    stranger_conversation: str
    stranger_after: Events
    person_conversation: str

    def user_channels(self, events: Events) -> List[str]:
        return [channel for kind, channel, _ in events if kind == "user"]


def attack(channels: Channels, person: str, stranger: str, stored: Callable[[str], Events],
           stranger_channels: Optional[Channels] = None) -> Outcome:
    """The person speaks on ``person``; a stranger on ``stranger`` claims the person's id, writes,
    and deletes "their" data (through ``stranger_channels``, another instance, if given).
    Returns what the store held before and after, for both."""
    raw = person_id(person)
    mine = channels.speak(person, raw, PERSON_SAYS)
    before = settled(lambda: stored(mine))
    theirs = ""
    for text in STRANGER_SAYS:
        theirs = (stranger_channels or channels).speak(stranger, raw, text)
    return Outcome(person, stranger, before, settled(lambda: stored(mine)), theirs,
                   settled(lambda: stored(theirs)), mine)


def events_from_rows(rows: Sequence[Tuple[str, str]]) -> Events:
    """(type_name, data) rows of Rasa's events table -> Events."""
    out = []
    for type_name, data in rows:
        event = json.loads(data)
        out.append((type_name, event.get("input_channel"), event.get("text")))
    return out


def check(outcome: Outcome) -> None:
    """The stranger never joined the person's conversation and deleted only their own."""
    label = f"{outcome.stranger} claiming a {outcome.person} id"
    assert outcome.stranger_conversation != outcome.person_conversation, label
    person_texts = [text for kind, _, text in outcome.person_before if kind == "user"]
    assert person_texts == [PERSON_SAYS], label
    assert outcome.user_channels(outcome.person_before) == [INPUT_CHANNEL[outcome.person]], label
    # Nothing added to the person's conversation, nothing taken from it.
    assert outcome.person_after == outcome.person_before, label
    # The stranger's "delete my data" emptied the stranger's own conversation.
    assert outcome.stranger_after == [], (label, outcome.stranger_after)


def table(outcomes: Sequence[Outcome]) -> str:
    """Markdown: per pair, the person's events before/after and user turns per channel."""
    lines = ["| person on | stranger on | person's events before | after | user turns in it, by channel "
             "| stranger's events after deleting |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        by_channel: Dict[str, int] = {}
        for channel in o.user_channels(o.person_after):
            by_channel[channel] = by_channel.get(channel, 0) + 1
        lines.append(f"| {o.person} | {o.stranger} | {len(o.person_before)} | {len(o.person_after)} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(by_channel.items()))} | {len(o.stranger_after)} |")
    return "\n".join(lines)
