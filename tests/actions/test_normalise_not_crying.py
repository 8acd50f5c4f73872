from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.normalise_not_crying import ActionNormaliseNotCrying
from tests.actions.trackers import make_tracker

NOT_CRYING = content.load("not_crying")


def test_name():
    assert ActionNormaliseNotCrying().name() == "action_normalise_not_crying"


def test_not_crying_is_not_a_failure_and_names_other_ways():
    dispatcher = CollectingDispatcher()
    events = ActionNormaliseNotCrying().run(
        dispatcher, make_tracker("not_crying", "i never cry in therapy"), domain={}
    )
    assert events == [SlotSet("last_points", ["not_required"])]
    assert [m["text"] for m in dispatcher.messages] == [
        NOT_CRYING["not_a_failure"][0] + "\n\n" + NOT_CRYING["other_ways"][0]
    ]
