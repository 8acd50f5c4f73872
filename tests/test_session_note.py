"""The note for the next session and "why do you say that?", through the real Rasa and action servers.

The happy path prints the note Willow wrote (run with -s to see it; it is also written to
test-artifacts/example-note.txt).
"""
from __future__ import annotations

import uuid

import pytest
import yaml

from tests import domain_files
from tests.actions.test_suggest_talking_to_therapist import BUBBLE_LIMIT, feelings_in
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.slow

CONTENT = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "content").glob("*.yml")}
NOTE = CONTENT["session_note"]
ANSWER_SLOTS = ["note_sessions", "note_outside", "note_distress", "note_triggers", "note_goal", "note_extra"]


def sender() -> str:
    return f"note-{uuid.uuid4().hex[:12]}"


def texts(replies):
    return [r["text"] for r in replies if r.get("text")]


def asked(replies, slot, clarifying=False):
    """Whether the last reply is the question for ``slot`` (or its clarifying variation)."""
    variations = [v["text"] for v in domain_files.RESPONSES[f"utter_ask_{slot}"] if bool(v.get("condition")) == clarifying]
    return bool(replies) and replies[-1].get("text") in variations


def start_note(servers, user):
    replies = servers.say(user, "can you help me write a note for my therapist")
    assert texts(replies)[0] in domain_files.texts("utter_note_start")
    assert asked(replies, "note_sessions")
    return replies


def test_a_whole_note_in_the_users_words_then_where_it_comes_from_then_forgotten(servers):
    user = sender()
    start_note(servers, user)
    assert asked(servers.say(user, "most of them tbh"), "note_outside")
    replies = servers.say(user, "pretty much every day, usually at night")
    assert asked(replies, "note_distress")
    assert [b["title"] for b in replies[-1]["buttons"]] == [str(n) for n in range(11)] + ["Skip"]
    assert asked(servers.say(user, "8"), "note_triggers")  # the "8" button
    assert asked(servers.say(user, "when we get into stuff about my dad"), "note_goal")
    assert asked(servers.say(user, "for the crying to stop taking over every session"), "note_extra")
    replies = servers.say(user, "that i've started dreading sessions a bit")

    notes = [r["custom"]["willow_note"] for r in replies if "willow_note" in (r.get("custom") or {})]
    assert len(notes) == 1
    note = notes[0]["text"]
    print("\n--- the note Willow wrote ---\n" + note + "\n-----------------------------")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "example-note.txt").write_text(note + "\n", encoding="utf-8")
    assert notes[0]["filename"] == "willow-note.txt"
    for line in ("How often I cry in sessions: most of them tbh",
                 "How often I cry outside sessions: pretty much every day, usually at night",
                 "How distressing it feels: 8 out of 10",
                 "What tends to bring it on: when we get into stuff about my dad",
                 "What I'd like to understand or change: for the crying to stop taking over every session",
                 "Something else I'd like you to know: that i've started dreading sessions a bit"):
        assert line in note
    # Often (every day) and distressing (8): the matching opening sentence, then the goal.
    assert any(f"“{o}”" in note for o in CONTENT["talking_to_therapist"]["openers"]["often_and_distressing"])
    assert texts(replies)[0] in NOTE["before"] and texts(replies)[-1] in NOTE["after"]

    slots = servers.tracker(user)["slots"]
    assert slots["session_note"] == note
    assert all(slots[s] is None for s in ANSWER_SLOTS)  # the answers are not kept beyond the note
    assert slots["last_points"] == CONTENT["provenance"]["content"]["session_note"]

    explained = "\n".join(texts(servers.say(user, "where does that come from?")))
    assert CONTENT["points"]["raise_if_distressing"]["summary"] in explained
    assert any(w in explained for w in CONTENT["explain_source"]["where_from"])

    assert texts(servers.say(user, "please forget the note")) in [[t] for t in NOTE["forgotten"]]
    assert servers.tracker(user)["slots"]["session_note"] is None
    # Never in the logs at the default level: neither the answers nor the note.
    for log in (servers.rasa_log, servers.actions_log):
        assert "dreading sessions" not in log.read_text()


def test_crisis_in_the_middle_of_the_note_gets_the_crisis_reply_first_and_ends_the_form(servers):
    user = sender()
    start_note(servers, user)
    assert asked(servers.say(user, "every session"), "note_outside")
    replies = servers.say(user, "honestly i just want to kill myself")
    assert texts(replies)[0].startswith(tuple(v.split("\n")[0] for v in domain_files.texts("utter_crisis")))
    assert replies[-1]["text"] in domain_files.texts("utter_ask_safe")
    assert not any(asked([r], s) or asked([r], s, True) for r in replies for s in ANSWER_SLOTS)
    tracker = servers.tracker(user)
    assert tracker["active_loop"] in ({}, None) or tracker["active_loop"].get("name") is None
    # The safety check goes on as anywhere else.
    assert texts(servers.say(user, "yes i'm safe"))[0] in domain_files.texts("utter_risk_acknowledged")


def test_stop_and_skip_and_one_clarifying_question(servers):
    user = sender()
    start_note(servers, user)
    assert asked(servers.say(user, "hmm"), "note_sessions", clarifying=True)
    assert asked(servers.say(user, "hmm"), "note_outside")  # asked once, never a loop
    assert asked(servers.say(user, "/skip_question"), "note_distress")  # the Skip button
    assert asked(servers.say(user, "pretty bad"), "note_triggers")
    replies = servers.say(user, "never mind")
    assert texts(replies) and texts(replies)[0] in NOTE["stopped"]
    slots = servers.tracker(user)["slots"]
    assert all(slots[s] is None for s in ANSWER_SLOTS + ["session_note"])
    # Declining is respected, and a note can be started again from scratch.
    start_note(servers, user)


def test_offered_after_the_words_for_the_therapist_and_declining_is_respected(servers):
    user = sender()
    replies = servers.say(user, "how do i even bring the crying up with my therapist")
    assert replies[-1]["text"] in domain_files.texts("utter_offer_note")
    assert texts(servers.say(user, "no thanks"))[0] in domain_files.texts("utter_note_declined")


def test_the_words_for_the_therapist_and_the_note_use_only_their_words(servers):
    user = sender()
    servers.say(user, "I can't stop crying in every session")
    replies = servers.say(user, "yes please")
    words = texts(replies)[0]
    assert "“can't stop”" in words and "“every session”" in words
    assert "overwhelming" not in words and feelings_in(words) == []
    paragraphs = words.split("\n\n")
    assert len(paragraphs) <= 2 and all(len(p) <= BUBBLE_LIMIT for p in paragraphs)
    assert replies[-1]["text"] in domain_files.texts("utter_offer_note")

    assert asked(servers.say(user, "yes"), "note_sessions")
    for answer, slot in (("most weeks", "note_outside"), ("sometimes at night", "note_distress"),
                         ("8", "note_triggers"), ("talking about my dad", "note_goal"), ("skip", "note_extra")):
        assert asked(servers.say(user, answer), slot)
    replies = servers.say(user, "no that's all")
    note = next(r["custom"]["willow_note"]["text"] for r in replies if "willow_note" in (r.get("custom") or {}))
    opening = note.split(NOTE["opener_lead"] + "\n", 1)[1]
    assert feelings_in(opening) == []
    assert feelings_in(note.replace(NOTE["labels"]["note_distress"], "")) == []


def test_why_do_you_say_that_after_a_domain_answer(servers):
    user = sender()
    servers.say(user, "is it normal to cry in therapy?")
    explained = "\n".join(texts(servers.say(user, "why do you say that?")))
    assert CONTENT["points"]["common_and_healthy"]["summary"] in explained
    assert "therapist" in explained


def test_forget_the_note_in_the_middle_ends_it_and_is_never_kept_as_an_answer(servers):
    user = sender()
    start_note(servers, user)
    assert asked(servers.say(user, "every session"), "note_outside")
    replies = servers.say(user, "actually forget the note, i don't want it kept")
    assert texts(replies)[0] in NOTE["stopped"]
    slots = servers.tracker(user)["slots"]
    assert all(slots[s] is None for s in ANSWER_SLOTS + ["session_note"])
