"""willow/speedups.py: the same results as Rasa's own code, without its repeated work."""
from __future__ import annotations

import asyncio

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from willow import speedups

speedups.apply()


def remote_action():
    return RemoteAction("action_reassure", None)


def test_action_server_answers_are_still_validated():
    action = remote_action()
    assert action._validate_action_result({"events": [{"event": "slot", "name": "x", "value": 1}],
                                           "responses": [{"text": "hi"}]})
    assert action._validate_action_result({"events": [], "responses": []})
    with pytest.raises(ValidationError) as raised:
        action._validate_action_result({"events": "not a list", "responses": []})
    assert "Failed to validate Action server response" in raised.value.message
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": [{"event": "no_such_event"}], "responses": []})


def test_event_classes_are_found_as_before():
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("user") is UserUttered  # now from the cache
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("topic") is None  # Rasa's backwards compatibility
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    assert "no_such_event" not in speedups._event_classes


def test_applying_twice_changes_nothing():
    speedups.apply()
    assert DaskGraphRunner.run is speedups._run_graph
    assert RemoteAction._validate_action_result is speedups._validate_action_result


@pytest.mark.slow
def test_the_sequential_graph_runner_parses_exactly_like_dask(model_path, monkeypatch):
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    texts = ["hi", "i cried in therapy today and feel weird", "i never cry in sessions, am i doing it wrong",
             "i want to end it all", "", "???", "je ne sais pas", "/affirm", "i cry every session, in australia"]

    def parse_all():
        return [asyncio.run(agent.parse_message(text)) for text in texts]

    ours = parse_all()
    monkeypatch.setattr(DaskGraphRunner, "run", speedups._run_with_dask)
    theirs = parse_all()
    assert ours == theirs
    assert {p["intent"]["name"] for p in ours} >= {"greet", "crisis"}


def test_rule_keys_are_found_as_before():
    """The indexed search returns exactly the keys Rasa's own search returns, for rules and
    conversations shaped like Willow's (previous actions, intents, slots, loops, starts)."""
    import json
    import random

    from rasa.core.policies.rule_policy import RulePolicy

    rng = random.Random(7)
    actions = ["action_listen", "utter_crisis", "utter_ask_safe", "utter_ask_safe_now", "utter_check_in",
               "note_form", "action_offer_topics", "should_not_be_set"]
    intents = ["crisis", "affirm", "deny", "unsure", "ask_is_normal", "goodbye"]

    def state(start=False):
        s = {}
        if not start:
            prev = {"action_name": rng.choice(actions)} if rng.random() < 0.9 else {"action_text": "hi"}
            s["prev_action"] = prev
        if rng.random() < 0.8:
            s["user"] = rng.choice([{"intent": rng.choice(intents)}] * 8 + [{"text": "hi"}, {"intent": "should_not_be_set"}])
        if rng.random() < 0.3:
            s["slots"] = {"note_started": rng.choice([(1.0,), "should_not_be_set"])}
        if rng.random() < 0.2:
            s["active_loop"] = {"name": rng.choice(["note_form", "should_not_be_set"])}
        return s

    def states(n):
        return [state(start=(i == 0 and rng.random() < 0.5)) for i in range(n)]

    lookup = {json.dumps(states(rng.randint(0, 4)), sort_keys=True): "utter_x" for _ in range(600)}
    policy = RulePolicy.__new__(RulePolicy)  # the search needs no trained state
    for _ in range(400):
        conversation = states(rng.randint(0, 6))
        assert policy._get_possible_keys(lookup, conversation) == RulePolicy._rasa_get_possible_keys(
            policy, lookup, conversation)
    assert any(policy._get_possible_keys(lookup, states(3)) for _ in range(50))  # not vacuous
