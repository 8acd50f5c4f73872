"""Rasa's LogisticRegressionClassifier, made safe for messages without features.

The stock classifier raises "Found array with 0 feature(s)" for an empty or
whitespace-only message: the whole graph fails and the user gets no reply. Here
such messages get no intent (confidence 0), so the FallbackClassifier and the
InputGuard behind it can answer them like any other unreadable input.
"""
from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message


def has_features(message: Message) -> bool:
    sparse, dense = message.get_sparse_features(TEXT)[1], message.get_dense_features(TEXT)[1]
    return any(f is not None and f.features.shape[-1] > 0 for f in (sparse, dense))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LogisticRegressionIntentClassifier(LogisticRegressionClassifier):
    """LogisticRegressionClassifier that answers "no intent" instead of crashing."""

    def process(self, messages: List[Message]) -> List[Message]:
        featured = [m for m in messages if has_features(m)]
        if featured:
            super().process(featured)
        featured_ids = {id(m) for m in featured}
        for message in messages:
            if id(message) not in featured_ids:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
