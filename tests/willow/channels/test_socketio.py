"""The socket.io channel with a real socket.io client: replies, persistence, origins, bad events."""
from __future__ import annotations

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
        assert web_stack.servers.tracker(session)["slots"]["topic"] == "not_crying"
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
        chat.sio.emit("user_uttered", {"message": "hi"})  # no session id
        replies = chat.say("hi")
        assert "\n\n".join(r["text"] for r in replies) in domain_files.texts("utter_intro")
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
