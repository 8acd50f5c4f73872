"""Willow's Slack channel (willow/channels/slack.py).

Server tests start the real action server and Rasa server with the channel configured
from environment variables, sign Slack-shaped requests with the Slack SDK's own
signature code, POST them to /webhooks/slack/webhook, and read the replies from a fake
Slack Web API on 127.0.0.1. Replies come from a background task, so tests poll the fake
and the tracker. The unit tests at the end need neither model nor servers.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

import pytest
import requests

from tests import domain_files, note_turns
from tests.channel_clients import BOT_TOKEN, CONFIGURED_CHANNEL, TEAM, message_event, new_id, new_ts, sign
from tests.willow.channels.fake_slack import BOT_USER_ID, FakeSlack
from willow import local_servers
from willow.channels import slack as willow_slack

INTRO_PAYLOADS = ["/cried_in_therapy", "/not_crying", "/fear_of_crying", "/ask_is_normal"]


@dataclass
class Slack:
    servers: local_servers.Servers
    fake: FakeSlack

    @property
    def webhook(self) -> str:
        return f"{self.servers.url}/webhooks/slack/webhook"

    def post(
        self,
        payload: Dict[str, Any],
        content_type: str = "application/json",
        headers: Optional[Dict[str, str]] = None,
        signed: bool = True,
    ) -> requests.Response:
        body = json.dumps(payload).encode("utf-8")
        return self.post_raw(body, content_type, {**(sign(body) if signed else {}), **(headers or {})})

    def post_raw(self, body: bytes, content_type: str, headers: Dict[str, str]) -> requests.Response:
        return requests.post(
            self.webhook, data=body, headers={"Content-Type": content_type, **headers}, timeout=30
        )

    def say(self, user: str, channel: str, text: str, **event: Any) -> Dict[str, Any]:
        """Sends a signed DM-style message event; returns the payload that was sent."""
        payload = message_event(user, channel, text, **event)
        response = self.post(payload)
        assert response.status_code == 200, response.text
        return payload

    def replies(self, channel: str, count: int = 1) -> List[Dict[str, Any]]:
        """Waits until ``count`` messages were posted to ``channel`` and returns them all."""
        return self.fake.wait_for(lambda fake: len(fake.posts(channel)) >= count and fake.posts(channel))

    def user_turns(self, user: str) -> List[Dict[str, Any]]:
        """The user's turns in their conversation, ``slack:<team>:<user>``."""
        events = self.servers.conversation(f"slack:{TEAM}:{user}")["events"]
        return [e for e in events if e["event"] == "user"]

    def settle(self) -> None:
        """Lets anything wrongly accepted before this call show up.

        A fresh conversation's reply arriving means the server has handled every
        earlier request; the pause covers a reply still in flight.
        """
        user, channel = new_id("U"), new_id("D")
        self.say(user, channel, "hi")
        self.replies(channel)
        time.sleep(1)


def joined_text(posts: List[Dict[str, Any]]) -> str:
    # Rasa posts plain text in parts split at blank lines; joined back it is the response.
    return "\n\n".join(p.get("text", "") for p in posts)


@pytest.fixture
def slack(servers: local_servers.Servers, slack_fake: FakeSlack) -> Slack:
    """The session's servers run the Slack channel (tests/channel_clients.py's settings)."""
    return Slack(servers, slack_fake)


# -- through the real servers ----------------------------------------------------------------


@pytest.mark.slow
def test_direct_message_gets_the_intro_with_buttons_as_blocks(slack):
    user, channel = new_id("U"), new_id("D")
    sent = slack.say(user, channel, "hi")
    (post,) = slack.replies(channel)

    assert post["text"] in domain_files.texts("utter_intro")
    section, actions = post["blocks"]
    assert section["text"]["text"] == post["text"]
    assert [b["value"] for b in actions["elements"]] == INTRO_PAYLOADS
    assert all(b["type"] == "button" and b["text"]["text"] for b in actions["elements"])
    # Threads are on: a top-level message starts a thread under itself.
    assert post["thread_ts"] == sent["event"]["ts"]
    assert "as_user" not in post
    (call,) = [c for c in slack.fake.calls("chat.postMessage") if c.params.get("channel") == channel]
    assert call.token == BOT_TOKEN


@pytest.mark.slow
def test_json_with_a_charset_is_accepted(slack):
    user, channel = new_id("U"), new_id("D")
    response = slack.post(message_event(user, channel, "hi"), content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    assert slack.replies(channel)[0]["text"] in domain_files.texts("utter_intro")


@pytest.mark.slow
def test_url_verification_returns_the_challenge(slack):
    challenge = uuid.uuid4().hex
    payload = {"token": "deprecated", "challenge": challenge, "type": "url_verification"}
    response = slack.post(payload)
    assert response.status_code == 200
    assert response.json() == {"challenge": challenge}


@pytest.mark.slow
@pytest.mark.parametrize("how", ["unsigned", "wrong secret", "body changed after signing", "stale", "from the future"])
def test_badly_signed_requests_are_refused_and_not_answered(slack, how):
    user, channel = new_id("U"), new_id("D")
    payload = message_event(user, channel, "hi")
    body = json.dumps(payload).encode("utf-8")
    headers = {
        "unsigned": {},
        "wrong secret": sign(body, secret="not-the-secret"),
        "body changed after signing": sign(body.replace(b"hi", b"ho")),
        "stale": sign(body, timestamp=int(time.time()) - 6 * 60),
        "from the future": sign(body, timestamp=int(time.time()) + 6 * 60),
    }[how]

    response = slack.post_raw(body, "application/json", headers)

    assert response.status_code == 401
    assert "signature" in response.json()["error"]
    slack.settle()
    assert slack.fake.posts(channel) == []
    assert slack.user_turns(user) == []


@pytest.mark.slow
def test_a_retry_is_acknowledged_but_never_answered_again(slack):
    user, channel = new_id("U"), new_id("D")
    payload = slack.say(user, channel, "hi")
    answered = slack.replies(channel)

    retry = slack.post(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})

    assert retry.status_code == 200
    assert retry.headers.get("X-Slack-No-Retry") == "1"
    slack.settle()
    assert slack.fake.posts(channel) == answered
    assert len(slack.user_turns(user)) == 1


@pytest.mark.slow
def test_a_redelivered_event_without_the_retry_header_is_not_answered_again(slack):
    user, channel = new_id("U"), new_id("D")
    payload = slack.say(user, channel, "hi")
    answered = slack.replies(channel)

    assert slack.post(payload).status_code == 200  # same event_id, freshly signed

    slack.settle()
    assert slack.fake.posts(channel) == answered
    assert len(slack.user_turns(user)) == 1


@pytest.mark.slow
def test_one_message_arriving_as_message_and_app_mention_gets_one_reply(slack):
    user, ts = new_id("U"), new_ts()
    text = f"<@{BOT_USER_ID}> hi"
    slack.say(user, CONFIGURED_CHANNEL, text, channel_type="channel", ts=ts)
    slack.say(user, CONFIGURED_CHANNEL, text, kind="app_mention", ts=ts)

    slack.settle()
    posts = [p for p in slack.fake.posts(CONFIGURED_CHANNEL) if p.get("thread_ts") == ts]
    assert len(posts) == 1 and posts[0]["text"] in domain_files.texts("utter_intro")
    (turn,) = slack.user_turns(user)
    assert turn["text"] == "hi"  # the bot's own mention is stripped before NLU


@pytest.mark.slow
def test_messages_in_other_channels_are_ignored_unless_willow_is_mentioned(slack):
    user, channel = new_id("U"), new_id("C")
    response = slack.post(message_event(user, channel, "hi", channel_type="channel"))
    assert response.status_code == 200
    slack.settle()
    assert slack.fake.posts(channel) == []

    slack.say(user, channel, f"<@{BOT_USER_ID}> hi", kind="app_mention")
    assert slack.replies(channel)[0]["text"] in domain_files.texts("utter_intro")


@pytest.mark.slow
def test_a_message_in_a_thread_is_answered_in_that_thread(slack):
    user, channel, parent = new_id("U"), new_id("D"), new_ts()
    slack.say(user, channel, "hi", thread_ts=parent)
    (post,) = slack.replies(channel)
    assert post["thread_ts"] == parent


@pytest.mark.slow
def test_a_crisis_message_gets_the_crisis_text(slack):
    user, channel = new_id("U"), new_id("D")
    crisis = domain_files.default_text("utter_crisis").strip()
    slack.say(user, channel, "i don't want to be alive anymore")
    posts = slack.fake.wait_for(lambda fake: len(joined_text(fake.posts(channel))) >= len(crisis) and fake.posts(channel))
    assert joined_text(posts).startswith(crisis)


@pytest.mark.slow
def test_the_note_for_the_next_session_is_posted_as_one_plain_text_message(slack):
    user, channel = new_id("U"), new_id("D")
    for text, next_question in note_turns.TURNS:
        slack.say(user, channel, text)
        if next_question:
            slack.fake.wait_for(lambda fake: joined_text(fake.posts(channel)).endswith(
                tuple(note_turns.question(next_question))) and fake.posts(channel))
    posts = slack.fake.wait_for(
        lambda fake: [p for p in fake.posts(channel) if p.get("text", "").startswith(note_turns.TITLE)])
    (note,) = posts
    for line in note_turns.NOTE_LINES:
        assert line in note["text"]
    assert "blocks" not in note
    assert not any("willow_note" in str(p) for p in slack.fake.posts(channel))


@pytest.mark.slow
def test_a_button_click_reaches_rasa_as_its_payload(slack):
    user, channel = new_id("U"), new_id("D")
    slack.say(user, channel, "hi")
    (intro,) = slack.replies(channel)
    click = {
        "type": "block_actions", "team": {"id": TEAM, "domain": "willow-test"},
        "user": {"id": user, "team_id": TEAM}, "channel": {"id": channel},
        "trigger_id": uuid.uuid4().hex, "message": {"ts": new_ts(), "text": intro["text"]},
        "actions": [{"type": "button", "value": "/ask_is_normal", "action_ts": new_ts()}],
    }
    body = urlencode({"payload": json.dumps(click)}).encode("utf-8")

    response = slack.post_raw(body, "application/x-www-form-urlencoded", sign(body))

    assert response.status_code == 200
    slack.replies(channel, count=2)
    assert slack.user_turns(user)[-1]["parse_data"]["intent"]["name"] == "ask_is_normal"


@pytest.mark.slow
def test_message_text_is_never_logged(slack):
    marker = f"privacy-marker-{uuid.uuid4().int}"  # digits: random letters can read as another language
    user, channel = new_id("U"), new_id("D")
    payload = slack.say(user, channel, f"i cried in therapy today {marker}")
    slack.replies(channel)
    slack.post(payload, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    slack.post(payload)
    # A reply Slack refuses is logged with Slack's error code only.
    failing_user, failing = new_id("U"), new_id("D")
    slack.fake.fail_channel(failing)
    slack.say(failing_user, failing, f"hi {marker}")
    slack.fake.wait_for(lambda fake: fake.posts(failing))
    slack.settle()

    rasa_log = slack.servers.rasa_log.read_text(errors="replace")
    # The channel does log what it did (at INFO), just never what anyone said.
    assert "Acknowledged Slack retry #2 (http_error)" in rasa_log
    assert f"already handled ({payload['event_id']})" in rasa_log
    assert "Slack refused Willow's reply: channel_not_found." in rasa_log
    for log in (rasa_log, slack.servers.actions_log.read_text(errors="replace")):
        assert marker not in log


@pytest.mark.slow
def test_without_token_and_secret_rasa_still_starts_and_slack_gets_503(model_path, tmp_path):
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("rest:\nwillow.channels.slack.SlackInput:\n")
    env = {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    with local_servers.running(
        model_path, tmp_path / "logs", with_actions=False, credentials=credentials, env=env
    ) as servers:
        body = json.dumps(message_event(new_id("U"), new_id("D"), "hi")).encode("utf-8")
        response = requests.post(
            f"{servers.url}/webhooks/slack/webhook", data=body,
            headers={"Content-Type": "application/json", **sign(body)}, timeout=30,
        )
        assert response.status_code == 503
        assert "SLACK_BOT_TOKEN" in response.json()["error"]
        # The other channels work as usual.
        assert servers.say(new_id("rest-"), "hi")
        log = servers.rasa_log.read_text(errors="replace")
    assert log.count("Slack channel not configured") == 1


# -- without servers --------------------------------------------------------------------------


def test_signature_matches_slacks_documented_example():
    # The worked example in Slack's "Verifying requests from Slack" guide.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert willow_slack.signature_for("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("SLACK_CHANNEL", "C123")
    monkeypatch.setenv("SLACK_USE_THREADS", "True")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    channel = willow_slack.SlackInput.from_credentials(None)
    assert (channel.configured, channel.slack_token, channel.slack_signing_secret) == (True, "xoxb-1", "s3cret")
    assert (channel.slack_channel, channel.use_threads) == ("C123", True)
    output = channel.get_output_channel("D1", "1.2")
    assert output.client.base_url == "http://127.0.0.1:9/api/"
    assert (output.slack_channel, output.thread_id, output.client.token) == ("D1", "1.2", "xoxb-1")


def test_defaults_and_missing_settings(monkeypatch, caplog):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL", "SLACK_USE_THREADS", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING, logger="willow.channels.slack"):
        channel = willow_slack.SlackInput.from_credentials(None)
    assert not channel.configured
    assert (channel.slack_channel, channel.use_threads, channel.api_url) == (None, False, "https://slack.com/api/")
    (warning,) = caplog.records
    assert "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET not set" in warning.getMessage()


def test_seen_events_forget_after_the_window_and_stay_bounded():
    now = [0.0]
    seen = willow_slack.SeenEvents(window_seconds=60, max_keys=3, clock=lambda: now[0])
    assert seen.first_time(["event:1", "message:D1:1.0"])
    assert not seen.first_time(["event:1"])
    assert not seen.first_time(["event:2", "message:D1:1.0"])  # same message, other event
    assert seen.first_time(["event:3"]) and len(seen) == 3
    assert seen.first_time(["event:4"]) and len(seen) == 3  # the oldest key made room
    assert seen.first_time(["event:1"])
    now[0] = 61.0
    assert seen.first_time(["event:3"]) and len(seen) == 1
