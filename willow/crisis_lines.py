"""Crisis lines: validation, and the crisis responses built from them.

``content/crisis_lines.yml`` holds the facts (services, numbers, sources, last
checked) and ``content/crisis_messages.yml`` the wording. This module renders both into
``domain/crisis_responses.yml``: plain domain responses, with one variation per country
chosen by the ``country`` slot, so the crisis reply never depends on the action server.

The crisis reply, the safety check's questions and short replies and the "English only"
notice also get a variation per language of ``content/languages/`` (chosen by the
``language`` slot); the English of the questions is in ``content/translated_responses.yml``.

Usage: python -m willow.crisis_lines          write domain/crisis_responses.yml
       python -m willow.crisis_lines --check  exit 1 if it is out of date
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from willow import generated
from willow.components.languages import load_languages

ROOT = Path(__file__).resolve().parent.parent
LINES_FILE = ROOT / "content" / "crisis_lines.yml"
MESSAGES_FILE = ROOT / "content" / "crisis_messages.yml"
RESPONSES_FILE = ROOT / "domain" / "crisis_responses.yml"
TRANSLATED_FILE = ROOT / "content" / "translated_responses.yml"

# Generated responses with a variation per language and country: the key of their wording in
# a language file's `replies`.
BY_COUNTRY_IN_LANGUAGE = {
    "utter_crisis": "crisis", "utter_not_safe": "not_safe", "utter_not_safe_again": "not_safe_again",
    "utter_unsure": "unsure", "utter_unsure_again": "unsure_again",
}
# content/translated_responses.yml: the wording's key, and whether the safety buttons follow.
IN_LANGUAGE = {
    "utter_ask_safe": ("ask_safe", True), "utter_ask_safe_again": ("ask_safe_again", True),
    "utter_ask_safe_now": ("ask_safe_now", True), "utter_ask_safe_still": ("ask_safe_still", True),
    "utter_risk_acknowledged": ("risk_acknowledged", False), "utter_glad_safe": ("glad_safe", False),
    "utter_other_language": ("english_only", False),
}
SAFETY_BUTTONS = (("safe", "affirm"), ("not_safe", "deny"), ("unsure", "unsure"))

PHONE = re.compile(r"^\d[\d -]*\d$")  # as dialled locally: digits, spaces, dashes
SMS = re.compile(r"^\d[\d ]{1,13}\d$")  # a short code ("988") or a mobile number ("0477 13 11 14")
WHATSAPP = re.compile(r"^\+\d[\d ]+\d$")  # with its country code
URL = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load(path: Path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def problems(data: Dict[str, Any]) -> List[str]:
    """Everything wrong with the crisis-line data, in words a maintainer can act on."""
    found: List[str] = []
    codes = [c["code"] for c in data["countries"]]
    for code in data["default_countries"]:
        if code not in codes:
            found.append(f"default country {code} has no entry")
    international = data["international"]
    if not URL.match(international.get("url", "")):
        found.append("international directory needs an https url")
    seen_aliases: Dict[str, str] = {}
    for country in data["countries"]:
        where = country["code"]
        if not re.fullmatch(r"[A-Z]{2}", where):
            found.append(f"{where}: code must be two capital letters")
        if not re.fullmatch(r"\d{3,5}( or \d{3,5})?", country.get("emergency", "")):
            found.append(f"{where}: emergency number looks wrong: {country.get('emergency')!r}")
        for alias in country["aliases"]:
            if alias != alias.lower():
                found.append(f"{where}: alias {alias!r} must be lowercase")
            if alias in seen_aliases:
                found.append(f"{where}: alias {alias!r} also used by {seen_aliases[alias]}")
            seen_aliases[alias] = where
        # An empty list is allowed (no line confirmed yet: the emergency number and the
        # directory); a missing one is a mistake. Default countries need a line.
        if "lines" not in country:
            found.append(f"{where}: no `lines` (write `lines: []` if none is confirmed)")
        elif not country["lines"] and where in data["default_countries"]:
            found.append(f"{where}: a default country needs a crisis line")
        for line in country.get("lines", []) + country.get("abuse_lines", []):
            name = f"{where} {line.get('service')}"
            if not (line.get("phone") or line.get("sms") or line.get("whatsapp")):
                found.append(f"{name}: needs a phone, sms or whatsapp number")
            if line.get("phone") and not PHONE.match(line["phone"]):
                found.append(f"{name}: phone {line['phone']!r} is not digits, spaces and dashes")
            if line.get("sms") and not SMS.match(line["sms"]):
                found.append(f"{name}: sms {line['sms']!r} is not a short code or a number of digits and spaces")
            if line.get("whatsapp") and not WHATSAPP.match(line["whatsapp"]):
                found.append(f"{name}: whatsapp {line['whatsapp']!r} needs its + country code, then digits and spaces")
            if line.get("url") and not URL.match(line["url"]):
                found.append(f"{name}: url {line['url']!r} is not https")
            if not line.get("source"):
                found.append(f"{name}: no source")
            if not DATE.match(str(line.get("last_checked", ""))):
                found.append(f"{name}: last_checked must be YYYY-MM-DD")
    return found


def describe(line: Dict[str, Any], words: Dict[str, str]) -> str:
    """One line of text for one service."""
    if line.get("phone") and line.get("sms") == line["phone"]:
        text = words["call_or_text"].format(**line)
    elif line.get("phone") and line.get("sms_body"):
        text = words["call_or_text_word"].format(**line)
    elif line.get("phone") and line.get("sms"):
        text = words["call_or_text_other"].format(**line)
    elif line.get("phone") and line.get("whatsapp"):
        text = words["call_or_whatsapp"].format(**line)
    elif line.get("phone"):
        text = words["call"].format(**line)
    elif line.get("whatsapp"):
        text = words["whatsapp"].format(**line)
    elif line.get("sms_body"):
        text = words["text_word"].format(**line)
    else:
        text = words["text"].format(**line)
    if line.get("hours"):
        text += words["hours"].format(**line)
    return text


def called(country: Dict[str, Any]) -> str:
    """The country's name as it reads inside a sentence ("the United Kingdom")."""
    return country.get("called", country["name"])


def bullet(lines: List[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def line_list(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> List[str]:
    """The crisis lines for ``country`` (or for the default countries), then the directory."""
    international = words["international"].format(**data["international"])
    if country is not None and not country["lines"]:
        return [words["directory_line"].format(**data["international"])]
    if country is not None:
        return [describe(line, words) for line in country["lines"]] + [international]
    by_code = {c["code"]: c for c in data["countries"]}
    return [
        words["default_line"].format(country=by_code[code]["name"], line=describe(line, words))
        for code in data["default_countries"]
        for line in by_code[code]["lines"]
    ] + [international]


def crisis_text(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> str:
    """The first reply: a caring sentence, the emergency number and the lines (the country's, or
    the default countries'), then the country's abuse lines and who Willow is. Every other number
    is one tap away (utter_show_lines)."""
    if country is None:
        # The emergency numbers before the list, so both fit a phone's first screen.
        parts = [
            words["opening"], words["emergency_first"].format(numbers=emergency_numbers(data, data["default_countries"])),
            words["lines_lead"] + "\n" + bullet(line_list(data, words, None)), words["closing"],
        ]
    else:
        lead = words["lines_lead_country" if country["lines"] else "no_line_lead"].format(country=called(country))
        parts = [words["opening"], lead + "\n" + bullet(line_list(data, words, country)),
                 words["emergency_country"].format(**country)]
        if country.get("abuse_lines"):
            parts.append(words["abuse_lead"] + "\n" + bullet([describe(l, words) for l in country["abuse_lines"]]))
        parts.append(words["closing_country"])
    return "\n\n".join(parts)


def country_text(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> str:
    if country is None:
        return words["unknown_country"].format(**data["international"])
    if country["lines"]:
        lines = [describe(line, words) for line in country["lines"]]
        parts = [words["country_lead"].format(country=called(country)) + "\n" + bullet(lines)]
    else:
        parts = [words["no_line_lead"].format(country=called(country)) + "\n"
                 + bullet(line_list(data, words, country))]
    if country.get("abuse_lines"):
        parts.append(words["abuse_lead"] + "\n" + bullet([describe(l, words) for l in country["abuse_lines"]]))
    parts.append(words["emergency_country"].format(**country))
    return "\n\n".join(parts)


def show_lines_text(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> str:
    """The lines again, on request: the country's, or the default ones with every emergency number."""
    if country is not None:
        return country_text(data, words, country)
    return "\n\n".join([
        words["lines_lead"] + "\n" + bullet(line_list(data, words, None)),
        words["emergency_default"].format(numbers=emergency_numbers(data)),
    ])


def check_in_declined_text(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> str:
    return words["check_in_declined"] + "\n" + bullet(line_list(data, words, country))


def past_risk_text(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> str:
    return words["past_risk"] + "\n" + bullet(line_list(data, words, country))


def emergency_numbers(data: Dict[str, Any], codes: Optional[List[str]] = None) -> str:
    """The emergency numbers of ``codes`` (default: every country) with their countries:
    "911 (United States, Canada), 999 (United Kingdom)"."""
    by_number: Dict[str, List[str]] = {}
    for c in data["countries"]:
        if codes is None or c["code"] in codes:
            by_number.setdefault(c["emergency"], []).append(c["name"])
    return ", ".join(f"{n} ({', '.join(names)})" for n, names in by_number.items())


def short_facts(data: Dict[str, Any], words: Dict[str, str], country: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """{emergency}, {line} and {texting} for the safety check's short messages."""
    directory = words["texting_directory"].format(**data["international"])
    if country is None:
        by_code = {c["code"]: c for c in data["countries"]}
        defaults = [by_code[code] for code in data["default_countries"]]
        by_number: Dict[str, List[str]] = {}
        for c in defaults:
            by_number.setdefault(c["emergency"], []).append(called(c))
        numbers = ", ".join(words["emergency_default_number"].format(number=n, countries=" and ".join(names))
                            for n, names in by_number.items())
        emergency = words["emergency_default_short"].format(numbers=numbers)
        line = words["line_default_short"]
        texts = [words["texting_default_line"].format(country=called(c), line=describe(l, words))
                 for c in defaults for l in c["lines"] if l.get("sms")]
    else:
        emergency = country["emergency"]
        line = (describe(country["lines"][0], words) if country["lines"]
                else words["directory_line"].format(**data["international"]))
        texts = [describe(l, words) for l in country["lines"] if l.get("sms") or l.get("whatsapp")]
    texting = ("; ".join(texts) + ". " if texts else "") + directory
    return {"emergency": emergency, "line": line, "texting": texting}


def check_message(kind: str, repeat: int):
    """A renderer for wording ``repeat`` (0 or 1) of a safety-check message."""
    def render(data: Dict[str, Any], words: Dict[str, Any], country: Optional[Dict[str, Any]]) -> str:
        return words[kind][repeat].format(**short_facts(data, words, country))
    return render


def responses(data: Dict[str, Any], words: Dict[str, str]) -> Dict[str, Any]:
    """utter_crisis, utter_crisis_line, utter_check_in_declined and the safety check's short
    messages: a variation per country, then the default."""
    def variations(render):
        by_country = [
            {"condition": [{"type": "slot", "name": "country", "value": c["code"]}], "text": render(data, words, c)}
            for c in data["countries"]
        ]
        return by_country + [{"text": render(data, words, None)}]

    past_risk = [dict(v, buttons=[{"title": words["past_risk_button"], "payload": "/crisis"}])
                 for v in variations(past_risk_text)]
    generated = {"utter_crisis": variations(crisis_text), "utter_crisis_line": variations(country_text),
                 "utter_check_in_declined": variations(check_in_declined_text),
                 "utter_past_risk": past_risk,
                 "utter_show_lines": variations(show_lines_text)}
    for kind in ("not_safe", "unsure", "reluctance"):
        generated[f"utter_{kind}"] = variations(check_message(kind, 0))
        generated[f"utter_{kind}_again"] = variations(check_message(kind, 1))
    return generated


def slot_is(name: str, value: Any) -> Dict[str, Any]:
    return {"type": "slot", "name": name, "value": value}


def paragraphs(text: str) -> str:
    """Folded YAML keeps one newline per blank line: those are the paragraphs."""
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n") if p.strip())


def language_facts(data: Dict[str, Any], replies: Dict[str, str], country: Optional[Dict[str, Any]]) -> Dict[str, str]:
    """{emergency} and {directory} in one language: the country's emergency number and first
    line when Willow knows the country, otherwise the language's usual emergency numbers."""
    directory = replies["directory"].format(**data["international"])
    if country is None:
        return {"emergency": replies["emergency_default"], "directory": directory}
    emergency = replies["emergency_country"].format(number=country["emergency"].replace(" or ", " / "))
    if not country["lines"]:  # no confirmed line: the emergency number and the directory
        return {"emergency": emergency, "directory": directory}
    line = country["lines"][0]
    number = line.get("phone") or line.get("sms") or line.get("whatsapp")
    return {"emergency": emergency + " " + replies["line"].format(line=f"{line['service']}, {number}"),
            "directory": directory}


def in_languages(name: str, english: List[Dict[str, Any]], languages: Dict[str, Any],
                 data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """``english`` (its conditional variations only where the language is English), then each
    language's variations of response ``name``."""
    variations = [
        dict(v, condition=v["condition"] + [slot_is("language", "en")]) if v.get("condition") else dict(v)
        for v in english
    ]
    # The unconditional English variations last, as Rasa lists them anyway.
    variations.sort(key=lambda v: 0 if v.get("condition") else 1)
    for code, language in sorted(languages.items()):
        replies = language.replies
        if name in BY_COUNTRY_IN_LANGUAGE:
            wording = replies[BY_COUNTRY_IN_LANGUAGE[name]]
            for country in data["countries"] + [None]:
                variations.append({
                    "condition": [slot_is("language", code), slot_is("country", country["code"] if country else None)],
                    "text": paragraphs(wording.format(**language_facts(data, replies, country))),
                })
        else:
            key, with_buttons = IN_LANGUAGE[name]
            variation: Dict[str, Any] = {"condition": [slot_is("language", code)], "text": paragraphs(replies[key])}
            if with_buttons:
                variation["buttons"] = [
                    {"title": replies["buttons"][kind], "payload": f'/{intent}{{"language": "{code}"}}'}
                    for kind, intent in SAFETY_BUTTONS
                ]
            variations.append(variation)
    return variations


def with_languages(generated: Dict[str, Any], data: Dict[str, Any]) -> Dict[str, Any]:
    languages = load_languages()
    translated = load(TRANSLATED_FILE)
    missing = sorted(set(IN_LANGUAGE) - set(translated))
    if missing:
        raise SystemExit(f"{TRANSLATED_FILE.name} lacks {', '.join(missing)}")
    result = dict(generated)
    for name in BY_COUNTRY_IN_LANGUAGE:
        result[name] = in_languages(name, generated[name], languages, data)
    for name in IN_LANGUAGE:
        result[name] = in_languages(name, translated[name], languages, data)
    return result


class _Dumper(yaml.SafeDumper):
    """Writes multi-line texts as readable block scalars."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def render_file() -> str:
    header = (
        "# GENERATED by `make crisis-responses` from content/crisis_lines.yml,\n"
        "# content/crisis_messages.yml, content/translated_responses.yml and content/languages/.\n"
        "# Do not edit by hand: edit those files and regenerate.\n"
    )
    data = load(LINES_FILE)
    body = {"version": "3.1", "responses": with_languages(responses(data, load(MESSAGES_FILE)), data)}
    return header + yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def main(argv: List[str]) -> int:
    issues = problems(load(LINES_FILE))
    if issues:
        print("content/crisis_lines.yml has problems:\n" + "\n".join(f"  - {p}" for p in issues))
        return 1
    return generated.write_or_check(RESPONSES_FILE, render_file(), argv, "make crisis-responses")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
