"""action_explain_source: which point the last answer rests on, and where Willow's knowledge comes from."""
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.explain_source import ActionExplainSource

TEXT = content.load("explain_source")
POINTS = content.load("points")


def explain(events):
    tracker = Tracker.from_dict({
        "sender_id": "test-user", "slots": {}, "events": events, "paused": False,
        "latest_message": {"text": "why do you say that?", "intent": {"name": "ask_source"}, "entities": []},
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })
    dispatcher = CollectingDispatcher()
    assert ActionExplainSource().run(dispatcher, tracker, domain={}) == []
    return [m["text"] for m in dispatcher.messages]


def point(name):
    return TEXT["point"].format(**POINTS[name])


def action(name):
    return {"event": "action", "name": name}


def test_a_domain_response_is_traced_through_provenance():
    texts = explain([action("utter_is_normal"), action("action_listen")])
    assert texts == [f"{TEXT['lead_one'][0]}\n{point('common_and_healthy')}\n\n{TEXT['where_from'][0]}"]


def test_a_custom_action_is_traced_through_the_points_it_recorded():
    texts = explain([
        action("utter_why_cry"),
        action("action_reassure"),
        {"event": "slot", "name": "last_points", "value": ["empathy_and_compassion", "safety_and_trust"]},
        action("utter_anything_else"),  # not informational: skipped
    ])
    assert texts == [
        f"{TEXT['lead_many'][0]}\n{point('empathy_and_compassion')}\n{point('safety_and_trust')}\n\n"
        f"{TEXT['where_from'][0]}"
    ]


def test_the_latest_answer_wins():
    texts = explain([
        action("action_reassure"), {"event": "slot", "name": "last_points", "value": ["common_and_healthy"]},
        action("utter_does_crying_help"),
    ])
    assert point("not_required") in texts[0] and point("common_and_healthy") not in texts[0]


def test_nothing_to_trace_yet_still_says_where_the_knowledge_comes_from():
    assert explain([action("utter_intro")]) == [f"{TEXT['nothing'][0]}\n\n{TEXT['where_from'][0]}"]


def test_every_explanation_says_it_is_not_from_the_therapist():
    assert all("not from your therapist" in t or "isn't from your therapist" in t for t in TEXT["where_from"])
