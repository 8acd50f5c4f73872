from rasa_sdk.executor import CollectingDispatcher

from actions import content
from actions.offer_topics import ActionOfferTopics
from tests.actions.trackers import make_tracker

TEXT = content.load("offer_topics")


def run(ranking):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("nlu_fallback", "crying thing in session??", ranking=ranking)
    events = ActionOfferTopics().run(dispatcher, tracker, domain={})
    return events, dispatcher.messages


def ranked(*pairs):
    return [{"name": "nlu_fallback", "confidence": 0.25}] + [{"name": n, "confidence": c} for n, c in pairs]


def test_name():
    assert ActionOfferTopics().name() == "action_offer_topics"


def test_two_close_topics_are_offered_as_buttons_with_something_else():
    events, (message,) = run(ranked(("frequent_crying", 0.22), ("ask_how_to_raise", 0.2), ("greet", 0.1)))
    assert events == []
    assert message["text"] == TEXT["lead"][0]
    assert message["buttons"] == [
        {"title": TEXT["topics"]["frequent_crying"], "payload": "/frequent_crying"},
        {"title": TEXT["topics"]["ask_how_to_raise"], "payload": "/ask_how_to_raise"},
        TEXT["other"],
    ]


def test_only_the_best_two_guesses_count_and_only_topics():
    _, (message,) = run(ranked(("ask_why_cry", 0.2), ("out_of_scope", 0.19), ("ask_is_normal", 0.18)))
    assert [b["payload"] for b in message["buttons"]] == ["/ask_why_cry", TEXT["other"]["payload"]]


def test_no_topic_among_the_guesses_asks_to_rephrase():
    _, (message,) = run(ranked(("out_of_scope", 0.2), ("greet", 0.15)))
    assert message == {**message, "response": "utter_fallback_rephrase"}
    assert "buttons" not in message or not message["buttons"]


def test_guesses_that_are_no_guess_at_all_ask_to_rephrase():
    _, (message,) = run(ranked(("ask_why_cry", 0.05), ("ask_is_normal", 0.04)))
    assert message["response"] == "utter_fallback_rephrase"
