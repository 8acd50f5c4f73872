from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.reassure import ActionReassure
from tests.actions.trackers import entity, make_tracker

REASSURANCE = content.load("reassurance")


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = ActionReassure().run(dispatcher, tracker, domain={})
    return events, [m["text"] for m in dispatcher.messages]


def test_name():
    assert ActionReassure().name() == "action_reassure"


def test_general_reassurance_when_they_cried():
    events, texts = run(make_tracker("cried_in_therapy", "i cried in therapy today"))
    assert events == [SlotSet("last_points", ["common_and_healthy"])]  # for "why do you say that?"
    assert texts == [REASSURANCE["general"][0]]


def test_first_time_is_recognised_from_the_message():
    tracker = make_tracker(
        "cried_in_therapy", "cried for the first time", entities=[entity("frequency", "once")]
    )
    assert run(tracker)[1] == [REASSURANCE["first_time"][0]]


def test_embarrassed():
    assert run(make_tracker("embarrassed_about_crying"))[1] == [REASSURANCE["embarrassed"][0]]


def test_about_to_start_therapy():
    assert run(make_tracker("fear_of_crying"))[1] == [REASSURANCE["about_to_start"][0]]


def test_remembers_frequent_distressing_crying_from_earlier():
    tracker = make_tracker(
        "embarrassed_about_crying", slots={"crying_frequency": "often", "distress": "high"}
    )
    events, texts = run(tracker)
    assert texts == [REASSURANCE["embarrassed"][0] + "\n\n" + REASSURANCE["frequent_note"][0]]
    # The points of both parts, for "why do you say that?" (content/provenance.yml).
    assert events == [SlotSet("last_points", ["empathy_and_compassion", "safety_and_trust", "raise_if_distressing"])]


def test_no_note_when_frequent_but_not_distressing():
    tracker = make_tracker("cried_in_therapy", slots={"crying_frequency": "often"})
    assert run(tracker)[1] == [REASSURANCE["general"][0]]


def test_one_detail_the_person_gave_is_picked_up():
    details = REASSURANCE["details"]
    tracker = make_tracker("cried_in_therapy", "I cried and my therapist handed me tissues without a word")
    events, texts = run(tracker)
    assert texts == [REASSURANCE["general"][0] + "\n\n" + details["therapist_reaction"]["texts"][0]]
    assert events == [SlotSet("last_points", ["common_and_healthy", "empathy_and_compassion", "frequency_varies"])]
    tracker = make_tracker("cried_in_therapy", "two years of therapy and I finally cried yesterday")
    assert run(tracker)[1] == [REASSURANCE["general"][0] + "\n\n" + details["time_in_therapy"]["texts"][0]]
    # No detail Willow knows about: the reassurance alone, with nothing made up.
    assert run(make_tracker("cried_in_therapy", "i cried in therapy today"))[1] == [REASSURANCE["general"][0]]


def test_the_frequent_note_names_no_feeling_the_person_did_not_use():
    for note in REASSURANCE["frequent_note"]:
        assert not any(word in note for word in ("distress", "overwhelm", "hard to deal", "upsetting"))
