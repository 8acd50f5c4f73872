"""action_suggest_talking_to_therapist: how to raise crying with the therapist.

Uses what the user said earlier (how often, how distressing) both to acknowledge it, in the
user's own words, and to choose an opening sentence that fits.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker

from actions import content, situation


def intro(text: Dict[Text, Any], tracker: Tracker, key: Text) -> Text:
    """The acknowledgement: quotes the user's words for what they told us, or, when those words
    are not in the conversation any more, says it without naming a feeling they may not have."""
    if key == "general":
        return content.pick(text["intro"]["general"], tracker)
    words: Dict[Text, Optional[Text]] = {}
    if "often" in key:
        words["frequency"] = situation.words_for(tracker, "frequency", situation.OFTEN)
    if "distressing" in key:
        words["distress"] = situation.words_for(tracker, "distress", situation.HIGH)
    if not all(words.values()):
        return content.pick(text["intro_unquoted"][key], tracker)
    return content.pick([t.format(**words) for t in text["intro"][key]], tracker)


class ActionSuggestTalkingToTherapist(content.ContentAction):
    content_file = "talking_to_therapist"

    def name(self) -> Text:
        return "action_suggest_talking_to_therapist"

    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        # Two paragraphs, so the reply fits a phone's screen. The file's `why` and `closing` are
        # the next layer, sent on "tell me more" (content/deeper.yml: raise_why, raise_when).
        key = situation.frequency_key(tracker)
        opener = content.pick(text["openers"][key], tracker)
        return [intro(text, tracker, key), f"{content.pick(text['opener_lead'], tracker)}\n“{opener}”"]
