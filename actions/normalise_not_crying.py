"""action_normalise_not_crying: not crying in therapy is not a failure (briefly, the second time)."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content, follow_ups


class ActionNormaliseNotCrying(content.ContentAction):
    content_file = "not_crying"

    def name(self) -> Text:
        return "action_normalise_not_crying"

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        return [content.pick(text["not_a_failure"], tracker), content.pick(text["other_ways"], tracker)]

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # Said once already: briefly, then something new on the subject, not the answer again.
        if content.ran_before(tracker, self.name()):
            lead = content.pick(content.load(self.content_file)["again"], tracker)
            return follow_ups.go_deeper(dispatcher, tracker, lead=lead, offer_next=False)
        return super().run(dispatcher, tracker, domain)
