"""Sentence-level features, so that a long message's meaning is not averaged away.

Real messages are often five sentences about someone's week with one sentence that
matters ("...and then I cried the whole session"), or a long question about exams with a
disclosure in the middle. Features summed over the whole message dilute that sentence.
So, next to the whole-message features Rasa's ``CountVectorsFeaturizer`` computes, this
featurizer also computes the same features for each sentence, with the same vocabulary,
and leaves them on the message for the intent classifier, which scores every sentence
as well as the whole (``willow/components/intent_classifier.py``).

Sentences are split on Rasa's tokens the way spaCy's rule-based ``Sentencizer`` splits:
after a token made only of sentence-final punctuation ("." "?!" "..."), and also at line
breaks, which people use instead of full stops. Fragments of fewer than three word tokens
("Hi." "Ok so.") join the next sentence. Messages of one sentence get no extra features.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

import scipy.sparse as sp
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# message keys (not part of the parse output)
SPANS_KEY = "willow_sentence_spans"          # [(first token, end token), ...]
FEATURES_KEY = "willow_sentence_features"    # {featurizer origin: [1-row csr per sentence]}
MIN_WORDS = 3
MAX_SENTENCES = 40  # bounds the work on a 10,000-character message

_FINAL = frozenset("!.?…‼‽⁇⁈⁉！．？｡。")


def _ends_sentence(token_text: Text) -> bool:
    return bool(token_text) and all(ch in _FINAL for ch in token_text)


def split(text: Text, tokens: List[Any]) -> List[Tuple[int, int]]:
    """Token index ranges ``[start, end)`` of the sentences of ``text`` (Rasa ``Token``s with
    ``text``, ``start``, ``end``). One range for a one-sentence message."""
    if not tokens:
        return []
    spans: List[Tuple[int, int]] = []
    start = 0
    for i, token in enumerate(tokens):
        last = i + 1 == len(tokens)
        line_break = not last and "\n" in text[token.end: tokens[i + 1].start]
        if last or _ends_sentence(token.text) or line_break:
            spans.append((start, i + 1))
            start = i + 1
    merged: List[Tuple[int, int]] = []
    carry: Optional[int] = None
    for begin, end in spans:
        begin = carry if carry is not None else begin
        words = sum(1 for t in tokens[begin:end] if any(ch.isalnum() for ch in t.text))
        if words < MIN_WORDS and end < len(tokens):
            carry = begin
            continue
        merged.append((begin, end))
        carry = None
    if len(merged) > 1:
        # A short last fragment ("Thanks.") joins the sentence before it.
        begin, end = merged[-1]
        if sum(1 for t in tokens[begin:end] if any(ch.isalnum() for ch in t.text)) < MIN_WORDS:
            merged[-2:] = [(merged[-2][0], end)]
    return merged[:MAX_SENTENCES]


def sentence_spans(message: Message) -> List[Tuple[int, int]]:
    """The message's sentences, split once and kept on the message."""
    spans = message.get(SPANS_KEY)
    if spans is None:
        spans = split(message.get(TEXT) or "", message.get(TOKENS_NAMES[TEXT]) or [])
        message.set(SPANS_KEY, spans)
    return spans


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """Rasa's ``CountVectorsFeaturizer`` (same options, same persisted vocabulary) that also
    featurizes each sentence of a multi-sentence message."""

    def process(self, messages: List[Message]) -> List[Message]:
        return self._add_sentence_features(super().process(messages))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples get them too: the classifier may learn from their sentences.
        self._add_sentence_features(super().process(training_data.training_examples))
        return training_data

    def _add_sentence_features(self, messages: List[Message]) -> List[Message]:
        vectorizer = (self.vectorizers or {}).get(TEXT)
        if vectorizer is None:
            return messages
        for message in messages:
            spans = sentence_spans(message)
            if len(spans) < 2:
                continue
            tokens = self._get_processed_message_tokens_by_attribute(message, TEXT)
            rows = vectorizer.transform([" ".join(tokens[begin:end]) for begin, end in spans])
            features: Dict[Text, List[sp.csr_matrix]] = message.get(FEATURES_KEY) or {}
            features[self._identifier] = [sp.csr_matrix(rows[i]) for i in range(rows.shape[0])]
            message.set(FEATURES_KEY, features)
        return messages
