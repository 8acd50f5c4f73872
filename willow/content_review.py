"""The review sheet for clinicians: everything Willow can say, on one printable HTML page.

Before a clinic deploys Willow, a clinician reads and signs off what it says (a clinical
safety review in the spirit of UK DCB0129). This module writes ``docs/content-review.html``
from the project's own files, so the sheet cannot drift from what Willow sends:

- every domain response and variation (``domain/*.yml``, the generated crisis responses
  included), grouped by the domain file it lives in, with its slot conditions in words,
  its buttons, when it is sent (rules, stories, forms, actions) and the points of the
  source explainer it rests on (``content/provenance.yml``, ``content/points.yml``);
- the crisis lines of every country in ``content/crisis_lines.yml`` with their sources
  and checked dates, and the crisis replies built from them;
- the safety check's table (``content/safety_check.yml``);
- the texts the custom actions combine, with the actions that read each file found in the
  code (``actions/*.py``), and the rest of ``content/``.

The page has no scripts and loads nothing. It changes only when what Willow says (or how the
sheet shows it) changes: the commit it was generated at is shown but ignored by ``--check``,
so committing the sheet does not make it stale.

Usage: python -m willow.content_review [--out PATH]   write docs/content-review.html
       python -m willow.content_review --check        exit 1 if it is out of date
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import html
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from willow import safety_check
from willow.provenance import load_yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "content-review.html"
COMMAND = "make content-review"
# The commit line differs between checkouts of the same content; --check ignores it.
BUILD_START, BUILD_END = "<!-- build -->", "<!-- /build -->"
BUILD_BLOCK = re.compile(re.escape(BUILD_START) + ".*?" + re.escape(BUILD_END), re.S)
# willow/nlg.py: a response with a "<name>_brief" is said in full once, then briefly.
BRIEF_SUFFIX = "_brief"
# Content files shown elsewhere on the sheet, or not texts at all.
SHOWN_ELSEWHERE = {"points": "points", "crisis_lines": "crisis-lines", "provenance": "points"}
NOT_TEXT_FILES = {"crisis_patterns"}  # risk patterns: what Willow recognises, reviewed with make safety-eval
# Keys of content files that hold what Willow recognises or how it decides, not what it says:
# shown small, as data.
DATA_KEYS = {"words", "understand", "unless", "answers", "aliases", "covered_by", "subject_of", "order",
             "answered_by", "from", "numbers", "default_countries", "own_rules"}
# A language file's risk patterns and their test messages: like crisis_patterns, not texts.
LANGUAGE_PATTERN_KEYS = {"risk", "exclusions", "examples"}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def anchor(*parts: str) -> str:
    """An id made only of safe characters, stable for the same parts."""
    return "-".join(re.sub(r"[^a-z0-9_]+", "-", part.lower()).strip("-") for part in parts)


def leading_comment(path: Path) -> str:
    """The file's first block of comment lines, without the ``#``: what the file is for."""
    block: List[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(re.sub(r"^# ?", "", stripped))
        elif block:
            break
    return "\n".join(block).strip()


def language_name(code: Any) -> str:
    """English name of a language code ("es" -> "Spanish"); the code itself if unknown."""
    try:
        from babel import Locale  # a dependency of the runtime (requirements/runtime.txt)
        return Locale.parse(str(code)).get_display_name("en") or str(code)
    except Exception:  # an unknown code, or babel missing: the code still says which one
        return str(code)


# -- reading the project ---------------------------------------------------------------------------

class Project:
    """Everything the sheet shows, read from one checkout (``root``)."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.domain_files = {p.stem: load_yaml(p) or {} for p in sorted((root / "domain").glob("*.yml"))}
        self.content = {p.stem: None if p.stem in NOT_TEXT_FILES else load_yaml(p)
                        for p in sorted((root / "content").glob("*.yml"))}
        self.languages = {p.stem: load_yaml(p) for p in sorted((root / "content" / "languages").glob("*.yml"))}
        self.provenance = self.content.get("provenance") or {}
        self.points = self.content.get("points") or {}
        self.lines = self.content.get("crisis_lines") or {}
        self.responses: Dict[str, List[Dict[str, Any]]] = {}
        self.response_file: Dict[str, str] = {}
        for stem, data in self.domain_files.items():
            for name, variations in (data.get("responses") or {}).items():
                self.responses[name] = variations or []
                self.response_file[name] = stem
        self.modules = self._modules()

    def _modules(self) -> List[Dict[str, Any]]:
        """Each Python module of actions/ and willow/ with the actions it defines, the content
        files it reads by name and the responses it sends (found in its source)."""
        found = []
        paths = sorted((self.root / "actions").glob("*.py")) + sorted((self.root / "willow").rglob("*.py"))
        for path in paths:
            if path.name in ("content_review.py", "provenance.py"):  # read every file generically
                continue
            source = path.read_text(encoding="utf-8")
            reads = set(re.findall(r'content\.load\(\s*"(\w+)"', source))
            reads |= set(re.findall(r'content_file\s*=\s*"(\w+)"', source))
            # ROOT / "content" / "name.yml", or a folder of them ("languages")
            reads |= set(re.findall(r'"content"\s*/\s*"(\w+)(?:\.yml)?"', source))
            if not reads and "response=" not in source:
                continue
            try:
                doc = ast.get_docstring(ast.parse(source)) or ""
            except SyntaxError:
                doc = ""
            found.append({
                "path": path.relative_to(self.root).as_posix(),
                "actions": sorted(set(re.findall(r'return\s+"((?:action|validate)_\w+)"', source))),
                "reads": reads,
                "sends": set(re.findall(r'response="(utter_\w+)"', source)),
                "doc": doc.split("\n\n")[0].strip(),
            })
        return found

    def readers(self, content_file: str) -> List[Dict[str, Any]]:
        return [m for m in self.modules if content_file in m["reads"]]

    def sent_when(self) -> Dict[str, List[str]]:
        """Response name -> where it is sent: rules and stories, forms, actions, willow/nlg.py."""
        found: Dict[str, List[str]] = {name: [] for name in self.responses}

        def actions_in(steps: Iterable[Any]) -> Iterable[str]:
            for step in steps or []:
                if isinstance(step, dict):
                    if isinstance(step.get("action"), str):
                        yield step["action"]
                    for value in step.values():
                        if isinstance(value, list):
                            yield from actions_in(value)

        paths = [p for folder in ("rules", "stories") for p in sorted((self.root / "data" / folder).rglob("*.yml"))]
        for path in paths:
            data = load_yaml(path) or {}
            for kind in ("rules", "stories"):
                for item in data.get(kind) or []:
                    title = item.get("rule") or item.get("story") or "(unnamed)"
                    where = f"{'rule' if kind == 'rules' else 'story'} “{title}” ({path.relative_to(self.root).as_posix()})"
                    for action in dict.fromkeys(actions_in(item.get("steps"))):
                        if action in found:
                            found[action].append(where)
        for data in self.domain_files.values():
            for form, spec in (data.get("forms") or {}).items():
                for slot in (spec or {}).get("required_slots") or []:
                    if f"utter_ask_{slot}" in found:
                        found[f"utter_ask_{slot}"].append(f"asked by the form {form} for the slot {slot}")
        for module in self.modules:
            for name in sorted(module["sends"]):
                if name in found:
                    who = ", ".join(module["actions"]) or "code"
                    found[name].append(f"sent by {who} ({module['path']})")
        for name in found:
            base = name[: -len(BRIEF_SUFFIX)]
            if name.endswith(BRIEF_SUFFIX) and base in self.responses:
                found[name].append(f"said instead of {base} once that was said in full in the conversation (willow/nlg.py)")
        return found

    def country_names(self) -> Dict[str, str]:
        return {c["code"]: c.get("name", c["code"]) for c in self.lines.get("countries") or []}

    def condition_words(self, condition: List[Dict[str, Any]]) -> str:
        """A variation's slot conditions in words: "In Spanish, when the country is Canada (CA)"."""
        countries = self.country_names()
        languages, others = [], []
        for c in condition or []:
            name, value = c.get("name"), c.get("value")
            if name == "language":
                languages.append("in English" if value == "en" else
                                 "in any language" if value is None else f"in {language_name(value)}")
            elif name == "country":
                others.append("when the country is not known" if value is None else
                              f"when the country is {countries.get(value, value)} ({value})")
            elif value is True or value is False:
                others.append(f"when {name} is {'set (true)' if value else 'false'}")
            elif value is None:
                others.append(f"when {name} is not set")
            else:
                others.append(f"when {name} is {value}")
        words = ", ".join(languages + others)
        return words[:1].upper() + words[1:]

    def points_of_response(self, name: str) -> Optional[List[str]]:
        """The points a response rests on; None when it is listed as not informational."""
        mapped = self.provenance.get("responses") or {}
        if name in mapped:
            return list(mapped[name] or [])
        return None

    def is_classified(self, name: str) -> bool:
        skipped = (self.provenance.get("not_informational") or {}).get("responses") or []
        return name in (self.provenance.get("responses") or {}) or name in skipped

    def build(self) -> Dict[str, str]:
        """The git commit and its date, and whether the sheet's inputs differ from it."""
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True,
                                  check=True, timeout=20).stdout.strip()
        try:
            commit = git("rev-parse", "HEAD")
            date = git("log", "-1", "--format=%cs")
            changed = git("status", "--porcelain", "--", "domain", "content", "data", "actions")
        except (OSError, subprocess.SubprocessError):
            return {"commit": "unknown (not a git checkout)", "date": "unknown", "changed": ""}
        return {"commit": commit, "date": date,
                "changed": "yes: domain/, content/, data/ or actions/ differ from this commit" if changed else "no"}


# -- pieces of the page ------------------------------------------------------------------------------

def text_box(text: Any) -> str:
    return f'<div class="text">{esc(text)}</div>'


def buttons_html(buttons: List[Dict[str, Any]]) -> str:
    if not buttons:
        return ""
    chips = "".join(f'<span class="button">{esc(b.get("title", ""))}</span>' for b in buttons)
    return f'<p class="buttons"><span class="label">Buttons:</span> {chips}</p>'


def points_html(project: Project, ids: List[str]) -> str:
    items = []
    for point in ids:
        spec = project.points.get(point)
        if spec is None:
            items.append(f'<li class="problem">{esc(point)}: not a point in content/points.yml</li>')
        else:
            items.append(f'<li><a href="#point-{anchor(point)}">{esc(spec["title"])}</a>: '
                         f'{esc(spec["summary"])}</li>')
    return f'<ul class="points">{"".join(items)}</ul>'


def data_line(label: str, node: Any, why: str = "recognised or used to decide, not sent") -> str:
    """Recognition words or decision data, flattened and small."""
    def flat(value: Any, prefix: str = "") -> Iterable[str]:
        if isinstance(value, list) and prefix and all(not isinstance(v, (dict, list)) for v in value):
            yield prefix + ", ".join(map(str, value))  # "order: a, b, c" rather than the key each time
        elif isinstance(value, dict):
            for key, inner in value.items():
                yield from flat(inner, f"{prefix}{key}: ")
        elif isinstance(value, list):
            for inner in value:
                yield from flat(inner, prefix)
        else:
            yield f"{prefix}{value}"
    return (f'<p class="data"><span class="label">{esc(label)} ({esc(why)}):</span> '
            f'{esc(" · ".join(flat(node)))}</p>')


def is_button(node: Any) -> bool:
    return isinstance(node, dict) and "title" in node and "payload" in node


def variation_html(project: Project, variation: Dict[str, Any], conditional_siblings: bool) -> str:
    if variation.get("condition"):
        when = project.condition_words(variation["condition"])
    elif conditional_siblings:
        when = "When none of the conditions here applies (the default)"
    else:
        when = "Any conversation"
    parts = [f'<p class="when">{esc(when)}</p>', text_box(variation.get("text", ""))]
    parts.append(buttons_html(variation.get("buttons") or []))
    for key in sorted(set(variation) - {"text", "condition", "buttons"}):
        parts.append(f'<p class="data"><span class="label">{esc(key)}:</span> {esc(variation[key])}</p>')
    return f'<li class="variation">{"".join(parts)}</li>'


def variations_html(project: Project, variations: List[Dict[str, Any]]) -> str:
    conditional = any(v.get("condition") for v in variations)
    return f'<ol class="variations">{"".join(variation_html(project, v, conditional) for v in variations)}</ol>'


def node_html(project: Project, key: str, node: Any, depth: int) -> str:
    """One key of a content file, whatever its shape: texts, variations, buttons, data."""
    heading = f'<h{min(depth, 6)} class="key">{esc(key)}</h{min(depth, 6)}>' if key else ""
    if key in DATA_KEYS:
        return data_line(key, node)
    if key == "payload":
        return ""
    if isinstance(node, str):
        return heading + text_box(node)
    if is_button(node):
        extra = {k: v for k, v in node.items() if k not in ("title", "payload")}
        return heading + buttons_html([node]) + (data_line("with it", extra) if extra else "")
    if isinstance(node, list):
        if node and all(isinstance(item, str) for item in node):
            note = '<p class="note">One of these is picked:</p>' if len(node) > 1 else ""
            items = "".join(f'<li class="variation">{text_box(item)}</li>' for item in node)
            return f'{heading}{note}<ol class="variations">{items}</ol>'
        if node and all(isinstance(item, dict) and "text" in item for item in node):
            return heading + variations_html(project, node)
        if node and all(is_button(item) for item in node):
            return heading + "".join(node_html(project, "", item, depth + 1) for item in node)
        return heading + "".join(node_html(project, "", item, depth + 1) for item in node)
    if isinstance(node, dict):
        return heading + "".join(node_html(project, str(k), v, depth + 1) for k, v in node.items())
    return f'<p class="data"><span class="label">{esc(key)}:</span> {esc(node)}</p>'


# Numbers and dates are never broken across lines; addresses may be, anywhere.
CELL_CLASS = {"phone": "num", "sms": "num", "hours": "num", "last_checked": "num", "url": "url", "source": "url"}


def crisis_line_row(line: Dict[str, Any], kind: str, columns: List[Tuple[str, str]]) -> str:
    cells = [f"<td>{esc(kind)}</td>"]
    for field, _ in columns:
        value = line.get(field)
        cls = f' class="{CELL_CLASS[field]}"' if field in CELL_CLASS else ""
        cells.append(f"<td{cls}>{esc(value) if value not in (None, '') else '—'}</td>")
    return f'<tr class="line">{"".join(cells)}</tr>'


# Columns of the crisis-line tables in reading order; fields a newer crisis_lines.yml adds
# come after them, so nothing in the file is left off.
LINE_COLUMNS = [("service", "Service"), ("phone", "Call"), ("sms", "Text"), ("sms_body", "Text the word"),
                ("hours", "Hours"), ("description", "Note"), ("url", "Website"), ("source", "Source"),
                ("last_checked", "Last checked")]


def line_columns(lines: List[Dict[str, Any]]) -> List[Tuple[str, str]]:
    """The columns for these lines: the fields any of them has (service, source and date always)."""
    fields = set()
    for line in lines:
        fields |= set(line)
    known = [c for c in LINE_COLUMNS if c[0] in fields or c[0] in ("service", "source", "last_checked")]
    return known + [(f, f) for f in sorted(fields - {c[0] for c in LINE_COLUMNS})]


# -- the sections --------------------------------------------------------------------------------

def how_to_read() -> str:
    return """<section class="major" id="how-to-read"><h2>How to read this sheet</h2>
<ul>
<li>Each <b>response</b> is one thing Willow can say, with its name (as in <code>domain/</code>). When it has
several <b>variations</b>, Willow sends one of them: a variation with a condition only when the
condition holds (for example “In Spanish, when the country is Canada (CA)”), the others otherwise, and
within a conversation one that has not been sent yet (<code>willow/nlg.py</code>).</li>
<li><b>Buttons</b> are shown with the words on them; a person can tap one instead of typing.</li>
<li><b>Rests on</b> lists the points of the source explainer (<code>content/points.yml</code>) an answer
relies on. Answers that say nothing about crying in therapy (greetings, questions, the crisis layer) are
marked as not informational: the crisis layer follows safe-messaging guidance, not the explainer.</li>
<li><b>Sent</b> says when: the rules and stories (<code>data/</code>) that send a response, the form that
asks it, or the custom action that sends it.</li>
<li>Texts the custom actions combine are listed per file of <code>content/</code>; the action puts
one picked variation of each part together. Words in braces, such as <code>{frequency}</code>, are
filled in when the message is sent (the person's own words, a country's number).</li>
<li>Grey lines marked “recognised or used to decide” are words Willow listens for or decision data,
shown so the context is complete; Willow does not send them.</li>
</ul>
<p>To ask for a change, note the response name (or file and key) and the variation number.</p>
</section>"""


def points_section(project: Project) -> str:
    used: Dict[str, List[str]] = {point: [] for point in project.points}
    for name, ids in (project.provenance.get("responses") or {}).items():
        for point in ids or []:
            used.setdefault(point, []).append(f'<a href="#r-{anchor(name)}">{esc(name)}</a>')
    for name, mapped in (project.provenance.get("content") or {}).items():
        parts = mapped.items() if isinstance(mapped, dict) else [(None, mapped)]
        for key, ids in parts:
            label = f"content/{name}.yml" + (f": {key}" if key else "")
            for point in ids or []:
                used.setdefault(point, []).append(f'<a href="#c-{anchor(name)}">{esc(label)}</a>')
    rows = []
    for point, spec in project.points.items():
        rows.append(f'<tr id="point-{anchor(point)}"><td><b>{esc(spec["title"])}</b><br>'
                    f'<span class="id">{esc(point)}</span></td><td>{esc(spec["summary"])}</td>'
                    f'<td>{", ".join(used.get(point) or []) or "—"}</td></tr>')
    return f"""<section class="major" id="points"><h2>The source points</h2>
<div class="filenote">{esc(leading_comment(project.root / "content" / "points.yml"))}</div>
<p>Willow's knowledge is one short explainer on crying in therapy. These are its points in the project's
own words; every informational answer is tied to some of them in <code>content/provenance.yml</code>.</p>
<table><thead><tr><th>Point</th><th>What it says</th><th>Answers that rest on it</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></section>"""


def response_article(project: Project, name: str, sent: List[str]) -> str:
    ids = project.points_of_response(name)
    if ids is not None:
        basis = f'<p class="label">Rests on:</p>{points_html(project, ids)}'
    elif project.is_classified(name):
        basis = '<p class="basis">Not informational: says nothing about crying in therapy itself.</p>'
    else:
        basis = '<p class="basis problem">Not classified in content/provenance.yml (make provenance fails).</p>'
    if sent:
        shown = sent[:6] + ([f"and {len(sent) - 6} more"] if len(sent) > 6 else [])
        when = f'<p class="sent"><span class="label">Sent:</span> {esc("; ".join(shown))}</p>'
    else:
        when = '<p class="sent"><span class="label">Sent:</span> no rule, story, form or action names it</p>'
    variations = project.responses[name]
    count = f'{len(variations)} variation{"s" if len(variations) != 1 else ""}'
    return (f'<article class="response" id="r-{anchor(name)}"><h3>{esc(name)} <span class="count">{count}</span></h3>'
            f'{basis}{when}{variations_html(project, variations)}</article>')


def title_of(stem: str) -> str:
    return stem.replace("_", " ").capitalize()


def response_sections(project: Project) -> Tuple[str, List[Tuple[str, str]]]:
    sent = project.sent_when()
    html_parts, toc = [], []
    for stem, data in project.domain_files.items():
        names = list((data.get("responses") or {}))
        if not names:
            continue
        section_id = f"domain-{anchor(stem)}"
        title = f"{title_of(stem)} (domain/{stem}.yml)"
        toc.append((section_id, f"{title} ({len(names)})"))
        articles = "".join(response_article(project, name, sent[name]) for name in names)
        html_parts.append(
            f'<section class="major" id="{section_id}"><h2>{esc(title)}</h2>'
            f'<div class="filenote">{esc(leading_comment(project.root / "domain" / f"{stem}.yml"))}</div>'
            f'{articles}</section>')
    return "".join(html_parts), toc


def replies_for_country(project: Project, name: str, code: Optional[str]) -> List[Dict[str, Any]]:
    """The English variations of ``name`` for the country ``code`` (None: country unknown)."""
    found = []
    for variation in project.responses.get(name) or []:
        slots = {c.get("name"): c.get("value") for c in variation.get("condition") or []}
        if slots.get("language", "en") != "en":
            continue
        if code is None and "country" not in slots or code is not None and slots.get("country") == code:
            found.append(variation)
    return found


def crisis_section(project: Project) -> str:
    parts = [f'<section class="major" id="crisis-lines"><h2>Crisis lines and crisis replies by country</h2>'
             f'<div class="filenote">{esc(leading_comment(project.root / "content" / "crisis_lines.yml"))}</div>'
             '<p>Read from <code>content/crisis_lines.yml</code>; the replies are generated from it into '
             '<code>domain/crisis_responses.yml</code> (<code>make crisis-responses</code>). Please check each '
             'number against its source before signing.</p>']
    international = project.lines.get("international") or {}
    if international:
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in international.items())
        parts.append(f'<h3>Anywhere: the international directory</h3><table class="facts">{rows}</table>')
    names = project.country_names()
    defaults = project.lines.get("default_countries") or []
    parts.append('<h3 id="country-unknown">When Willow does not know the country</h3>'
                 '<p>The lines of these countries are shown: '
                 f'{esc(", ".join(f"{names.get(c, c)} ({c})" for c in defaults))}.</p>')
    for name in ("utter_crisis", "utter_crisis_line"):
        parts.append(f'<p class="label">{esc(name)}, in English:</p>'
                     + variations_html(project, replies_for_country(project, name, None)))
    for country in project.lines.get("countries") or []:
        code = country.get("code")
        columns = line_columns((country.get("lines") or []) + (country.get("abuse_lines") or []))
        head = "".join(f"<th>{esc(label)}</th>" for _, label in columns)
        rows = [crisis_line_row(line, "crisis line", columns) for line in country.get("lines") or []]
        rows += [crisis_line_row(line, "abuse line", columns) for line in country.get("abuse_lines") or []]
        facts = [("Emergency number", country.get("emergency", "—"))]
        if country.get("called"):
            facts.append(("In a sentence", country["called"]))
        if country.get("emergency_source"):
            facts.append(("Emergency number checked at", country["emergency_source"]))
        known = {"code", "name", "called", "aliases", "emergency", "emergency_source", "lines", "abuse_lines"}
        facts += [(key, country[key]) for key in sorted(set(country) - known)]
        if not country.get("lines"):
            facts.append(("Crisis line", "none confirmed yet: the reply gives the directory and the emergency number"))
        fact_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
        parts.append(
            f'<article class="country" id="country-{anchor(str(code))}"><h3>{esc(country.get("name", code))} ({esc(code)})</h3>'
            f'<table class="facts">{fact_rows}</table>'
            f'{data_line("Recognised from", country.get("aliases") or [], "what a person may write; not sent")}'
            f'<table class="lines"><thead><tr><th>Kind</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
        for name in ("utter_crisis", "utter_crisis_line"):
            found = replies_for_country(project, name, code)
            parts.append(f'<p class="label">{esc(name)} when the country is {esc(country.get("name", code))}, in English:</p>')
            parts.append(variations_html(project, found) if found else
                         '<p class="problem">No generated variation for this country: run make crisis-responses.</p>')
        parts.append("</article>")
    home = project.response_file.get("utter_crisis", "")
    parts.append('<p>Every variation of the crisis replies, in every language, is under '
                 f'<a href="#domain-{anchor(home)}">{esc(title_of(home))} (domain/{esc(home)}.yml)</a>.</p></section>')
    return "".join(parts)


def safety_check_section(project: Project) -> str:
    table = project.content.get("safety_check")
    if not table:
        return ""
    kinds = list(table.get("answers") or {})
    questions = []
    for question in table.get("questions") or {}:
        rows = []
        for kind in kinds:
            try:
                sent = safety_check.responses_for(table, question, kind)
            except ValueError:  # willow/safety_check.py's own check reports it
                sent = []
            then = " then ".join(f'<a href="#r-{anchor(n)}">{esc(n)}</a>' for n in sent) or "—"
            rows.append(f"<tr><th>{esc(kind)}</th><td>{then}</td></tr>")
        questions.append(f'<h4>After <a href="#r-{anchor(question)}">{esc(question)}</a></h4>'
                         f'<table class="facts"><thead><tr><th>They answer</th><th>Willow sends</th></tr></thead>'
                         f'<tbody>{"".join(rows)}</tbody></table>')
    kind_rows = "".join(f"<tr><th>{esc(kind)}</th><td>{esc(', '.join(intents))}</td></tr>"
                        for kind, intents in (table.get("answers") or {}).items())
    return (f'<section class="major" id="safety-check"><h2>The safety check after a crisis reply</h2>'
            f'<div class="filenote">{esc(leading_comment(project.root / "content" / "safety_check.yml"))}</div>'
            f'<h3>Kinds of answer (the intents that mean each)</h3><table class="facts">{kind_rows}</table>'
            f'{data_line("own_rules", table.get("own_rules") or [])}'
            f'<h3>What Willow sends next, after each question</h3>{"".join(questions)}</section>')


def provenance_of_content(project: Project, name: str) -> str:
    mapped = (project.provenance.get("content") or {}).get(name)
    speakers = [a for a, f in (project.provenance.get("actions") or {}).items() if f == name]
    verb = "speaks" if len(speakers) == 1 else "speak"
    lead = f'<p class="basis">{esc(", ".join(speakers))} {verb} from this file.</p>' if speakers else ""
    if mapped is None:
        skipped = (project.provenance.get("not_informational") or {}).get("content") or []
        return lead + ('<p class="basis">Not informational: not from the explainer.</p>' if name in skipped else
                       '<p class="basis problem">Not classified in content/provenance.yml.</p>')
    if isinstance(mapped, dict):
        return lead + '<p class="basis">Each part below says which points it rests on.</p>'
    return lead + f'<p class="label">Rests on:</p>{points_html(project, list(mapped or []))}'


def readers_html(project: Project, name: str) -> str:
    readers = project.readers(name)
    if not readers:
        return '<p class="readers">No module reads this file by name.</p>'
    items = "".join(
        f'<li><code>{esc(m["path"])}</code>{(" (" + esc(", ".join(m["actions"])) + ")") if m["actions"] else ""}'
        f'{(": " + esc(" ".join(m["doc"].split()))) if m["doc"] else ""}</li>' for m in readers)
    return f'<p class="label">Read by (found in the code):</p><ul class="readers">{items}</ul>'


def content_article(project: Project, name: str, data: Any) -> str:
    path = project.root / "content" / f"{name}.yml"
    mapped = (project.provenance.get("content") or {}).get(name)
    if name in SHOWN_ELSEWHERE:
        body = f'<p>Shown in <a href="#{SHOWN_ELSEWHERE[name]}">its own section</a>.</p>'
    elif name in NOT_TEXT_FILES or name == "safety_check":
        body = safety_note(name)
    elif isinstance(mapped, dict) and isinstance(data, dict):
        # Mapped part by part: each part's points under its name.
        body = "".join(
            data_line(key, value) if key in DATA_KEYS else
            f'<h4 class="key">{esc(key)}</h4><p class="label">Rests on:</p>'
            f'{points_html(project, list(mapped.get(key) or [])) if mapped.get(key) else "<p class=problem>no point</p>"}'
            f'{node_html(project, "", value, 5)}' for key, value in data.items())
    else:
        body = node_html(project, "", data, 4)
    return (f'<article class="content" id="c-{anchor(name)}"><h3>content/{esc(name)}.yml</h3>'
            f'{readers_html(project, name)}<div class="filenote">{esc(leading_comment(path))}</div>'
            f'{provenance_of_content(project, name) if name not in SHOWN_ELSEWHERE else ""}{body}</article>')


def safety_note(name: str) -> str:
    if name == "safety_check":
        return '<p>Shown as a table in <a href="#safety-check">The safety check</a>.</p>'
    return ('<p>Patterns Willow recognises risk by, not texts it sends. They are reviewed with their '
            'held-out tests (<code>make safety-eval</code>), not on this sheet.</p>')


def content_sections(project: Project) -> Tuple[str, List[Tuple[str, str]]]:
    by_actions = [n for n in project.content if any(m["path"].startswith("actions/") for m in project.readers(n))]
    others = [n for n in project.content if n not in by_actions]
    parts = ['<section class="major" id="action-texts"><h2>Texts the custom actions combine</h2>'
             '<p>These files of <code>content/</code> are read by the custom actions (<code>actions/</code>), '
             'which pick one variation of each part and put the parts together, tailored to the conversation. '
             'Each file starts with its authors\' note on how it is used.</p>']
    parts += [content_article(project, n, project.content[n]) for n in by_actions]
    parts.append('</section><section class="major" id="other-content"><h2>The rest of content/: '
                 'the crisis layer\'s wording, translations and tables</h2>'
                 '<p>Read when the crisis responses and safety-check rules are generated, or by the Rasa server '
                 'itself; the generated texts are under the responses above.</p>')
    parts += [content_article(project, n, project.content[n]) for n in others]
    for code, data in project.languages.items():
        shown = {k: v for k, v in (data or {}).items() if k not in LANGUAGE_PATTERN_KEYS | {"code", "name"}}
        parts.append(
            f'<article class="content" id="c-language-{anchor(code)}"><h3>content/languages/{esc(code)}.yml: '
            f'{esc(language_name(code))} ({esc((data or {}).get("name", code))})</h3>{readers_html(project, "languages")}'
            '<p class="basis">The replies used when risk is written in this language; its risk patterns are '
            'not texts and are not shown.</p>'
            f'{node_html(project, "", shown, 4)}</article>')
    parts.append("</section>")
    toc = [("action-texts", f"Texts the custom actions combine ({len(by_actions)} files)"),
           ("other-content", f"The rest of content/ ({len(others)} files, {len(project.languages)} languages)")]
    return "".join(parts), toc


# -- counts and the whole page -----------------------------------------------------------------------

def content_text_count(project: Project) -> int:
    """Texts shown from content/ (not data, not the files shown in other sections)."""
    def count(key: str, node: Any) -> int:
        if key in DATA_KEYS or key == "payload":
            return 0
        if isinstance(node, str):
            return 1
        if isinstance(node, list):
            return sum(count("", item) for item in node)
        if isinstance(node, dict):
            return sum(count(str(k), v) for k, v in node.items())
        return 0
    files = [d for n, d in project.content.items()
             if n not in SHOWN_ELSEWHERE and n not in NOT_TEXT_FILES and n != "safety_check"]
    files += [{k: v for k, v in (d or {}).items() if k not in LANGUAGE_PATTERN_KEYS | {"code", "name"}}
              for d in project.languages.values()]
    return sum(count("", d) for d in files)


def counts(project: Project) -> Dict[str, int]:
    countries = project.lines.get("countries") or []
    return {
        "responses": len(project.responses),
        "variations": sum(len(v) for v in project.responses.values()),
        "content_texts": content_text_count(project),
        "crisis_lines": sum(len(c.get("lines") or []) + len(c.get("abuse_lines") or []) for c in countries),
        "countries": len(countries),
    }


STYLE = """
body { font: 10.5pt/1.45 "Helvetica Neue", Arial, sans-serif; color: #111; max-width: 52em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { font-size: 1.35em; border-bottom: 2px solid #335; padding-bottom: .2em; }
h3 { font-size: 1.1em; margin: 1.4em 0 .3em; } h4, h5, h6 { font-size: 1em; margin: .8em 0 .2em; }
code, .id, .key { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: .92em; }
.key { color: #335; }
.count { font-weight: normal; color: #555; font-size: .85em; }
.text { white-space: pre-wrap; border-left: 3px solid #6a8; background: #f4f8f5; padding: .35em .6em; margin: .2em 0 .4em; }
.filenote { white-space: pre-wrap; font-size: .88em; color: #333; background: #f3f3f6; padding: .4em .6em; margin: .4em 0; }
.when { font-weight: bold; margin: .5em 0 0; font-size: .92em; }
.note, .label { font-weight: bold; font-size: .92em; margin: .4em 0 .1em; }
.data, .sent, .readers, .basis { font-size: .88em; color: #444; margin: .25em 0; }
.button { display: inline-block; border: 1px solid #557; border-radius: .8em; padding: 0 .6em; margin: .1em .2em; font-size: .9em; }
.problem { color: #a00; font-weight: bold; }
.points, .parts { margin: .2em 0 .4em; padding-left: 1.4em; font-size: .92em; }
ol.variations { padding-left: 1.6em; margin: .3em 0; }
article { margin: 1.2em 0; padding-top: .4em; border-top: 1px solid #ccd; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; font-size: .9em; }
th, td { border: 1px solid #99a; padding: .25em .4em; text-align: left; vertical-align: top; overflow-wrap: break-word; }
thead th { background: #e8e8f0; }
table.facts { width: auto; } table.facts th { background: #f0f0f4; white-space: nowrap; }
td.num { white-space: nowrap; } table.lines td.url { overflow-wrap: anywhere; }
.signoff td { height: 2.2em; } .signoff th { width: 13em; }
.purpose { font-size: 1.02em; }
nav ol { columns: 2; font-size: .95em; }
a { color: #224; }
@page { size: A4; margin: 16mm 14mm 18mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9.5pt; }
  .major { break-before: page; }
  nav { break-after: page; }
  li.variation, tr, .text, table.facts { break-inside: avoid; }
  h2, h3, h4, .when, .label { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def header(project: Project, fingerprint: str, toc: List[Tuple[str, str]], numbers: Dict[str, int]) -> str:
    build = project.build()
    toc_items = "".join(f'<li><a href="#{sid}">{esc(title)}</a></li>' for sid, title in toc)
    return f"""<header>
<h1>Willow: what it says</h1>
<p><b>Content review sheet for clinical sign-off</b></p>
<p class="purpose">Willow is an automated assistant for people who cried (or didn't) in therapy. It is not a
therapist. Before a clinic deploys it, a clinician reads everything Willow can send and signs off that it is
safe and appropriate: a clinical safety review in the spirit of UK DCB0129, which asks health IT suppliers to
assess the risks of what their system does. This sheet lists, from the project's own files, every response and
variation, the source points each answer rests on, the crisis lines and replies for every country Willow
knows, the safety check that follows a crisis reply, and the texts the custom actions put together. Nothing
here is a hand-kept copy: <code>make content-review</code> writes it, and the tests fail when it is out of date.</p>
<table class="facts">
{BUILD_START}<tr><th>Git commit</th><td><code>{esc(build["commit"])}</code></td></tr>
<tr><th>Commit date</th><td>{esc(build["date"])}</td></tr>
<tr><th>Uncommitted changes</th><td>{esc(build["changed"])}</td></tr>{BUILD_END}
<tr><th>Sheet fingerprint</th><td><code>{fingerprint}</code> (SHA-256 of everything below the contents;
the same texts give the same fingerprint)</td></tr>
<tr><th>In this sheet</th><td>{numbers["responses"]} responses with {numbers["variations"]} variations;
{numbers["content_texts"]} texts from content/; {numbers["crisis_lines"]} crisis lines in {numbers["countries"]} countries</td></tr>
</table>
<section class="signoff-block"><h2>Sign-off</h2>
<p>I have reviewed every text in this sheet (fingerprint above) and the crisis lines against their sources.</p>
<table class="signoff">
<tr><th>Name</th><td></td></tr>
<tr><th>Role and professional registration</th><td></td></tr>
<tr><th>Organisation or clinic</th><td></td></tr>
<tr><th>Decision</th><td>☐ approved &nbsp; ☐ approved with the changes noted &nbsp; ☐ not approved</td></tr>
<tr><th>Changes requested (response name, variation)</th><td style="height:6em"></td></tr>
<tr><th>Date</th><td></td></tr>
<tr><th>Signature</th><td style="height:3.5em"></td></tr>
</table></section>
<nav><h2>Contents</h2><ol>{toc_items}</ol></nav>
</header>"""


def render(root: Path = ROOT) -> str:
    project = Project(root)
    responses_html, response_toc = response_sections(project)
    contents_html, contents_toc = content_sections(project)
    body = "".join([how_to_read(), points_section(project), responses_html, crisis_section(project),
                    safety_check_section(project), contents_html])
    toc = ([("how-to-read", "How to read this sheet"), ("points", "The source points")] + response_toc
           + [("crisis-lines", f"Crisis lines and crisis replies by country ({counts(project)['countries']})"),
              ("safety-check", "The safety check after a crisis reply")] + contents_toc)
    fingerprint = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>Willow: content review sheet</title><style>{STYLE}</style></head>\n<body>\n'
            f'{header(project, fingerprint, toc, counts(project))}\n<main>\n{body}\n</main>\n</body></html>\n')


def without_build(page: str) -> str:
    return BUILD_BLOCK.sub("", page)


def main(argv: Optional[List[str]] = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help=f"where to write (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date, write nothing")
    args = parser.parse_args(argv)
    out = args.out or root / "docs" / "content-review.html"
    page = render(root)
    if args.check:
        if not out.exists() or without_build(out.read_text(encoding="utf-8")) != without_build(page):
            print(f"{out.relative_to(root) if out.is_relative_to(root) else out} is out of date: run `{COMMAND}`")
            return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    print(f"Wrote {out.relative_to(root) if out.is_relative_to(root) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
