"""willow.nlg.FreshResponses: a conversation is not sent the same text twice."""
from __future__ import annotations

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from willow.nlg import FreshResponses, texts_sent

DOMAIN = Domain.from_dict({
    "slots": {"asking_for": {"type": "text", "influence_conversation": False, "mappings": [{"type": "custom"}]}},
    "responses": {
        "utter_answer": [{"text": "first"}, {"text": "second"}, {"text": "third"}],
        "utter_answer_brief": [{"text": "as I said, briefly"}],
        "utter_reply": [{"text": "one"}, {"text": "two"}, {"text": "three"}],
        "utter_menu": [{"text": "menu one"}, {"text": "menu two"}],
        "utter_lines": [{"text": "call 988"}],
        # The safety check's own second wording, chosen by its rules, never swapped in.
        "utter_ask_safe": [{"text": "are you safe?"}],
        "utter_ask_safe_again": [{"text": "are you safe now?"}],
        "utter_about": [
            {"text": "for you"},
            {"text": "for them", "condition": [{"type": "slot", "name": "asking_for", "value": "someone_else"}]},
        ],
    },
})


def tracker(*texts: str, slots=()) -> DialogueStateTracker:
    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              UserUttered("hi")]
    events += [SlotSet(name, value) for name, value in slots]
    events += [BotUttered(text) for text in texts]
    return DialogueStateTracker.from_events("someone", events, slots=DOMAIN.slots)


def say(name: str, conversation: DialogueStateTracker) -> str:
    reply = asyncio.run(FreshResponses(domain=DOMAIN).generate(name, conversation, "rest"))
    return reply["text"] if reply else None


@pytest.mark.parametrize("run", range(20))
def test_the_variation_not_yet_sent_is_chosen(run):
    assert say("utter_reply", tracker("one", "three")) == "two"
    assert say("utter_reply", tracker("two")) in {"one", "three"}


def test_once_said_in_full_a_response_with_an_again_response_is_said_briefly():
    assert say("utter_answer", tracker("second")) == "as I said, briefly"
    assert say("utter_answer", tracker("first", "as I said, briefly")) in {"second", "third"}


def test_without_an_again_response_the_one_sent_longest_ago_comes_back():
    assert say("utter_menu", tracker("menu two", "menu one")) == "menu two"
    assert say("utter_menu", tracker("menu one", "x", "menu two")) == "menu one"


def test_a_single_variation_is_always_sent_in_full():
    assert say("utter_lines", tracker("call 988", "call 988")) == "call 988"


def test_a_safety_response_named_again_is_left_to_the_rules():
    assert say("utter_ask_safe", tracker("are you safe?")) == "are you safe?"


def test_conditions_still_decide_which_variations_can_be_chosen():
    assert say("utter_about", tracker(slots=[("asking_for", "someone_else")])) == "for them"
    assert say("utter_about", tracker()) == "for you"


def test_a_new_session_starts_afresh():
    conversation = tracker("first", "second", "third")
    conversation.update(SessionStarted())
    assert texts_sent(conversation) == []
    assert say("utter_answer", conversation) in {"first", "second", "third"}
    assert say("utter_answer_brief", tracker("as I said, briefly")) == "as I said, briefly"


def test_an_unknown_response_is_none():
    assert say("utter_nothing", tracker()) is None


def test_rasa_creates_it_from_the_endpoints_file(tmp_path):
    from rasa.core.nlg.generator import NaturalLanguageGenerator
    from rasa.utils.endpoints import read_endpoint_config

    from willow import endpoints

    path = endpoints.write(tmp_path / "endpoints.yml", env={"WILLOW_DB_PATH": str(tmp_path / "w.db")})
    generator = NaturalLanguageGenerator.create(read_endpoint_config(str(path), "nlg"), DOMAIN)
    assert isinstance(generator, FreshResponses)
