"""Willow's response generator: Rasa's own, but it does not send the same text twice.

Rasa picks a response variation at random, so a conversation that comes back to a topic
can get the same sentences again, word for word. This generator (endpoints ``nlg:``,
written by ``willow.endpoints``) chooses among the variations the conversation has not
seen yet in this session. A response that has a ``<response>_brief`` in the domain (a
brief "as I said", plus something new) is said in full once per session, then briefly
while brief variations remain. When every variation has been sent, the one sent longest
ago comes back. Crisis and safety replies are always
sent in full: only their variation changes, never their content.
"""
from __future__ import annotations

import copy
import logging
import random
from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# Not "_again": the safety check has its own utter_ask_safe_again & co., chosen by its rules.
BRIEF_SUFFIX = "_brief"


def texts_sent(tracker: DialogueStateTracker) -> List[Text]:
    """The bot's texts in the current session, oldest first."""
    sent: List[Text] = []
    for event in tracker.events:
        if isinstance(event, SessionStarted):
            sent = []
        elif isinstance(event, BotUttered) and event.text:
            sent.append(event.text)
    return sent


class FreshResponses(TemplatedNaturalLanguageGenerator):
    """Rasa's templated generator, choosing variations this conversation has not seen."""

    def __init__(self, endpoint_config: Any = None, domain: Optional[Domain] = None) -> None:
        super().__init__((domain or Domain.empty()).responses)

    def _variations(self, name: Text, channel: Text, slots: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if name not in self.responses:
            return []
        return ResponseVariationFilter(self.responses).responses_for_utter_action(name, channel, slots)

    def _text(self, variation: Dict[Text, Any], slots: Dict[Text, Any], kwargs: Dict[Text, Any]) -> Text:
        return self._fill_response(copy.deepcopy(variation), slots, **kwargs).get("text") or ""

    def choose(
        self, name: Text, channel: Text, slots: Dict[Text, Any], sent: List[Text], kwargs: Dict[Text, Any]
    ) -> Optional[Dict[Text, Any]]:
        """The variation to send for ``name``, given the texts already sent (oldest first)."""
        variations = self._variations(name, channel, slots)
        if not variations:
            return None
        texts = [self._text(v, slots, kwargs) for v in variations]
        brief_name = name + BRIEF_SUFFIX
        if brief_name in self.responses and not name.endswith(BRIEF_SUFFIX) and set(texts) & set(sent):
            brief = [v for v in self._variations(brief_name, channel, slots) if self._text(v, slots, kwargs) not in sent]
            if brief:
                return random.choice(brief)
        fresh = [v for v, text in zip(variations, texts) if text not in sent]
        if fresh:
            return random.choice(fresh)
        # Everything was said already: the one said longest ago.
        last_sent = {text: i for i, text in enumerate(sent)}
        return min(zip(variations, texts), key=lambda pair: last_sent.get(pair[1], -1))[0]

    async def generate(
        self, utter_action: Text, tracker: DialogueStateTracker, output_channel: Text, **kwargs: Any
    ) -> Optional[Dict[Text, Any]]:
        slots = tracker.current_slot_values()
        try:
            chosen = self.choose(utter_action, output_channel, slots, texts_sent(tracker), kwargs)
        except Exception:  # never lose a reply (a crisis reply least of all) to this choice
            logger.exception("Choosing a fresh variation failed; using Rasa's random choice.")
            return self.generate_from_slots(utter_action, slots, output_channel, **kwargs)
        if chosen is None:
            return None
        return self._fill_response(copy.deepcopy(chosen), slots, **kwargs)
