"""axe-core (the npm package `make web` installs, never a CDN) run in the page Playwright drives, with
the WCAG 2.2 A/AA rule tags. Each audited state's counts go to test-artifacts/axe-results.md."""
from __future__ import annotations

import json
from urllib.parse import urlsplit
from typing import Any, Dict

from tests.conftest import ARTIFACTS, ROOT

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RESULTS_JSON = ARTIFACTS / "axe-results.json"  # every state audited so far (one test run can audit a few)
RESULTS_MD = ARTIFACTS / "axe-results.md"


def audit(page, state: str) -> Dict[str, Any]:
    """Runs axe on the whole page as it is now; returns axe's results and records their counts."""
    assert AXE.exists(), "axe-core is missing: run make web"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    # The widget's stylesheet tells where Willow's files are, on its own page and on a host page.
    widget = page.evaluate("document.querySelector('link[href$=\"willow-chat.css\"]').href")
    record(state, page.url, widget, page.viewport_size, results)
    return results


def describe(violations) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in violations)


def assert_no_violations(page, state: str) -> Dict[str, Any]:
    results = audit(page, state)
    assert results["violations"] == [], f"{state}:\n{describe(results['violations'])}"
    assert results["passes"], f"{state}: axe checked nothing"  # the audit really ran on this page
    return results


def record(state: str, url: str, willow_origin: str, page_size: Dict[str, int], results: Dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        states = json.loads(RESULTS_JSON.read_text())
    except (OSError, ValueError):
        states = {}
    states[state] = {
        "page": "host page (another origin)" if urlsplit(url).port != urlsplit(willow_origin).port else "Willow's page",
        "viewport": "{width}x{height}".format(**page_size),
        "axe": results["testEngine"]["version"],
        "passes": len(results["passes"]),
        "violations": len(results["violations"]),
        "violation_nodes": sum(len(v["nodes"]) for v in results["violations"]),
        "incomplete": len(results["incomplete"]),
        "inapplicable": len(results["inapplicable"]),
        "violated": sorted(v["id"] for v in results["violations"]),
        "to_review": sorted(v["id"] for v in results["incomplete"]),
    }
    RESULTS_JSON.write_text(json.dumps(states, indent=2))
    lines = [
        "# axe-core results",
        "",
        f"Tags: {', '.join(TAGS)}. Counts are rules (axe's passes, violations, incomplete = needs a person "
        "to review, inapplicable); written by tests/web (test_accessibility.py, test_embed.py).",
        "",
        "| state | page | viewport | axe | passes | violations | incomplete | inapplicable | incomplete rules |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in states.items():
        lines.append(f"| {name} | {s['page']} | {s['viewport']} | {s['axe']} | {s['passes']} | {s['violations']}"
                     f"{' (' + ', '.join(s['violated']) + ')' if s['violated'] else ''} | {s['incomplete']} | "
                     f"{s['inapplicable']} | {', '.join(s['to_review']) or '-'} |")
    RESULTS_MD.write_text("\n".join(lines) + "\n")
