"""action_go_deeper and action_short_reply: the next layer, never the same answer; short replies."""
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.follow_ups import ActionGoDeeper, ActionShortReply
from actions.normalise_not_crying import ActionNormaliseNotCrying
from tests.actions.trackers import make_tracker

DEEPER = content.load("deeper")
FOLLOW_UPS = content.load("follow_ups")
MORE = [FOLLOW_UPS["more_button"], FOLLOW_UPS["done_button"]]


def answered(*actions: str) -> list:
    """Events of a session in which Willow ran ``actions``, each saying one line."""
    events = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]
    for name in actions:
        events += [{"event": "user", "text": "..."}, {"event": "action", "name": name},
                   {"event": "bot", "text": f"text of {name}"}]
    return events


def offer(layer: str) -> str:
    return FOLLOW_UPS["offer_next"][0].format(offer=DEEPER[layer]["offer"])


def go_deeper(intent="tell_me_more", slots=None, events=()):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent, "why?", slots=slots, events=list(events))
    return ActionGoDeeper().run(dispatcher, tracker, domain={}), dispatcher.messages


def test_why_after_is_it_normal_gives_the_reasons_and_offers_how_it_varies():
    events, messages = go_deeper(events=answered("utter_is_normal"))
    assert [m["text"] for m in messages] == [DEEPER["reasons"]["texts"][0] + "\n\n" + offer("frequency_varies")]
    assert messages[0]["buttons"] == MORE
    assert events == [SlotSet("layers_told", ["reasons"]),
                      SlotSet("last_points", content.points("deeper", "reasons"))]


def test_why_after_the_reasons_goes_to_the_next_layer_not_the_reasons_again():
    events, messages = go_deeper(events=answered("utter_is_normal", "utter_why_cry"))
    assert messages[0]["text"] == DEEPER["frequency_varies"]["texts"][0] + "\n\n" + offer("not_required")
    assert events[0] == SlotSet("layers_told", ["frequency_varies"])


def test_layers_told_are_not_told_again_and_a_layer_can_carry_its_own_button():
    told = ["reasons", "frequency_varies", "not_required"]
    events, messages = go_deeper(slots={"layers_told": told}, events=answered("utter_is_normal"))
    assert messages[0]["text"] == DEEPER["raise_if_distressing"]["texts"][0] + "\n\n" + offer("supportive_space")
    assert messages[0]["buttons"] == [DEEPER["raise_if_distressing"]["button"]] + MORE
    assert events[0] == SlotSet("layers_told", told + ["raise_if_distressing"])


def test_when_everything_was_said_it_says_so_and_offers_other_topics():
    told = ["reasons", "frequency_varies", "not_required", "raise_if_distressing", "supportive_space"]
    events, messages = go_deeper(slots={"layers_told": told}, events=answered("utter_why_cry"))
    assert events == []
    assert messages[0]["text"] == FOLLOW_UPS["nothing_left"][0]
    # The menu leaves out what was talked about (the reasons).
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_is_normal", "/not_crying", "/frequent_crying"]


def test_the_subject_follows_the_last_answer():
    # After words for the therapist: why raising it helps, from talking_to_therapist.yml.
    _, messages = go_deeper(events=answered("action_suggest_talking_to_therapist"))
    assert messages[0]["text"].startswith(content.load("talking_to_therapist")["why"][0])
    # Not crying: how it varies, not the reasons first.
    _, messages = go_deeper(slots={"topic": "not_crying"}, events=answered("action_normalise_not_crying"))
    assert messages[0]["text"].startswith(DEEPER["frequency_varies"]["texts"][0])


def test_about_someone_else_it_goes_deeper_in_the_third_person():
    _, messages = go_deeper(slots={"asking_for": "someone_else"}, events=answered("utter_someone_else"))
    assert messages[0]["text"] == DEEPER["reasons_them"]["texts"][0] + "\n\n" + offer("words_them")


def test_a_text_already_sent_is_not_chosen_again():
    events = answered("utter_is_normal") + [{"event": "bot", "text": DEEPER["reasons"]["texts"][0]}]
    _, messages = go_deeper(slots={"layers_told": []}, events=events)
    assert messages[0]["text"].startswith(DEEPER["reasons"]["texts"][1])


def short_reply(intent, events, text="ok"):
    dispatcher = CollectingDispatcher()
    result = ActionShortReply().run(dispatcher, make_tracker(intent, text, events=events), domain={})
    return result, dispatcher.messages


def test_ok_after_an_answer_acknowledges_and_offers_the_next_layer():
    events, messages = short_reply("affirm", answered("action_reassure"))
    assert events == []
    assert messages[0]["text"] == FOLLOW_UPS["acknowledge"][0] + " " + offer("reasons")
    assert messages[0]["buttons"] == MORE


def test_no_after_an_answer_is_fine_and_offers_the_menu_once():
    _, messages = short_reply("deny", answered("utter_is_normal"), text="no")
    assert messages[0]["text"] == FOLLOW_UPS["deny"][0] + " " + FOLLOW_UPS["menu_lead"][0]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_why_cry", "/not_crying", "/frequent_crying"]
    # A second short reply in a row: no menu again.
    _, messages = short_reply("acknowledge", answered("utter_is_normal", "action_short_reply"), text="k")
    assert messages == [{**messages[0], "text": FOLLOW_UPS["quiet"][0], "buttons": []}]


def test_the_second_time_the_not_crying_answer_is_brief_and_goes_deeper():
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("not_crying", "i still don't cry though", slots={"topic": "not_crying"},
                           events=answered("action_normalise_not_crying"))
    events = ActionNormaliseNotCrying().run(dispatcher, tracker, domain={})
    again = content.load("not_crying")["again"][0]
    # No offer: the rule asks "anything else?" next.
    assert dispatcher.messages[0]["text"] == again + "\n\n" + DEEPER["frequency_varies"]["texts"][0]
    assert dispatcher.messages[0]["buttons"] == []
    assert events[0] == SlotSet("layers_told", ["frequency_varies"])


def test_yes_to_an_offer_of_more_is_the_next_layer():
    offered = answered("utter_is_normal", "action_short_reply")
    offered[-1] = {"event": "bot", "text": "Okay. Would you like to hear ...?", "data": {"buttons": MORE}}
    events, messages = short_reply("affirm", offered, text="yeah")
    assert messages[0]["text"].startswith(DEEPER["reasons"]["texts"][0])
    assert events[0] == SlotSet("layers_told", ["reasons"])


def test_a_subject_whose_layers_were_all_told_goes_on_with_the_general_ones():
    told = ["frequency_varies", "supportive_space", "reasons"]
    _, messages = go_deeper(slots={"layers_told": told, "topic": "not_crying"},
                            events=answered("action_normalise_not_crying"))
    assert messages[0]["text"].startswith(DEEPER["raise_if_distressing"]["texts"][0])
