"""action_normalise_not_crying: not crying in therapy is not a failure."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content


class ActionNormaliseNotCrying(Action):
    def name(self) -> Text:
        return "action_normalise_not_crying"

    def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[Text, Any],
    ) -> List[Dict[Text, Any]]:
        text = content.load("not_crying")
        dispatcher.utter_message(
            text=content.join(content.pick(text["not_a_failure"]), content.pick(text["other_ways"]))
        )
        return []
