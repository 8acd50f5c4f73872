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
