"""Answers that fit the person, over the real servers (REST): no text twice, "why?" goes deeper,
helpers are answered in the third person, short replies are understood (issue 14)."""
from __future__ import annotations

import uuid

import pytest
import yaml

from tests import domain_files
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

DEEPER = yaml.safe_load((ROOT / "content" / "deeper.yml").read_text())
MISUNDERSTOOD = {  # paragraph by paragraph, as paragraphs() gives replies
    p for name in ("utter_fallback_rephrase", "utter_fallback_menu", "utter_default")
    for text in domain_files.texts(name) for p in text.split("\n\n")
}
MENU = {p for text in domain_files.texts("utter_fallback_menu") for p in text.split("\n\n")}
CRISIS_OPENING = domain_files.default_text("utter_crisis").split("\n\n")[0]


def sender() -> str:
    return f"fit-{uuid.uuid4().hex[:12]}"


def paragraphs(replies) -> list:
    """What was said, paragraph by paragraph (REST splits plain text at blank lines, not text with buttons)."""
    return [p for r in replies for p in (r.get("text") or "").split("\n\n") if p.strip()]


def said(replies) -> str:
    return "\n\n".join(r.get("text") or "" for r in replies)


def layer(name: str) -> list:
    return DEEPER[name]["texts"]


def talk(servers, messages):
    who = sender()
    return who, [servers.say(who, message) for message in messages]


@pytest.mark.parametrize("run", range(3))  # variations are chosen at random
def test_a_ten_turn_conversation_sends_no_text_twice(servers, run):
    _, turns = talk(servers, [
        "hi", "I cried in therapy yesterday and I feel a bit silly", "is that normal?", "why?", "really?",
        "are you a bot?", "wait, are you a real person", "is it normal to cry in therapy", "ok",
        "tell me more",
    ])
    sent = [p for replies in turns for p in paragraphs(replies)]
    assert len(sent) == len(set(sent)), [p for p in sent if sent.count(p) > 1]
    # Phone-sized: at most 3 bubbles a turn (the web channel sends each paragraph as one).
    assert max(len(paragraphs(replies)) for replies in turns) <= 3
    assert not any(p in MISUNDERSTOOD for p in sent)


def test_why_chains_reach_the_reasons_and_then_the_next_layer(servers):
    _, turns = talk(servers, ["is crying in therapy normal", "why?", "why though", "tell me more"])
    assert any(t in said(turns[1]) for t in layer("reasons"))
    assert any(t in said(turns[2]) for t in layer("frequency_varies"))
    assert any(t in said(turns[3]) for t in layer("not_required"))
    # Each layer offers the next, as a button.
    assert [b["payload"] for b in turns[1][-1]["buttons"]] == ["/tell_me_more", "/goodbye"]


def test_a_second_not_crying_answer_is_brief_and_goes_deeper(servers):
    _, turns = talk(servers, ["i never cry in therapy", "but really, I never ever cry there, not once"])
    again = yaml.safe_load((ROOT / "content" / "not_crying.yml").read_text())["again"]
    assert any(said(turns[1]).startswith(t) for t in again)
    assert not set(paragraphs(turns[0])[:2]) & set(paragraphs(turns[1]))


def test_a_parent_is_answered_about_their_child_in_the_third_person(servers):
    _, turns = talk(servers, [
        "my son is 14 and he cried at his first counselling appointment, is that normal?",
        "why would he cry there?",
        "what can I say to him?",
    ])
    first, why, words = (said(t) for t in turns)
    assert first in domain_files.texts("utter_someone_else")
    assert why in domain_files.texts("utter_why_cry")[:1] or any(t in why for t in layer("reasons_them"))
    assert words in domain_files.texts("utter_words_for_them")
    for text in (first, why, words):
        assert "you mentioned" not in text.lower() and "your therapist" not in text.lower()


@pytest.mark.parametrize("answer", ["/ask_is_normal", "/ask_why_cry", "/cried_in_therapy", "/not_crying", "/frequent_crying",
                                    "/ask_does_crying_help", "/ask_is_something_wrong"])
@pytest.mark.parametrize("short", ["ok", "yeah", "makes sense", "y tho", "no", "thanks", "gracias"])
def test_short_replies_after_an_answer_are_understood(servers, answer, short):
    _, (first, reply) = talk(servers, [answer, short])
    assert first and reply
    assert len(paragraphs(first)) <= 3 and len(paragraphs(reply)) <= 3
    assert not any(p in MISUNDERSTOOD for p in paragraphs(reply)), (answer, short, said(reply))
    # Never the crisis layer (a goodbye after "anything else?" may name the lines, as it always does).
    assert CRISIS_OPENING not in said(reply) and said(reply) not in domain_files.texts("utter_check_in")


def test_yes_to_an_offered_layer_is_that_layer(servers):
    who = sender()
    servers.say(who, "/ask_is_normal")
    assert servers.say(who, "ok")[0]["buttons"][0]["payload"] == "/tell_me_more"
    reply = said(servers.say(who, "yeah"))
    assert any(t in reply for t in layer("reasons")), reply


def test_the_menu_comes_once_and_only_after_two_real_misunderstandings(servers):
    who = sender()
    servers.say(who, "/ask_is_normal")
    assert servers.say(who, "ok")[0]["buttons"][0]["payload"] == "/tell_me_more"  # the next layer, offered
    quiet = servers.say(who, "makes sense")  # a second short reply: no menu again
    assert "buttons" not in quiet[0] and not set(paragraphs(quiet)) & MISUNDERSTOOD
    first = servers.say(who, "/nlu_fallback")
    assert not set(paragraphs(first)) & MENU
    assert servers.say(who, "okay")[0]["text"] not in MENU
    assert not set(paragraphs(servers.say(who, "/nlu_fallback"))) & MENU  # not two in a row
    assert set(paragraphs(servers.say(who, "/nlu_fallback"))) & MENU  # two in a row


@pytest.mark.parametrize("message", [
    "Does crying mean there's something wrong with me?",
    "is it weird that i always cry on the train home after my sessions",
    "I spent the whole session in tears. Did I just waste it?",
])
def test_a_fear_is_never_answered_with_a_bare_yes(servers, message):
    _, (reply,) = talk(servers, [message])
    text = said(reply)
    assert text.split(".")[0].strip().lower() not in {"yes", "it is", "it can", "very much so", "for some people, yes"}
    # An answer to the fear, or (unsure what was meant) topics to choose from: never a guess at "yes".
    offered = yaml.safe_load((ROOT / "content" / "offer_topics.yml").read_text())["lead"]
    answers = {p for name in ("utter_something_wrong", "utter_is_normal") for t in domain_files.texts(name)
               for p in t.split("\n\n")}
    assert paragraphs(reply)[0] in answers | set(offered), text
