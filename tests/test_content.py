"""What Willow says: complete, varied, in our own words, and pointing to real help."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
from tests.domain_files import ENTITIES, INTENTS, RESPONSES, default_text
CONTENT = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "content").glob("*.yml")}
SOURCE = (ROOT.parent / "shared" / "source" / "crying-in-therapy.txt")
MAIN_ANSWERS = [
    "utter_intro", "utter_is_normal", "utter_why_cry", "utter_does_crying_help",
    "utter_frequent_crying", "utter_is_normal_frequent", "utter_bot_challenge", "utter_goodbye",
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def all_texts():
    for name, variations in RESPONSES.items():
        for variation in variations:
            yield name, variation["text"]

    def walk(where, node):
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, list):
            for item in node:
                yield from walk(where, item)
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from walk(f"{where}.{key}", value)

    for name, data in CONTENT.items():
        yield from walk(name, data)


@pytest.mark.parametrize("name", MAIN_ANSWERS)
def test_main_answers_have_several_variations(name):
    assert len(RESPONSES[name]) >= 3


def test_every_response_the_rules_use_exists():
    used = set()
    for path in (ROOT / "data").rglob("*.yml"):
        used |= set(re.findall(r"action: (utter_\w+)", path.read_text()))
    assert used - set(RESPONSES) == set()


@pytest.mark.skipif(not SOURCE.exists(), reason="shared/source not present")
def test_nothing_is_copied_from_the_source():
    """No run of 7 words from the source document appears in what Willow says."""
    source = words(SOURCE.read_text())
    runs = {" ".join(source[i:i + 7]) for i in range(len(source) - 6)}
    copied = []
    for where, text in all_texts():
        w = words(text)
        copied += [(where, " ".join(w[i:i + 7])) for i in range(len(w) - 6) if " ".join(w[i:i + 7]) in runs]
    assert copied == []


def test_intro_says_it_is_not_a_therapist_and_points_to_help():
    for variation in RESPONSES["utter_intro"]:
        assert "not a therapist" in variation["text"]
        assert "harming yourself" in variation["text"]


def test_crisis_response_gives_lines_and_emergency_numbers_without_buttons():
    crisis = default_text("utter_crisis")
    for number in ("988", "116 123", "13 11 14", "findahelpline.com", "911", "999", "000"):
        assert number in crisis
    assert not any("buttons" in v for v in RESPONSES["utter_crisis"])
    # Short enough for a phone's first screen; every other number is one tap away.
    assert len(crisis) < 800
    assert RESPONSES["utter_ask_safe"][0]["buttons"][-1]["payload"] == "/show_lines"
    for number in ("112 or 999", "111", "112 (India"):
        assert number in default_text("utter_show_lines")


def test_button_payloads_are_known_intents():
    intents = set(INTENTS)
    for name, variations in RESPONSES.items():
        for variation in variations:
            for button in variation.get("buttons", []):
                if name == "utter_ask_note_distress" and button["payload"].isdigit():
                    # The 0-10 scale: the number is sent as the user's answer (validate_note_form).
                    assert button["payload"] == button["title"] and 0 <= int(button["payload"]) <= 10
                    continue
                intent, _, entities = button["payload"].lstrip("/").partition("{")
                assert intent in intents, (name, button)
                if entities:  # '/affirm{"language": "es"}': the entities are the domain's
                    assert set(json.loads("{" + entities)) <= set(ENTITIES), (name, button)


# -- answers that say what they answer, sized for a phone (issue 14) --------------------------
# An opener that answers yes or no, or agrees, without saying to what. Written for "is it
# normal?", it would answer a misread fear ("is something wrong with me?") with "yes".
BARE_OPENER = re.compile(
    r"^(yes|yeah|yep|yup|no|nope|it (is|can|does|will|might|may)|very much( so)?|for (some|many|most) people,? yes"
    r"|absolutely|of course|definitely|sure|certainly|exactly|indeed|totally|correct|that's (right|true)"
    r"|not at all|sí|si|oui|ja|sim|claro|certo|bien sûr)\s*[.,!;:\u2013\u2014-]",
    re.IGNORECASE,
)
BUBBLE_LIMIT = 320  # characters per paragraph: channels send each paragraph as its own bubble
PARAGRAPH_LIMIT = 3
# Keys of content files that hold what Willow recognises or how it decides, not what it says,
# and buttons (their titles are the person's answers: "Yes, I'm safe right now").
NOT_SAID = {"understand", "words", "unless", "patterns", "phrases", "exclusions", "answers", "examples",
            "description", "covered_by", "subject_of", "order", "answered_by", "payload", "from",
            "markers", "identify", "risk", "title", "buttons"}
NOT_SAID_FILES = {"crisis_patterns", "provenance"}
# The crisis layer's replies carry phone numbers and are sized by their own tests (the first screen
# of a phone holds the opening, the first line and the emergency number; tests/web).
CRISIS_LAYER_FILES = {"crisis_lines", "crisis_messages", "safety_check", "translated_responses"}
CRISIS_LAYER_RESPONSES = set(yaml.safe_load((ROOT / "domain" / "crisis_responses.yml").read_text())["responses"])


def said_texts():
    """(where, text, crisis_layer) for every text Willow can send, from the domain and content/."""
    for name, variations in RESPONSES.items():
        for variation in variations:
            yield name, variation["text"], name in CRISIS_LAYER_RESPONSES

    def walk(where, node, crisis):
        if isinstance(node, str):
            yield where, node, crisis
        elif isinstance(node, list):
            for item in node:
                yield from walk(where, item, crisis)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in NOT_SAID:
                    yield from walk(f"{where}.{key}", value, crisis)

    files = sorted((ROOT / "content").glob("*.yml")) + sorted((ROOT / "content" / "languages").glob("*.yml"))
    for path in files:
        if path.stem in NOT_SAID_FILES:
            continue
        crisis = path.stem in CRISIS_LAYER_FILES or path.parent.name == "languages"
        yield from walk(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")), crisis)


def test_the_bare_opener_check_catches_what_it_is_for():
    for opener in ("Yes. Crying is common.", "It can. Tears help.", "Very much so. It is.", "It is. Lots do.",
                   "For some people, yes. Tears...", "No, I'm not a person.", "Of course, we can."):
        assert BARE_OPENER.match(opener), opener
    for fine in ("Crying in therapy is common.", "It is still normal", "No saber también", "Nothing about",
                 "Okay, no note.", "It can be hard when"):
        assert not BARE_OPENER.match(fine), fine


def test_no_text_starts_with_a_bare_yes_no_or_agreement():
    bare = [(where, text[:40]) for where, text, _ in said_texts()
            if any(BARE_OPENER.match(p.strip()) for p in text.split("\n\n"))]
    assert bare == []


def test_every_text_fits_a_phone():
    too_long = []
    for where, text, crisis in said_texts():
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        if crisis:
            continue
        if len(paragraphs) > PARAGRAPH_LIMIT or max(map(len, paragraphs), default=0) > BUBBLE_LIMIT:
            too_long.append((where, len(paragraphs), max(map(len, paragraphs))))
    assert too_long == []
