"""action_suggest_talking_to_therapist: exact messages, in the user's own words, sized for a phone."""
import itertools
import re

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content, situation
from actions.suggest_talking_to_therapist import ActionSuggestTalkingToTherapist
from tests.actions.trackers import make_tracker

TEXT = content.load("talking_to_therapist")
EVENTS = [SlotSet("last_points", ["raise_if_distressing"])]
# Words for a feeling that Willow must not put in the user's mouth (they may quote them).
FEELINGS = ["overwhelm", "distress", "upset", "scary", "scare", "exhaust", "frighten", "awful", "terrible",
            "unbearable", "painful", "hard", "out of control", "too much", "cope", "curious", "anxious", "worried"]
BUBBLE_LIMIT = 320


def feelings_in(text):
    return [w for w in FEELINGS if re.search(rf"\b{w}", text.lower())]


def parsed(text, intent="frequent_crying", **entities):
    """A message as Rasa parses it: ``entities`` maps entity -> (the words in ``text``, the value)."""
    found = [{"entity": name, "value": value, "start": text.index(words), "end": text.index(words) + len(words),
              "extractor": "RegexEntityExtractor", "processors": ["EntitySynonymMapper"]}
             for name, (words, value) in entities.items()]
    return {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": found}


def user(message):
    return {"event": "user", "text": message["text"], "parse_data": message}


def tracker_after(*messages, slots=None, events=()):
    """The tracker when the last of ``messages`` is the latest, as the action server receives it."""
    latest = messages[-1]
    return make_tracker(latest["intent"]["name"], latest["text"], slots=slots, entities=latest["entities"],
                        events=list(events) + [user(m) for m in messages])


def message(intro, key, lead=0, opener=0):
    return f"{intro}\n\n{TEXT['opener_lead'][lead]}\n“{TEXT['openers'][key][opener]}”"


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = ActionSuggestTalkingToTherapist().run(dispatcher, tracker, domain={})
    return events, [m["text"] for m in dispatcher.messages]


def test_name():
    assert ActionSuggestTalkingToTherapist().name() == "action_suggest_talking_to_therapist"


def test_cant_stop_is_quoted_in_their_words_and_no_feeling_is_added():
    said = parsed("I can't stop crying in every session", frequency=("every session", "often"),
                  distress=("can't stop", "high"))
    events, texts = run(tracker_after(said))
    intro = ("You said “every session” about how often you cry, and “can't stop” about what it's like. "
             "That's worth talking about with your therapist.")
    assert texts == [message(intro, "often_and_distressing")]
    assert events == EVENTS
    assert "overwhelming" not in texts[0] and feelings_in(texts[0]) == []


def test_their_words_from_an_earlier_message_on_a_later_turn():
    # "It's too much" set the slot a turn ago; "how do I bring it up?" has no entities.
    earlier = parsed("honestly it's all too much when I cry in there", distress=("too much", "high"))
    latest = parsed("how do i bring it up with her", intent="ask_how_to_raise")
    _, texts = run(tracker_after(earlier, latest, slots={"distress": "high"}))
    intro = "You used the words “too much” about the crying. That's worth talking about with your therapist."
    assert texts == [message(intro, "distressing")]


def test_their_words_are_kept_as_they_wrote_them():
    said = parsed("it SCARES ME how i cry", distress=("SCARES ME", "high"))
    _, texts = run(tracker_after(said))
    assert texts[0].startswith("You used the words “SCARES ME” about the crying.")


def test_frequency_only_has_no_feeling_in_it():
    said = parsed("i cry every single session", frequency=("every single session", "often"))
    _, texts = run(tracker_after(said))
    intro = "You said “every single session” about how often you cry. That's worth talking about with your therapist."
    assert texts == [message(intro, "often")]
    assert feelings_in(texts[0]) == []


def test_nothing_known_gives_the_general_reply():
    events, texts = run(tracker_after(parsed("how do i bring up crying with my therapist", intent="ask_how_to_raise")))
    assert texts == [message(TEXT["intro"]["general"][0], "general")]
    assert events == EVENTS
    assert feelings_in(texts[0]) == []


def test_a_first_time_is_not_often():
    said = parsed("i cried for the first time today", intent="cried_in_therapy",
                  frequency=("for the first time", "once"))
    assert run(tracker_after(said))[1] == [message(TEXT["intro"]["general"][0], "general")]


@pytest.mark.parametrize("slots, key", [
    ({"crying_frequency": "often"}, "often"),
    ({"distress": "high"}, "distressing"),
    ({"crying_frequency": "often", "distress": "high"}, "often_and_distressing"),
])
def test_known_from_slots_but_their_words_are_gone_says_it_without_a_feeling(slots, key):
    # An earlier session set the slots; its messages are not in this session's events.
    _, texts = run(make_tracker("ask_how_to_raise", "how do i raise it", slots=slots))
    assert texts == [message(TEXT["intro_unquoted"][key][0], key)]
    assert feelings_in(texts[0]) == []


def test_only_one_of_two_things_in_their_words_is_not_half_quoted():
    said = parsed("i cry every session", frequency=("every session", "often"))
    _, texts = run(tracker_after(said, slots={"distress": "high"}))
    assert texts == [message(TEXT["intro_unquoted"]["often_and_distressing"][0], "often_and_distressing")]


def test_a_buttons_payload_is_not_quoted_as_their_words():
    payload = {"text": '/frequent_crying{"distress": "high"}', "intent": {"name": "frequent_crying"},
               "entities": [{"entity": "distress", "value": "high", "start": 16, "end": 36}]}
    _, texts = run(tracker_after(payload))
    assert texts == [message(TEXT["intro_unquoted"]["distressing"][0], "distressing")]


def test_a_second_time_in_a_conversation_says_it_differently():
    said = parsed("i cry every session", frequency=("every session", "often"))
    first = run(tracker_after(said))[1][0]
    again = run(tracker_after(said, events=[{"event": "bot", "text": first}]))[1][0]
    intro = "You mentioned crying “every session”. Your therapist is a good person to bring that to."
    assert again == message(intro, "often", lead=1, opener=1)


def test_at_most_two_paragraphs_of_at_most_320_characters_for_every_variation():
    # Their words are at most MAX_SPAN_CHARS long; the longest possible quote is used here.
    longest = "x" * situation.MAX_SPAN_CHARS
    intros = [t.format(frequency=longest, distress=longest) for v in TEXT["intro"].values() for t in v]
    intros += [t for v in TEXT["intro_unquoted"].values() for t in v]
    openers = [f"{lead}\n“{o}”" for lead, o in itertools.product(
        TEXT["opener_lead"], [o for v in TEXT["openers"].values() for o in v])]
    assert max(map(len, intros)) <= BUBBLE_LIMIT
    assert max(map(len, openers)) <= BUBBLE_LIMIT
    said = parsed("I can't stop crying in every session", frequency=("every session", "often"),
                  distress=("can't stop", "high"))
    paragraphs = run(tracker_after(said))[1][0].split("\n\n")
    assert len(paragraphs) == 2 and all(len(p) <= BUBBLE_LIMIT for p in paragraphs)


def test_no_text_the_reply_is_built_from_names_a_feeling():
    # The placeholders stand for their words, which they may well have used.
    texts = [t.format(frequency="", distress="")
             for key in ("intro", "intro_unquoted", "openers") for v in TEXT[key].values() for t in v]
    assert [(t, feelings_in(t)) for t in texts + TEXT["opener_lead"] if feelings_in(t)] == []


def test_why_and_closing_stay_for_the_next_layer():
    # Sent on "tell me more" (content/deeper.yml), no longer in this reply.
    said = parsed("i cry every session", frequency=("every session", "often"))
    text = run(tracker_after(said))[1][0]
    assert TEXT["why"] and TEXT["closing"]
    assert not any(t in text for t in TEXT["why"] + TEXT["closing"])
