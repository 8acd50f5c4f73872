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
7. Malformed engine.io and socket.io requests are logged as one line (``OneLineProtocolErrors``)
   instead of a traceback at ERROR.
8. A ``user_uttered`` event may carry ``message_id`` (the page sends one with every message and
   sends it again after a reconnect if no answer came): a message handled before is answered
   with its first answer, not handled twice (``willow.idempotency``). When a store is down
   (``willow.outages``) the socket gets ``willow_error`` with status 503 and the message id.
   Replies are sent once the turn is saved (``willow.channels.after_save``), and each names
   the message it answers (``reply_to``).
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import engineio.packet
import engineio.payload
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint, response

from willow import conversation_ids, idempotency, outages
from willow.channels import after_save, note, rest, sender_queue

logger = logging.getLogger(__name__)

DEFAULT_ORIGINS = "http://localhost:8080,http://127.0.0.1:8080"
MAX_MESSAGE_CHARS = 10_000
MAX_PACKETS_PER_REQUEST = 100
# Sent to the socket whose message could not be handled because a store is down (503).
ERROR_EVENT = "willow_error"


def parse_origins(value: Any) -> List[Text]:
    if isinstance(value, (list, tuple)):
        return [str(v).rstrip("/") for v in value]
    return [o.rstrip("/") for o in re.split(r"[,\s]+", str(value or "")) if o]


class OneLineProtocolErrors(logging.Filter):
    """python-engineio and python-socketio log a malformed request (a packet type that is not a
    digit, a body that is not UTF-8, too many packets) with a full traceback at ERROR, and then
    answer it 400 or drop it: nothing went wrong on the server. Here such a record becomes one
    WARNING line naming the error's type and where it was raised, without its text (which can
    quote the request) or the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error, trace = record.exc_info[1], record.exc_info[2]
            while trace is not None and trace.tb_next is not None:
                trace = trace.tb_next
            where = f"{Path(trace.tb_frame.f_code.co_filename).name}:{trace.tb_lineno}" if trace else "?"
            record.msg, record.args = "Refused a malformed socket.io request (%s at %s).", (type(error).__name__, where)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


for _name in ("engineio.server", "socketio.server"):
    logging.getLogger(_name).addFilter(OneLineProtocolErrors())


# What a client may send in a polling POST (engine.io v4): pong, message, upgrade, close.
CLIENT_PACKETS = {engineio.packet.PONG, engineio.packet.MESSAGE, engineio.packet.UPGRADE, engineio.packet.CLOSE}


def guard_polling_requests(eio: Any) -> None:
    """Three python-engineio 4.15 bugs (the first two found by tests/test_fuzz.py), fixed around its handler:

    - A POST to a session that was closed (the client sent a close packet) got 500 and a
      traceback: the POST branch of ``handle_request`` calls ``_get_socket`` without catching its
      KeyError. A closed session is dropped first, so engine.io answers its own 400.
    - A POST with a packet a client never sends (open, ping, noop) was never answered: engine.io
      disconnects the socket and waits for its send queue to drain, which nobody polls. Such a
      POST gets 400 here, and the session stays as it was.
    - A close packet (a client leaving, or one the origin check refused) closes the socket with
      ``abort=True``, which wakes nobody: the client's pending long poll stayed open for
      ``ping_interval + ping_timeout`` (45 s). It is answered at once here.
    """
    original = eio.handle_request

    async def handle_request(request: Any, *args: Any, **kwargs: Any) -> Any:
        query = getattr(request, "args", None) or {}
        sid = query.get("sid")
        socket = eio.sockets.get(sid) if isinstance(sid, str) else None
        if socket is not None and socket.closed:
            eio.sockets.pop(sid, None)
        elif socket is not None and request.method == "POST" and not posted_packets_allowed(request.body):
            logger.debug("Refused a socket.io polling request with a packet clients do not send.")
            return response.json({"error": "packet type not accepted from a client"}, status=400)
        answer = await original(request, *args, **kwargs)
        if socket is not None and request.method == "POST" and socket.closed:
            socket.queue.put_nowait(None)  # poll()'s own end marker: the waiting GET returns
        return answer

    eio.handle_request = handle_request


def posted_packets_allowed(body: Optional[bytes]) -> bool:
    """False only for a well-formed payload holding a packet a client may not send. Anything
    engine.io cannot parse is left to it (it answers those itself)."""
    try:
        packets = engineio.payload.Payload(encoded_payload=(body or b"").decode("utf-8")).packets
    except Exception:  # noqa: BLE001  malformed: engine.io's own handling (400) applies
        return True
    return all(p.packet_type in CLIENT_PACKETS for p in packets)


class NoteSocketIOOutput(note.NoteAsOneMessage, SocketIOOutput):
    """Rasa's socket.io output; the note for the next session is one ``bot_uttered`` event with
    ``text`` and ``willow_note``, so the page can offer copy and download (willow/channels/note.py)."""

    def __init__(self, sio: Any, bot_message_evt: Text, reply_to: Optional[Text] = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.reply_to = reply_to

    async def _send_message(self, socket_id: Text, response: Any) -> None:
        # Each reply names the message it answers, so the page knows which of its messages
        # are answered and which to send again after a reconnect.
        if self.reply_to and isinstance(response, dict):
            response = {**response, "reply_to": self.reply_to}
        await super()._send_message(socket_id, response)

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
        guard_polling_requests(sio.eio)
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
        async def disconnect(sid: Text, *_: Any) -> None:
            self.sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None, *_: Any) -> None:
            await join(sid, data.get("session_id") if isinstance(data, dict) else None)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None, *_: Any) -> None:  # no data, or more than one
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
            message_id = data.get("message_id")
            if message_id is not None and not idempotency.valid_id(message_id):
                logger.debug("Dropped a socket.io message with a malformed message_id.")
                return
            output = after_save.HeldReplies(NoteSocketIOOutput(sio, self.bot_message_evt, reply_to=message_id))
            message = UserMessage(
                data.get("message", ""),
                output,
                sender_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else {},
                message_id=message_id,
            )
            if message_id:  # the page sends it again after a reconnect if no answer came
                idempotency.mark(message, idempotency.REPLAY)
            try:
                async with sender_queue.queues.turn(sender_id):
                    await on_new_message(message)
                    await output.send_held()
            except sender_queue.Busy:
                logger.warning(
                    "Dropped a socket.io message: this sender already has %s waiting.",
                    sender_queue.queues.max_pending,
                )
            except Exception as e:  # noqa: BLE001  never log the text
                if not outages.is_outage(e):
                    raise
                # Tell this socket, so the page can send the same message again later.
                logger.warning("A store is unavailable; a socket.io message was not handled (%s).", type(e).__name__)
                await sio.emit(ERROR_EVENT, {"status": 503, "error": outages.MESSAGE, "message_id": message_id,
                                             "retry_after": outages.RETRY_AFTER_SECONDS},
                               room=sid, namespace=self.namespace)

        return webhook
