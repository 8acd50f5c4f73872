"""The socket.io channel with a real socket.io client: replies, persistence, origins, bad events."""
from __future__ import annotations

import time
import uuid

import pytest
import socketio

from tests import domain_files, note_turns
from tests.socketio_chat import Chat

pytestmark = pytest.mark.slow


def test_reply_with_quick_replies(web_stack):
    chat = Chat(web_stack.servers.url, uuid.uuid4().hex, web_stack.origin)
    try:
        replies = chat.say("hi")
        assert "\n\n".join(r["text"] for r in replies) in domain_files.texts("utter_intro")
        assert replies[-1]["quick_replies"][0]["payload"] == "/cried_in_therapy"
    finally:
        chat.close()


def test_conversation_survives_a_reconnect(web_stack):
    session = uuid.uuid4().hex
    first = Chat(web_stack.servers.url, session, web_stack.origin)
    first.say("i never cry in my sessions, am i doing therapy wrong")
    first.close()
    # A new connection (like a page reload) with the same session id continues the conversation.
    again = Chat(web_stack.servers.url, session, web_stack.origin)
    try:
        replies = again.say("is that normal?")
        assert again.session_id == session
        assert web_stack.servers.conversation(f"web:{session}")["slots"]["topic"] == "not_crying"
        assert any(r.get("text") for r in replies)
    finally:
        again.close()


def test_pages_on_other_origins_are_refused(web_stack):
    with pytest.raises(socketio.exceptions.ConnectionError):
        Chat(web_stack.servers.url, uuid.uuid4().hex, origin="http://evil.example", wait=3)


def test_malformed_events_do_not_break_the_connection(web_stack):
    chat = Chat(web_stack.servers.url, uuid.uuid4().hex, web_stack.origin)
    try:
        chat.sio.emit("user_uttered", "not a dict")
        chat.sio.emit("user_uttered", {"message": {"nested": 1}, "session_id": chat.session_id})
        replies = chat.say("hi")
        assert "\n\n".join(r["text"] for r in replies) in domain_files.texts("utter_intro")
        # No session id in the event: still this socket's session.
        replies = chat.send({"message": "is that normal?"})
        assert replies
        events = web_stack.servers.conversation(chat.conversation_id)["events"]
        assert [e["text"] for e in events if e["event"] == "user"] == ["hi", "is that normal?"]
    finally:
        chat.close()


def test_the_note_for_the_next_session_is_one_event_with_copy_data(web_stack):
    chat = Chat(web_stack.servers.url, uuid.uuid4().hex, web_stack.origin)
    try:
        for text, _ in note_turns.TURNS[:-1]:
            chat.say(text)
        replies = chat.say(note_turns.TURNS[-1][0])
    finally:
        chat.close()
    (note,) = [r for r in replies if "willow_note" in r]
    assert note["text"] == note["willow_note"]["text"]
    assert note["willow_note"]["filename"] == "willow-note.txt"
    assert note["text"].startswith(note_turns.TITLE)
    for line in note_turns.NOTE_LINES:
        assert line in note["text"]
    # Not also sent in pieces: the page shows the note once.
    assert not any(r.get("text") == note_turns.TITLE for r in replies)


def user_texts(tracker) -> list:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


@pytest.mark.parametrize("requested", [
    None, "777001", "telegram:777001", "rest:someone", "A" * 32, "a" * 31, "a" * 33, "g" * 32,
    "8fb1b6f7-a549-6638-2415-092f87744a92", 5, ["a" * 32], {"id": "a" * 32},
])
def test_a_missing_malformed_or_foreign_session_id_gets_a_fresh_conversation(web_stack, requested):
    chat = Chat(web_stack.servers.url, requested, web_stack.origin)
    try:
        assert chat.session_id != requested
        assert len(chat.session_id) == 32 and int(chat.session_id, 16) >= 0  # 128 bits, from the server
        assert user_texts(web_stack.servers.conversation(chat.conversation_id)) == []
        chat.say("I cried in therapy today")
        assert user_texts(web_stack.servers.conversation(chat.conversation_id)) == ["I cried in therapy today"]
    finally:
        chat.close()


def test_a_client_that_skips_the_session_request_gets_a_session_of_its_own(web_stack):
    client = socketio.Client(reconnection=False)
    confirmed, replies = [], []
    client.on("session_confirm", confirmed.append)
    client.on("bot_uttered", replies.append)
    client.connect(web_stack.servers.url, transports=["polling"], headers={"Origin": web_stack.origin})
    try:
        client.emit("user_uttered", {"message": "hi", "session_id": "777001"})
        deadline = time.monotonic() + 30
        while not replies and time.monotonic() < deadline:
            time.sleep(0.1)
        assert replies and len(confirmed) == 1 and len(confirmed[0]) == 32
        assert user_texts(web_stack.servers.conversation(f"web:{confirmed[0]}")) == ["hi"]
    finally:
        client.eio.disconnect(abort=True)  # don't wait a ping interval (25 s) for the long-poll


def test_a_socket_that_starts_a_new_session_gets_nothing_more_from_the_old_one(web_stack):
    first = Chat(web_stack.servers.url, None, web_stack.origin)
    old = first.session_id
    first.sio.emit("session_request", {"session_id": None})  # "New conversation"
    assert first.confirmed.get(timeout=10) != old
    reload_of_old = Chat(web_stack.servers.url, old, web_stack.origin)
    try:
        assert reload_of_old.say("hi")
        assert first.replies.empty(), "the old conversation's reply reached the socket that left it"
    finally:
        first.close()
        reload_of_old.close()
