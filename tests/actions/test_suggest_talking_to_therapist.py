import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.suggest_talking_to_therapist import ActionSuggestTalkingToTherapist
from tests.actions.trackers import entity, make_tracker

TEXT = content.load("talking_to_therapist")


def expected(key):
    return "\n\n".join(
        [
            TEXT["intro"][key][0],
            TEXT["why"][0],
            f"{TEXT['opener_lead'][0]}\n“{TEXT['openers'][key][0]}”",
            TEXT["closing"][0],
        ]
    )


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = ActionSuggestTalkingToTherapist().run(dispatcher, tracker, domain={})
    return events, [m["text"] for m in dispatcher.messages]


def test_name():
    assert ActionSuggestTalkingToTherapist().name() == "action_suggest_talking_to_therapist"


@pytest.mark.parametrize(
    "slots, key",
    [
        ({}, "general"),
        ({"crying_frequency": "often"}, "often"),
        ({"distress": "high"}, "distressing"),
        ({"crying_frequency": "often", "distress": "high"}, "often_and_distressing"),
        ({"crying_frequency": "once"}, "general"),
    ],
)
def test_uses_what_the_user_said_earlier(slots, key):
    events, texts = run(make_tracker("ask_how_to_raise", slots=slots))
    assert events == [SlotSet("last_points", ["raise_if_distressing"])]
    assert texts == [expected(key)]


def test_latest_message_counts_before_slots_are_stored():
    tracker = make_tracker(
        "frequent_crying",
        entities=[entity("frequency", "often"), entity("distress", "high")],
    )
    assert run(tracker)[1] == [expected("often_and_distressing")]
