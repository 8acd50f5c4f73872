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
