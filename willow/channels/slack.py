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
  ``http_timeout`` retries and processes the others again, replying twice. Here any request carrying ``X-Slack-Retry-Num`` is
  acknowledged (200, ``X-Slack-No-Retry: 1``) and dropped, and accepted events are
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

from willow import conversation_ids
from willow.channels import note

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
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage
    ) -> None:
        # Runs after Slack got its 200, so failures can only be logged: the error code
        # or exception type, never the exception text (it may quote the message).
        try:
            await on_new_message(message)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            logger.error("Slack refused Willow's reply: %s.", code or "unknown error")
        except Exception as error:  # noqa: BLE001 - a background task has no caller to raise to
            logger.error("Handling a Slack message failed: %s.", type(error).__name__)
            logger.debug("Traceback of the failed Slack message.", exc_info=True)

    def _dispatch(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: Text,
        sender_id: Text,
        metadata: Dict[Text, Any],
    ) -> HTTPResponse:
        """Hands the message to Rasa in the background and answers Slack at once.

        Slack wants an answer within 3 seconds and retries otherwise.
        """
        thread_id = metadata.get("thread_id") if self.use_threads else None
        message = UserMessage(
            text,
            self.get_output_channel(metadata.get("out_channel"), thread_id),
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
        )
        task = asyncio.create_task(self._handle_quietly(on_new_message, message))
        # Keep a reference until done, or the task may be garbage-collected mid-way.
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return response.json({"ok": True})

    async def _handle_event(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        try:
            payload = json.loads(request.body)
        except ValueError:
            return response.json({"error": "body is not JSON"}, status=HTTPStatus.BAD_REQUEST)
        if not isinstance(payload, dict):
            return response.json({"error": "body is not a JSON object"}, status=HTTPStatus.BAD_REQUEST)

        if payload.get("type") == "url_verification":
            # Sent once when the Request URL is saved in the Slack app settings.
            return response.json({"challenge": payload.get("challenge")})

        retry = request.headers.get("X-Slack-Retry-Num")
        if retry is not None:
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
        return self._dispatch(
            on_new_message,
            self._sanitize_user_message(event.get("text", ""), metadata["users"]),
            self._conversation(payload.get("team_id") or event.get("team"), sender, metadata),
            metadata,
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
        except ValueError:
            return response.json({"error": "no JSON payload"}, status=HTTPStatus.BAD_REQUEST)
        value = None
        if self._is_interactive_message(payload):
            value = self._get_interactive_response(payload["actions"][0])
        sender = (payload.get("user") or {}).get("id")
        metadata = self._interaction_metadata(payload)
        if value is None or not sender or not metadata.get("out_channel"):
            # Link buttons and unsupported components carry nothing to say to Rasa.
            return response.json({"ok": True, "ignored": "no value"})
        # Slack does not retry clicks, but a replayed signed request must not count twice.
        if payload.get("trigger_id") and not self.seen_events.first_time(
            [f"action:{payload['trigger_id']}"]
        ):
            return response.json({"ok": True, "ignored": "duplicate"})
        return self._dispatch(
            on_new_message,
            str(value),
            self._conversation(self._interaction_team(payload), sender, metadata),
            metadata,
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
