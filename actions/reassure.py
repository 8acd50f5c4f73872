"""action_reassure: validates crying in therapy, tailored to the user's situation."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

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


class ActionReassure(Action):
    def name(self) -> Text:
        return "action_reassure"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        text = content.load("reassurance")
        paragraphs = [content.pick(text[situation_key(tracker)])]
        # Remembered from earlier in the conversation: frequent and distressing
        # crying is the one case the source says is worth raising with the therapist.
        if situation.frequency_key(tracker) == "often_and_distressing":
            paragraphs.append(content.pick(text["frequent_note"]))
        dispatcher.utter_message(text=content.join(*paragraphs))
        return []
