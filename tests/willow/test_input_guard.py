import pytest
from rasa.shared.nlu.training_data.message import Message

from willow.components.input_guard import InputGuard, LanguageGuess

GUESS = LanguageGuess()


@pytest.mark.parametrize(
    "text",
    [
        "hoy lloré en terapia y no sé por qué",
        "je ne pleure jamais en thérapie, est-ce que c'est grave",
        "ich habe heute in der Therapie geweint und weiß nicht warum",
        "今天在心理咨询的时候我哭了",
        "я плакала на сеансе терапии",
    ],
)
def test_other_languages_are_recognised(text):
    assert GUESS.is_other_language(text)


@pytest.mark.parametrize(
    "text",
    [
        "i cried in therapy today",
        "is it normal to cry in therapy?",
        "no",
        "my therapist is from Spain and said de nada when I thanked her",
        "why do i cry so much in my sessions, is something wrong with me",
    ],
)
def test_english_is_left_alone(text):
    assert not GUESS.is_other_language(text)


def process(text, intent="greet"):
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.6}})
    InputGuard({}).process([message])
    return message


@pytest.mark.parametrize("text", ["", "   ", "😭😭😭", "???", "12345", "\x00\x01"])
def test_letterless_input_becomes_gibberish(text):
    message = process(text)
    assert message.get("intent") == {"name": "gibberish", "confidence": 1.0}
    assert message.get("input_guard") == "gibberish"
    assert message.get("intent_ranking")[0]["name"] == "gibberish"


def test_other_language_overrides_the_classifier():
    message = process("es normal llorar con el psicólogo?", intent="ask_is_normal")
    assert message.get("intent")["name"] == "other_language"


def test_normal_messages_and_button_payloads_keep_their_intent():
    assert process("i cried today", "cried_in_therapy").get("intent")["name"] == "cried_in_therapy"
    assert process("/affirm", "affirm").get("intent")["name"] == "affirm"
    assert process("i cried today").get("input_guard") is None
