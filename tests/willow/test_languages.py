"""Languages other than English (content/languages/, willow/components/languages.py): the
files are complete, the patterns catch our held-out risk messages and nothing English, the
domain has every language's wording. The same messages through the real server:
tests/test_languages.py."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from tests import domain_files
from willow import crisis_lines, language_eval
from willow.components.languages import ENGLISH, load_languages, normalize, shared_identifier, words_of

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = load_languages()
IDENTIFIER = shared_identifier()
HELD_OUT = language_eval.load_sets()
REPLY_KEYS = (set(crisis_lines.BY_COUNTRY_IN_LANGUAGE.values())
              | {key for key, _ in crisis_lines.IN_LANGUAGE.values()}
              | {"emergency_country", "emergency_default", "directory", "line", "buttons"})


# "[kenya](country)" / "[kenya]{...}": the text as a person typed it, without the annotation.
ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def english_messages():
    """Every English message the project has: training data, held-out sets, real-style sets."""
    texts = []
    for path in list((ROOT / "data" / "nlu").glob("*.yml")) + [ROOT / "tests" / "test_nlu.yml"]:
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block and block["intent"] != "other_language":
                texts += [ENTITY.sub(r"\1", line[2:]) for line in block["examples"].splitlines()
                          if line.startswith("- ")]
    for folder in ("crisis", "crisis_fresh", "crisis_blind"):
        for path in (ROOT / "tests" / folder).glob("*.yml"):
            texts += [m["text"] for m in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]]
    for path in (ROOT / "tests" / "real_style").glob("*.csv"):
        texts += [row["text"] for row in csv.DictReader(path.open(encoding="utf-8"))]
    return texts


ENGLISH_MESSAGES = english_messages()


def test_the_supported_languages_are_the_slot_values_and_have_held_out_tests():
    (slot,) = [data["slots"]["language"] for data in domain_files.FILES.values()
               if "language" in (data.get("slots") or {})]
    assert slot["values"] == [ENGLISH] + sorted(LANGUAGES)
    assert set(HELD_OUT) == set(LANGUAGES)


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_each_language_file_is_complete(code):
    language = LANGUAGES[code]
    assert REPLY_KEYS <= set(language.replies), REPLY_KEYS - set(language.replies)
    assert set(language.replies["buttons"]) == {"safe", "not_safe", "unsure"}
    assert set(language.answers.values()) <= {"affirm", "deny", "unsure"}
    assert language.groups and language.examples


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_the_patterns_catch_their_examples_and_the_held_out_messages_in_their_language(code):
    for text in LANGUAGES[code].examples:
        assert IDENTIFIER.risk(text, IDENTIFIER.identify(text)), text
    held_out = HELD_OUT[code]
    assert len(held_out["risk"]) >= 15 and len(held_out["everyday"]) >= 30
    # Held out: never the patterns' own examples.
    examples = {normalize(t) for t in LANGUAGES[code].examples}
    assert not examples & {normalize(t) for t in held_out["risk"] + held_out["everyday"]}
    missed = [t for t in held_out["risk"] if (IDENTIFIER.risk(t, IDENTIFIER.identify(t)) or ("",))[0] != code]
    assert missed == []
    false_alarms = [t for t in held_out["everyday"] if IDENTIFIER.risk(t, IDENTIFIER.identify(t))]
    assert false_alarms == []


def test_no_english_message_is_read_as_risk_in_another_language():
    """English risk stays the English patterns' job (and gets the English reply)."""
    assert len(ENGLISH_MESSAGES) > 4000
    found = [t for t in ENGLISH_MESSAGES if IDENTIFIER.risk(t, IDENTIFIER.identify(t))]
    assert found == []


def test_english_messages_are_rarely_taken_for_another_language():
    foreign = [t for t in ENGLISH_MESSAGES if IDENTIFIER.identify(t) != ENGLISH]
    # The only ones today are written in Turkish, Polish and Swedish (test data for the notice).
    assert len(foreign) <= 5, foreign


def test_short_answers_are_not_english_words():
    for code, language in LANGUAGES.items():
        for answer in language.answers:
            # One word that is also English ("no", "ok") would turn English answers into it.
            assert " " in answer or answer not in IDENTIFIER.english, (code, answer)
            assert answer == words_of(answer)


def test_normalize_folds_case_accents_sharp_s_and_apostrophes():
    assert normalize("Quiero MORIRME, más") == "quiero morirme, mas"
    assert normalize("Ich wünschte, ich wäre tot. Straße") == "ich wunschte, ich ware tot. strasse"
    assert normalize("j’ai envie") == "j'ai envie"


@pytest.mark.parametrize("name", sorted(crisis_lines.BY_COUNTRY_IN_LANGUAGE) + sorted(crisis_lines.IN_LANGUAGE))
def test_the_domain_has_each_languages_wording_and_no_two_variations_can_match_at_once(name):
    variations = domain_files.RESPONSES[name]

    def conditions(v):
        return {c["name"]: c["value"] for c in v.get("condition", [])}

    for v in variations:
        if v.get("condition"):
            assert "language" in conditions(v), v  # English ones say language: en
    for code in LANGUAGES:
        mine = [v for v in variations if conditions(v).get("language") == code]
        if name in crisis_lines.BY_COUNTRY_IN_LANGUAGE:
            assert sorted(str(conditions(v)["country"]) for v in mine) == sorted(
                [c["code"] for c in crisis_lines.load(crisis_lines.LINES_FILE)["countries"]] + ["None"])
        else:
            assert len(mine) == 1
        for v in mine:
            for button in v.get("buttons", []):
                assert button["payload"].endswith(f'{{"language": "{code}"}}')
    # Every combination of slots picks at most one conditional variation.
    keys = [tuple(sorted(conditions(v).items())) for v in variations if v.get("condition")]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("text", ["Perth, Western Australia", "Quezon City, Metro Manila", "Mombasa, Kenya",
                                  "Lagos Nigeria"])
def test_a_place_with_a_known_country_is_english(text):
    # Answering "which country?" with a place must get that country's line, not the
    # other-language notice.
    assert IDENTIFIER.identify(text) == ENGLISH


def test_other_languages_naming_a_country_are_still_recognised():
    assert IDENTIFIER.identify("Ich bin in Australien und will nicht mehr leben") == "de"
    assert IDENTIFIER.identify("Estoy en Australia y quiero morir") == "es"
