"""action_reassure: validates crying in therapy, tailored to the user's situation."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

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


def detail_key(tracker: Tracker, details: Dict[Text, Any]) -> Optional[Text]:
    """The first detail of content/reassurance.yml's ``details`` the latest message mentions."""
    text = (tracker.latest_message.get("text") or "").lower().replace("’", "'")
    for key, spec in details.items():
        if any(re.search(r"\b" + re.escape(word) + r"\b", text) for word in spec["words"]):
            return key
    return None


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
        elif detail_key(tracker, content.load(self.content_file)["details"]):
            keys.append("details")
        return keys

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        parts = []
        for key in self.parts(tracker):
            options = text[key]
            if key == "details":  # the one detail the person gave
                options = text["details"][detail_key(tracker, text["details"])]["texts"]
            parts.append(content.pick(options, tracker))
        return parts
