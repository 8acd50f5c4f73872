"""The real Rasa server without a working action server: a graceful message, never silence.

The action server's port is closed (down), then held by stand-ins that answer too slowly
or with errors. Crisis replies are domain responses and must not notice any of it.
"""
from __future__ import annotations

import contextlib
import http.server
import threading
import time
import uuid
from typing import Iterator
from urllib.parse import urlsplit

import pytest
import yaml

from tests import domain_files
from tests.conftest import ARTIFACTS, ROOT
from willow import local_servers

pytestmark = pytest.mark.slow
CONTENT = yaml.safe_load((ROOT / "content" / "actions_unavailable.yml").read_text())
TIMEOUT = 3  # WILLOW_ACTION_TIMEOUT for this server, in seconds


@pytest.fixture(scope="module")
def willow_alone(model_path) -> Iterator[local_servers.Servers]:
    """Rasa with its action endpoint on a closed port: the action server is down."""
    with local_servers.running(
        model_path, ARTIFACTS / "action-server-down", with_actions=False,
        env={"WILLOW_ACTION_TIMEOUT": str(TIMEOUT)},
    ) as running:
        yield running


class StandIn(http.server.BaseHTTPRequestHandler):
    """An action server that is there but does not help: too slow, or failing."""

    behaviour = "slow"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.behaviour == "slow":
            time.sleep(TIMEOUT * 4)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def action_server_that(behaviour: str, servers: local_servers.Servers) -> Iterator[None]:
    port = urlsplit(servers.actions_url).port
    handler = type("StandIn", (StandIn,), {"behaviour": behaviour})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def said(replies) -> str:
    return "\n\n".join(r["text"] for r in replies if r.get("text"))


def graceful(reply) -> bool:
    """Whether one REST message is the graceful message (it has buttons, so it is never split)."""
    return reply.get("text") in CONTENT["text"]


def assert_graceful_then(replies, then: str = "", buttons: str = "default") -> None:
    """The graceful message with its buttons, then (optionally) one domain response."""
    first, after = replies[0], replies[1:]
    assert graceful(first), replies
    assert first["buttons"] == CONTENT["buttons"][buttons]
    if then:
        assert said(after) in domain_files.texts(then)
        assert after[-1]["buttons"] == domain_files.RESPONSES[then][0]["buttons"]
    else:
        assert after == []


def test_cried_in_therapy_gets_the_graceful_message_and_the_follow_ups(willow_alone):
    user = sender()
    replies = willow_alone.say(user, "I cried in therapy today")
    assert_graceful_then(replies, then="utter_followups")
    # The conversation goes on as if the action had run.
    events = willow_alone.tracker(user)["events"]
    assert [e["name"] for e in events if e["event"] == "action"][-3:] == [
        "action_reassure", "utter_followups", "action_listen",
    ]
    assert "Custom action 'action_reassure' failed" in willow_alone.rasa_log.read_text()


def test_how_to_bring_it_up_gets_the_graceful_message(willow_alone):
    # The rule goes on to offer the note for the next session (a domain response).
    assert_graceful_then(willow_alone.say(sender(), "how do i bring it up with my therapist"),
                         then="utter_offer_note")


@pytest.mark.parametrize("topic, buttons", [
    ("I cried in therapy today", "default"),
    ("i never cry in therapy and i think i'm doing it wrong", "not_crying"),
])
def test_every_button_leads_to_an_answer_without_the_action_server(willow_alone, topic, buttons):
    for button in CONTENT["buttons"][buttons]:
        user = sender()
        willow_alone.say(user, topic)
        replies = willow_alone.say(user, button["payload"])
        assert said(replies), button
        assert not graceful(replies[0]), button


def test_crisis_still_gets_crisis_resources(willow_alone):
    user = sender()
    replies = willow_alone.say(user, "i've been thinking about killing myself")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))
    assert replies[-1]["text"] == domain_files.default_text("utter_ask_safe")


def test_crisis_right_after_the_graceful_message(willow_alone):
    user = sender()
    willow_alone.say(user, "how do i bring it up with my therapist")
    replies = willow_alone.say(user, "honestly i just want to end my life")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))


def test_message_text_is_not_logged(willow_alone):
    marker = f"privacy-marker-{uuid.uuid4().int}"  # digits: random letters can read as another language
    replies = willow_alone.say(sender(), f"i cried in therapy today {marker}")
    assert graceful(replies[0])
    assert marker not in willow_alone.rasa_log.read_text(errors="replace")


@pytest.mark.parametrize("behaviour", ["slow", "failing"])
def test_slow_or_failing_action_server_gets_the_graceful_message(willow_alone, behaviour):
    with action_server_that(behaviour, willow_alone):
        started = time.monotonic()
        replies = willow_alone.say(sender(), "how do i bring it up with my therapist")
        elapsed = time.monotonic() - started
    assert_graceful_then(replies, then="utter_offer_note")
    if behaviour == "slow":
        assert TIMEOUT <= elapsed < TIMEOUT * 3
