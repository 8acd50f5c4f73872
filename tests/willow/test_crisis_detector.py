"""The deterministic crisis layer: risk is found, idioms are left alone, only ids are recorded."""
import pytest
import spacy
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.training_data.message import Message

from willow import model_files
from willow.components.crisis_detector import CrisisDetector, CrisisMatcher, load_spec


@pytest.fixture(scope="module")
def nlp():
    if not (model_files.SPACY_MODEL_DIR / "meta.json").exists():
        pytest.skip("run `make spacy-model` first")
    return spacy.load(model_files.SPACY_MODEL_DIR)


@pytest.fixture(scope="module")
def matcher(nlp):
    return CrisisMatcher(nlp, load_spec())


# Written for these unit tests; the held-out evaluation sets live in tests/crisis/.
@pytest.mark.parametrize(
    "text, group",
    [
        ("i keep thinking about killing myself", "explicit_ideation"),
        ("sometimes i wish i just wouldn't wake up", "passive_ideation"),
        ("i cut myself again last night", "self_harm"),
        ("kms", "slang"),
        ("he hits me when he's drunk and i'm scared to go home", "abuse_or_danger"),
    ],
)
def test_risk_is_found(matcher, nlp, text, group):
    assert group in matcher.find(nlp(text))


@pytest.mark.parametrize(
    "text",
    [
        "i nearly died of embarrassment when i started sobbing",
        "that session killed me, i'm exhausted",
        "i'm dying to know why i cry every time",
        "i laughed until i cried in the waiting room",
        "we talked about my grandma dying and i cried the whole hour",
    ],
)
def test_idioms_and_ordinary_talk_are_left_alone(matcher, nlp, text):
    assert matcher.find(nlp(text)) == []


def run(nlp, text, intent="cried_in_therapy"):
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.8},
                            "text_spacy_doc": nlp(text.lower())})
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    return message


def test_a_match_overrides_the_intent_and_records_ids_not_text(nlp):
    message = run(nlp, "I cried in therapy because I want to end my life")
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert message.get("intent_ranking")[0]["name"] == "crisis"
    report = message.get("crisis_detector")
    assert report["classifier_intent"] == "cried_in_therapy"
    assert report["groups"] and all(g.isidentifier() for g in report["groups"])
    assert "life" not in str(report)


def test_no_match_leaves_the_message_alone(nlp):
    message = run(nlp, "I cried in therapy today")
    assert message.get("intent")["name"] == "cried_in_therapy"
    assert message.get("crisis_detector") is None


def test_button_payloads_are_not_matched(nlp):
    assert run(nlp, "/not_crying", "not_crying").get("intent")["name"] == "not_crying"


def fallback(nlp, text, ranked):
    """A message the FallbackClassifier made nlu_fallback, with the classifier's ranking behind it."""
    ranking = [{"name": "nlu_fallback", "confidence": 0.25}] + [
        {"name": name, "confidence": confidence} for name, confidence in ranked
    ]
    message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking,
                            "text_spacy_doc": nlp(text.lower())})
    CrisisDetector({}).process([message], SpacyModel(model=nlp, model_name="test"))
    return message


def test_crisis_as_the_classifiers_uncertain_best_guess_is_still_crisis(nlp):
    # Safety first: too close to call for the FallbackClassifier is not a reason to ask
    # someone at risk to rephrase.
    message = fallback(nlp, "the cupboard is empty now, i took it all", [("crisis", 0.28), ("inform_country", 0.25)])
    assert message.get("intent") == {"name": "crisis", "confidence": 1.0}
    report = message.get("crisis_detector")
    assert report["groups"] == [] and report["classifier_intent"] == "crisis"
    assert report["classifier_uncertain"] is True


def test_an_uncertain_guess_of_another_intent_stays_a_fallback(nlp):
    message = fallback(nlp, "the cupboard is empty now", [("out_of_scope", 0.28), ("crisis", 0.25)])
    assert message.get("intent")["name"] == "nlu_fallback"
    assert message.get("crisis_detector") is None


def test_an_uncertain_crisis_guess_on_an_idiom_stays_a_fallback(nlp):
    message = fallback(nlp, "that session killed me", [("crisis", 0.28), ("cried_in_therapy", 0.25)])
    assert message.get("intent")["name"] == "nlu_fallback"
