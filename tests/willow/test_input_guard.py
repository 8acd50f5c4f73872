import pytest
from rasa.shared.nlu.training_data.message import Message

from willow.components.input_guard import InputGuard
from willow.components.languages import shared_identifier

IDENTIFY = shared_identifier().identify


@pytest.mark.parametrize(
    "text, language",
    [
        ("hoy lloré en terapia y no sé por qué", "es"),
        ("je ne pleure jamais en thérapie, est-ce que c'est grave", "fr"),
        ("ich habe heute in der Therapie geweint und weiß nicht warum", "de"),
        ("chorei muito na sessão de hoje e não sei porquê", "pt"),
        ("oggi ho pianto tanto durante la seduta", "it"),
        ("今天在心理咨询的时候我哭了", "other"),
        ("я плакала на сеансе терапии", "other"),
        ("ik heb vandaag gehuild bij mijn therapeut", "other"),
    ],
)
def test_other_languages_are_recognised(text, language):
    assert IDENTIFY(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "i cried in therapy today",
        "is it normal to cry in therapy?",
        "no",
        "yep im safe",
        "nooo im fine xD",
        "idk tbh",
        "okie dokie",
        "zzzzzzzzzz",
        "my therapist is from Spain and said de nada when I thanked her",
        "why do i cry so much in my sessions, is something wrong with me",
        "i'm suicidal",
    ],
)
def test_english_is_left_alone(text):
    assert IDENTIFY(text) == "en"


def process(text, intent="greet"):
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.6}})
    InputGuard({}).process([message])
    return message


def language_entities(message):
    return [e["value"] for e in message.get("entities") or [] if e["entity"] == "language"]


@pytest.mark.parametrize("text", ["", "   ", "😭😭😭", "???", "12345", "\x00\x01"])
def test_letterless_input_becomes_gibberish(text):
    message = process(text)
    assert message.get("intent") == {"name": "gibberish", "confidence": 1.0}
    assert message.get("input_guard") == "gibberish"
    assert message.get("intent_ranking")[0]["name"] == "gibberish"


def test_other_language_overrides_the_classifier_and_names_a_supported_language():
    message = process("es normal llorar con el psicólogo?", intent="ask_is_normal")
    assert message.get("intent")["name"] == "other_language"
    assert language_entities(message) == ["es"]
    # Another language Willow has no replies in: the notice in English, no entity.
    message = process("ik heb vandaag gehuild bij mijn therapeut", intent="cried_in_therapy")
    assert message.get("intent")["name"] == "other_language"
    assert language_entities(message) == []


@pytest.mark.parametrize(
    "text, intent, language",
    [
        ("Sí", "affirm", None),  # Spanish and Italian: the language slot stays as it was
        ("oui", "affirm", "fr"),
        ("nein!", "deny", "de"),
        ("no sé", "unsure", "es"),
        ("não sei", "unsure", "pt"),
        ("non lo so", "unsure", "it"),
        ("Ich weiß es nicht", "unsure", "de"),
    ],
)
def test_short_answers_in_other_languages_are_heard(text, intent, language):
    message = process(text, intent="nlu_fallback")
    assert message.get("intent") == {"name": intent, "confidence": 1.0}
    assert message.get("input_guard") == "answer_in_language"
    assert language_entities(message) == ([language] if language else [])


def test_normal_messages_and_button_payloads_keep_their_intent():
    assert process("i cried today", "cried_in_therapy").get("intent")["name"] == "cried_in_therapy"
    assert process("/affirm", "affirm").get("intent")["name"] == "affirm"
    assert process("i cried today").get("input_guard") is None
    assert process("no", "deny").get("intent")["name"] == "deny"
    assert language_entities(process("i cried today")) == []
