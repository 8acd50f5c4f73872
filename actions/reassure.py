"""action_reassure: validates crying in therapy, tailored to the user's situation."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker

from actions import content, situation


def situation_key(tracker: Tracker) -> Text:
    """Which reassurance fits: about to start, embarrassed, first time, or general."""
    intent = situation.latest_intent(tracker)
    if intent == "fear_of_crying":
        return "about_to_start"
    if intent == "embarrassed_about_crying":
        return "embarrassed"
    if situation.latest_entity(tracker, "frequency") == situation.ONCE:
        return "first_time"
    return "general"


class ActionReassure(content.ContentAction):
    content_file = "reassurance"

    def name(self) -> Text:
        return "action_reassure"

    def parts(self, tracker: Tracker) -> List[Text]:
        keys = [situation_key(tracker)]
        # Remembered from earlier in the conversation: frequent and distressing
        # crying is the one case the source says is worth raising with the therapist.
        if situation.frequency_key(tracker) == "often_and_distressing":
            keys.append("frequent_note")
        return keys

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        return [content.pick(text[key]) for key in self.parts(tracker)]
