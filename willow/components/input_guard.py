"""Deterministic intents for input no classifier should guess at.

Runs after the intent classifier and the FallbackClassifier and overrides their
prediction in these cases:

* the message has no letters at all (empty, emoji, punctuation, digits) -> ``gibberish``
* the message is written in another language (willow/components/languages.py) ->
  ``other_language``, and for a language Willow has replies in (content/languages/) the
  entity ``language`` with its code, which fills the ``language`` slot that chooses the
  replies' wording
* a short yes, no or "I don't know" in one of those languages ("sí", "nein", "je ne sais
  pas") -> ``affirm``, ``deny`` or ``unsure``, so the safety check hears it

Why here and not in the classifier alone: a linear or neural classifier always
answers with *some* topic, sometimes confidently, for text unlike anything it was
trained on.  A wrong topic answer is worse than an honest "please write in English".
The override is recorded under ``input_guard`` in the parse data (a reason code,
never the text).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from willow.components.languages import ENGLISH, shared_identifier
from willow.components.rule_component import RuleComponent

GIBBERISH = "gibberish"
OTHER_LANGUAGE = "other_language"
ANSWER_IN_LANGUAGE = "answer_in_language"
REASON_KEY = "input_guard"

LANGUAGE_ENTITY = "language"  # the code of a supported language, for the replies in it
LANGUAGE_KEY = "willow_language"  # the identifier's verdict, for the crisis detector (not output)


def set_language_entity(message: Message, code: Text, extractor: Text) -> None:
    """The ``language`` entity (a code, no text), replacing any earlier one."""
    entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != LANGUAGE_ENTITY]
    entities.append({"entity": LANGUAGE_ENTITY, "value": code, "start": 0, "end": 0,
                     "extractor": extractor})
    message.set(ENTITIES, entities, add_to_output=True)


def has_letters(text: Optional[Text]) -> bool:
    return bool(text) and any(ch.isalpha() for ch in text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class InputGuard(RuleComponent):
    """Overrides the intent for letterless or non-English messages."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._language = shared_identifier()

    def classify(self, message: Message) -> Optional[Tuple[Text, Text]]:
        """(intent, reason) to override the classifier's, or None."""
        text = message.get(TEXT) or ""
        if text.startswith("/"):
            return None  # button payloads are already intents
        if not has_letters(text):
            return GIBBERISH, GIBBERISH
        answer = self._language.answer(text)
        if answer is not None:  # "sí", "je ne sais pas", "nein"
            intent, language = answer
            if language is not None:
                set_language_entity(message, language, "InputGuard")
            return intent, ANSWER_IN_LANGUAGE
        language = self._language.identify(text)
        message.set(LANGUAGE_KEY, language)
        if language != ENGLISH:
            if language in self._language.supported:
                set_language_entity(message, language, "InputGuard")
            return OTHER_LANGUAGE, OTHER_LANGUAGE
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            decision = self.classify(message)
            if decision is None:
                continue
            reason_intent, reason = decision
            intent = {"name": reason_intent, "confidence": 1.0}
            ranking = [intent] + [
                r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != reason_intent
            ]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set(REASON_KEY, reason, add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data
