"""The clinicians' review sheet (docs/content-review.html, `make content-review`): everything
Willow can send is on it, with its conditions, points and crisis-line sources; it loads nothing;
and the committed copy matches the files (`make test` fails when someone forgets to regenerate)."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import yaml

from tests.domain_files import RESPONSES
from willow import content_review

ROOT = content_review.ROOT
PAGE = content_review.render()
CONTENT = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "content").glob("*.yml"))}
LANGUAGES = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
             for p in sorted((ROOT / "content" / "languages").glob("*.yml"))}
LINES = CONTENT["crisis_lines"]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def norm(text: str) -> str:
    return " ".join(str(text).split())


def text_of(fragment: str) -> str:
    """What a reader sees: tags gone, entities decoded, whitespace collapsed."""
    parser = _Text()
    parser.feed(fragment)
    return norm(" ".join(parser.parts))


def element(element_id: str, page: str = "") -> str:
    """The HTML of the article or section with this id (of the sheet, unless ``page`` is given)."""
    found = re.search(rf'<(article|section)[^>]* id="{re.escape(element_id)}">(.*?)</\1>', page or PAGE, re.S)
    assert found, f"no element with id {element_id}"
    return found.group(2)


def when_and_text(fragment: str) -> List[Tuple[str, str]]:
    """(condition in words, text) of every variation in ``fragment``."""
    return [(text_of(w), text_of(t)) for w, t in
            re.findall(r'<p class="when">(.*?)</p><div class="text">(.*?)</div>', fragment, re.S)]


def copy_project(tmp_path: Path) -> Path:
    for folder in ("domain", "content", "data", "actions", "willow", "docs"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    return tmp_path


# -- everything Willow can send -----------------------------------------------------------------

def test_every_domain_response_and_variation_is_on_the_sheet_in_its_own_entry():
    missing = []
    for name, variations in RESPONSES.items():
        article = element(f"r-{name}")
        shown = text_of(article)
        assert article.count('<li class="variation">') == len(variations), name
        for number, variation in enumerate(variations, 1):
            if norm(variation["text"]) not in shown:
                missing.append((name, number))
            missing += [(name, number, b["title"]) for b in variation.get("buttons") or []
                        if f'<span class="button">{html.escape(b["title"])}</span>' not in article]
    assert missing == []


def test_slot_conditions_are_said_in_words():
    def variation(name, **slots):
        (found,) = [v for v in RESPONSES[name]
                    if {c["name"]: c["value"] for c in v.get("condition") or []} == slots]
        return norm(found["text"])

    crisis = when_and_text(element("r-utter_crisis"))
    for words, slots in (("In Spanish, when the country is United States (US)", dict(language="es", country="US")),
                         ("In French, when the country is not known", dict(language="fr", country=None)),
                         ("In English, when the country is United Kingdom (GB)", dict(language="en", country="GB"))):
        assert (words, variation("utter_crisis", **slots)) in crisis
    assert ("When none of the conditions here applies (the default)", variation("utter_crisis")) in crisis
    assert ("When asking_for is someone_else", variation("utter_is_normal", asking_for="someone_else")) \
        in when_and_text(element("r-utter_is_normal"))
    assert ("In English, when note_started is set (true)", variation("utter_glad_safe", language="en", note_started=True)) \
        in when_and_text(element("r-utter_glad_safe"))


def content_strings(node: Any, skip: frozenset = frozenset()) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from content_strings(item, skip)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "payload" and key not in skip:  # payloads are intents, never shown to a person
                yield from content_strings(value, skip)


# Where a content file's strings are shown, when not in its own entry.
SHOWN_IN = {"crisis_lines": "crisis-lines", "points": "points", "safety_check": "safety-check"}
# Not texts: the risk patterns (reviewed with make safety-eval) and the points mapping (shown as points).
NOT_TEXTS = {"crisis_patterns", "provenance"}


def test_every_content_text_is_on_the_sheet_in_its_files_entry():
    missing = []
    for name, data in CONTENT.items():
        if name in NOT_TEXTS:
            continue
        shown = text_of(element(SHOWN_IN.get(name, f"c-{name}")))
        missing += [(name, s) for s in content_strings(data) if norm(s) not in shown]
    for code, data in LANGUAGES.items():
        shown = text_of(element(f"c-language-{code}"))
        # A language's risk patterns and the messages they must catch are not texts Willow sends.
        strings = content_strings(data, frozenset({"risk", "exclusions", "examples"}))
        missing += [(code, s) for s in strings if norm(s) not in shown]
    assert missing == []


def test_each_answer_shows_the_source_points_it_rests_on():
    points = CONTENT["points"]
    for name, ids in CONTENT["provenance"]["responses"].items():
        shown = text_of(element(f"r-{name}"))
        for point in ids:
            assert norm(points[point]["title"]) in shown and norm(points[point]["summary"]) in shown, (name, point)
    for name in CONTENT["provenance"]["not_informational"]["responses"]:
        assert "Not informational" in text_of(element(f"r-{name}")), name


def test_the_actions_that_read_each_content_file_are_found_in_the_code():
    actions = element("action-texts")
    for name, speaker in CONTENT["provenance"]["actions"].items():
        assert f'id="c-{speaker}"' in actions and name in text_of(element(f"c-{speaker}")), (name, speaker)
    deeper = text_of(element("c-deeper"))
    assert "actions/follow_ups.py (action_go_deeper, action_short_reply)" in deeper
    assert "willow/action_fallback.py" in text_of(element("c-actions_unavailable"))
    # Files only the generators read are not presented as action texts.
    assert 'id="c-crisis_messages"' not in actions and 'id="c-crisis_messages"' in element("other-content")


# -- crisis lines ------------------------------------------------------------------------------

def line_rows(fragment: str) -> List[List[str]]:
    return [[text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r'<tr class="line">(.*?)</tr>', fragment, re.S)]


def test_every_crisis_line_is_on_the_sheet_with_its_numbers_source_and_checked_date():
    assert LINES["countries"], "content/crisis_lines.yml lists no country"
    for country in LINES["countries"]:
        rows = line_rows(element(f"country-{country['code'].lower()}"))
        for line in country.get("lines", []) + country.get("abuse_lines", []):
            wanted = {norm(line[f]) for f in ("service", "phone", "sms", "url", "source", "last_checked") if line.get(f)}
            assert any(wanted <= set(row) for row in rows), (country["code"], line["service"], rows)
    international = text_of(element("crisis-lines"))
    for field in ("service", "url", "source", "last_checked"):
        assert norm(LINES["international"][field]) in international


def test_a_country_added_to_the_crisis_lines_is_on_the_sheet_without_code_changes(tmp_path):
    root = copy_project(tmp_path)
    path = root / "content" / "crisis_lines.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["countries"].append({
        "code": "ZZ", "name": "Testland", "aliases": ["testland"], "emergency": "123",
        "lines": [{"service": "Test Helpline", "phone": "0800 111 222", "whatsapp": "+99 123",
                   "source": "https://example.org/lines", "last_checked": "2026-12-01"}],
    })
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    page = content_review.render(root)
    country = element("country-zz", page)
    assert ["crisis line", "Test Helpline", "0800 111 222", "https://example.org/lines", "2026-12-01", "+99 123"] \
        in line_rows(country)
    # The generated responses were not rebuilt: the sheet says so rather than showing nothing.
    assert "No generated variation for this country: run make crisis-responses" in text_of(country)


# -- the page itself ---------------------------------------------------------------------------

def test_the_sheet_is_self_contained_and_runs_nothing():
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url("):
        assert tag not in PAGE.lower(), tag
    assert re.findall(r"\bsrc\s*=", PAGE) == []
    hrefs = re.findall(r'href="([^"]*)"', PAGE)
    assert hrefs and all(h.startswith("#") for h in hrefs)
    ids = set(re.findall(r'id="([^"]+)"', PAGE))
    assert sorted({h[1:] for h in hrefs} - ids) == []


def test_the_header_says_what_the_sheet_is_for_where_it_comes_from_and_who_signs():
    head = text_of(PAGE[:PAGE.index("<main>")])
    assert "clinician" in head and "DCB0129" in head
    for field in ("Name", "Role and professional registration", "Date", "Signature"):
        assert re.search(rf"<tr><th>{field}</th><td[^>]*></td></tr>", PAGE), field
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if commit:
        assert commit in head
    sections = re.findall(r'<section class="major" id="([^"]+)">', PAGE)
    toc = re.findall(r'<li><a href="#([^"]+)">', PAGE[PAGE.index("<nav>"):PAGE.index("</nav>")])
    assert sections == toc
    assert f"{len(RESPONSES)} responses with {sum(map(len, RESPONSES.values()))} variations" in head


def test_the_page_is_printable_on_a4_with_a_page_break_per_section():
    assert "@page { size: A4" in PAGE
    assert re.search(r"@media print \{[^@]*\.major \{ break-before: page; \}", PAGE)


# -- the committed sheet stays honest ----------------------------------------------------------

def test_the_committed_sheet_is_up_to_date(capsys):
    code = content_review.main(["--check"])
    assert code == 0, ("docs/content-review.html does not match domain/ and content/: run make content-review "
                       "and commit the result. " + capsys.readouterr().out)


def test_check_fails_when_a_response_changes_and_passes_once_regenerated(tmp_path, capsys):
    root = copy_project(tmp_path)
    domain = root / "domain" / "responses.yml"
    original = RESPONSES["utter_goodbye"][0]["text"].split("\n")[0]
    domain.write_text(domain.read_text(encoding="utf-8").replace(original, original + " Take care."), encoding="utf-8")
    assert content_review.main(["--check"], root=root) == 1
    assert "out of date: run `make content-review`" in capsys.readouterr().out
    out = tmp_path / "elsewhere" / "sheet.html"
    assert content_review.main(["--out", str(out)], root=root) == 0
    assert content_review.main(["--check", "--out", str(out)], root=root) == 0
    assert content_review.main(["--check"], root=root) == 1  # --out wrote elsewhere, not the docs copy
    assert norm(original + " Take care.") in text_of(out.read_text(encoding="utf-8"))


def test_check_ignores_only_the_commit_lines(tmp_path):
    root = copy_project(tmp_path)
    sheet = root / "docs" / "content-review.html"
    sheet.write_text(PAGE, encoding="utf-8")
    # Another commit (the one the sheet was committed in) does not make it stale...
    sheet.write_text(re.sub(r"<code>[0-9a-f]{40}</code>", "<code>" + "0" * 40 + "</code>", PAGE), encoding="utf-8")
    assert content_review.main(["--check"], root=root) == 0
    # ...but any other change does.
    sheet.write_text(PAGE.replace("Sign-off", "Sign off", 1), encoding="utf-8")
    assert content_review.main(["--check"], root=root) == 1
