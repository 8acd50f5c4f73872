"""Telegram and Slack as the tests speak them: settings for the servers, and the updates and
events the real services would post. The session's servers (tests/conftest.py) run every
channel of credentials.yml with these settings, pointed at fakes on 127.0.0.1."""
from __future__ import annotations

import itertools
import json
import secrets
import time
import uuid
from typing import Any, Dict, Optional

import requests
from slack_sdk.signature import SignatureVerifier

from tests.willow.channels.fake_slack import BOT_USER_ID
from willow import local_servers
from willow.channels import telegram

# -- Telegram -------------------------------------------------------------------------------------
TOKEN = "123456789:AAF-willow-fake-token_0123456789"
USERNAME = "willow_test_bot"
SECRET = secrets.token_urlsafe(32)  # A-Z a-z 0-9 _ -, as Telegram requires
WEBHOOK_URL = "https://example.invalid/webhooks/telegram/webhook"


def telegram_env(api_url: str) -> Dict[str, str]:
    return {"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_API_URL": api_url, "TELEGRAM_SECRET_TOKEN": SECRET,
            "TELEGRAM_BOT_USERNAME": USERNAME, "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL}


# Telegram updates, as the Bot API posts them ------------------------------------------------
def new_chat() -> int:
    """A chat id no other test uses, so each test reads only its own replies."""
    return 10**9 + uuid.uuid4().int % 10**9


def _user(chat: int) -> Dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Test", "language_code": "en"}


def _message(chat: int, **fields: Any) -> Dict[str, Any]:
    return {"message_id": secrets.randbelow(10**6), "date": int(time.time()), "from": _user(chat),
            "chat": {"id": chat, "type": "private", "first_name": "Test"}, **fields}


def _update(**fields: Any) -> Dict[str, Any]:
    return {"update_id": secrets.randbelow(10**9), **fields}


def text_update(chat: int, text: str) -> Dict[str, Any]:
    return _update(message=_message(chat, text=text))


def button_update(chat: int, data: str, query_id: str) -> Dict[str, Any]:
    bot_message = _message(chat, text="(the message the button was on)")
    bot_message["from"] = {"id": 123456789, "is_bot": True, "first_name": "Willow", "username": USERNAME}
    return _update(callback_query={"id": query_id, "from": _user(chat), "chat_instance": "42",
                                   "data": data, "message": bot_message})


# ------------------------------------------------------------------------------------
def post_telegram(servers: local_servers.Servers, update: Dict[str, Any],
         secret: Optional[str] = SECRET) -> requests.Response:
    headers = {} if secret is None else {telegram.SECRET_HEADER: secret}
    return requests.post(f"{servers.url}/webhooks/telegram/webhook", json=update, headers=headers, timeout=60)


# -- Slack ----------------------------------------------------------------------------------------
SIGNING_SECRET = f"test-secret-{uuid.uuid4().hex}"
BOT_TOKEN = f"xoxb-test-{uuid.uuid4().hex}"
# The one channel (besides DMs and mentions) where Willow answers every message.
CONFIGURED_CHANNEL = f"C{uuid.uuid4().hex[:10].upper()}"
TEAM = "TWILLOW"
_ts = itertools.count(1)


def slack_env(api_url: str) -> Dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "SLACK_USE_THREADS": "true",
        "SLACK_CHANNEL": CONFIGURED_CHANNEL,
        # slack_sdk routes API calls through a proxy from these variables, which
        # would never reach a fake on 127.0.0.1; empty values switch that off.
        "HTTPS_PROXY": "", "https_proxy": "", "HTTP_PROXY": "", "http_proxy": "",
    }


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


def new_ts() -> str:
    """A Slack message timestamp, unique within the test run."""
    return f"{int(time.time())}.{next(_ts):06d}"


def sign(body: bytes, timestamp: Optional[int] = None, secret: str = SIGNING_SECRET) -> Dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def message_event(
    user: str,
    channel: str,
    text: str,
    *,
    channel_type: str = "im",
    kind: str = "message",
    ts: Optional[str] = None,
    thread_ts: Optional[str] = None,
) -> Dict[str, Any]:
    """An Events API envelope as Slack sends it for a message (or an app_mention)."""
    ts = ts or new_ts()
    event = {
        "type": kind, "user": user, "text": text, "ts": ts, "channel": channel,
        "event_ts": ts, "channel_type": channel_type, "team": TEAM,
    }
    if kind == "app_mention":
        del event["channel_type"]
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {
        "token": "deprecated-verification-token", "team_id": TEAM, "api_app_id": "AWILLOW",
        "type": "event_callback", "event_id": new_id("Ev"), "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def post_slack(servers: local_servers.Servers, payload: Dict[str, Any]) -> requests.Response:
    """A signed Events API request, as Slack posts it."""
    body = json.dumps(payload).encode("utf-8")
    return requests.post(f"{servers.url}/webhooks/slack/webhook", data=body, timeout=30,
                         headers={"Content-Type": "application/json", **sign(body)})
