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
