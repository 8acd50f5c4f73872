"""The Telegram channel end to end: the real Rasa and action servers with the trained model,
Telegram Update JSON posted to /webhooks/telegram/webhook over HTTP, and a fake Bot API on
127.0.0.1 (fake_telegram.py) recording what the bot sends back. No internet is used.
"""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List

import aiohttp
import pytest

from tests import domain_files, note_turns
from tests.conftest import ARTIFACTS, ROOT
from tests.channel_clients import (SECRET, TOKEN, WEBHOOK_URL, _message, _update, _user, button_update,
                                    new_chat, telegram_env, text_update)
from tests.channel_clients import post_telegram as post
from tests.willow.channels.fake_telegram import FakeTelegram
from willow import local_servers
from willow.channels import telegram

SETTINGS = ("TELEGRAM_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_BOT_USERNAME", "TELEGRAM_API_URL")
ALL_BUTTON_PAYLOADS = sorted({
    button["payload"]
    for variations in domain_files.RESPONSES.values() for v in variations for button in v.get("buttons") or []
})


def write_credentials(directory: Path) -> Path:
    credentials = directory / "credentials.yml"
    credentials.write_text("rest:\nwillow.channels.telegram.TelegramInput:\n")
    return credentials


def closed_port_url() -> str:
    # Nothing listens on a port just released by free_port(): connections are refused at once.
    return f"http://127.0.0.1:{local_servers.free_port()}"


# -- Telegram updates, as the Bot API posts them (the builders are in tests/channel_clients.py) ----
def ignored_updates(chat: int) -> List[Dict[str, Any]]:
    """Updates that carry no text for Willow: the user blocked the bot, an edit, a sticker, a location."""
    member = {"user": _user(chat), "status": "member", "until_date": 0}
    return [
        _update(my_chat_member={"chat": {"id": chat, "type": "private"}, "from": _user(chat),
                                "date": int(time.time()), "old_chat_member": member,
                                "new_chat_member": {**member, "status": "kicked"}}),
        _update(edited_message=_message(chat, edit_date=int(time.time()),
                                        photo=[{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}])),
        _update(edited_message=_message(chat, edit_date=int(time.time()), text="an edit is not re-answered")),
        _update(message=_message(chat, sticker={"file_id": "s", "file_unique_id": "t", "width": 512,
                                                "height": 512, "is_animated": False, "is_video": False,
                                                "type": "regular"})),
        _update(message=_message(chat, location={"latitude": 52.52, "longitude": 13.40})),
    ]


# -- helpers ------------------------------------------------------------------------------------
def said(fake: FakeTelegram, chat: int) -> str:
    return "\n\n".join(call.params["text"] for call in fake.sent_to(chat))


def wait_until_said(fake: FakeTelegram, chat: int, done: Callable[[str], bool], timeout: float = 30) -> str:
    """Polls the fake until the chat's replies satisfy ``done`` (replies are sent asynchronously)."""
    text = fake.wait_for(lambda: said(fake, chat) if done(said(fake, chat)) else "", timeout)
    assert text, f"no matching reply to chat {chat} within {timeout} s; got: {said(fake, chat)!r}"
    return text


def starts_with_one_of(names: str) -> Callable[[str], bool]:
    return lambda text: any(text.startswith(v.strip()) for v in domain_files.texts(names))


def wait_for_log(log: Path, *needles: str, timeout: float = 30) -> str:
    found = FakeTelegram.wait_for(
        lambda: (lambda text: text if all(n in text for n in needles) else "")(log.read_text(errors="replace")),
        timeout,
    )
    assert found, f"{needles} not in {log} within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}"
    return found


# -- fixtures: the session's servers run the Telegram channel against the session's fake ---------
@pytest.fixture
def fake(telegram_fake: FakeTelegram) -> FakeTelegram:
    return telegram_fake


# -- through the real server ----------------------------------------------------------------------
@pytest.mark.slow
def test_start_up_registers_the_webhook_with_the_secret_token(servers, fake):
    calls = fake.wait_for(lambda: fake.calls("setWebhook"), timeout=30)
    assert calls, "setWebhook was not called at start-up"
    assert calls[0].token == TOKEN
    assert calls[0].params == {"url": WEBHOOK_URL, "secret_token": SECRET,
                               "allowed_updates": ["message", "callback_query"]}


@pytest.mark.slow
def test_text_message_gets_the_domain_reply_with_buttons_as_inline_keyboard(servers, fake):
    chat = new_chat()
    response = post(servers, text_update(chat, "hi"))
    assert response.status_code == 200
    text = wait_until_said(fake, chat, lambda t: t in domain_files.texts("utter_intro"))
    (reply,) = fake.sent_to(chat)
    (variation,) = [v for v in domain_files.RESPONSES["utter_intro"] if v["text"] == text]
    keyboard = reply.params["reply_markup"]["inline_keyboard"]
    # One button per row; each button's callback_data is the domain payload.
    assert keyboard == [[{"text": b["title"], "callback_data": b["payload"]}] for b in variation["buttons"]]
    assert [row[0]["callback_data"] for row in keyboard] == [
        "/cried_in_therapy", "/not_crying", "/fear_of_crying", "/ask_is_normal"]


@pytest.mark.slow
def test_start_command_gets_the_introduction(servers, fake):
    chat = new_chat()
    assert post(servers, text_update(chat, "/start")).status_code == 200
    wait_until_said(fake, chat, lambda t: t in domain_files.texts("utter_intro"))


@pytest.mark.slow
def test_button_press_sends_the_payload_and_answers_the_callback_query(servers, fake):
    chat, query_id = new_chat(), f"cbq-{uuid.uuid4().hex[:10]}"
    response = post(servers, button_update(chat, "/ask_why_cry", query_id))
    assert response.status_code == 200
    wait_until_said(fake, chat, starts_with_one_of("utter_why_cry"))
    answers = fake.calls("answerCallbackQuery", callback_query_id=query_id)
    assert len(answers) == 1
    # Answered before the reply, so the button stops spinning at once.
    calls = fake.calls()
    assert calls.index(answers[0]) < calls.index(fake.sent_to(chat)[0])


@pytest.mark.slow
def test_non_message_updates_get_200_and_no_reply(servers, fake):
    chat = new_chat()
    for update in ignored_updates(chat):
        response = post(servers, update)
        assert response.status_code == 200, (list(update), response.text)
    # A real message afterwards is the barrier: updates of one chat are handled in order,
    # so once its reply is there, nothing else can still be on its way.
    post(servers, text_update(chat, "hi"))
    wait_until_said(fake, chat, lambda t: t in domain_files.texts("utter_intro"))
    assert len(fake.sent_to(chat)) == 1


@pytest.mark.slow
def test_updates_without_the_right_secret_token_are_refused(servers, fake):
    chat = new_chat()
    for secret in (None, "", "wrong", SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B"), SECRET + "x"):
        response = post(servers, text_update(chat, "hi"), secret=secret)
        assert response.status_code == 403, secret
        assert "error" in response.json()
    post(servers, text_update(chat, "hi"))  # barrier, as above
    wait_until_said(fake, chat, lambda t: t in domain_files.texts("utter_intro"))
    assert len(fake.sent_to(chat)) == 1


@pytest.mark.slow
def test_crisis_message_gets_the_crisis_text(servers, fake):
    chat = new_chat()
    assert post(servers, text_update(chat, "i don't want to be alive anymore")).status_code == 200
    wait_until_said(fake, chat, lambda t: t.startswith(domain_files.default_text("utter_crisis").strip()))


@pytest.mark.slow
def test_the_note_for_the_next_session_arrives_as_one_plain_text_message(servers, fake):
    chat = new_chat()
    for text, next_question in note_turns.TURNS:
        assert post(servers, text_update(chat, text)).status_code == 200
        if next_question:
            wait_until_said(fake, chat, lambda t: t.endswith(tuple(note_turns.question(next_question))))
    (note,) = fake.wait_for(
        lambda: [c for c in fake.sent_to(chat) if c.params["text"].startswith(note_turns.TITLE)], 30)
    # One message with the whole note, no keyboard, and the web page's payload never leaks.
    for line in note_turns.NOTE_LINES:
        assert line in note.params["text"]
    assert "reply_markup" not in note.params
    assert not any("willow_note" in str(call.params) for call in fake.sent_to(chat))


@pytest.mark.slow
def test_bot_username_is_checked_once_not_per_update(servers, fake):
    chat = new_chat()
    post(servers, text_update(chat, "hi"))
    post(servers, text_update(chat, "I cried in therapy today"))
    wait_until_said(fake, chat, lambda t: len(fake.sent_to(chat)) >= 2)
    assert fake.wait_for(lambda: fake.calls("getMe"), timeout=10)
    time.sleep(0.5)
    assert len(fake.calls("getMe")) == 1


@pytest.mark.slow
def test_message_text_is_not_logged(servers, fake):
    chat, marker = new_chat(), f"privacy-marker-{uuid.uuid4().int}"  # digits: random letters can read as another language
    post(servers, text_update(chat, f"i cried in therapy today {marker}"))
    wait_until_said(fake, chat, bool)
    for log in (servers.rasa_log, servers.actions_log):
        assert marker not in log.read_text(errors="replace")


@pytest.mark.slow
def test_set_webhook_command_registers_the_secret_token(fake):
    before = len(fake.calls("setWebhook"))
    result = subprocess.run(
        [sys.executable, "-m", "willow.channels.telegram", "set-webhook"],
        cwd=ROOT, env={**local_servers.ENV, **telegram_env(fake.url)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"Telegram webhook set: {WEBHOOK_URL}" in result.stdout
    calls = fake.calls("setWebhook")[before:]
    assert [c.params for c in calls] == [{"url": WEBHOOK_URL, "secret_token": SECRET,
                                          "allowed_updates": ["message", "callback_query"]}]
    assert TOKEN not in result.stdout + result.stderr


def run_command(env: Dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in local_servers.ENV.items() if k not in SETTINGS}
    return subprocess.run([sys.executable, "-m", "willow.channels.telegram", *args], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_set_webhook_command_explains_failures():
    unreachable = run_command(telegram_env(closed_port_url()), "set-webhook", "--timeout", "5")
    assert unreachable.returncode == 1
    assert "could not reach the Bot API" in unreachable.stderr
    missing = run_command({**telegram_env(closed_port_url()), "TELEGRAM_SECRET_TOKEN": ""}, "set-webhook")
    assert missing.returncode == 2
    assert "TELEGRAM_SECRET_TOKEN is not set" in missing.stderr
    for result in (unreachable, missing):
        assert TOKEN not in result.stdout + result.stderr


# -- start-up when Telegram cannot be reached ---------------------------------------------------
@pytest.mark.slow
def test_rasa_starts_and_warns_when_the_bot_api_is_unreachable(model_path, tmp_path):
    credentials = write_credentials(tmp_path)
    # No action server: this test is about start-up; the greeting is a plain domain response.
    with local_servers.running(model_path, ARTIFACTS / "telegram-unreachable", with_actions=False,
                               credentials=credentials, env=telegram_env(closed_port_url())) as servers:
        log = wait_for_log(servers.rasa_log, "could not set the webhook", "make telegram-webhook")
        # An update still gets 200 although the reply cannot be sent: Telegram must not retry it.
        assert post(servers, text_update(new_chat(), "hi")).status_code == 200
        log = wait_for_log(servers.rasa_log, "could not answer an update")
    assert TOKEN not in log


# -- without a token: the channel is off, the server is not ------------------------------------
def test_without_a_token_the_webhook_answers_503(monkeypatch, caplog):
    """In-process, through Rasa's own channel registration and a real Sanic server on 127.0.0.1:
    the same code path as `rasa run`, without loading a model."""
    from rasa.core.channels.channel import register
    from sanic import Sanic

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.WARNING, logger=telegram.__name__)
    channel = telegram.TelegramInput.from_credentials(None)
    warnings = [r.getMessage() for r in caplog.records if r.name == telegram.__name__]
    assert len(warnings) == 1 and "TELEGRAM_TOKEN is not set" in warnings[0]
    assert channel.get_output_channel() is None

    async def post_update() -> tuple:
        app = Sanic(f"telegram_off_{uuid.uuid4().hex[:8]}")
        register([channel], app, "/webhooks/")
        port = local_servers.free_port()
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        await server.startup()
        await server.after_start()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"http://127.0.0.1:{port}/webhooks/telegram/webhook",
                                        json=text_update(new_chat(), "hi"),
                                        headers={telegram.SECRET_HEADER: SECRET}) as answer:
                    return answer.status, await answer.json()
        finally:
            await server.before_stop()
            await server.close()
            await server.after_stop()

    status, body = asyncio.run(post_update())
    assert status == 503
    assert body == {"error": "Telegram channel is off: TELEGRAM_TOKEN is not set"}


# -- no server needed ---------------------------------------------------------------------------
def test_every_button_payload_fits_telegrams_callback_data_limit():
    assert ALL_BUTTON_PAYLOADS
    assert [p for p in ALL_BUTTON_PAYLOADS if len(p.encode()) > 64] == []


@pytest.mark.parametrize("env, problem", [
    ({}, "TELEGRAM_TOKEN is not set"),
    ({"TELEGRAM_TOKEN": "not-a-token"}, "TELEGRAM_TOKEN is not a bot token"),
    ({"TELEGRAM_TOKEN": TOKEN}, "TELEGRAM_SECRET_TOKEN is not set"),
    ({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": "has spaces"}, "TELEGRAM_SECRET_TOKEN must be"),
    ({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET}, "TELEGRAM_WEBHOOK_URL is not set"),
    ({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_SECRET_TOKEN": SECRET, "TELEGRAM_WEBHOOK_URL": "http://x/"},
     "TELEGRAM_WEBHOOK_URL must be an https:// URL"),
    ({"TELEGRAM_TOKEN": f" {TOKEN}\n", "TELEGRAM_SECRET_TOKEN": SECRET, "TELEGRAM_WEBHOOK_URL": WEBHOOK_URL},
     None),
])
def test_settings_say_what_is_missing(env, problem):
    found = telegram.Settings.from_env(env).set_webhook_problem()
    assert (found is None) if problem is None else found.startswith(problem)
