"""action_normalise_not_crying: not crying in therapy is not a failure."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Tracker

from actions import content


class ActionNormaliseNotCrying(content.ContentAction):
    content_file = "not_crying"

    def name(self) -> Text:
        return "action_normalise_not_crying"

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        return [content.pick(text["not_a_failure"]), content.pick(text["other_ways"])]
