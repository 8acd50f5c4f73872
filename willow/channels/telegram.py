"""Telegram channel for Willow: Rasa 3.6.21's Telegram channel, fixed and configured from the environment.

credentials.yml holds only ``willow.channels.telegram.TelegramInput:``; every setting comes from
environment variables, so no secret is ever committed:

=========================  ===================================================================
TELEGRAM_TOKEN             the bot's token from @BotFather (``<digits>:<text>``)
TELEGRAM_SECRET_TOKEN      1-256 characters ``A-Z a-z 0-9 _ -``; Telegram sends it in the
                           ``X-Telegram-Bot-Api-Secret-Token`` header and updates without it get 403
TELEGRAM_WEBHOOK_URL       public https URL Telegram posts to (ends in /webhooks/telegram/webhook)
TELEGRAM_BOT_USERNAME      the bot's username; optional, only checked once against getMe
TELEGRAM_API_URL           Bot API base URL, default https://api.telegram.org (tests use a fake)
=========================  ===================================================================

What differs from ``rasa.core.channels.telegram`` and why:

* Start-up never fails because of Telegram. Rasa sets the webhook inside ``asyncio.run`` while
  building the blueprint and aborts ``rasa run`` when the Bot API is unreachable. Here the webhook
  is set in the background once the server runs, with a short timeout, and a failure is a warning
  (``make telegram-webhook`` retries it). Without a token the channel is off and answers 503.
* One output channel whose aiohttp session is created lazily on the server's event loop. Rasa's
  session is born in that throwaway ``asyncio.run`` loop, so every reply fails with "Event loop is
  closed" and Telegram gets HTTP 500 (RasaHQ/rasa#10666).
* Updates are authenticated with Telegram's secret-token header; Rasa's webhook accepts anyone.
* Updates other than messages and button presses get 200 and are ignored: Rasa answers them with
  500 and Telegram redelivers them forever (RasaHQ/rasa#5864). Failures while answering are
  logged and also get 200, for the same reason.
* No ``getMe`` per update (Rasa calls it on every update and silently drops messages when the
  username differs): the username is compared once and a mismatch is logged.
* Pressing a button sends its payload as the user's message and answers the callback query, so
  the button stops spinning in the user's app.
* Message text is never logged above DEBUG: conversations are health-adjacent.
* The conversation is ``telegram:<chat id>`` (``willow.conversation_ids``): Rasa keyed it
  by the bare chat id, which any REST or web client could send as its own id.

This module only transports: what Willow says comes from Rasa's domain.

``python -m willow.channels.telegram set-webhook`` (``make telegram-webhook``) registers the
webhook with the secret token; ``webhook-info`` shows what Telegram has and its last error.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import aiohttp
from aiogram import Bot
from aiogram.bot.api import TelegramAPIServer, check_token
from aiogram.utils.exceptions import ValidationError
from rasa.core.channels import telegram as rasa_telegram
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response

from willow import conversation_ids, idempotency, outages
from willow.channels import after_save, note, rest
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's own limit for a message's text.
MAX_TEXT_CHARS = 4096
# Only what the webhook handles; anything else would be answered 200 and thrown away anyway.
ALLOWED_UPDATES = ["message", "callback_query"]
# Start-up and `make telegram-webhook` should fail fast; replies may take a little longer.
SETUP_TIMEOUT = 10.0
SEND_TIMEOUT = 30.0
RETRY_HINT = "fix the cause, then run `make telegram-webhook`"
_SECRET_FORMAT = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSetupError(Exception):
    """The Bot API could not be reached or refused a set-up call (message safe to log)."""


@dataclass(frozen=True)
class Settings:
    """The channel's settings, read from the environment."""

    token: Optional[str]
    secret_token: Optional[str]
    webhook_url: Optional[str]
    bot_username: Optional[str]
    api_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        def value(name: str) -> Optional[str]:
            # .env files and shells easily add blanks; an empty variable counts as unset.
            return (environ.get(name) or "").strip() or None

        username = value("TELEGRAM_BOT_USERNAME")
        return cls(
            token=value("TELEGRAM_TOKEN"),
            secret_token=value("TELEGRAM_SECRET_TOKEN"),
            webhook_url=value("TELEGRAM_WEBHOOK_URL"),
            bot_username=username.lstrip("@") if username else None,
            api_url=(value("TELEGRAM_API_URL") or DEFAULT_API_URL).rstrip("/"),
        )

    def token_problem(self) -> Optional[str]:
        """Why no Bot API call can be made, or None."""
        if not self.token:
            return "TELEGRAM_TOKEN is not set"
        try:
            check_token(self.token)
        except ValidationError:
            return "TELEGRAM_TOKEN is not a bot token (expected <digits>:<text>, as @BotFather gives it)"
        return None

    def webhook_problem(self) -> Optional[str]:
        """Why the webhook cannot accept updates, or None."""
        problem = self.token_problem()
        if problem:
            return problem
        if not self.secret_token:
            return "TELEGRAM_SECRET_TOKEN is not set"
        if not _SECRET_FORMAT.fullmatch(self.secret_token):
            return "TELEGRAM_SECRET_TOKEN must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        return None

    def set_webhook_problem(self) -> Optional[str]:
        """Why setWebhook cannot be called, or None."""
        problem = self.webhook_problem()
        if problem:
            return problem
        if not self.webhook_url:
            return "TELEGRAM_WEBHOOK_URL is not set"
        if not self.webhook_url.lower().startswith("https://"):
            return "TELEGRAM_WEBHOOK_URL must be an https:// URL (Telegram only posts over https)"
        return None

    def redact(self, text: str) -> str:
        """The token is part of every Bot API URL; keep it out of messages and logs."""
        return text.replace(self.token, "<TELEGRAM_TOKEN>") if self.token else text


def _object(value: Any) -> Dict[str, Any]:
    """A JSON object of an update, or an empty one when that part has another shape."""
    return value if isinstance(value, dict) else {}


def _is_chat_id(value: Any) -> bool:
    """Telegram's chat ids are integers (negative for groups); a short printable string is kept
    too (it becomes ``telegram:<id>`` either way). Objects, lists and booleans are not ids."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and re.fullmatch(r"[\x21-\x7e]{1,64}", value) is not None)


async def call_bot_api(
    settings: Settings, method: str, params: Dict[str, Any], timeout: float = SETUP_TIMEOUT
) -> Any:
    """One Bot API call over plain HTTP, in a session that lives only for this call.

    Used for set-up calls that aiogram 2.15 cannot make (setWebhook has no secret_token there).
    Raises TelegramSetupError with a message that is safe to log.
    """
    url = f"{settings.api_url}/bot{settings.token}/{method}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            async with session.post(url, json=params) as answer:
                status = answer.status
                try:
                    body = await answer.json(content_type=None)
                except ValueError:
                    body = None
    except asyncio.TimeoutError:
        raise TelegramSetupError(
            f"no answer from the Bot API at {settings.api_url} within {timeout:g} s"
        ) from None
    except aiohttp.ClientError as error:
        raise TelegramSetupError(settings.redact(
            f"could not reach the Bot API at {settings.api_url} ({type(error).__name__}: {error})"
        )) from None
    if not isinstance(body, dict):
        raise TelegramSetupError(f"unexpected answer from {settings.api_url} to {method} (HTTP {status})")
    if not body.get("ok"):
        description = body.get("description") or f"HTTP {status}"
        hint = " (check TELEGRAM_TOKEN)" if status in (401, 404) else ""
        raise TelegramSetupError(settings.redact(f"Telegram refused {method}: {description}{hint}"))
    return body.get("result")


async def set_webhook(settings: Settings, timeout: float = SETUP_TIMEOUT) -> None:
    """Registers the webhook URL with the secret token. Raises TelegramSetupError."""
    problem = settings.set_webhook_problem()
    if problem:
        raise TelegramSetupError(problem)
    await call_bot_api(
        settings,
        "setWebhook",
        {"url": settings.webhook_url, "secret_token": settings.secret_token,
         "allowed_updates": ALLOWED_UPDATES},
        timeout,
    )


class TelegramOutput(note.NoteAsOneMessage, rasa_telegram.TelegramOutput):
    """Rasa's Telegram output, pointed at a configurable Bot API and with a request timeout.

    aiogram creates its aiohttp session on first use, so as long as nothing sends before the
    server runs, the session lives on the server's event loop.
    """

    def __init__(self, access_token: Text, api_url: Text = DEFAULT_API_URL) -> None:
        # Rasa's __init__ passes only the token; the server is needed for tests and local Bot API servers.
        Bot.__init__(
            self, access_token, server=TelegramAPIServer.from_base(api_url), timeout=SEND_TIMEOUT
        )

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        # Rasa hands back the conversation id; Telegram needs the chat id inside it.
        chat_id = conversation_ids.local_id(recipient_id, conversation_ids.TELEGRAM)
        await super().send_response(chat_id, message)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        # Like Rasa (one Telegram message per paragraph), but Telegram rejects empty messages.
        for part in text.strip().split("\n\n"):
            if part.strip():
                await self.send_message(recipient_id, part)

    async def send_note(self, recipient_id: Text, payload: Dict[Text, Any]) -> None:
        # The note for the next session as one plain-text message, easy to copy or forward
        # (not split at blank lines; its custom payload is for the web page only).
        await self.send_message(recipient_id, payload["text"])

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        button_type: Optional[Text] = "vertical",
        **kwargs: Any,
    ) -> None:
        # One button per row: Rasa's default puts all buttons in one row, and four titles of
        # 20-30 characters are cut off on a phone. A response can still set `button_type`.
        await super().send_text_with_buttons(recipient_id, text, buttons, button_type, **kwargs)

    async def close_session(self) -> None:
        # aiogram's close() is deprecated and would create a session just to close it.
        if self._session is not None and not self._session.closed:
            await self._session.close()


class TelegramInput(rasa_telegram.TelegramInput):
    """Telegram webhook at /webhooks/telegram/webhook, configured from the environment."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if credentials:
            logger.warning(
                "Telegram: ignoring the values under willow.channels.telegram.TelegramInput in "
                "credentials.yml; the channel reads TELEGRAM_* environment variables."
            )
        return cls(Settings.from_env())

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            settings.token, settings.bot_username, settings.webhook_url, debug_mode=False
        )
        self.settings = settings
        self.problem = settings.webhook_problem()
        self._output: Optional[TelegramOutput] = None
        if not settings.token_problem():
            self._output = TelegramOutput(settings.token, settings.api_url)
        self._username_checked = False
        self._username_check: Optional[asyncio.Task] = None
        self._setup_task: Optional[asyncio.Task] = None
        self._refusals = 0
        if self.problem:
            # One warning at start-up; the webhook then answers 503 so the cause is visible there too.
            logger.warning(
                "Telegram channel is off: %s. Set TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN "
                "(see README, Telegram) and restart; until then /webhooks/telegram/webhook answers 503.",
                self.problem,
            )

    def get_output_channel(self) -> Optional[TelegramOutput]:  # type: ignore[override]
        # Always the same instance (also for the HTTP API's trigger_intent), never a new session.
        return self._output

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)

        @telegram_webhook.listener("after_server_start")
        async def start_setup(app: Any, loop: asyncio.AbstractEventLoop) -> None:
            # In the background: the server answers while Telegram is slow or unreachable.
            self._setup_task = loop.create_task(self._set_webhook_on_start())

        @telegram_webhook.listener("after_server_stop")
        async def close(app: Any, loop: asyncio.AbstractEventLoop) -> None:
            if self._output is not None:
                await self._output.close_session()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if self.problem:
                return response.json({"status": "off", "error": self.problem}, status=503)
            return response.json({"status": "ok"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.problem:
                return response.json({"error": f"Telegram channel is off: {self.problem}"}, status=503)
            if not self._has_secret(request):
                return response.json({"error": "missing or wrong secret token"}, status=403)
            try:
                update = json.loads(request.body or b"")
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deeply
                update = None
            if not isinstance(update, dict):
                return response.json({"error": "expected a Telegram Update object"}, status=400)
            self._check_username_once()
            if not await self._handle(update, request, on_new_message):
                # A store is down: Telegram delivers the update again later (the same
                # update_id, so it is handled once).
                return response.json({"error": outages.MESSAGE}, status=503,
                                     headers={"Retry-After": str(outages.RETRY_AFTER_SECONDS)})
            # 200 whatever else happened: Telegram redelivers anything else until it gets a 2xx.
            return response.json({"ok": True})

        return telegram_webhook

    def _has_secret(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        # surrogateescape: a header that is not valid UTF-8 is a wrong secret, not a crash
        if hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.settings.secret_token.encode()):
            return True
        self._refusals += 1
        # Warn once (a changed secret shows up at once), then quietly: scanners must not fill the log.
        log = logger.warning if self._refusals == 1 else logger.debug
        log("Telegram: refused an update without the right %s header (refusal %d); if this is "
            "Telegram, run `make telegram-webhook` to register the current TELEGRAM_SECRET_TOKEN.",
            SECRET_HEADER, self._refusals)
        return False

    async def _handle(
        self,
        update: Dict[str, Any],
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> bool:
        """Hands the update's message to Rasa; False only when a store is down (worth redelivering)."""
        button = update.get("callback_query")
        message = update.get("message")
        if isinstance(button, dict):
            chat = _object(_object(button.get("message")).get("chat")) or _object(button.get("from"))
            text = button.get("data")
            if isinstance(text, str):
                await self._answer_button(button.get("id"))
        elif isinstance(message, dict) and isinstance(message.get("text"), str):
            chat, text = _object(message.get("chat")), message["text"]
        else:
            # my_chat_member (the user blocked or restarted the bot), edits, stickers, photos,
            # locations, service messages: nothing Willow reads. Edits are not re-answered.
            logger.debug("Telegram: ignored an update with %s", sorted(k for k in update if k != "update_id"))
            return True
        chat_id = chat.get("id")
        if not isinstance(text, str) or not _is_chat_id(chat_id):
            logger.debug("Telegram: ignored an update without text or chat")
            return True
        try:  # NUL characters and lone surrogates: the SQL tracker stores cannot save them
            rest.check_text(text, "text")
        except rest.BadRequest:
            logger.debug("Telegram: ignored an update whose text cannot be stored")
            return True
        if len(text) > MAX_TEXT_CHARS:
            # Longer than Telegram itself allows: not Telegram. Parsing it would block the server
            # for everyone (20,000 emoji: 43 s, measured by tests/test_fuzz.py).
            logger.warning("Telegram: ignored an update longer than %s characters.", MAX_TEXT_CHARS)
            return True
        if text.strip().split("@")[0] == "/start":
            # Telegram sends /start when someone opens the bot: start with the introduction.
            text = "/greet"
        update_id = update.get("update_id")
        # A redelivered update (Telegram got no 2xx in time) has the same update_id: handled once,
        # and not answered again (willow.idempotency).
        message_id = f"telegram-update:{update_id}" if isinstance(update_id, int) and not isinstance(update_id, bool) else None
        output = after_save.HeldReplies(self._output)
        message = UserMessage(
            text,
            output,
            conversation_ids.conversation_id(conversation_ids.TELEGRAM, str(chat_id)),
            input_channel=self.name(),
            metadata=self.get_metadata(request),
            message_id=message_id,
        )
        if message_id:
            idempotency.mark(message, idempotency.SKIP)
        try:
            await on_new_message(message)
            await output.send_held()  # only now: a turn that was not saved will be redelivered
        except Exception as error:  # noqa: BLE001 - any other failure must still be answered 200
            if outages.is_outage(error):
                logger.warning("Telegram: a store is unavailable; asked Telegram to deliver an update again (%s).",
                               type(error).__name__)
                return False
            logger.error(
                "Telegram: could not answer an update (%s: %s)",
                type(error).__name__, self.settings.redact(str(error))[:300],
            )
            logger.debug("Telegram: traceback", exc_info=True)
        return True

    async def _answer_button(self, callback_query_id: Optional[str]) -> None:
        # Until answered, the pressed button shows a spinner in the user's app.
        if not callback_query_id:
            return
        try:
            await self._output.answer_callback_query(callback_query_id)
        except Exception as error:  # noqa: BLE001 - the message itself still gets answered
            logger.warning(
                "Telegram: could not answer a button press (%s: %s)",
                type(error).__name__, self.settings.redact(str(error))[:300],
            )

    def _check_username_once(self) -> None:
        # The secret token already proves an update comes from Telegram; this only catches a
        # TELEGRAM_TOKEN of another bot. In the background, so no reply waits for it.
        if self._username_checked or not self.settings.bot_username:
            return
        if self._username_check is None or self._username_check.done():
            self._username_check = asyncio.get_running_loop().create_task(self._check_username())

    async def _check_username(self) -> None:
        try:
            me = await self._output.get_me()
        except Exception as error:  # noqa: BLE001 - tried again with the next update
            logger.debug("Telegram: getMe failed (%s), will retry", type(error).__name__)
            return
        self._username_checked = True
        if (me.username or "").lower() != self.settings.bot_username.lower():
            logger.error(
                "Telegram: TELEGRAM_TOKEN belongs to @%s, not @%s (TELEGRAM_BOT_USERNAME); "
                "replies go out as @%s. Fix whichever is wrong.",
                me.username, self.settings.bot_username, me.username,
            )

    async def _set_webhook_on_start(self) -> None:
        if self.problem:
            return
        if not self.settings.webhook_url:
            logger.info(
                "Telegram: TELEGRAM_WEBHOOK_URL is not set, so the webhook was not registered; "
                "set it to the public https URL of /webhooks/telegram/webhook and run `make telegram-webhook`."
            )
            return
        try:
            await set_webhook(self.settings)
        except TelegramSetupError as error:
            logger.warning(
                "Telegram: could not set the webhook: %s. Willow keeps running, but Telegram "
                "delivers no messages until the webhook is set: %s.", error, RETRY_HINT,
            )
            return
        logger.info("Telegram: webhook set to %s", self.settings.webhook_url)


def main(argv: Optional[List[str]] = None) -> int:
    """`set-webhook` registers TELEGRAM_WEBHOOK_URL with the secret token; `webhook-info` shows
    what Telegram has. Exit status: 0 done, 1 Telegram unreachable or refused, 2 settings missing."""
    parser = argparse.ArgumentParser(
        prog="python -m willow.channels.telegram",
        description="Manage Willow's Telegram webhook (settings from TELEGRAM_* environment variables).",
    )
    parser.add_argument("command", choices=["set-webhook", "webhook-info"])
    parser.add_argument("--timeout", type=float, default=SETUP_TIMEOUT, help="seconds (default %(default)s)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    problem = settings.set_webhook_problem() if args.command == "set-webhook" else settings.token_problem()
    if problem:
        print(f"Cannot {args.command.replace('-', ' ')}: {problem}. See README, Telegram.", file=sys.stderr)
        return 2
    try:
        if args.command == "set-webhook":
            asyncio.run(set_webhook(settings, args.timeout))
            print(f"Telegram webhook set: {settings.webhook_url} "
                  f"(secret token registered; updates: {', '.join(ALLOWED_UPDATES)})")
        else:
            info = asyncio.run(call_bot_api(settings, "getWebhookInfo", {}, args.timeout))
            for key, value in (info or {}).items():
                print(f"{key}: {value}")
    except TelegramSetupError as error:
        what = "set the Telegram webhook" if args.command == "set-webhook" else "read the webhook info"
        print(f"Could not {what}: {error}.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
