"""Each person's conversation is theirs alone (issue 13), through the real servers set up like
`make run` (every channel of credentials.yml, SQLite): for every pair of channels, a stranger on
one channel claims the id of a person on another, writes, and asks for "their" data to be
deleted. The store is read with sqlite3. The PostgreSQL run is in tests/test_persistence.py."""
from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys

import pytest

from tests import cross_channel
from tests.conftest import ARTIFACTS, ROOT
from willow import local_servers

pytestmark = pytest.mark.slow


DAY = 24 * 3600


def sql(db, statement: str, params) -> list:
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        return connection.execute(statement, params).fetchall()


@pytest.fixture(scope="module")
def stored(default_store):
    def read(conversation: str) -> cross_channel.Events:
        return cross_channel.events_from_rows(sql(
            default_store.db, "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (conversation,)))
    return read


@pytest.fixture(scope="module")
def outcomes(servers, stored, telegram_fake, slack_fake):
    channels = cross_channel.Channels(servers, telegram_fake, slack_fake)
    try:
        results = [cross_channel.attack(channels, person, stranger, stored)
                   for person, stranger in cross_channel.PAIRS]
    finally:
        channels.close()
    (ARTIFACTS / "conversation-ids-sqlite.md").write_text(cross_channel.table(results) + "\n")
    return results


@pytest.mark.parametrize("person, stranger", cross_channel.PAIRS)
def test_a_claimed_id_never_joins_or_deletes_another_channels_conversation(outcomes, person, stranger):
    (outcome,) = [o for o in outcomes if (o.person, o.stranger) == (person, stranger)]
    cross_channel.check(outcome)


def test_no_raw_telegram_or_slack_id_is_logged_at_the_default_level(outcomes, servers):
    """Chat and user ids identify a person: they stay out of the logs at the default level."""
    raw_ids = {o.person_conversation.rsplit(":", 1)[1] for o in outcomes if o.person in ("telegram", "slack")}
    assert len(raw_ids) == 6
    for log in (servers.rasa_log, servers.actions_log):
        text = log.read_text(errors="replace")
        assert " DEBUG " not in text  # the default level, or this test checks nothing
        found = sorted(i for i in raw_ids if re.search(rf"(?<![0-9A-Za-z]){re.escape(i)}(?![0-9A-Za-z])", text))
        assert found == [], f"{log.name} names {found}"


def test_the_purge_takes_an_old_conversation_not_another_channels_with_the_same_id(
        servers, default_store, stored, telegram_fake, slack_fake):
    """Retention is per conversation: a fresh REST conversation under an old Telegram user's chat id
    (one conversation before ids were namespaced) does not keep the old one, nor go with it."""
    channels = cross_channel.Channels(servers, telegram_fake, slack_fake)
    chat_id = cross_channel.person_id("telegram")
    old = channels.speak("telegram", chat_id, cross_channel.PERSON_SAYS)
    cross_channel.settled(lambda: stored(old))
    sql(default_store.db, f"UPDATE events SET timestamp = timestamp - {45 * DAY} WHERE sender_id = ?", (old,))
    fresh = channels.speak("rest", chat_id, "hi")
    kept = cross_channel.settled(lambda: stored(fresh))
    env = {**local_servers.ENV, "WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(default_store.db)}
    result = subprocess.run([sys.executable, "-m", "willow.retention", "purge", "--days", "30"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert stored(old) == []
    assert stored(fresh) == kept and kept
