"""action_other_struggle: a warm, honest answer to a struggle outside crying in therapy.

Names what the message is about (a theme from ``content/other_struggle.yml``), says plainly
that Willow only knows about crying in therapy, suggests their therapist or a counsellor, and
keeps the crisis lines one tap away.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import content

GENERAL = "general"


def _word_pattern(word: Text) -> Text:
    if word.endswith("*"):
        return r"\b" + re.escape(word[:-1]) + r"\w*"
    return r"\b" + re.escape(word) + r"\b"


def theme(text: Text, themes: Dict[Text, Dict[Text, Any]]) -> Text:
    """The theme with the most of its words in ``text`` (the earlier listed on a tie)."""
    lowered = text.lower().replace("’", "'")
    best, best_hits = GENERAL, 0
    for name, spec in themes.items():
        hits = sum(len(re.findall(_word_pattern(w), lowered)) for w in spec.get("words") or [])
        if hits > best_hits:
            best, best_hits = name, hits
    return best


class ActionOtherStruggle(Action):
    def name(self) -> Text:
        return "action_other_struggle"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        text = content.load("other_struggle")
        found = theme(tracker.latest_message.get("text") or "", text["themes"])
        dispatcher.utter_message(
            text=content.join(
                content.pick(text["themes"][found]["acknowledge"], tracker),
                content.pick(text["limits"], tracker) + " " + content.pick(text["suggest"], tracker),
                text["lines_note"],
            ),
            buttons=text["buttons"],
        )
        return []
