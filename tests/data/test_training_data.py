"""The training and held-out data meet the minimums, and the held-out set stays held out."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
from tests.domain_files import INTENTS as DOMAIN_INTENTS
CONTRACT_INTENTS = [
    "cried_in_therapy", "ask_is_normal", "ask_why_cry", "embarrassed_about_crying", "not_crying",
    "frequent_crying", "fear_of_crying", "ask_does_crying_help", "ask_how_to_raise", "crisis",
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
    "forget_me",  # issue 5: "delete my data"
    "ask_is_something_wrong", "about_someone_else", "acknowledge", "tell_me_more",  # issue 14
]


def examples(paths):
    found = []
    for path in paths:
        for block in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in block:
                for line in block["examples"].splitlines():
                    if line.strip().startswith("- "):
                        found.append((block["intent"], line.strip()[2:].strip()))
    return found


TRAINING = examples(sorted((ROOT / "data" / "nlu").glob("*.yml")))
HELD_OUT = examples([ROOT / "tests" / "test_nlu.yml"])


def normalise(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def test_contract_intents_are_in_the_domain():
    assert set(CONTRACT_INTENTS) <= set(DOMAIN_INTENTS)


@pytest.mark.parametrize("intent", DOMAIN_INTENTS)
def test_enough_training_examples(intent):
    minimum = 60 if intent == "crisis" else 25
    assert Counter(i for i, _ in TRAINING)[intent] >= minimum


@pytest.mark.parametrize("intent", CONTRACT_INTENTS)
def test_enough_held_out_examples(intent):
    assert Counter(i for i, _ in HELD_OUT)[intent] >= 10


def test_held_out_examples_are_not_in_training_data():
    training = {normalise(text) for _, text in TRAINING}
    leaked = [text for _, text in HELD_OUT if normalise(text) in training]
    assert leaked == []


def test_no_example_has_two_labels():
    labels = {}
    for intent, text in TRAINING:
        labels.setdefault(normalise(text), set()).add(intent)
    assert {t: ls for t, ls in labels.items() if len(ls) > 1} == {}


def test_every_intent_is_exercised_by_a_test_story():
    stories = (ROOT / "tests" / "test_stories.yml").read_text()
    used = set(re.findall(r"intent: (\w+)", stories))
    assert set(DOMAIN_INTENTS) | {"nlu_fallback"} <= used


# The intents about crying in therapy: at least a third of each one's training examples are
# written as people really write, in several sentences (issue 11).
TOPIC_INTENTS = [
    "cried_in_therapy", "ask_is_normal", "ask_why_cry", "embarrassed_about_crying", "ask_does_crying_help",
    "not_crying", "frequent_crying", "ask_how_to_raise", "fear_of_crying",
    "ask_is_something_wrong", "about_someone_else",
]


def sentences(text: str) -> list:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if len(s.split()) >= 2]


@pytest.mark.parametrize("intent", TOPIC_INTENTS)
def test_a_third_of_each_topics_examples_have_several_sentences(intent):
    texts = [t for i, t in TRAINING if i == intent]
    assert sum(len(sentences(t)) >= 2 for t in texts) >= len(texts) / 3


REAL_STYLE = sorted((ROOT / "tests" / "real_style").glob("*.csv"))


def real_style_messages():
    from willow import real_eval
    return [row.message for path in REAL_STYLE for row in real_eval.read_rows(path)]


def test_the_real_style_blind_sets_are_not_in_training_data():
    training = {normalise(text) for _, text in TRAINING}
    messages = real_style_messages()
    assert len(messages) >= 500
    assert [m for m in messages if normalise(m) in training] == []


def project_texts():
    """Every line of the project's data, tests and content, with where it comes from."""
    paths = [p for folder in ("data", "tests", "content", "domain") for p in (ROOT / folder).rglob("*")
             if p.suffix in (".yml", ".csv", ".py") and p.is_file()]
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield f"{path.relative_to(ROOT)}:{number}", line


def test_nothing_is_copied_from_the_real_development_set():
    """No run of 8 words of the real questions (../shared/data/counsel-chat-dev) appears in any
    line of training data, tests or content: they are for measuring, never for copying."""
    from tests.data import shingles
    real = set(shingles.FINGERPRINTS.read_text().split())
    assert len(real) > 10000
    copied = [where for where, line in project_texts() if shingles.fingerprints(line) & real]
    assert copied == []
