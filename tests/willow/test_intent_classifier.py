"""Willow's intent classifier (willow/components/intent_classifier.py) on hand-made features."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from willow.components.intent_classifier import LogisticRegressionIntentClassifier, Weighting


def message(text, blocks, intent=None):
    """A message with one sentence feature block per (hand-made) featurizer."""
    m = Message(data={TEXT: text, **({INTENT: intent} if intent else {})})
    for origin, counts in blocks.items():
        m.add_features(Features(sp.coo_matrix(np.array([counts], dtype=float)), FEATURE_TYPE_SENTENCE, TEXT, origin))
        m.add_features(Features(sp.coo_matrix(np.array([counts], dtype=float)), FEATURE_TYPE_SEQUENCE, TEXT, origin))
    return m


# Two featurizers: three "words" and two "character n-grams".
HAPPY = {"words": [2, 0, 0], "chars": [1, 0]}
SAD = {"words": [0, 3, 0], "chars": [0, 1]}


def training_data():
    examples = [message(f"happy {i}", HAPPY, "happy") for i in range(5)]
    examples += [message(f"sad {i}", SAD, "sad") for i in range(5)]
    examples += [message(f"other {i}", {"words": [0, 0, 1], "chars": [1, 1]}, "other") for i in range(5)]
    return TrainingData(examples)


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def trained(storage):
    resource = Resource("classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = LogisticRegressionIntentClassifier.create({}, storage, resource, context)
    classifier.train(training_data())
    return classifier, resource, context


def test_weighting_gives_unit_rows_with_equal_weight_per_featurizer():
    blocks = [[sp.csr_matrix([[2.0, 0, 1]]), sp.csr_matrix([[0, 5.0]])],
              [sp.csr_matrix([[0, 1.0, 1]]), sp.csr_matrix([[1.0, 1]])]]
    weighting = Weighting.fit(blocks)
    # Column seen in both messages: idf 1; in one of two: log(3/2) + 1.
    assert weighting.idf[0] == pytest.approx([np.log(1.5) + 1, np.log(1.5) + 1, 1.0])
    indices, values = weighting.row(blocks[0])
    assert list(indices) == [0, 2, 4]  # the second block starts at column 3
    assert values @ values == pytest.approx(1.0)
    # Each block was scaled to unit length before the row: the lone chars entry weighs 1/sqrt(2).
    assert values[-1] == pytest.approx(1 / np.sqrt(2))
    # Counts grow logarithmically: 2 occurrences weigh 1 + log 2, not 2.
    words = values[:2] * np.sqrt(2)
    assert words[0] / words[1] == pytest.approx((1 + np.log(2)) * (np.log(1.5) + 1) / 1.0)


def test_it_learns_ranks_and_survives_a_save_and_load(storage):
    classifier, resource, context = trained(storage)
    probe = message("probe", {"words": [1, 0, 0], "chars": [1, 0]})
    classifier.process([probe])
    assert probe.get(INTENT)["name"] == "happy"
    ranking = probe.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == "happy" and len(ranking) == 3
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)

    loaded = LogisticRegressionIntentClassifier.load({}, storage, resource, context)
    again = message("probe", {"words": [1, 0, 0], "chars": [1, 0]})
    loaded.process([again])
    assert again.get("intent_ranking") == ranking
    # Saved without pickle: numpy arrays only.
    with storage.read_from(resource) as directory:
        with np.load(directory / "classifier.npz", allow_pickle=False) as saved:
            assert sorted(saved.files) == ["classes", "coef", "idf_0", "idf_1", "intercept"]


def test_messages_without_features_get_no_intent_instead_of_an_error(storage):
    classifier, _, _ = trained(storage)
    empty = Message(data={TEXT: ""})
    unknown_words = message("zzz", {"words": [0, 0, 0], "chars": [0, 0]})
    classifier.process([empty, unknown_words])
    assert empty.get(INTENT) == {"name": None, "confidence": 0.0}
    assert empty.get("intent_ranking") == []
    # Features present but all zero: the intercepts decide, with low confidence.
    assert unknown_words.get(INTENT)["confidence"] < 0.6


def test_an_untrained_or_missing_model_answers_no_intent(storage):
    context = ExecutionContext(GraphSchema({}), "test")
    classifier = LogisticRegressionIntentClassifier.load({}, storage, Resource("missing"), context)
    probe = message("probe", HAPPY)
    classifier.process([probe])
    assert probe.get(INTENT) == {"name": None, "confidence": 0.0}


def test_two_intents_work_too(storage):
    resource, context = Resource("binary"), ExecutionContext(GraphSchema({}), "test")
    classifier = LogisticRegressionIntentClassifier.create({}, storage, resource, context)
    classifier.train(TrainingData([message(f"h{i}", HAPPY, "happy") for i in range(4)]
                                  + [message(f"s{i}", SAD, "sad") for i in range(4)]))
    probe = message("probe", SAD)
    classifier.process([probe])
    assert probe.get(INTENT)["name"] == "sad" and probe.get(INTENT)["confidence"] > 0.5
