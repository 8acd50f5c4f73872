"""Conversation ids namespaced per channel (willow/conversation_ids.py)."""
from __future__ import annotations

import pytest

from willow import conversation_ids as ids


def test_every_channel_gets_its_own_prefix_so_no_two_channels_share_an_id():
    made = {channel: ids.conversation_id(channel, "777001") for channel in ids.CHANNELS}
    assert made == {"rest": "rest:777001", "web": "web:777001", "telegram": "telegram:777001",
                    "slack": "slack:777001"}
    assert len(set(made.values())) == len(ids.CHANNELS)


@pytest.mark.parametrize("claimed", ["telegram:777001", "web:" + "a" * 32, "slack:T1:U1", ""])
def test_a_claimed_id_stays_in_the_claimants_channel(claimed):
    conversation = ids.conversation_id(ids.REST, claimed)
    assert ids.channel_of(conversation) == ids.REST
    assert ids.local_id(conversation, ids.REST) == claimed
    with pytest.raises(ValueError):
        ids.local_id(conversation, ids.TELEGRAM)


def test_channel_of_knows_only_willows_channels():
    assert ids.channel_of("slack:T1:U1_C1") == "slack"
    assert ids.channel_of("0f3a" * 8) is None  # a `make shell` conversation
    assert ids.channel_of("email:someone") is None


def test_unknown_channels_are_refused():
    with pytest.raises(ValueError):
        ids.conversation_id("email", "x")


def test_local_ids_leave_room_for_the_prefix_within_the_stores_255_characters():
    for channel in ids.CHANNELS:
        assert len(ids.conversation_id(channel, "x" * ids.max_local_chars(channel))) == 255


def test_web_sessions_are_128_random_bits_and_nothing_else_is_accepted():
    sessions = {ids.new_web_session() for _ in range(1000)}
    assert len(sessions) == 1000
    assert all(ids.is_web_session(s) and len(s) == 32 for s in sessions)
    for foreign in ["777001", "", None, 42, ["a" * 32], "A" * 32, "g" * 32, "a" * 31, "a" * 33,
                    "a" * 32 + "\n", "web:" + "a" * 16, "8fb1b6f7-a549-6638-2415-092f87744a92"]:
        assert not ids.is_web_session(foreign), foreign
