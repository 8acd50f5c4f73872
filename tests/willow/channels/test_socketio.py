"""The socket.io channel with a real socket.io client: replies, persistence, origins, bad events."""
from __future__ import annotations

import queue
import uuid

import pytest
import socketio

from tests import domain_files

pytestmark = pytest.mark.slow


class Chat:
    """A python-socketio client speaking the web page's protocol (polling transport)."""

    def __init__(self, url: str, session_id: str, origin: str | None = None, wait: float = 10) -> None:
        self.replies: "queue.Queue[dict]" = queue.Queue()
        self.confirmed: "queue.Queue[str]" = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.put)
        self.sio.on("session_confirm", self.confirmed.put)
        headers = {"Origin": origin} if origin else {}
        self.sio.connect(url, transports=["polling"], headers=headers, wait_timeout=wait)
        self.session_id = session_id
        self.sio.emit("session_request", {"session_id": session_id})
        assert self.confirmed.get(timeout=10) == session_id

    def say(self, text: str, timeout: float = 30, quiet: float = 1.5) -> list[dict]:
        """Sends a message; returns the replies (the channel sends one event per paragraph)."""
        self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        replies = [self.replies.get(timeout=timeout)]
        while True:
            try:
                replies.append(self.replies.get(timeout=quiet))
            except queue.Empty:
                return replies

    def close(self) -> None:
        # abort: don't wait up to a ping interval (25 s) for the open long-poll to return.
        self.sio.eio.disconnect(abort=True)


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
