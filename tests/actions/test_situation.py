"""situation.words_for: the user's own words for an entity, from the tracker's messages."""
from actions import situation
from tests.actions.trackers import make_tracker


def entity(name, value, text, words):
    return {"entity": name, "value": value, "start": text.index(words), "end": text.index(words) + len(words)}


def user(text, *entities):
    return {"event": "user", "text": text, "parse_data": {"text": text, "entities": list(entities)}}


def test_the_exact_span_of_the_latest_message():
    text = "I can’t  stop crying"
    tracker = make_tracker("frequent_crying", text, entities=[entity("distress", "high", text, "can’t  stop")])
    # As they wrote it (curly apostrophe kept), with runs of spaces as one.
    assert situation.words_for(tracker, "distress") == "can’t stop"
    assert situation.words_for(tracker, "frequency") is None


def test_the_latest_message_with_the_entity_wins():
    older, newer = "it's exhausting", "now it's too much"
    tracker = make_tracker("affirm", "yes please", events=[
        user(older, entity("distress", "high", older, "exhausting")),
        user(newer, entity("distress", "high", newer, "too much")),
        user("yes please"),
    ])
    assert situation.words_for(tracker, "distress", situation.HIGH) == "too much"


def test_only_the_asked_value():
    text = "i cried for the first time, after crying every week at home"
    tracker = make_tracker("cried_in_therapy", text, entities=[
        entity("frequency", "once", text, "for the first time"), entity("frequency", "often", text, "every week")])
    assert situation.words_for(tracker, "frequency", situation.OFTEN) == "every week"
    assert situation.words_for(tracker, "frequency", situation.ONCE) == "for the first time"


def test_no_words_without_a_real_span():
    payload = '/frequent_crying{"distress": "high"}'
    assert situation.words_for(make_tracker("frequent_crying", payload, entities=[
        {"entity": "distress", "value": "high", "start": 16, "end": 36}]), "distress") is None
    assert situation.words_for(make_tracker("frequent_crying", "hi", entities=[
        {"entity": "distress", "value": "high"}]), "distress") is None  # no start and end
    assert situation.words_for(make_tracker("frequent_crying", "hi", entities=[
        {"entity": "distress", "value": "high", "start": 0, "end": 9}]), "distress") is None  # past the end
    long = "a" * (situation.MAX_SPAN_CHARS + 1)
    assert situation.words_for(make_tracker("frequent_crying", long, entities=[
        entity("distress", "high", long, long)]), "distress") is None
