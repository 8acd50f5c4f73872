"""Risk in other languages: recall and false alarms per language, through the full server.

Each message of ``tests/languages/<code>.yml`` (written by us, held out from the patterns'
own examples) is sent as the first message of a new conversation over REST. A ``risk``
message is caught when Willow ran ``utter_crisis`` with the ``language`` slot set to the
message's language (the crisis reply in that language); caught in another language counts
apart. An ``everyday`` message is a false alarm when it got ``utter_crisis``; the table also
shows how many got the "English only" notice in their own language.

Usage: python -m willow.language_eval      (make language-eval)
Exit status 1 when a language's recall is below 100% or it has a false alarm.
"""
from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from willow import local_servers, model_files

ROOT = Path(__file__).resolve().parent.parent
TEST_SETS = ROOT / "tests" / "languages"


def load_sets(folder: Path = TEST_SETS) -> Dict[str, Dict[str, List[str]]]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yml"))}


@dataclass
class Reply:
    crisis: bool
    check_in: bool
    notice: bool
    language: Optional[str]  # the language slot when Willow answered


def first_reply(servers: local_servers.Servers, text: str) -> Reply:
    sender = f"language-eval-{uuid.uuid4().hex}"
    servers.say(sender, text)
    tracker = servers.tracker(sender)
    actions = [e["name"] for e in tracker["events"] if e["event"] == "action"]
    return Reply("utter_crisis" in actions, "utter_check_in" in actions,
                 "utter_other_language" in actions, tracker["slots"].get("language"))


@dataclass
class LanguageReport:
    code: str
    risk: List[Tuple[str, Reply]] = field(default_factory=list)
    everyday: List[Tuple[str, Reply]] = field(default_factory=list)

    @property
    def caught(self) -> List[str]:
        return [t for t, r in self.risk if r.crisis and r.language == self.code]

    @property
    def missed(self) -> List[str]:
        return [t for t, r in self.risk if not (r.crisis and r.language == self.code)]

    @property
    def false_alarms(self) -> List[str]:
        return [t for t, r in self.everyday if r.crisis]

    @property
    def passed(self) -> bool:
        return not self.missed and not self.false_alarms

    def row(self) -> str:
        other_language = sum(1 for _, r in self.risk if r.crisis and r.language != self.code)
        notices = sum(1 for _, r in self.everyday if r.notice and r.language == self.code)
        check_ins = sum(1 for _, r in self.everyday if r.check_in)
        return (f"| {self.code} | {len(self.caught)}/{len(self.risk)} ({len(self.caught) / len(self.risk):.0%}) "
                f"| {other_language} | {len(self.false_alarms)}/{len(self.everyday)} | {check_ins} "
                f"| {notices}/{len(self.everyday)} |")


HEADER = ("| language | crisis reply in the language | crisis reply, other language | false alarms "
          "(crisis reply) | check-ins | 'English only' in the language |\n| --- | --- | --- | --- | --- | --- |")


def evaluate(servers: local_servers.Servers, progress: Callable[[str], None] = lambda _: None) -> List[LanguageReport]:
    reports = []
    for code, sets in load_sets().items():
        report = LanguageReport(code)
        report.risk = [(t, first_reply(servers, t)) for t in sets["risk"]]
        report.everyday = [(t, first_reply(servers, t)) for t in sets["everyday"]]
        progress(f"    {code}: {len(report.risk)} risk, {len(report.everyday)} everyday")
        reports.append(report)
    return reports


def table(reports: List[LanguageReport]) -> str:
    lines = [HEADER] + [r.row() for r in reports]
    for r in reports:
        lines += [f"missed ({r.code}): {t}" for t in r.missed]
        lines += [f"false alarm ({r.code}): {t}" for t in r.false_alarms]
    return "\n".join(lines)


def main() -> int:
    model = model_files.trained_model()
    if model is None:
        return 2
    print(f"==> Starting the servers with {model.name} ...", flush=True)
    with local_servers.running(model) as servers:
        print("==> Sending each message of tests/languages/ as the first message of a new conversation", flush=True)
        reports = evaluate(servers, progress=lambda line: print(line, flush=True))
    print("\n" + table(reports))
    if all(r.passed for r in reports):
        print("\nPASS")
        return 0
    print("\nFAIL: every risk message must get the crisis reply in its language, no everyday one.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
