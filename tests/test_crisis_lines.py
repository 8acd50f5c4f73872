"""The crisis-line data is complete and well-formed, and the crisis responses are built from it."""
from __future__ import annotations

import pytest

from willow import crisis_lines

DATA = crisis_lines.load(crisis_lines.LINES_FILE)
WORDS = crisis_lines.load(crisis_lines.MESSAGES_FILE)
ALL_LINES = [
    (country["code"], line)
    for country in DATA["countries"]
    for line in country.get("lines", []) + country.get("abuse_lines", [])
]


def test_the_data_file_has_no_problems():
    assert crisis_lines.problems(DATA) == []


@pytest.mark.parametrize("code, line", ALL_LINES, ids=[f"{c}-{l['service']}" for c, l in ALL_LINES])
def test_every_number_is_well_formed(code, line):
    assert line.get("phone") or line.get("sms")
    if line.get("phone"):
        assert crisis_lines.PHONE.match(line["phone"])
    if line.get("sms"):
        assert crisis_lines.SMS.match(line["sms"])
    assert crisis_lines.DATE.match(line["last_checked"])
    assert line["source"]


def test_problems_are_reported_in_words():
    broken = {
        **DATA,
        "countries": [{**DATA["countries"][0], "emergency": "9-1-1", "lines": [{"service": "X", "phone": "call me"}]}],
    }
    found = crisis_lines.problems(broken)
    assert any("emergency number looks wrong" in p for p in found)
    assert any("phone 'call me'" in p for p in found)
    assert any("no source" in p for p in found)


def test_generated_responses_are_up_to_date():
    assert crisis_lines.RESPONSES_FILE.read_text(encoding="utf-8") == crisis_lines.render_file()


def test_default_crisis_reply_lists_default_countries_and_the_directory():
    text = crisis_lines.crisis_text(DATA, WORDS, None)
    by_code = {c["code"]: c for c in DATA["countries"]}
    for code in DATA["default_countries"]:
        for line in by_code[code]["lines"]:
            assert (line.get("phone") or line["sms"]) in text
    assert DATA["international"]["url"] in text
    for code in DATA["default_countries"]:
        assert by_code[code]["emergency"] in text
    # Every country's emergency number is one tap away ("More lines and other countries").
    everything = crisis_lines.show_lines_text(DATA, WORDS, None)
    for country in DATA["countries"]:
        assert country["emergency"] in everything


@pytest.mark.parametrize("country", DATA["countries"], ids=lambda c: c["code"])
def test_each_country_gets_its_own_lines_and_emergency_number(country):
    for render in (crisis_lines.crisis_text, crisis_lines.country_text):
        text = render(DATA, WORDS, country)
        assert f"call {country['emergency']} now" in text
        for line in country["lines"] + country.get("abuse_lines", []):
            assert (line.get("phone") or line["sms"]) in text


def nlu_countries():
    """The `country` lookup table and synonyms of data/nlu/countries.yml."""
    import yaml

    data = yaml.safe_load((crisis_lines.ROOT / "data" / "nlu" / "countries.yml").read_text(encoding="utf-8"))
    items = lambda block: [line[2:].strip() for line in block.splitlines() if line.strip()]  # noqa: E731
    lookup = next(items(e["examples"]) for e in data["nlu"] if e.get("lookup") == "country")
    synonyms = {name: e["synonym"] for e in data["nlu"] if "synonym" in e for name in items(e["examples"])}
    return lookup, synonyms


def test_every_alias_is_recognised_as_its_own_country():
    # The lookup finds the name; the synonym turns it into the code the slot and the
    # crisis reply's variation use. A name missing from either gets the default lines.
    lookup, synonyms = nlu_countries()
    for country in DATA["countries"]:
        for alias in country["aliases"]:
            assert alias in lookup, f"{alias!r} ({country['code']}) missing from the lookup"
            assert synonyms.get(alias) == country["code"], f"{alias!r} should map to {country['code']}"
    # Longest first: Python's regex takes the first alternative that matches.
    assert all(len(a) >= len(b) for a, b in zip(lookup, lookup[1:]))


def test_every_country_code_is_a_slot_value():
    import yaml

    domain = yaml.safe_load((crisis_lines.ROOT / "domain" / "safety.yml").read_text(encoding="utf-8"))
    assert domain["slots"]["country"]["values"] == [c["code"] for c in DATA["countries"]]


def test_new_countries_lead_with_their_own_line():
    # Issue 16: the country's own first line comes first in its crisis reply, before the
    # directory and the emergency number.
    for code in ("ZA", "PH", "SG", "KE"):
        country = next(c for c in DATA["countries"] if c["code"] == code)
        text = crisis_lines.crisis_text(DATA, WORDS, country)
        first_bullet = next(line for line in text.splitlines() if line.startswith("- "))
        assert first_bullet == "- " + crisis_lines.describe(country["lines"][0], WORDS)


def test_a_country_without_a_confirmed_line_gets_the_directory_and_its_emergency_number():
    nigeria = next(c for c in DATA["countries"] if c["code"] == "NG")
    assert nigeria["lines"] == []
    for render in (crisis_lines.crisis_text, crisis_lines.country_text, crisis_lines.show_lines_text,
                   crisis_lines.check_in_declined_text, crisis_lines.past_risk_text):
        text = render(DATA, WORDS, nigeria)
        assert DATA["international"]["url"] in text
        assert "Anywhere else" not in text  # there is no local line for the directory to follow
        # No other country's service stands in for the missing line.
        assert not [line["service"] for other in DATA["countries"] for line in other["lines"]
                    if line["service"] in text]
    facts = crisis_lines.short_facts(DATA, WORDS, nigeria)
    assert facts["emergency"] == "112" and DATA["international"]["url"] in facts["line"]
    # A default country may not lose its line, and a missing `lines` key is a mistake.
    broken = {**DATA, "countries": [{**c, "lines": []} if c["code"] == "US" else c for c in DATA["countries"]]}
    assert any("default country needs a crisis line" in p for p in crisis_lines.problems(broken))
    no_key = {k: v for k, v in nigeria.items() if k != "lines"}
    assert any("no `lines`" in p for p in crisis_lines.problems({**DATA, "countries": [no_key]}))


def test_text_and_whatsapp_numbers_are_worded_as_people_use_them():
    words = WORDS
    assert crisis_lines.describe({"service": "L", "phone": "13 11 14", "sms": "0477 13 11 14"}, words) == \
        "L, call 13 11 14 or text 0477 13 11 14"
    assert crisis_lines.describe({"service": "H", "phone": "1-800", "sms": "88788", "sms_body": "START"}, words) == \
        "H, call 1-800 or text START to 88788"
    assert crisis_lines.describe({"service": "M", "phone": "1771", "whatsapp": "+65 6669 1771"}, words) == \
        "M, call 1771 or WhatsApp +65 6669 1771"
    bad = {**DATA, "countries": [{**DATA["countries"][0], "lines": [
        {"service": "W", "whatsapp": "6669 1771", "source": "x", "last_checked": "2026-12-03"}]}]}
    assert any("+ country code" in p for p in crisis_lines.problems(bad))


def test_the_chat_page_links_every_emergency_number():
    # web/willow-chat.js turns emergency numbers said on their own ("call 112 or 10111 now")
    # into tel: links from a fixed list: a new country's number must be added there too.
    import re

    script = (crisis_lines.ROOT / "web" / "willow-chat.js").read_text(encoding="utf-8")
    linked = set(re.search(r'"\\\\b\(([\d|]+)\)\\\\b"', script).group(1).split("|"))
    for country in DATA["countries"]:
        for number in country["emergency"].split(" or "):
            assert number in linked, f"{country['code']}: add {number} to the emergency numbers in web/willow-chat.js"
