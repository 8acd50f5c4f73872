"""Deterministic intents for input no classifier should guess at.

Runs after the intent classifier and the FallbackClassifier and overrides their
prediction in two cases:

* the message has no letters at all (empty, emoji, punctuation, digits) -> ``gibberish``
* the message is written in another language (another script, or Latin script
  dominated by another language's function words) -> ``other_language``

Why here and not in the classifier alone: a linear or neural classifier always
answers with *some* topic, sometimes confidently, for text unlike anything it was
trained on.  A wrong topic answer is worse than an honest "please write in English".
The override is recorded under ``input_guard`` in the parse data (a reason code,
never the text).
"""
from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import spacy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from willow.components.rule_component import RuleComponent

GIBBERISH = "gibberish"
OTHER_LANGUAGE = "other_language"
REASON_KEY = "input_guard"

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Languages whose function words give away a Latin-script message that is not English.
_OTHER_LATIN_LANGUAGES = ("es", "fr", "de", "it", "pt", "nl")


def _stop_words(lang: Text) -> frozenset:
    # spaCy's stop-word file alone: importing spacy.lang.<lang> would also build that
    # language's tokenizer exceptions (French alone: 2.6 s of the server's start-up).
    path = Path(spacy.__file__).parent / "lang" / lang / "stop_words.py"
    spec = importlib.util.spec_from_file_location(f"willow_stop_words_{lang}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(word.lower() for word in module.STOP_WORDS)


class LanguageGuess:
    """Cheap, offline guess at "English or not" from scripts and stop words."""

    def __init__(self) -> None:
        self.english = _stop_words("en")
        # Words shared with English ("a", "no", "me", "so") say nothing either way.
        self.others = {
            lang: _stop_words(lang) - self.english for lang in _OTHER_LATIN_LANGUAGES
        }

    def is_other_language(self, text: Text) -> bool:
        letters = [ch for ch in text if ch.isalpha()]
        if not letters:
            return False
        non_latin = sum(1 for ch in letters if "LATIN" not in unicodedata.name(ch, ""))
        if non_latin / len(letters) > 0.5:
            return True
        words = [w.lower() for w in _WORD.findall(text)]
        english_hits = sum(1 for w in words if w in self.english)
        foreign_hits = max(
            sum(1 for w in words if w in stop_words) for stop_words in self.others.values()
        )
        return foreign_hits >= 2 and foreign_hits > english_hits


def has_letters(text: Optional[Text]) -> bool:
    return bool(text) and any(ch.isalpha() for ch in text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class InputGuard(RuleComponent):
    """Overrides the intent for letterless or non-English messages."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._language = LanguageGuess()

    def classify(self, message: Message) -> Optional[Text]:
        text = message.get(TEXT) or ""
        if text.startswith("/"):
            return None  # button payloads are already intents
        if not has_letters(text):
            return GIBBERISH
        if self._language.is_other_language(text):
            return OTHER_LANGUAGE
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            reason = self.classify(message)
            if reason is None:
                continue
            intent = {"name": reason, "confidence": 1.0}
            ranking = [intent] + [
                r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != reason
            ]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            message.set(REASON_KEY, reason, add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        return training_data
