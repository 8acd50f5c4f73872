"""validate_note_form, action_write_note, action_forget_note: exact messages and events."""
import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content, session_note
from actions.session_note import SKIPPED, ActionForgetNote, ActionWriteNote, ValidateNoteForm
from tests.actions.test_suggest_talking_to_therapist import feelings_in

NOTE = content.load("session_note")
OPENERS = content.load("talking_to_therapist")["openers"]


def form_tracker(requested, text, intent="nlu_fallback", slots=None, fill=True):
    """The tracker validate_note_form sees after the user answered the question for ``requested``."""
    slots = {"requested_slot": requested, **(slots or {})}
    events = [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    if fill:
        slots[requested] = text
        events.append({"event": "slot", "name": requested, "value": text})
    return Tracker.from_dict({
        "sender_id": "test-user", "slots": slots, "events": events, "paused": False,
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
        "followup_action": None, "active_loop": {"name": "note_form"}, "latest_action_name": "action_listen",
    })


def validate(requested, text, **kwargs):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateNoteForm().run(dispatcher, form_tracker(requested, text, **kwargs), domain={
        "forms": {"note_form": {"required_slots": session_note.ANSWERS}},
        "slots": {s: {} for s in session_note.ANSWERS},
    }))
    assert dispatcher.messages == []
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    # Every understood answer marks the note as under way (tested on its own below).
    assert slots.pop(session_note.STARTED, None) in (None, True)
    return slots


def test_the_first_answer_marks_the_note_as_under_way_for_after_an_interruption():
    def started(requested, text, **kwargs):
        events = asyncio.run(ValidateNoteForm().run(CollectingDispatcher(), form_tracker(requested, text, **kwargs),
                                                    domain={"forms": {"note_form": {"required_slots": session_note.ANSWERS}},
                                                            "slots": {s: {} for s in session_note.ANSWERS}}))
        return [e["value"] for e in events if e["event"] == "slot" and e["name"] == session_note.STARTED]

    assert started("note_sessions", "most sessions") == [True]
    assert started("note_sessions", "hmm") == []  # unclear: a clarifying question, nothing kept yet


@pytest.mark.parametrize("text", [
    "every day", "most sessions", "pretty much every session tbh", "almost never", "now and then",
    "3 times a month", "only once so far", "twice a week", "no", "a lot", "all the time lol",
])
def test_many_phrasings_of_how_often_are_understood_and_kept_in_their_words(text):
    assert validate("note_sessions", text) == {"note_sessions": text, "note_clarify": None}


@pytest.mark.parametrize("text, level", [
    ("7", "high"), ("a 7", "high"), ("7/10", "high"), ("seven", "high"), ("pretty bad", "high"),
    ("overwhelming honestly", "high"), ("4", "medium"), ("kind of in the middle", "medium"),
    ("not too bad", "low"), ("a bit", "low"), ("0", "low"),
])
def test_many_phrasings_of_how_distressing_are_understood(text, level):
    assert session_note.distress_of(text) == level
    assert validate("note_distress", text) == {"note_distress": text, "note_clarify": None}


@pytest.mark.parametrize("slot, text, intent", [
    ("note_sessions", "/skip_question", "skip_question"),
    ("note_distress", "skip", "skip_question"),
    ("note_triggers", "i'd rather not say", "out_of_scope"),
    ("note_goal", "idk", "nlu_fallback"),
    ("note_extra", "no that's all", "deny"),
    ("note_extra", "nope", "deny"),
])
def test_every_question_can_be_skipped(slot, text, intent):
    assert validate(slot, text, intent=intent) == {slot: SKIPPED, "note_clarify": None}


def test_i_dont_know_followed_by_an_answer_is_an_answer():
    text = "i don't know, maybe talking about my mum"
    assert validate("note_triggers", text) == {"note_triggers": text, "note_clarify": None}


@pytest.mark.parametrize("slot, text", [
    ("note_sessions", "hmm"), ("note_outside", "what do you mean"), ("note_distress", "banana"),
    ("note_distress", "11"), ("note_triggers", "?"), ("note_goal", "huh"),
])
def test_an_unclear_answer_gets_one_clarifying_question(slot, text):
    assert validate(slot, text) == {slot: None, "note_clarify": slot}


def test_a_second_unclear_answer_is_kept_as_it_is_not_asked_again():
    assert validate("note_sessions", "hmm", slots={"note_clarify": "note_sessions"}) == {
        "note_sessions": "hmm", "note_clarify": None,
    }
    assert validate("note_goal", "??", slots={"note_clarify": "note_goal"}) == {
        "note_goal": SKIPPED, "note_clarify": None,
    }


@pytest.mark.parametrize("intent, text", [
    ("stop_note", "i want it to stop"),
    ("stop_note", "for the crying to stop before work"),
    ("forget_note", "i'd like to forget about it for a while"),
    ("forget_me", "forgetting everything once i leave"),
])
def test_an_answer_the_classifier_took_for_stop_or_forget_is_kept_as_the_answer(intent, text):
    # Rasa extracted nothing (the mappings skip these intents); the validator takes it as the answer.
    assert validate("note_goal", text, intent=intent, fill=False) == {"note_goal": text, "note_clarify": None}


@pytest.mark.parametrize("intent, text", [
    ("stop_note", "stop"), ("stop_note", "never mind"), ("stop_note", "cancel"),
    ("stop_note", "i don't want to do this anymore"), ("forget_note", "forget the note"),
    ("forget_me", "delete my data"),
])
def test_a_real_interruption_is_left_to_the_rules_that_end_the_form(intent, text):
    assert validate("note_goal", text, intent=intent, fill=False) == {}


def test_long_answers_are_shortened():
    text = "word " * 200
    assert len(validate("note_triggers", text)["note_triggers"]) == NOTE["understand"]["max_answer_chars"]


# -- the note ---------------------------------------------------------------------------------
ANSWERS = {
    "note_sessions": "most sessions", "note_outside": "every day", "note_distress": "7",
    "note_triggers": "talking about my dad", "note_goal": "understand why it happens.",
    "note_extra": SKIPPED,
}


def test_note_text_uses_their_words_and_adds_opening_sentences():
    assert session_note.compose_note(ANSWERS) == (
        "A note for my next session\n\n"
        "How often I cry in sessions: most sessions\n"
        "How often I cry outside sessions: every day\n"
        "How distressing it feels: 7 out of 10\n"
        "What tends to bring it on: talking about my dad\n"
        "What I'd like to understand or change: understand why it happens.\n\n"
        "I could start with:\n"
        f"“{OPENERS['often_and_distressing'][0]}”\n"
        "“One thing I'd really like us to work on is this: understand why it happens.”"
    )


@pytest.mark.parametrize("answers, earlier, key", [
    ({"note_sessions": "rarely", "note_distress": "2"}, {}, "general"),
    ({"note_sessions": "every week", "note_distress": "a little"}, {}, "often"),
    ({"note_sessions": "once", "note_distress": "unbearable"}, {}, "distressing"),
    ({"note_sessions": SKIPPED, "note_distress": SKIPPED}, {"crying_frequency": "often", "distress": "high"},
     "often_and_distressing"),
    ({"note_sessions": "hardly ever"}, {"crying_frequency": "often"}, "general"),
])
def test_opening_sentence_fits_the_answers_then_what_was_said_earlier(answers, earlier, key):
    assert session_note.opener_key(answers, earlier) == key


def opening_sentences(note):
    return note.split(NOTE["opener_lead"] + "\n", 1)[1]


@pytest.mark.parametrize("answers", [
    {"note_sessions": "most weeks", "note_distress": "8"},  # often and a high score: no feeling named
    {"note_sessions": "once", "note_distress": "pretty bad", "note_goal": "know why it happens"},
    {"note_sessions": "a lot", "note_distress": "4"},
    {"note_sessions": "rarely", "note_distress": "a little"},
    {"note_sessions": SKIPPED, "note_distress": SKIPPED},
])
def test_the_opening_sentences_name_no_feeling_the_answers_did_not(answers):
    note = session_note.compose_note(answers, {"crying_frequency": "often", "distress": "high"})
    assert feelings_in(opening_sentences(note)) == []
    # Nor does anything else but the question's label ("How distressing it feels").
    assert feelings_in(note.replace(NOTE["labels"]["note_distress"], "")) == []


def test_their_own_word_for_it_stays_in_their_answer():
    note = session_note.compose_note({"note_distress": "overwhelming honestly"})
    assert "How distressing it feels: overwhelming honestly\n" in note
    assert opening_sentences(note) == f"“{OPENERS['distressing'][0]}”"


def test_all_skipped_still_gives_a_note_with_an_opening_sentence():
    note = session_note.compose_note({slot: SKIPPED for slot in session_note.ANSWERS})
    assert NOTE["nothing_answered"] in note
    assert f"“{OPENERS['general'][0]}”" in note
    assert "skipped" not in note.replace(NOTE["nothing_answered"], "")


def note_tracker(slots):
    return Tracker.from_dict({
        "sender_id": "test-user", "slots": slots, "events": [], "paused": False,
        "latest_message": {"text": "", "intent": {"name": "nlu_fallback"}, "entities": []},
        "followup_action": None, "active_loop": {}, "latest_action_name": "note_form",
    })


def test_write_note_sends_it_with_copy_data_keeps_it_and_clears_the_answers():
    dispatcher = CollectingDispatcher()
    events = ActionWriteNote().run(dispatcher, note_tracker(dict(ANSWERS)), domain={})
    note = session_note.compose_note(ANSWERS)
    assert [m["text"] for m in dispatcher.messages] == [NOTE["before"][0], note, NOTE["after"][0]]
    assert dispatcher.messages[1]["custom"] == {"willow_note": {"text": note, "filename": "willow-note.txt"}}
    assert events == [SlotSet(s, None) for s in session_note.ANSWERS] + [
        SlotSet("note_clarify", None), SlotSet("session_note", None), SlotSet("note_started", None),
        SlotSet("session_note", note), SlotSet("last_points", ["raise_if_distressing", "frequency_varies"]),
    ]


@pytest.mark.parametrize("intent, last_action, slots, key", [
    ("forget_note", "action_listen", {"session_note": "A note..."}, "forgotten"),
    ("forget_note", "action_listen", {}, "nothing_to_forget"),
    ("stop_note", "action_deactivate_loop", {"note_sessions": "most"}, "stopped"),
    ("forget_me", "action_deactivate_loop", {}, "stopped"),
])
def test_forget_note_clears_everything_and_says_so(intent, last_action, slots, key):
    tracker = Tracker.from_dict({
        "sender_id": "test-user", "slots": slots, "events": [], "paused": False,
        "latest_message": {"text": "", "intent": {"name": intent}, "entities": []},
        "followup_action": None, "active_loop": {}, "latest_action_name": last_action,
    })
    dispatcher = CollectingDispatcher()
    events = ActionForgetNote().run(dispatcher, tracker, domain={})
    assert [m["text"] for m in dispatcher.messages] == [NOTE[key][0]]
    assert events == [SlotSet(s, None) for s in session_note.ANSWERS + ["note_clarify", "session_note", "note_started"]]
