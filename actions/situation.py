"""What the user has told us so far, read from slots and the latest message.

Shared by the actions so that "how often" and "how distressing" mean the same
thing everywhere.
"""
from __future__ import annotations

from typing import Optional, Text

from rasa_sdk import Tracker

OFTEN = "often"
ONCE = "once"
HIGH = "high"


def latest_intent(tracker: Tracker) -> Optional[Text]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, entity: Text) -> Optional[Text]:
    return next(tracker.get_latest_entity_values(entity), None)


def frequency(tracker: Tracker) -> Optional[Text]:
    """``often``, ``once`` or None; the latest message wins over older slots."""
    return latest_entity(tracker, "frequency") or tracker.get_slot("crying_frequency")


def distressing(tracker: Tracker) -> bool:
    return (latest_entity(tracker, "distress") or tracker.get_slot("distress")) == HIGH


def frequency_key(tracker: Tracker) -> Text:
    """The content key that matches what we know: often/distressing/both/neither."""
    often = frequency(tracker) == OFTEN
    distress = distressing(tracker)
    if often and distress:
        return "often_and_distressing"
    if often:
        return "often"
    if distress:
        return "distressing"
    return "general"


# Longer than any phrase of the lookup tables (data/nlu/lookups.yml): a longer span would be
# more than "their words" for one thing, so it is not quoted.
MAX_SPAN_CHARS = 40


def words_for(tracker: Tracker, entity: Text, value: Optional[Text] = None) -> Optional[Text]:
    """The user's own words for the latest ``entity`` (with ``value``, if given), exactly as they
    wrote them ("can't stop" for distress: high), or None when no message in the tracker has them.

    The entity's value is normalised by synonyms, so replies quote this span instead of a word
    the user never used.
    """
    messages = [tracker.latest_message or {}] + [
        {**(event.get("parse_data") or {}), "text": event.get("text")}
        for event in reversed(tracker.events) if event.get("event") == "user"
    ]
    for message in messages:
        text = message.get("text") or ""
        if text.startswith("/"):
            continue  # a button's payload: its "entities" span is JSON, not words
        for found in message.get("entities") or []:
            if found.get("entity") != entity or (value is not None and found.get("value") != value):
                continue
            start, end = found.get("start"), found.get("end")
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
                span = " ".join(text[start:end].split())
                if span and len(span) <= MAX_SPAN_CHARS and not any(q in span for q in "\"“”"):
                    return span
    return None
