import yaml
from rasa_sdk.events import ActionExecuted, SlotSet, UserUttered, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.check_in import (MAPPINGS, ActionResumeAfterCheckIn, ActionResumeAfterPastRisk, resumed_parse,
                              slot_events)
from tests import domain_files
from tests.actions.trackers import make_tracker

# The slots of the domain, as the action server receives them.
DOMAIN = {"slots": {name: slot for data in domain_files.FILES.values() for name, slot in (data.get("slots") or {}).items()}}

TEXT = "I cry in every session and honestly I can't do this anymore"
PARSE = {
    "text": TEXT,
    "intent": {"name": "possible_crisis", "confidence": 1.0},
    "intent_ranking": [
        {"name": "possible_crisis", "confidence": 1.0},
        {"name": "frequent_crying", "confidence": 0.55},
        {"name": "crisis", "confidence": 0.2},
        {"name": "cried_in_therapy", "confidence": 0.1},
    ],
    "entities": [{"entity": "frequency", "value": "often", "start": 14, "end": 27}],
}
EVENTS = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": TEXT, "parse_data": PARSE, "input_channel": "rest"},
    {"event": "action", "name": "utter_check_in"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "no", "parse_data": {"intent": {"name": "deny", "confidence": 0.9}}},
]


def run(events, domain=None):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("deny", "no", events=events)
    return ActionResumeAfterCheckIn().run(dispatcher, tracker, domain=domain or DOMAIN), dispatcher.messages


def test_name():
    assert ActionResumeAfterCheckIn().name() == "action_resume_after_check_in"


def test_no_says_where_help_is_then_takes_the_message_back_without_the_risk_tier():
    events, messages = run(EVENTS)
    assert [m["response"] for m in messages] == ["utter_check_in_declined"]
    resumed = {**PARSE, "intent": {"name": "frequent_crying", "confidence": 0.55},
               "intent_ranking": [PARSE["intent_ranking"][1], PARSE["intent_ranking"][3]]}
    assert events == [
        UserUtteranceReverted(),
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        UserUttered(TEXT, resumed, input_channel="rest"),
        # The domain's slot mappings, as Rasa applies them to a message from a channel.
        SlotSet("topic", "frequent"),
        SlotSet("crying_frequency", "often"),
        SlotSet("language", "en"),  # written in English: the replies' wording is English
        SlotSet("asking_for", "self"),  # about their own crying
    ]


def test_inside_the_note_the_message_is_the_answer_it_was():
    before = [{"event": "active_loop", "name": "note_form"},
              {"event": "slot", "name": "requested_slot", "value": "note_outside"}]
    events, _ = run(before + EVENTS)
    assert SlotSet("note_outside", TEXT) in events
    assert SlotSet("topic", "frequent") in events


def test_the_domain_uses_only_the_slot_mappings_the_action_applies():
    # "custom" without an action: the slot is set by custom actions, never by extraction.
    kinds = {m["type"] for slot in DOMAIN["slots"].values() for m in slot.get("mappings") or []
             if not (m["type"] == "custom" and "action" not in m)}
    assert kinds <= set(MAPPINGS)


def test_mapping_filters_and_conditions():
    parse = {"intent": {"name": "crisis"}, "entities": []}
    in_note = {"active_loop": "note_form", "requested_slot": "note_sessions"}
    # not_intent: risk never fills the note (only the language of the replies, and whose risk it is)
    assert slot_events(DOMAIN, "x", parse, in_note) == [SlotSet("language", "en"), SlotSet("risk_about", "self")]
    parse = {"intent": {"name": "inform_country"}, "entities": [{"entity": "country", "value": "AU"}]}
    assert slot_events(DOMAIN, "x", parse, {"active_loop": None, "requested_slot": None}) == [
        SlotSet("country", "AU"), SlotSet("language", "en")]


def test_a_message_about_nothing_else_clearly_is_answered_as_a_struggle():
    parse = {"intent_ranking": [{"name": "possible_crisis", "confidence": 0.9},
                                {"name": "greet", "confidence": 0.05}]}
    resumed = resumed_parse(parse)
    assert resumed["intent"] == {"name": "other_struggle", "confidence": 1.0}
    assert [r["name"] for r in resumed["intent_ranking"]] == ["other_struggle", "greet"]


def test_without_a_check_in_there_is_nothing_to_go_back_to():
    events, messages = run(EVENTS[:1] + EVENTS[3:])
    assert events == [] and [m["response"] for m in messages] == ["utter_check_in_declined"]


PAST_TEXT = "I tried to end my life at 19, I'm 34 now. Is it normal that I still cry in therapy about it?"
PAST_PARSE = {
    "text": PAST_TEXT,
    "intent": {"name": "past_risk", "confidence": 1.0},
    "intent_ranking": [
        {"name": "past_risk", "confidence": 1.0},
        {"name": "ask_is_normal", "confidence": 0.6},
        {"name": "crisis", "confidence": 0.3},
    ],
    "entities": [],
}
PAST_EVENTS = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": PAST_TEXT, "parse_data": PAST_PARSE, "input_channel": "socketio"},
    {"event": "action", "name": "utter_past_risk"},
]


def run_past(events):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("past_risk", PAST_TEXT, events=events)
    return ActionResumeAfterPastRisk().run(dispatcher, tracker, domain=DOMAIN), dispatcher.messages


def test_past_risk_name():
    assert ActionResumeAfterPastRisk().name() == "action_resume_after_past_risk"


def test_after_past_risk_the_rest_of_the_message_is_answered():
    events, messages = run_past(PAST_EVENTS)
    assert messages == []  # utter_past_risk, a domain response, already said where help is
    resumed = {**PAST_PARSE, "intent": {"name": "ask_is_normal", "confidence": 0.6},
               "intent_ranking": [PAST_PARSE["intent_ranking"][1]]}
    assert events == [
        UserUtteranceReverted(),
        ActionExecuted("action_listen"),
        UserUttered(PAST_TEXT, resumed, input_channel="socketio"),
        SlotSet("language", "en"),
    ]


def test_after_past_risk_in_the_note_the_message_is_the_answer_it_was():
    before = [{"event": "active_loop", "name": "note_form"},
              {"event": "slot", "name": "requested_slot", "value": "note_outside"}]
    events, _ = run_past(before + PAST_EVENTS + [{"event": "active_loop", "name": None}])
    assert SlotSet("note_outside", PAST_TEXT) in events


def test_past_risk_with_no_message_does_nothing():
    events, messages = run_past([{"event": "action", "name": "action_listen"}])
    assert events == [] and messages == []
