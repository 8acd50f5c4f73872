"""action_explain_source: "why do you say that?" - which point of the source the last answer
rests on, in plain words, and that Willow's knowledge is one short explainer, not the therapist.

The last informational answer is found in the tracker, newest first: a custom action records
its points in the ``last_points`` slot; a domain response is looked up in
``content/provenance.yml``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import content


def last_points(tracker: Tracker) -> Optional[List[Text]]:
    """The points the latest informational answer in the conversation rests on, or None."""
    responses = content.load("provenance")["responses"]
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == content.LAST_POINTS and event.get("value"):
            return list(event["value"])
        if event.get("event") == "action" and event.get("name") in responses:
            return list(responses[event["name"]])
    return None


def explanation(found: Optional[List[Text]]) -> Text:
    text = content.load("explain_source")
    if not found:
        return content.join(content.pick(text["nothing"]), content.pick(text["where_from"]))
    points = content.load("points")
    lead = content.pick(text["lead_one"] if len(found) == 1 else text["lead_many"])
    lines = [text["point"].format(**points[point]) for point in found]
    return content.join(lead + "\n" + "\n".join(lines), content.pick(text["where_from"]))


class ActionExplainSource(Action):
    def name(self) -> Text:
        return "action_explain_source"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=explanation(last_points(tracker)))
        return []
