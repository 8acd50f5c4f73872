"""action_suggest_talking_to_therapist: how to raise crying with the therapist.

Uses what the user said earlier (how often, how distressing) both to acknowledge
it and to choose an opening sentence that fits.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker

from actions import content, situation


class ActionSuggestTalkingToTherapist(content.ContentAction):
    content_file = "talking_to_therapist"

    def name(self) -> Text:
        return "action_suggest_talking_to_therapist"

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        key = situation.frequency_key(tracker)
        opener = content.pick(text["openers"][key])
        return [
            content.pick(text["intro"][key]),
            content.pick(text["why"]),
            f"{content.pick(text['opener_lead'])}\n“{opener}”",
            content.pick(text["closing"]),
        ]
