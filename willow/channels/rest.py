"""Willow's REST channel: Rasa 3.6.21's REST channel with input validation.

credentials.yml names it instead of ``rest:``::

    willow.channels.rest.RestInput:

**Off unless enabled.** Only scripts, tests and the load test need it, so ``make run`` does not
expose it: the webhook answers **404** until ``WILLOW_REST_TOKEN`` (at least 16 characters) is
set, and then every request must carry ``Authorization: Bearer <WILLOW_REST_TOKEN>`` (**401**
without it or with a wrong one).

The webhook stays at ``POST /webhooks/rest/webhook`` (the channel is still named "rest") and
answers valid requests like Rasa's: a JSON list of the bot's messages, or with
``?stream=true`` one JSON message per line. Optional settings in credentials.yml:
``max_message_chars`` (default 10000) and ``max_pending_per_sender`` (default 100).

**Conversation ids.** The conversation is ``rest:<sender>``
(``willow.conversation_ids``), so a REST client can never reach the conversation of a
Telegram, Slack or web user whose id it knows; replies still name the client's own ``sender``
as ``recipient_id``.

What differs from ``rasa.core.channels.rest`` and why (measured against 3.6.21):

- A body that is not a JSON object (``[1, 2]``, ``"hi"``, ``42``, ``null``, an empty body)
  crashed the handler: **500** and a traceback in the log. Here: **400**.
- A missing, null or non-string ``message`` (number, list, object) was logged with its
  content and answered ``200 []``: the client could not tell its message was dropped.
  Here: **400**, and the text is not logged.
- A missing ``sender`` put the message into one shared conversation called "default",
  so sender-less clients continued each other's conversations; a number or list was
  turned into a string. Here a missing, empty or non-string sender, or one longer than
  250 characters (``rest:`` plus the sender must fit the SQL tracker store's 255), gets **400**.
- Malformed JSON and invalid UTF-8 got Sanic's generic error page (HTML unless the client
  asked for JSON); here a JSON error (400).
  So do JSON nested too deeply to parse, NUL characters and lone surrogates
  (``"\\ud800"``), which the SQL tracker stores cannot save.
- ``metadata`` that is not an object crashed message handling (200 ``[]``, text in the
  log): here **400**. ``input_channel`` let a REST client file its message under any channel
  (``"telegram"``); here anything but ``"rest"`` gets **400**.
- A message longer than ``max_message_chars`` gets **413**. Very long messages block the
  server's event loop while they are parsed (100,000 characters: 1.7 s for every user;
  1 MB: 3 s) and spaCy refuses more than 1,000,000 characters (Rasa answered ``200 []``
  and logged the whole text). The web page allows 2,000 characters.
- Messages from one sender are queued first come, first served before Rasa's lock (see
  ``willow.channels.sender_queue``); a sender with ``max_pending_per_sender`` messages
  already waiting gets **429** with ``Retry-After``.
- When handling a message fails inside Rasa, the answer is **500** with a JSON error
  (Rasa answered 200 with whatever had been collected, and logged the message text);
  **503** with ``Retry-After`` when a store is unavailable (``willow.outages``: PostgreSQL or
  Redis down, SQLite disk full), so the client sends the same message again later.
- ``message_id`` (optional, 1-100 of ``A-Z a-z 0-9 - _ . :``): a client that got no answer
  sends the message again with the same id, and gets the first answer again instead of a second
  handling (``willow.idempotency``).
  Nothing here logs message text, at any level.

Errors are JSON objects: ``{"status": 400, "error": "<what is wrong>"}``. Bodies larger than
Sanic's ``REQUEST_MAX_SIZE`` (the environment variable ``SANIC_REQUEST_MAX_SIZE``) never
reach this code: Sanic answers 413 itself.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import traceback
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel
from rasa.core.channels.rest import RestInput as RasaRestInput  # noqa: I001
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from willow import conversation_ids, idempotency, outages
from willow.channels import sender_queue

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 10_000
MAX_SENDER_CHARS = conversation_ids.max_local_chars(conversation_ids.REST)
ENV_TOKEN = "WILLOW_REST_TOKEN"
MIN_TOKEN_CHARS = 16


class BadRequest(Exception):
    def __init__(self, error: Text, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def error(status: int, message: Text, headers: Optional[Dict[Text, Text]] = None) -> HTTPResponse:
    return response.json({"status": status, "error": message}, status=status, headers=headers)


def check_text(value: Text, field: Text) -> None:
    if "\x00" in value:
        raise BadRequest(f"'{field}' contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"'{field}' is not valid Unicode (it contains a lone surrogate)")


def parse_body(body: bytes, max_message_chars: int) -> Dict[Text, Any]:
    """The validated request: sender, message and optional metadata."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8")
    except RecursionError:
        raise BadRequest("the body's JSON is nested too deeply")
    except ValueError:
        raise BadRequest('the body is not valid JSON; send {"sender": "...", "message": "..."}')
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object: {"sender": "...", "message": "..."}')

    sender = data.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise BadRequest("'sender' must be a non-empty string")
    if len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' is longer than {MAX_SENDER_CHARS} characters")
    check_text(sender, "sender")

    if "message" not in data:
        raise BadRequest("'message' is missing")
    message = data["message"]
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    if len(message) > max_message_chars:
        raise BadRequest(f"'message' is longer than {max_message_chars} characters", status=413)
    check_text(message, "message")

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be a JSON object")
    input_channel = data.get("input_channel")
    if input_channel is not None and input_channel != RestInput.name():
        raise BadRequest("'input_channel' can only be \"rest\": a REST client cannot speak for another channel")
    message_id = data.get("message_id")
    if message_id is not None and not idempotency.valid_id(message_id):
        raise BadRequest(f"'message_id' must be 1 to {idempotency.MAX_ID_CHARS} letters, digits or - _ . :")
    return {"sender": sender, "message": message, "metadata": metadata, "message_id": message_id}


def user_message(data: Dict[Text, Any], output: Any, conversation: Text) -> UserMessage:
    """The message for Rasa; one sent with its own ``message_id`` is never handled twice."""
    message_id = data.get("message_id")
    message = UserMessage(data["message"], output, conversation, input_channel=RestInput.name(),
                          metadata=data.get("metadata"), message_id=message_id)
    return idempotency.mark(message, idempotency.REPLAY) if message_id else message


def unavailable() -> HTTPResponse:
    """A store is down (willow.outages): the client should send the same message again later."""
    return error(503, outages.MESSAGE, headers={"Retry-After": str(outages.RETRY_AFTER_SECONDS)})


def token_problem(token: Optional[Text]) -> Optional[Text]:
    """Why the REST channel is off with this token, or None when it is on."""
    if not token:
        return f"{ENV_TOKEN} is not set"
    if len(token) < MIN_TOKEN_CHARS:
        return f"{ENV_TOKEN} is shorter than {MIN_TOKEN_CHARS} characters"
    return None


def bearer_token(request: Request) -> Text:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class ReplyToClient:
    """Output channel mixin: replies name the client's own sender as ``recipient_id``, not the
    namespaced conversation id Rasa sends them to."""

    client_sender: Text = ""

    async def _persist_message(self, message: Dict[Text, Any]) -> None:
        await super()._persist_message({**message, "recipient_id": self.client_sender})  # type: ignore[misc]


class RestCollector(ReplyToClient, CollectingOutputChannel):
    def __init__(self, client_sender: Text) -> None:
        super().__init__()
        self.client_sender = client_sender


class RestStream(ReplyToClient, QueueOutputChannel):
    def __init__(self, client_sender: Text, queue: asyncio.Queue) -> None:
        super().__init__(queue)
        self.client_sender = client_sender


class RestInput(RasaRestInput):
    def __init__(
        self,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        max_pending_per_sender: Optional[int] = None,
        token: Optional[Text] = None,
    ) -> None:
        self.max_message_chars = int(max_message_chars)
        self.token = token or ""
        self.problem = token_problem(token)
        if self.problem:
            logger.info("The REST channel is off (%s); /webhooks/rest/webhook answers 404. "
                        "Set %s to enable it (README, REST).", self.problem, ENV_TOKEN)
        self.queues = sender_queue.queues
        if max_pending_per_sender is not None:
            self.queues = sender_queue.SenderQueues(int(max_pending_per_sender))

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "RestInput":
        credentials = credentials or {}
        return cls(
            max_message_chars=credentials.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS),
            max_pending_per_sender=credentials.get("max_pending_per_sender"),
            token=os.environ.get(ENV_TOKEN),  # a secret: never in credentials.yml
        )

    @staticmethod
    def off() -> HTTPResponse:
        return error(404, f"the REST channel is off: set {ENV_TOKEN} to enable it (README, REST)")

    def refusal(self, request: Request) -> Optional[HTTPResponse]:
        """404 while the channel is off, 401 without the right token; None lets the request in."""
        if self.problem:
            return self.off()
        if not hmac.compare_digest(bearer_token(request).encode(), self.token.encode()):
            return error(401, "missing or wrong token: send 'Authorization: Bearer <WILLOW_REST_TOKEN>'",
                         headers={"WWW-Authenticate": "Bearer"})
        return None

    def stream_reply(
        self, in_turn: Callable[[UserMessage], Awaitable[Any]], data: Dict[Text, Any], conversation: Text
    ) -> Callable[[Any], Awaitable[None]]:
        """Like Rasa's ``stream_response``: one JSON message per line, as the bot sends them."""

        async def stream(resp: Any) -> None:
            queue: asyncio.Queue = asyncio.Queue()
            message = user_message(data, RestStream(data["sender"], queue), conversation)

            async def handle() -> None:
                try:
                    await in_turn(message)
                except Exception as e:  # noqa: BLE001  never log the text
                    if outages.is_outage(e):  # the status line is sent already: say it in the stream
                        logger.warning("A store is unavailable; a streamed REST message was not handled (%s).",
                                       type(e).__name__)
                        await resp.write(json.dumps({"status": 503, "error": outages.MESSAGE}) + "\n")
                    else:
                        logger.error("Handling a streamed REST message failed: %s", type(e).__name__)
                finally:
                    await queue.put("DONE")

            task = asyncio.ensure_future(handle())
            while True:
                result = await queue.get()
                if result == "DONE":
                    break
                await resp.write(json.dumps(result) + "\n")
            await task

        return stream

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("willow_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return self.off() if self.problem else response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            refused = self.refusal(request)
            if refused is not None:
                logger.debug("Refused a REST request (%s).", refused.status)
                return refused
            try:
                data = parse_body(request.body or b"", self.max_message_chars)
            except BadRequest as e:
                logger.debug("Refused a REST request (%s): %s", e.status, e.error)
                return error(e.status, e.error)
            sender_id = conversation_ids.conversation_id(conversation_ids.REST, data["sender"])
            if self.queues.full(sender_id):
                logger.warning("Refused a REST message: this sender already has %s waiting.", self.queues.max_pending)
                return error(429, "too many messages from this sender are waiting; retry later",
                             headers={"Retry-After": "1"})

            async def in_turn(message: UserMessage) -> None:
                async with self.queues.turn(message.sender_id):
                    await on_new_message(message)

            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(self.stream_reply(in_turn, data, sender_id),
                                       content_type="text/event-stream")
            collector = RestCollector(data["sender"])
            try:
                await in_turn(user_message(data, collector, sender_id))
            except sender_queue.Busy:
                return error(429, "too many messages from this sender are waiting; retry later",
                             headers={"Retry-After": "1"})
            except asyncio.CancelledError:
                # Sanic's response timeout; like Rasa, answer with what was said so far.
                logger.error("Handling a REST message timed out.")
            except Exception as e:  # noqa: BLE001  any failure inside Rasa; never log the text
                if outages.is_outage(e):
                    logger.warning("A store is unavailable; answered a REST message with 503 (%s).",
                                   type(e).__name__)
                    return unavailable()
                # The exception's type and frames only: its message may quote the user's text.
                logger.error("Handling a REST message failed: %s", type(e).__name__)
                logger.debug("Traceback (without the message):\n%s", "".join(traceback.format_tb(e.__traceback__)))
                return error(500, "the message could not be handled")
            return response.json(collector.messages)

        return webhook

