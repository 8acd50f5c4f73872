"""A message delivered again is answered once, on every channel, through the session's real
servers (SQLite, every channel of credentials.yml; willow/idempotency.py). Checked in the
tracker store itself: one user event per message, however often it arrived."""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import closing
from typing import List

import pytest
import requests

from tests import channel_clients
from tests.socketio_chat import Chat
from willow import conversation_ids

pytestmark = pytest.mark.slow


def user_events(store, conversation: str) -> List[str]:
    with closing(sqlite3.connect(store.db)) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (conversation,)
        ).fetchall()
    return [json.loads(data)["message_id"] for (data,) in rows]


def post_rest(servers, body):
    return requests.post(f"{servers.url}/webhooks/rest/webhook", json=body, headers=servers.rest_headers, timeout=60)


def test_rest_a_message_sent_again_with_its_id_gets_the_first_answer(servers, default_store):
    sender = f"idem-{uuid.uuid4().hex[:8]}"
    first = {"sender": sender, "message": "i cried in therapy today", "message_id": "m-1"}
    answer = post_rest(servers, first).json()
    assert answer and all(r["recipient_id"] == sender for r in answer)
    assert post_rest(servers, first).json() == answer  # a retry: the same answer, word for word
    second = post_rest(servers, {**first, "message": "why does that happen", "message_id": "m-2"}).json()
    assert second and second != answer
    assert post_rest(servers, first).json() == answer  # an old one, late: still its own answer
    # Without an id, the same text is a new message.
    assert post_rest(servers, {"sender": sender, "message": "why does that happen"}).status_code == 200
    ids = user_events(default_store, conversation_ids.conversation_id(conversation_ids.REST, sender))
    assert ids[:2] == ["m-1", "m-2"] and len(ids) == 3


@pytest.mark.parametrize("message_id", ["", "has space", "x" * 101, 7, ["m"], {"id": 1}])
def test_rest_a_malformed_message_id_is_refused(servers, message_id):
    response = post_rest(servers, {"sender": "idem-bad", "message": "hi", "message_id": message_id})
    assert response.status_code == 400 and "message_id" in response.json()["error"]


def test_socketio_a_message_resent_after_reconnecting_gets_its_first_answer(servers, default_store):
    first = Chat(servers.url)
    try:
        replies = first.send({"message": "i never cry in therapy, is that bad", "message_id": "w-1"})
        assert {r.get("reply_to") for r in replies} == {"w-1"}
    finally:
        first.close()
    # The tab reconnects to its session and, unsure whether the answer came, sends it again.
    again = Chat(servers.url, session_id=first.session_id)
    try:
        replayed = again.send({"message": "i never cry in therapy, is that bad", "message_id": "w-1"})
        assert [r["text"] for r in replayed] == [r["text"] for r in replies]
        fresh = again.send({"message": "why?", "message_id": "w-2"})
        assert fresh and {r.get("reply_to") for r in fresh} == {"w-2"}
    finally:
        again.close()
    assert user_events(default_store, first.conversation_id) == ["w-1", "w-2"]


def test_telegram_a_redelivered_update_is_answered_once(servers, default_store, telegram_fake):
    chat = channel_clients.new_chat()
    update = channel_clients.text_update(chat, "i cried so much in my session")
    assert channel_clients.post_telegram(servers, update).status_code == 200
    answered = len(telegram_fake.sent_to(chat))
    assert answered
    for _ in range(2):  # Telegram did not get the 200 in time, and delivers it again
        assert channel_clients.post_telegram(servers, update).status_code == 200
    assert len(telegram_fake.sent_to(chat)) == answered
    conversation = conversation_ids.conversation_id(conversation_ids.TELEGRAM, str(chat))
    assert user_events(default_store, conversation) == [f"telegram-update:{update['update_id']}"]


def test_slack_a_retry_of_an_event_this_server_never_accepted_is_handled_once(servers, default_store, slack_fake):
    """The first delivery went to an instance that died: the retry is handled, and a second
    retry is not answered again."""
    user, channel = channel_clients.new_id("U"), channel_clients.new_id("D")
    payload = channel_clients.message_event(user, channel, "is crying in therapy normal")
    body_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}

    def post_retry():
        body = json.dumps(payload).encode()
        return requests.post(f"{servers.url}/webhooks/slack/webhook", data=body, timeout=30,
                             headers={"Content-Type": "application/json", **channel_clients.sign(body), **body_headers})

    assert post_retry().status_code == 200
    slack_fake.wait_for(lambda fake: fake.posts(channel))
    time.sleep(1)
    answered = len(slack_fake.posts(channel))
    second = post_retry()
    assert second.status_code == 200 and second.headers.get("X-Slack-No-Retry") == "1"
    time.sleep(1)
    assert len(slack_fake.posts(channel)) == answered
    conversation = conversation_ids.conversation_id(conversation_ids.SLACK, channel_clients.TEAM, user)
    assert user_events(default_store, conversation) == [f"slack-event:{payload['event_id']}"]
