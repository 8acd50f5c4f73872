"""Smoke tests against the real action server and Rasa server, over the REST webhook."""
from __future__ import annotations

import uuid

import pytest
import requests
import yaml

from tests import domain_files
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

CONTENT = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "content").glob("*.yml")}


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def texts(replies):
    return [r.get("text") for r in replies]


def said(replies) -> str:
    """All reply text as one string (the REST channel splits plain text at blank lines)."""
    return "\n\n".join(t for t in texts(replies) if t)


def variations(name):
    return domain_files.texts(name)


def executed_actions(tracker):
    return [e["name"] for e in tracker["events"] if e["event"] == "action"]


def test_greeting_introduces_willow_honestly(servers):
    replies = servers.say(sender(), "hi")
    assert texts(replies)[0] in variations("utter_intro")
    assert [b["payload"] for b in replies[0]["buttons"]] == [
        "/cried_in_therapy", "/not_crying", "/fear_of_crying", "/ask_is_normal",
    ]


def test_custom_action_runs_on_the_action_server(servers):
    user = sender()
    replies = servers.say(user, "I cried in therapy today")
    # The first reply comes from content/reassurance.yml, which only the action server reads.
    assert any(said(replies).startswith(v) for v in CONTENT["reassurance"]["general"])
    assert replies[-1]["text"] in variations("utter_followups")
    assert "action_reassure" in executed_actions(servers.tracker(user))


def test_remembers_frequency_and_distress_for_later(servers):
    user = sender()
    servers.say(user, "i cry every single session and it's honestly overwhelming")
    replies = servers.say(user, "yes please")
    openers = CONTENT["talking_to_therapist"]["openers"]["often_and_distressing"]
    assert any(opener in said(replies) for opener in openers)
    slots = servers.tracker(user)["slots"]
    assert (slots["crying_frequency"], slots["distress"], slots["topic"]) == ("often", "high", "frequent")


def test_contextual_follow_up_uses_the_topic(servers):
    user = sender()
    servers.say(user, "i never cry in my sessions and i'm worried i'm doing therapy wrong")
    replies = servers.say(user, "is that normal?")
    # Said once already: briefly, then something new (not the same answer again).
    assert any(said(replies).startswith(p) for p in CONTENT["not_crying"]["again"])


def test_crisis_gets_resources_at_once(servers):
    replies = servers.say(sender(), "i don't want to be alive anymore")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))


@pytest.mark.parametrize(
    "message, response",
    [
        ("", "utter_empty_message"),
        ("   ", "utter_empty_message"),
        ("😭🙏", "utter_empty_message"),
        ("?!?!", "utter_empty_message"),
        ("hoy lloré en terapia, es normal?", "utter_other_language"),
        ("今天在心理咨询的时候我哭了", "utter_other_language"),
    ],
)
def test_unreadable_input_gets_a_helpful_reply(servers, message, response):
    assert said(servers.say(sender(), message)) in variations(response)


def test_random_characters_and_huge_messages_get_a_reply(servers):
    user = sender()
    assert said(servers.say(user, "xq7 zzkv plmw qqrt"))
    huge = ("I cried in therapy and I keep thinking about it. " * 250)[:10_000]
    assert said(servers.say(user, huge))
    # The conversation survives: the same sender still gets answers.
    assert texts(servers.say(user, "hi"))[0] in variations("utter_intro")


@pytest.mark.parametrize("template", ["i cried in therapy today {}", "/help {}", "/greet {}"])
def test_message_text_is_not_logged(servers, template):
    marker = f"privacy-marker-{uuid.uuid4().int}"  # digits: random letters can read as another language
    assert said(servers.say(sender(), template.format(marker)))
    for log in (servers.rasa_log, servers.actions_log):
        assert marker not in log.read_text(errors="replace")


def test_api_refuses_requests_without_the_token(servers):
    response = requests.get(f"{servers.url}/conversations/someone/tracker", timeout=10)
    assert response.status_code == 401
