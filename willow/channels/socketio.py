"""The web chat channel: Rasa's socket.io channel with these fixes.

1. Session persistence works. Rasa 3.6.21 calls ``sio.enter_room`` without ``await``;
   since python-socketio 5.10 that is a coroutine, so the socket never joins its session
   room and no reply reaches the browser (RasaHQ/rasa#13027). We register our own
   ``session_request`` handler that awaits it.
2. Only allowed origins may connect. Rasa turns off engine.io's origin check (so that
   sanic-cors can answer CORS), which lets a page on any site open a websocket to the
   bot. We check the ``Origin`` header in ``connect`` against ``allowed_origins``
   (credentials.yml, or WEB_ALLOWED_ORIGINS, separated by spaces or commas). Clients that send no
   Origin (scripts, not browsers) are let through: origins protect browsers only.
3. Malformed events (not a dict, no text, no session) are dropped with a debug log
   instead of raising inside the event handler.
4. Bursts are not lost or slowed down. The polling transport sends every queued event in one
   request; engine.io refused requests with more than 16 (``Payload.max_decode_packets``,
   "Too many packets in payload", 400) and all of them were lost: here up to 100 (requests
   stay bounded by ``max_http_buffer_size``, 1 MB). Each sender's messages are then queued
   first come, first served (``willow.channels.sender_queue``) instead of polling Rasa's lock
   once a second; past 100 waiting messages a sender's further messages are dropped with a
   warning. Messages longer than ``MAX_MESSAGE_CHARS`` (10,000; the page allows 2,000) are
   dropped with a warning: parsing them blocks the server for everyone. So is text with NUL
   characters or lone surrogates, which the SQL tracker stores cannot save.
5. The note for the next session arrives as one event with copy and download data
   (``willow.channels.note``).
6. The server, not the page, decides the conversation. Rasa took the ``session_id`` of every
   ``user_uttered`` event as the sender id, so any client could write into any conversation
   (a Telegram chat id, another visitor's session). Here a session id is 128 random bits as 32
   hex digits (``conversation_ids.new_web_session``); ``session_request`` keeps a well-formed
   one (a reload continues its conversation) and answers anything else, or nothing, with a new
   one in ``session_confirm``. The server remembers each socket's session and ignores the
   ``session_id`` in messages; the conversation is ``web:<session>``. A socket that asks for
   a new session leaves the old one's room, so no late reply of the old conversation reaches it.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import engineio.payload
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint

from willow import conversation_ids
from willow.channels import note, rest, sender_queue

logger = logging.getLogger(__name__)

DEFAULT_ORIGINS = "http://localhost:8080,http://127.0.0.1:8080"
MAX_MESSAGE_CHARS = 10_000
MAX_PACKETS_PER_REQUEST = 100


def parse_origins(value: Any) -> List[Text]:
    if isinstance(value, (list, tuple)):
        return [str(v).rstrip("/") for v in value]
    return [o.rstrip("/") for o in re.split(r"[,\s]+", str(value or "")) if o]


class NoteSocketIOOutput(note.NoteAsOneMessage, SocketIOOutput):
    """Rasa's socket.io output; the note for the next session is one ``bot_uttered`` event with
    ``text`` and ``willow_note``, so the page can offer copy and download (willow/channels/note.py)."""

    async def send_note(self, recipient_id: Text, payload: Dict[Text, Any]) -> None:
        await self._send_message(recipient_id, {"text": payload["text"], note.KEY: payload})


class SocketIOInput(RasaSocketIOInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SocketIOInput":
        credentials = credentials or {}
        channel = super().from_credentials({"session_persistence": True, **credentials})
        channel.allowed_origins = parse_origins(
            credentials.get("allowed_origins") or os.environ.get("WEB_ALLOWED_ORIGINS") or DEFAULT_ORIGINS
        )
        return channel

    allowed_origins: List[Text] = parse_origins(DEFAULT_ORIGINS)
    # socket id -> the conversation it joined; only this process's sockets (sticky sessions).
    sessions: Dict[Text, Text]

    def origin_allowed(self, environ: Dict[Text, Any]) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        return origin is None or "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        # A class attribute of python-engineio (no per-server setting); only raised, never lowered.
        engineio.payload.Payload.max_decode_packets = max(
            engineio.payload.Payload.max_decode_packets, MAX_PACKETS_PER_REQUEST
        )
        sio = self.sio
        rasa_connect = sio.handlers[self.namespace or "/"]["connect"]
        self.sessions = {}

        async def join(sid: Text, requested: Any) -> Text:
            """The socket's conversation: the requested session if well-formed, else a new one."""
            session = requested if conversation_ids.is_web_session(requested) else conversation_ids.new_web_session()
            room = conversation_ids.conversation_id(conversation_ids.WEB, session)
            previous = self.sessions.get(sid)
            if previous is not None and previous != room:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            self.sessions[sid] = room
            await sio.enter_room(sid, room, namespace=self.namespace)
            await sio.emit("session_confirm", session, room=sid, namespace=self.namespace)
            return room

        # Registering an event again replaces Rasa's handler for it.
        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            if not self.origin_allowed(environ):
                logger.warning("Refused a socket.io connection from a page on another origin.")
                return False
            return await rasa_connect(sid, environ, auth)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text) -> None:
            self.sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            await join(sid, data.get("session_id") if isinstance(data, dict) else None)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                logger.debug("Dropped a malformed socket.io message event.")
                return
            if len(data.get("message", "")) > MAX_MESSAGE_CHARS:
                logger.warning("Dropped a socket.io message longer than %s characters.", MAX_MESSAGE_CHARS)
                return
            try:  # NUL characters and lone surrogates: SQL tracker stores cannot save them
                rest.check_text(data.get("message", ""), "message")
            except rest.BadRequest as e:
                logger.debug("Dropped a socket.io message: %s", e.error)
                return
            # The session this socket joined, whatever session_id the event names. A socket that
            # never asked for one (a client that skipped session_request) gets a new one.
            sender_id = self.sessions.get(sid) or await join(sid, None)
            metadata = data.get(self.metadata_key)
            message = UserMessage(
                data.get("message", ""),
                NoteSocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else {},
            )
            try:
                async with sender_queue.queues.turn(sender_id):
                    await on_new_message(message)
            except sender_queue.Busy:
                logger.warning(
                    "Dropped a socket.io message: this sender already has %s waiting.",
                    sender_queue.queues.max_pending,
                )

        return webhook
