"""action_suggest_talking_to_therapist: how to raise crying with the therapist.

Uses what the user said earlier (how often, how distressing) both to acknowledge
it and to choose an opening sentence that fits.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content, situation


class ActionSuggestTalkingToTherapist(Action):
    def name(self) -> Text:
        return "action_suggest_talking_to_therapist"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        text = content.load("talking_to_therapist")
        key = situation.frequency_key(tracker)
        opener = content.pick(text["openers"][key])
        dispatcher.utter_message(
            text=content.join(
                content.pick(text["intro"][key]),
                content.pick(text["why"]),
                f"{content.pick(text['opener_lead'])}\n“{opener}”",
                content.pick(text["closing"]),
            )
        )
        return []
