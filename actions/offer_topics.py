"""action_offer_topics: the first stage of the fallback, "did you mean...?" before "rephrase".

When the NLU is unsure (``nlu_fallback``), its two best guesses are still worth something:
if they are topics Willow knows (``content/offer_topics.yml``), they are offered as buttons,
with one for "something else". Otherwise Willow asks to rephrase (``utter_fallback_rephrase``).
A second unclear message in a row gets the menu (data/rules/fallback.yml).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content

FALLBACK = "nlu_fallback"
CANDIDATES = 2
# A guess this unlikely is no guess at all.
MIN_CONFIDENCE = 0.1


def guesses(tracker: Tracker, topics: Dict[Text, Text]) -> List[Text]:
    """The best (at most two) guesses of the NLU that are known topics, best first."""
    ranking = [r for r in tracker.latest_message.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    return [
        r["name"] for r in ranking[:CANDIDATES]
        if r.get("name") in topics and r.get("confidence", 0) >= MIN_CONFIDENCE
    ]


class ActionOfferTopics(Action):
    def name(self) -> Text:
        return "action_offer_topics"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        text = content.load("offer_topics")
        found = guesses(tracker, text["topics"])
        if not found:
            dispatcher.utter_message(response="utter_fallback_rephrase")
            return []
        buttons = [{"title": text["topics"][name], "payload": f"/{name}"} for name in found]
        dispatcher.utter_message(text=content.pick(text["lead"], tracker), buttons=buttons + [text["other"]])
        return []
