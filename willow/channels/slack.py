"""Willow's Slack channel: Rasa 3.6.21's Slack connector, configured from the environment.

credentials.yml names the class with no settings (``willow.channels.slack.SlackInput:``);
everything comes from environment variables so that no secret lives in a file:

    SLACK_BOT_TOKEN       required, the bot token (xoxb-...)
    SLACK_SIGNING_SECRET  required, the app's signing secret
    SLACK_CHANNEL         optional, a channel ID (C0123...) where Willow answers every message
    SLACK_USE_THREADS     optional, "true" or "false" (default): reply in the message's thread
    SLACK_API_URL         optional, base URL of the Web API (default https://slack.com/api/)

The webhook stays at ``/webhooks/slack/webhook`` (the channel is still named "slack").
What differs from ``rasa.core.channels.slack`` and why:

- A missing token or signing secret makes Rasa raise, and ``rasa run`` aborts with every
  other channel. Here it logs one warning and the webhook answers 503 until it is configured.
- Refused signatures (missing, wrong, or a timestamp more than 5 minutes off) get
  **401** with a short JSON error; Rasa answers 400. Slack never sees these: they are
  not Slack's requests.
- The content type is compared as a media type, so ``application/json; charset=utf-8``
  works (Rasa compares the whole header and silently drops such requests).
- Slack retries an event when the first answer was slow or failed; Rasa drops only
  ``http_timeout`` retries and processes the others again, replying twice. Here a request carrying ``X-Slack-Retry-Num``
  for an event this process accepted is acknowledged (200, ``X-Slack-No-Retry: 1``) and
  dropped; a retry of one it never accepted (the first delivery reached an instance that died,
  or got 503 because a store was down) is handled, and never twice: the event id is the
  message id, kept in the tracker store (``willow.idempotency``). Accepted events are also
  remembered for a while (event id, and channel + message ts) so a redelivery without the
  header, or the same message arriving as both ``message`` and ``app_mention``, is dropped too.
- Replies go to ``SLACK_API_URL`` (tests use a fake Slack on 127.0.0.1), and without
  ``as_user``, a legacy argument that new Slack apps may not send.
- The conversation is ``slack:<team id>:<user id>`` (``willow.conversation_ids``; with
  Rasa's ``conversation_granularity`` "channel" or "thread" the channel and thread follow).
  Rasa keyed it by the bare user id, which anyone in the workspace can read and any REST or
  web client could send as its own id.
- Nothing here logs message text, at any level: conversations are health-adjacent. Nor user
  or channel ids at the default level (INFO): they identify the person.
  Its log lines follow Rasa's LOG_LEVEL (the root logger drops to WARNING while the
  model loads, when numpy.distutils is imported, which would hide them).

What Willow says stays in Rasa's domain; this module only carries messages both ways.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections import OrderedDict
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text
from urllib.parse import parse_qs, urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot as RasaSlackBot
from rasa.core.channels.slack import SlackInput as RasaSlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackApiError

from willow import conversation_ids, idempotency, outages
from willow.channels import after_save, note, rest

logger = logging.getLogger(__name__)

ENV_TOKEN = "SLACK_BOT_TOKEN"
ENV_SIGNING_SECRET = "SLACK_SIGNING_SECRET"
ENV_CHANNEL = "SLACK_CHANNEL"
ENV_USE_THREADS = "SLACK_USE_THREADS"
ENV_API_URL = "SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"

# Slack's own rule: reject requests whose timestamp is more than 5 minutes off (replays).
MAX_REQUEST_AGE_SECONDS = 5 * 60
# Slack retries after about 0 s, 1 min and 5 min; remember accepted events well past that.
DEDUPE_WINDOW_SECONDS = 15 * 60
# Bound on memory whatever the traffic; the oldest entries go first.
DEDUPE_MAX_KEYS = 10_000
# How long a request waits for its turn before Slack gets its 200 (Slack's limit is 3 s): long
# enough to answer 503 when a store is down, so Slack retries.
ACK_WAIT_SECONDS = 2.0
# Message subtypes that are still something a person wrote. Others (joins, edits,
# deletions, bot posts) are Slack's bookkeeping, not messages to Willow.
USER_MESSAGE_SUBTYPES = {None, "thread_broadcast", "file_share"}

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off", ""}


def media_type(request: Request) -> str:
    """``application/json; charset=utf-8`` -> ``application/json``."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature (also used by the tests to sign requests)."""
    base = b"v0:" + timestamp.encode("utf-8") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def _env_flag(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word not in FALSE_WORDS:
        logger.warning('%s should be "true" or "false"; treating %r as false.', name, value[:20])
    return False


def _api_url(value: str) -> str:
    url = value.strip() or DEFAULT_API_URL
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        logger.warning("%s is not an http(s) URL; using %s.", ENV_API_URL, DEFAULT_API_URL)
        return DEFAULT_API_URL
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        # The bot token travels in every request's Authorization header.
        logger.warning("%s uses plain http to %s: the bot token is sent unencrypted.", ENV_API_URL, parts.hostname)
    return url


_TEXT_OR_NONE = (str, type(None))


def event_shape_problem(payload: Dict[Text, Any]) -> Optional[Text]:
    """What in a (signed) message event does not have the types Slack sends, or None.

    Rasa's helpers read these fields without checking them: a number for ``text`` or an object
    for ``authed_users`` raised inside the handler (500 and a traceback, found by
    tests/test_fuzz.py)."""
    event = payload["event"]
    for name, value in (("event.text", event.get("text")), ("event.user", event.get("user")),
                        ("event.channel", event.get("channel")), ("event.ts", event.get("ts")),
                        ("event.thread_ts", event.get("thread_ts")), ("event.team", event.get("team")),
                        ("event.channel_type", event.get("channel_type")),
                        ("team_id", payload.get("team_id")), ("event_id", payload.get("event_id"))):
        if not isinstance(value, _TEXT_OR_NONE):
            return f"'{name}' must be a string"
    for name in ("authed_users", "authorizations"):
        value = payload.get(name)
        if value is not None and not isinstance(value, list):
            return f"'{name}' must be a list"
    if not all(isinstance(u, str) for u in payload.get("authed_users") or []):
        return "'authed_users' must hold strings"
    if not all(isinstance(a, dict) and isinstance(a.get("user_id"), _TEXT_OR_NONE)
               for a in payload.get("authorizations") or []):
        return "'authorizations' must hold objects with a string 'user_id'"
    try:  # NUL characters and lone surrogates: the SQL tracker stores cannot save them
        rest.check_text(event.get("text") or "", "event.text")
    except rest.BadRequest as error:
        return error.error
    return None


def interaction_shape_problem(payload: Dict[Text, Any]) -> Optional[Text]:
    """Like ``event_shape_problem``, for a button click's payload."""
    actions = payload.get("actions")
    if actions is not None and not (isinstance(actions, list) and all(isinstance(a, dict) for a in actions)):
        return "'actions' must be a list of objects"
    if actions:
        action = actions[0]
        if not isinstance(action.get("type"), _TEXT_OR_NONE):
            return "'actions[0].type' must be a string"
        for key in ("selected_option",):
            if key in action and not isinstance(action[key], dict):
                return f"'actions[0].{key}' must be an object"
        if "selected_options" in action and not (
                isinstance(action["selected_options"], list) and action["selected_options"]
                and isinstance(action["selected_options"][0], dict)):
            return "'actions[0].selected_options' must be a list of objects"
    for part, keys in (("user", ("id", "team_id")), ("channel", ("id",)), ("team", ("id",)),
                       ("message", ("ts", "thread_ts"))):
        value = payload.get(part)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f"'{part}' must be an object"
        if not all(isinstance(value.get(key), _TEXT_OR_NONE) for key in keys):
            return f"'{part}' must hold strings"
    if not isinstance(payload.get("trigger_id"), _TEXT_OR_NONE):
        return "'trigger_id' must be a string"
    return None


class SeenEvents:
    """Keys of recently accepted Slack events, bounded in time and in number.

    In memory only: after a restart, or across several Rasa replicas, a redelivery without
    the retry header would be answered again (Slack's retry header still stops the usual case).
    """

    def __init__(
        self,
        window_seconds: float = DEDUPE_WINDOW_SECONDS,
        max_keys: int = DEDUPE_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self.clock = clock
        self._seen: "OrderedDict[str, float]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: str) -> bool:
        seen = self._seen.get(key)
        return seen is not None and seen >= self.clock() - self.window_seconds

    def forget(self, keys: Iterable[str]) -> None:
        """A delivery that could not be handled (a store was down): its retry must get through."""
        for key in keys:
            self._seen.pop(key, None)

    def first_time(self, keys: Iterable[str]) -> bool:
        """Records the keys; False if any of them was seen within the window.

        No await inside, so concurrent requests on the event loop cannot both pass.
        """
        keys = [k for k in keys if k]
        now = self.clock()
        while self._seen and next(iter(self._seen.values())) < now - self.window_seconds:
            self._seen.popitem(last=False)
        if any(k in self._seen for k in keys):
            return False
        for key in keys:
            self._seen[key] = now
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return True


class SlackBot(note.NoteAsOneMessage, RasaSlackBot):
    """Rasa's Slack output (buttons become blocks), sent to a configurable API URL."""

    def __init__(
        self,
        token: Text,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        proxy: Optional[Text] = None,
        api_url: Text = DEFAULT_API_URL,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        # AsyncWebClient joins base_url and the method name, so it needs the trailing slash.
        self.client.base_url = api_url if api_url.endswith("/") else api_url + "/"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        # Replies go to the event's channel (``slack_channel``); should Rasa ever send to the
        # bare conversation, its Slack id is the user id: ``slack:T1:U1_C1_ts`` -> ``U1``.
        if conversation_ids.channel_of(recipient_id) == conversation_ids.SLACK:
            local = conversation_ids.local_id(recipient_id, conversation_ids.SLACK)
            recipient_id = local.partition(conversation_ids.SEPARATOR)[2].split("_", 1)[0]
        await super().send_response(recipient_id, message)

    async def _post_message(self, channel: Text, **kwargs: Any) -> None:
        # as_user is for classic apps only; a bot token posts as the bot anyway.
        # type="mrkdwn" is not a chat.postMessage argument (text is mrkdwn by default).
        kwargs.pop("as_user", None)
        kwargs.pop("type", None)
        await super()._post_message(channel, **kwargs)

    async def send_note(self, recipient_id: Text, payload: Dict[Text, Any]) -> None:
        # The note for the next session as one plain-text message (its custom payload is for
        # the web page; Rasa would post it to chat.postMessage as unknown arguments).
        await self._post_message(channel=self.slack_channel or recipient_id, text=payload["text"])


class SlackInput(RasaSlackInput):
    """Slack Events API input for Willow; see the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        # Rasa sets only its own loggers' level (and LOG_LEVEL); the root logger is reset to
        # WARNING while the model loads, which would hide this module's INFO lines.
        level = logging.getLevelName(os.environ.get("LOG_LEVEL", "INFO").upper())
        if isinstance(level, int):
            logger.setLevel(level)
        if credentials:
            # Only key names are logged: values could be secrets someone pasted in.
            logger.warning(
                "Slack settings in credentials.yml are ignored (%s); Willow reads them from "
                "environment variables (%s, %s, ...).",
                ", ".join(sorted(map(str, credentials))), ENV_TOKEN, ENV_SIGNING_SECRET,
            )
        env = os.environ
        return cls(
            slack_token=env.get(ENV_TOKEN, "").strip(),
            slack_signing_secret=env.get(ENV_SIGNING_SECRET, "").strip(),
            slack_channel=env.get(ENV_CHANNEL, "").strip() or None,
            use_threads=_env_flag(ENV_USE_THREADS, env.get(ENV_USE_THREADS, "")),
            api_url=_api_url(env.get(ENV_API_URL, "")),
        )

    def __init__(
        self,
        slack_token: Text,
        slack_channel: Optional[Text] = None,
        proxy: Optional[Text] = None,
        slack_retry_reason_header: Optional[Text] = "x-slack-retry-reason",
        slack_retry_number_header: Optional[Text] = "x-slack-retry-num",
        errors_ignore_retry: Optional[List[Text]] = None,
        use_threads: Optional[bool] = False,
        slack_signing_secret: Text = "",
        conversation_granularity: Optional[Text] = "sender",
        api_url: Text = DEFAULT_API_URL,
    ) -> None:
        self.api_url = api_url
        self.seen_events = SeenEvents()
        super().__init__(
            slack_token, slack_channel, proxy, slack_retry_reason_header,
            slack_retry_number_header, errors_ignore_retry, use_threads,
            slack_signing_secret, conversation_granularity,
        )

    # -- configuration -------------------------------------------------------------

    def _validate_credentials(self) -> None:
        # Called by Rasa's __init__. Rasa raises here, which stops `rasa run` and every
        # other channel with it; Willow keeps running and refuses Slack requests instead.
        missing = [
            name for name, value in ((ENV_TOKEN, self.slack_token),
                                     (ENV_SIGNING_SECRET, self.slack_signing_secret))
            if not value
        ]
        self.configured = not missing
        if missing:
            logger.warning(
                "Slack channel not configured: %s not set. /webhooks/slack/webhook answers 503 "
                "until they are set and Rasa is restarted.", " and ".join(missing),
            )

    def get_output_channel(
        self, channel: Optional[Text] = None, thread_id: Optional[Text] = None
    ) -> OutputChannel:
        return SlackBot(
            self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url
        )

    # -- request checks --------------------------------------------------------------

    def is_request_from_slack_authentic(self, request: Request) -> bool:
        """True if the request carries a valid, fresh Slack signature.

        Only the reason for a refusal is logged (never headers or body).
        """
        signature = request.headers.get("X-Slack-Signature", "")
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        if not signature or not timestamp:
            reason = "unsigned"
        elif not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_REQUEST_AGE_SECONDS:
            reason = "stale or malformed timestamp"
        elif not hmac.compare_digest(
            signature_for(self.slack_signing_secret, timestamp, request.body or b""), signature
        ):
            reason = "wrong signature"
        else:
            return True
        logger.info("Refused a Slack webhook request: %s.", reason)
        return False

    # -- metadata -----------------------------------------------------------------------

    @staticmethod
    def _event_metadata(payload: Dict[Text, Any]) -> Dict[Text, Any]:
        event = payload.get("event") or {}
        users = payload.get("authed_users") or [
            a.get("user_id") for a in (payload.get("authorizations") or [])[:1] if a.get("user_id")
        ]
        return {
            "out_channel": event.get("channel"),
            # A reply in a thread stays in it; a top-level message starts one.
            "thread_id": event.get("thread_ts") or event.get("ts"),
            "users": users,  # the bot's own user id, stripped from "@Willow hi"
        }

    @staticmethod
    def _interaction_metadata(payload: Dict[Text, Any]) -> Dict[Text, Any]:
        message = payload.get("message") or {}
        user = (payload.get("user") or {}).get("id")
        return {
            "out_channel": (payload.get("channel") or {}).get("id"),
            "thread_id": message.get("thread_ts") or message.get("ts"),
            "users": [user] if user else [],
        }

    def get_metadata(self, request: Request) -> Dict[Text, Any]:
        """Same result as Rasa's, but recognises content types with parameters."""
        try:
            kind = media_type(request)
            if kind == "application/json":
                return self._event_metadata(json.loads(request.body))
            if kind == "application/x-www-form-urlencoded":
                return self._interaction_metadata(self._form_payload(request))
        except (ValueError, TypeError, AttributeError):
            pass
        return {}

    @staticmethod
    def _form_payload(request: Request) -> Dict[Text, Any]:
        form = parse_qs((request.body or b"").decode("utf-8"))
        payload = json.loads(form.get("payload", ["{}"])[0])
        if not isinstance(payload, dict):
            raise ValueError("payload is not an object")
        return payload

    # -- handling -------------------------------------------------------------------------

    def _is_supported_channel(self, slack_event: Dict, metadata: Dict) -> bool:
        # Rasa's version also accepts an event without a channel when SLACK_CHANNEL is
        # unset (None == None); such an event has nowhere to be answered.
        channel = metadata.get("out_channel")
        return bool(channel) and (
            self._is_direct_message(slack_event)
            or self._is_app_mention(slack_event)
            or channel == self.slack_channel
        )

    async def _handle_quietly(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage,
        output: after_save.HeldReplies,
    ) -> bool:
        """False only when a store is down. Usually runs after Slack got its 200, so failures
        can only be logged: the error code or exception type, never the exception text (it may
        quote the message)."""
        try:
            await on_new_message(message)
            await output.send_held()  # only once the turn is saved: a failed one is retried
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            logger.error("Slack refused Willow's reply: %s.", code or "unknown error")
        except Exception as error:  # noqa: BLE001 - a background task has no caller to raise to
            if outages.is_outage(error):
                logger.warning("A store is unavailable; a Slack message was not handled (%s).", type(error).__name__)
                return False
            logger.error("Handling a Slack message failed: %s.", type(error).__name__)
            logger.debug("Traceback of the failed Slack message.", exc_info=True)
        return True

    async def _dispatch(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        sender_id: Text,
        metadata: Dict[Text, Any],
        message_id: Optional[Text] = None,
        keys: Iterable[str] = (),
    ) -> HTTPResponse:
        """Hands the message to Rasa and answers Slack within ``ACK_WAIT_SECONDS``.

        Slack wants an answer within 3 seconds and retries otherwise. A turn that fails at once
        because a store is down gets 503, so Slack retries later (with the same event id:
        handled once, ``willow.idempotency``); a slower turn goes on in the background.
        """
        thread_id = metadata.get("thread_id") if self.use_threads else None
        client_id = message_id if idempotency.valid_id(message_id) else None
        output = after_save.HeldReplies(self.get_output_channel(metadata.get("out_channel"), thread_id))
        message = UserMessage(
            text,
            output,
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
            message_id=client_id,
        )
        if client_id:
            idempotency.mark(message, idempotency.SKIP)  # its replies went out through Slack's API
        task = asyncio.create_task(self._handle_quietly(on_new_message, message, output))
        # Keep a reference until done, or the task may be garbage-collected mid-way.
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=ACK_WAIT_SECONDS)
        if task in done and task.result() is False:
            self.seen_events.forget(keys)
            return response.json({"error": outages.MESSAGE}, status=HTTPStatus.SERVICE_UNAVAILABLE,
                                 headers={"Retry-After": str(outages.RETRY_AFTER_SECONDS)})
        return response.json({"ok": True})

    async def _handle_event(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        try:
            payload = json.loads(request.body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            return response.json({"error": "body is not JSON"}, status=HTTPStatus.BAD_REQUEST)
        if not isinstance(payload, dict):
            return response.json({"error": "body is not a JSON object"}, status=HTTPStatus.BAD_REQUEST)

        if payload.get("type") == "url_verification":
            # Sent once when the Request URL is saved in the Slack app settings.
            return response.json({"challenge": payload.get("challenge")})

        retry = request.headers.get("X-Slack-Retry-Num")
        # A retry of an event this process accepted is dropped; one it never saw (the first
        # delivery went to an instance that died, or got a 503) is handled, once: its event id
        # is kept with the message in the tracker store.
        if retry is not None and f"event:{payload.get('event_id')}" in self.seen_events:
            # The first delivery was accepted (or is being handled); answering again would
            # duplicate the reply. X-Slack-No-Retry asks Slack to stop retrying this event.
            logger.info(
                "Acknowledged Slack retry #%s (%s) without processing it again.",
                retry[:8], request.headers.get("X-Slack-Retry-Reason", "no reason")[:40],
            )
            return response.json({"ok": True, "ignored": "retry"}, headers={"X-Slack-No-Retry": "1"})

        event = payload.get("event")
        if (
            payload.get("type") != "event_callback"
            or not isinstance(event, dict)
            or not self._is_user_message(payload)  # has text, not from a bot
            or not isinstance(event.get("subtype"), (str, type(None)))
            or event.get("subtype") not in USER_MESSAGE_SUBTYPES
            or not event.get("user")
        ):
            logger.debug("Ignored a Slack event that is not a person's message.")
            return response.json({"ok": True, "ignored": "not a user message"})

        problem = event_shape_problem(payload)
        if problem:
            logger.debug("Refused a Slack event: %s.", problem)
            return response.json({"error": f"not a Slack message event: {problem}"}, status=HTTPStatus.BAD_REQUEST)
        if len(event.get("text") or "") > rest.DEFAULT_MAX_MESSAGE_CHARS:
            # As on the other channels: parsing it would block the server for everyone.
            logger.warning("Ignored a Slack message longer than %s characters.", rest.DEFAULT_MAX_MESSAGE_CHARS)
            return response.json({"ok": True, "ignored": "too long"})
        metadata = self._event_metadata(payload)
        if not self._is_supported_channel(payload, metadata):
            logger.info("Ignored a Slack message in a channel that is not a DM, a mention or %s.", ENV_CHANNEL)
            return response.json({"ok": True, "ignored": "channel not supported"})

        keys = []
        if payload.get("event_id"):
            keys.append(f"event:{payload['event_id']}")
        if event.get("ts"):
            # One message can arrive as two events ("message" and "app_mention").
            keys.append(f"message:{metadata['out_channel']}:{event['ts']}")
        if not self.seen_events.first_time(keys):
            logger.info("Ignored a Slack event that was already handled (%s).", payload.get("event_id"))
            return response.json({"ok": True, "ignored": "duplicate"})

        sender = str(event["user"])
        event_id = payload.get("event_id")
        return await self._dispatch(
            on_new_message,
            self._sanitize_user_message(event.get("text", ""), metadata["users"]),
            self._conversation(payload.get("team_id") or event.get("team"), sender, metadata),
            metadata,
            message_id=f"slack-event:{event_id}" if isinstance(event_id, str) else None,
            keys=keys,
        )

    @staticmethod
    def _interaction_team(payload: Dict[Text, Any]) -> Any:
        for part, key in (("team", "id"), ("user", "team_id")):
            value = payload.get(part)
            if isinstance(value, dict) and value.get(key):
                return value[key]
        return None

    def _conversation(self, team: Any, sender: Text, metadata: Dict[Text, Any]) -> Text:
        """``slack:<team>:<Rasa's id for the sender, channel and thread>``."""
        local = self._get_conversation_id(sender, metadata["out_channel"], metadata["thread_id"])
        return conversation_ids.conversation_id(conversation_ids.SLACK, str(team or ""), local)

    async def _handle_interaction(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        """A button click (Slack posts these form-encoded to the Interactivity Request URL)."""
        try:
            payload = self._form_payload(request)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
            return response.json({"error": "no JSON payload"}, status=HTTPStatus.BAD_REQUEST)
        problem = interaction_shape_problem(payload)
        if problem:
            logger.debug("Refused a Slack interaction: %s.", problem)
            return response.json({"error": f"not a Slack interaction: {problem}"}, status=HTTPStatus.BAD_REQUEST)
        value = None
        if self._is_interactive_message(payload):
            value = self._get_interactive_response(payload["actions"][0])
        if not isinstance(value, str):
            value = None  # a button's value is a string; anything else carries nothing to say
        else:
            try:
                rest.check_text(value, "value")
            except rest.BadRequest:
                value = None
        sender = (payload.get("user") or {}).get("id")
        metadata = self._interaction_metadata(payload)
        if value is None or not sender or not metadata.get("out_channel"):
            # Link buttons and unsupported components carry nothing to say to Rasa.
            return response.json({"ok": True, "ignored": "no value"})
        # Slack does not retry clicks, but a replayed signed request must not count twice.
        keys = [f"action:{payload['trigger_id']}"] if payload.get("trigger_id") else []
        if keys and not self.seen_events.first_time(keys):
            return response.json({"ok": True, "ignored": "duplicate"})
        trigger = payload.get("trigger_id")
        return await self._dispatch(
            on_new_message,
            str(value),
            self._conversation(self._interaction_team(payload), sender, metadata),
            metadata,
            message_id=f"slack-action:{trigger}" if isinstance(trigger, str) else None,
            keys=keys,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook", __name__)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.configured else "not configured"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                return response.json(
                    {"error": f"Slack channel not configured: set {ENV_TOKEN} and {ENV_SIGNING_SECRET}"},
                    status=HTTPStatus.SERVICE_UNAVAILABLE,
                )
            if not self.is_request_from_slack_authentic(request):
                return response.json(
                    {"error": "missing, invalid or stale Slack signature"},
                    status=HTTPStatus.UNAUTHORIZED,
                )
            kind = media_type(request)
            if kind == "application/json":
                return await self._handle_event(request, on_new_message)
            if kind == "application/x-www-form-urlencoded":
                return await self._handle_interaction(request, on_new_message)
            return response.json(
                {"error": "expected JSON or form-encoded body"},
                status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            )

        return slack_webhook
