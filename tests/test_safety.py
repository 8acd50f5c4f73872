"""The crisis layer through the real server: held-out sets, country lines, no action server."""
from __future__ import annotations

import uuid

import pytest

from tests import domain_files
from tests.conftest import ARTIFACTS
from willow import crisis_lines, local_servers, safety_eval

pytestmark = pytest.mark.slow
LINES = crisis_lines.load(crisis_lines.LINES_FILE)
WORDS = crisis_lines.load(crisis_lines.MESSAGES_FILE)


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def said(replies) -> str:
    return "\n\n".join(r["text"] for r in replies if r.get("text"))


def country(code):
    return next(c for c in LINES["countries"] if c["code"] == code)


@pytest.mark.parametrize("name", safety_eval.GATED)
def test_held_out_risk_is_always_caught_and_idioms_are_not(servers, name):
    report = safety_eval.evaluate(servers, name)
    print(f"\n{name}\n{report.summary()}")
    assert report.recall == 1.0  # the crisis reply or the check-in
    assert report.explicit_at_once == 1.0  # explicit disclosures: the crisis reply at once
    assert report.false_positive_rate <= safety_eval.MAX_FALSE_POSITIVE_RATE


def test_crisis_reply_then_safety_check_then_local_line(servers):
    user = sender()
    replies = servers.say(user, "i really want to end my life")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))
    assert replies[-1]["text"] == domain_files.default_text("utter_ask_safe")
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny", "/unsure", "/show_lines"]

    replies = servers.say(user, "i'm in australia")
    assert said(replies[:-1]) == crisis_lines.country_text(LINES, WORDS, country("AU"))
    assert replies[-1]["text"] == domain_files.default_text("utter_ask_safe_now")  # the check goes on
    assert servers.tracker(user)["slots"]["country"] == "AU"

    # More risk while the check is open: the short next step, with the local numbers.
    replies = servers.say(user, "i cut myself again tonight")
    assert replies[0]["text"] == crisis_lines.check_message("not_safe", 1)(LINES, WORDS, country("AU"))

    # Once the check is over, the crisis reply itself names the local line first.
    servers.say(user, "I'm safe now")
    replies = servers.say(user, "i want to kill myself")
    assert said(replies).startswith(crisis_lines.crisis_text(LINES, WORDS, country("AU")))


@pytest.mark.parametrize("code", [c["code"] for c in LINES["countries"]])
def test_each_country_gets_its_own_line_first(servers, code):
    """Named in the risk message itself, or given after the crisis reply (by a name, a
    demonym or an abbreviation from content/crisis_lines.yml): the reply leads with that
    country's own line (or, with none confirmed, the directory) and its emergency number."""
    place = country(code)
    user = sender()
    replies = servers.say(user, f"i live in {place['name']} and i want to end my life")
    assert said(replies).startswith(crisis_lines.crisis_text(LINES, WORDS, place))
    assert servers.tracker(user)["slots"]["country"] == code

    for alias in (place["aliases"][0], place["aliases"][-1]):
        user = sender()
        servers.say(user, "i want to kill myself")
        replies = servers.say(user, f"i'm in {alias}" if alias == place["aliases"][0] else f"{alias} here")
        assert said(replies[:-1]) == crisis_lines.country_text(LINES, WORDS, place), alias
        assert servers.tracker(user)["slots"]["country"] == code


def test_the_match_is_recorded_without_the_text(servers):
    user = sender()
    servers.say(user, "kms")
    user_event = next(e for e in servers.tracker(user)["events"] if e["event"] == "user")
    report = user_event["parse_data"]["crisis_detector"]
    assert "slang" in report["groups"] and report["tier"] == "crisis"
    assert "kms" not in str(report)


@pytest.fixture(scope="module")
def servers_without_actions(model_path):
    with local_servers.running(model_path, ARTIFACTS / "no-actions", with_actions=False) as running:
        yield running


def test_crisis_reply_needs_no_action_server(servers_without_actions):
    replies = servers_without_actions.say(sender(), "i've been thinking about killing myself")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))
    assert replies[-1]["text"] == domain_files.default_text("utter_ask_safe")


def test_the_check_in_needs_no_action_server(servers_without_actions):
    user = sender()
    replies = servers_without_actions.say(user, "Honestly I can't do this anymore.")
    assert replies[-1]["text"] == domain_files.default_text("utter_check_in")
    replies = servers_without_actions.say(user, "yes")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))


def test_risk_about_someone_else_gets_help_for_them_then_the_question_about_the_writer(servers_without_actions):
    # With the action server down too: the crisis layer needs none.
    user = sender()
    replies = servers_without_actions.say(user, "my best friend told me she wants to kill herself")
    text = replies[-1]["text"]
    assert text != domain_files.default_text("utter_check_in")
    assert text in domain_files.texts("utter_check_in")
    assert "988" in text and "findahelpline.com" in text and "emergency number" in text
    assert text.rstrip().endswith("Or is someone hurting you?")
    # The same check follows: "yes" about themselves is the crisis reply.
    assert said(servers_without_actions.say(user, "yes")).startswith(domain_files.default_text("utter_crisis"))
    # Their own risk later is asked about as theirs.
    other = sender()
    assert servers_without_actions.say(other, "Honestly I can't do this anymore.")[-1]["text"] == \
        domain_files.default_text("utter_check_in")
