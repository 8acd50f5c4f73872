"""A python-socketio client speaking the web page's protocol, shared by the socket.io tests."""
from __future__ import annotations

import queue
from typing import List, Optional

import socketio

from willow import conversation_ids


class Chat:
    """One browser tab's conversation: session request, messages, replies (polling transport)."""

    def __init__(self, url: str, session_id: Optional[str] = None, origin: Optional[str] = None,
                 wait: float = 10) -> None:
        """``session_id``: the id a reload sends (None: a new conversation). The server keeps a
        well-formed one and confirms a new one otherwise; ``self.session_id`` is what it confirmed."""
        self.replies: "queue.Queue[dict]" = queue.Queue()
        self.confirmed: "queue.Queue[str]" = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.put)
        self.sio.on("session_confirm", self.confirmed.put)
        headers = {"Origin": origin} if origin else {}
        self.sio.connect(url, transports=["polling"], headers=headers, wait_timeout=wait)
        self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = self.confirmed.get(timeout=10)
        if conversation_ids.is_web_session(session_id):
            assert self.session_id == session_id, "the server did not continue a well-formed session"

    @property
    def conversation_id(self) -> str:
        return conversation_ids.conversation_id(conversation_ids.WEB, self.session_id)

    def emit(self, data) -> None:
        self.sio.emit("user_uttered", data)

    def say(self, text: str, timeout: float = 30, quiet: float = 1.5) -> List[dict]:
        """Sends a message; returns the replies (the channel sends one event per paragraph)."""
        return self.send({"message": text, "session_id": self.session_id}, timeout, quiet)

    def send(self, data: dict, timeout: float = 30, quiet: float = 1.5) -> List[dict]:
        """Emits a raw ``user_uttered`` event; returns the replies."""
        self.emit(data)
        replies = [self.replies.get(timeout=timeout)]
        while True:
            try:
                replies.append(self.replies.get(timeout=quiet))
            except queue.Empty:
                return replies

    def close(self) -> None:
        # abort: don't wait up to a ping interval (25 s) for the open long-poll to return.
        try:
            self.sio.eio.disconnect(abort=True)
        except Exception:  # noqa: BLE001  already disconnected by the server
            pass
