"""`make report` on stores filled by real conversations: real servers on a throwaway SQLite store
(and, from `make services`, a throwaway PostgreSQL database), conversations over REST and
socket.io (a crisis, notes, fallbacks, ordinary questions), then the command line as a
subprocess. The figures are checked against what was sent and against the trackers read back
through Rasa's HTTP API (another way in than the report's SQL); cells under 5 must be hidden, and
no message text, sender id or conversation id may appear in the report.

    python -m tests.test_usage_report --sample 300    # rewrites docs/usage-report.md and its charts
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import aiohttp
import pytest

from tests import note_turns
from tests.conftest import ARTIFACTS, ROOT, sqlite_store
from willow import endpoints, load_test, local_servers
from willow import usage_report as report

pytestmark = pytest.mark.slow

LOGS = ARTIFACTS / "usage-report"
# What people send, by kind of conversation. Buttons go as their payloads, as the page sends them.
PLAIN = ["hi", "/cried_in_therapy", "/ask_is_normal", "thanks"]
CRISIS = ["hello", "i want to kill myself"]
FALLBACK = ["/nlu_fallback"]  # the payload: Willow did not understand, whatever the model thinks of a text
NOTE = [text for text, _ in note_turns.TURNS]


@dataclass
class Run:
    users: List[load_test.User]
    trackers: Dict[str, Dict]  # conversation id -> tracker from the HTTP API


async def converse(servers: local_servers.Servers, plan: Sequence[Tuple[str, List[str]]], tag: str) -> List[load_test.User]:
    """Every (channel, texts) of ``plan`` as one simulated person, all at once, with the load test's
    drivers (one message after the previous one is answered; socket.io: after 1 s of quiet)."""
    users = [load_test.User(f"usage-{tag}-{channel}-{n}", channel, list(texts)) for n, (channel, texts) in enumerate(plan)]
    deadline = time.monotonic() + 600
    async with aiohttp.ClientSession() as session:
        limit = asyncio.Semaphore(12)  # a clinic's evening, not a load test

        async def one(user: load_test.User) -> None:
            async with limit:
                if user.channel == "rest":
                    await load_test.rest_user(session, servers.url, user, deadline, 60, 0, servers.rest_token, 30)
                else:
                    await load_test.socketio_user(servers.url, user, deadline, 60, 1.0, 0, 30)

        await asyncio.gather(*(one(u) for u in users))
    return users


def drive(servers: local_servers.Servers, plan: Sequence[Tuple[str, List[str]]]) -> Run:
    users = asyncio.run(converse(servers, plan, uuid.uuid4().hex[:8]))
    problems = [t.error for u in users for t in u.turns if t.error] + [u.failure for u in users if u.failure]
    assert not problems, problems[:5]
    assert all(len(u.turns) == len(u.texts) for u in users)
    return Run(users, {u.conversation: servers.conversation(u.conversation) for u in users})


def run_report(out: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "willow.usage_report", "--out", str(out), *args], cwd=ROOT,
                            env={**local_servers.ENV, **(env or {})}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


# --- what the test knows, independently of the report ---------------------------------------------


def expected(run: Run) -> Dict[str, Counter]:
    """Counts from what was sent (conversations, messages, channels, lengths) and from the trackers
    (what Willow understood and did), grouped as the report's tables are."""
    topics = report.topics_from_nlu()
    out = {name: Counter() for name in ("summary", "channels", "lengths", "topics", "days", "hours")}
    for user in run.users:
        out["summary"]["conversations"] += 1
        out["summary"]["messages from people"] += len(user.texts)
        out["channels"]["REST" if user.channel == "rest" else "web chat (socket.io)"] += 1
        n = len(user.texts)
        out["lengths"][next(report.bucket_label(lo, hi) for lo, hi in report.BUCKETS
                            if n >= lo and (hi is None or n <= hi))] += 1
    for tracker in run.trackers.values():
        said = [e for e in tracker["events"] if e["event"] == "user"]
        did = [e["name"] for e in tracker["events"] if e["event"] == "action"]
        out["days"][str(datetime.fromtimestamp(said[0]["timestamp"], timezone.utc).date())] += 1
        for event in said:
            intent = event["parse_data"]["intent"]["name"]
            out["topics"][report.NOT_UNDERSTOOD if intent == "nlu_fallback" else topics.get(intent, "other")] += 1
            out["hours"][f"{datetime.fromtimestamp(event['timestamp'], timezone.utc).hour:02d}:00"] += 1
        out["summary"]["crisis replies"] += did.count("utter_crisis")
        out["summary"]["safety check questions"] += sum(a.startswith("utter_ask_safe") for a in did)
        out["summary"]["check-ins (possible risk)"] += did.count("utter_check_in")
        out["summary"]["notes for the next session prepared"] += did.count("action_write_note")
    return out


def section(text: str, title: str) -> Dict[str, str]:
    """The first column -> second column of the table under ``## title``."""
    part = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in part.splitlines() if line.startswith("| ") and "---" not in line]
    return {cells[0].strip(): cells[1].strip() for cells in rows[1:]}


def check_table(shown: Dict[str, str], counts: Counter, name: str, whole: Optional[int] = None) -> None:
    """Every count under 5 (zero too) is hidden and every shown count is right; in a table of parts
    of a whole, every part is a row and the hidden ones come to 5 or more together, so subtracting
    the shown rows from the whole gives nothing small away."""
    for key, text in shown.items():
        if counts[key] < report.SMALL:
            assert text == report.HIDDEN, (name, key, text)
        elif text != report.HIDDEN:
            assert int(text.replace(",", "")) == counts[key], (name, key, text, counts[key])
    if whole is not None:
        assert set(counts) <= set(shown) and sum(counts[k] for k in shown) == whole, (name, shown, counts)
        hidden = [counts[k] for k, t in shown.items() if t == report.HIDDEN]
        assert not hidden or sum(hidden) >= report.SMALL, (name, hidden)


def check_report(out: Path, result: subprocess.CompletedProcess, run: Run, store: str,
                 secrets: Sequence[str] = ()) -> str:
    text = out.read_text()
    assert f"Tracker store: {store}" in text and "Small numbers are hidden" in text
    want = expected(run)
    messages = want["summary"]["messages from people"]
    conversations = want["summary"]["conversations"]
    check_table(section(text, "Summary"), want["summary"], "summary")
    check_table(section(text, "Channels"), want["channels"], "channels", conversations)
    check_table(section(text, "Messages per conversation"), want["lengths"], "lengths", conversations)
    check_table(section(text, "Topics"), want["topics"], "topics", messages)
    check_table(section(text, "Conversations per day"), want["days"], "days", conversations)
    check_table(section(text, "Busiest hours"), want["hours"], "hours", messages)
    # The fallback rate, when shown, is what the trackers say.
    fallback = section(text, "Fallback and other struggles")["**whole period**"]  # its first rate column
    if fallback != report.HIDDEN:
        assert fallback == f"{100 * want['topics'][report.NOT_UNDERSTOOD] / messages:.1f}%"

    # Nothing anyone wrote, no sender id, no conversation id: not in the report, not on the console.
    everything = text + result.stdout + result.stderr
    words = {t for u in run.users for t in u.texts if len(t) >= 8 and not t.startswith("/")}
    assert words and not [w for w in words if w in everything]
    ids = {u.sender for u in run.users} | {u.conversation for u in run.users}
    ids |= {u.conversation.split(":", 1)[1] for u in run.users}
    assert not [i for i in ids if i in everything]
    assert not [s for s in secrets if s and s in everything]

    charts = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(charts) == len(report.CHARTS)
    import matplotlib.image

    for name in charts:
        path = out.parent / name
        assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        height, width = matplotlib.image.imread(path).shape[:2]
        assert height >= 100 and width >= 100, name
    return text


# --- SQLite, the default ---------------------------------------------------------------------------

SQLITE_PLAN = ([("rest", PLAIN)] * 6 + [("rest", CRISIS)] * 5 + [("rest", FALLBACK)] * 6
               + [("socketio", PLAIN)] * 5 + [("socketio", NOTE)] * 2 + [("socketio", CRISIS)])


@pytest.fixture(scope="module")
def sqlite_run(model_path) -> Iterator[Tuple[Path, Run]]:
    store = sqlite_store(LOGS / "sqlite-store")
    with local_servers.running(model_path, LOGS / "sqlite", endpoints=store.endpoints) as servers:
        run = drive(servers, SQLITE_PLAN)
        yield store.db, run


def test_report_on_sqlite_matches_what_was_sent_and_hides_small_cells(sqlite_run, tmp_path):
    db, run = sqlite_run
    want = expected(run)
    # What the plan guarantees, so that the report has both shown and hidden cells to check.
    assert want["summary"]["crisis replies"] == 6  # one for each "i want to kill myself"
    assert want["summary"]["notes for the next session prepared"] == 2
    assert want["topics"][report.NOT_UNDERSTOOD] >= 6
    # While Rasa is still serving the store (it holds the SQLite lock; the report only reads).
    out = tmp_path / "report" / "usage.md"
    result = run_report(out, "--db", str(db))
    text = check_report(out, result, run, "SQLite")
    assert "| conversations | 25 |" in text and "| crisis replies | 6 |" in text
    assert "| notes for the next session prepared | hidden |" in text  # 2
    assert "| 5-9 | hidden |" in text  # the two notes' conversations
    assert "| REST | 17 | 68.0% |" in text and "| web chat (socket.io) | 8 | 32.0% |" in text
    assert "[report] reading the SQLite tracker store" in result.stderr
    assert str(db) not in text


def test_make_report_reads_the_store_make_run_uses(sqlite_run, tmp_path):
    """The environment variables `make run` reads choose the store; REPORT chooses the file."""
    db, run = sqlite_run
    out = tmp_path / "make" / "report.md"
    result = subprocess.run(["make", "--no-print-directory", "-s", "report", f"REPORT={out}"], cwd=ROOT,
                            env={**local_servers.ENV, "WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(db)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    check_report(out, result, run, "SQLite")


# --- PostgreSQL, from `make services` --------------------------------------------------------------

POSTGRES_PLAN = ([("rest", PLAIN)] * 5 + [("rest", CRISIS)] * 5 + [("socketio", FALLBACK)] * 3
                 + [("socketio", PLAIN)] * 2)


@pytest.fixture(scope="module")
def postgres_run(model_path) -> Iterator[Tuple[Dict[str, str], Run]]:
    from tests.test_persistence import throwaway_database

    with throwaway_database("willow_report") as env:
        source = endpoints.write(LOGS / "postgres" / "source-endpoints.yml", env=env)
        with local_servers.running(model_path, LOGS / "postgres", endpoints=source, env=env) as servers:
            yield env, drive(servers, POSTGRES_PLAN)


def test_report_on_postgres_matches_what_was_sent(postgres_run, tmp_path):
    env, run = postgres_run
    out = tmp_path / "pg.md"
    result = run_report(out, env=env)  # chosen by WILLOW_TRACKER_STORE=postgres and POSTGRES_*
    text = check_report(out, result, run, "PostgreSQL",
                        secrets=[env["POSTGRES_PASSWORD"], env["POSTGRES_DB"], f":{env['POSTGRES_PORT']}"])
    assert "| conversations | 15 |" in text and "| crisis replies | 5 |" in text
    assert "| REST | 10 |" in text and "| web chat (socket.io) | 5 |" in text


# --- the sample in docs/ ---------------------------------------------------------------------------

# Weights of the kinds of conversation in the sample: mostly the load test's everyday paths.
SAMPLE_KINDS = [(path, 10) for path in load_test.PATHS] + [
    (CRISIS, 6), (["i keep crying in therapy", "/ask_why_cry", "i want to die", "/deny"], 2),
    (NOTE, 5), (FALLBACK + ["/cried_in_therapy", "thanks"], 8),
    (["my dog died last week and i can't stop thinking about it, everything feels heavy", "thanks"], 8),
    (["hi", "i can't do this anymore", "no", "thanks"], 3),
]


def sample(count: int, out: Path, seed: int = 16, spread_days: int = 0) -> int:
    """Runs ``count`` simulated conversations (a quarter over socket.io) on fresh servers and a
    throwaway SQLite store, then writes the report. ``spread_days`` moves each conversation by a
    random number of days and hours back in time afterwards (the run itself takes minutes), so that
    the day, week and hour charts have something to show; the report says nothing about that."""
    import sqlite3
    from contextlib import closing

    rng = random.Random(seed)
    kinds, weights = zip(*SAMPLE_KINDS)
    plan = [("socketio" if rng.random() < 0.25 else "rest", list(rng.choices(kinds, weights)[0])) for _ in range(count)]
    store = sqlite_store(LOGS / "sample-store")
    from willow import model_files

    with local_servers.running(model_files.model_path(), LOGS / "sample", endpoints=store.endpoints) as servers:
        users = asyncio.run(converse(servers, plan, "sample"))
    errors = sum(1 for u in users for t in u.turns if t.error)
    print(f"{len(users)} conversations, {sum(len(u.turns) for u in users)} messages, {errors} errors", file=sys.stderr)
    if spread_days:
        with closing(sqlite3.connect(store.db)) as connection, connection:
            senders = [row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")]
            now = datetime.now(timezone.utc).hour
            for sender in senders:
                # Each conversation moved to an hour of some earlier day, evenings likelier (people
                # write after their sessions): whole hours back, so its order and pace stay as run.
                hour = rng.choice([8, 10, 12, 13, 15, 16, 17, 17, 18, 18, 19, 19, 20, 20, 20, 21, 21, 22, 23])
                shift = (1 + rng.randrange(spread_days)) * 86400 + ((now - hour) % 24) * 3600
                connection.execute("UPDATE events SET timestamp = timestamp - ? WHERE sender_id = ?", (shift, sender))
    status = subprocess.run([sys.executable, "-m", "willow.usage_report", "--db", str(store.db), "--out", str(out)],
                            cwd=ROOT, env=local_servers.ENV).returncode
    store.db.unlink()
    if status == 0:  # said in the sample itself, so it is never taken for real use
        spread = f", their times spread over {spread_days} days afterwards" if spread_days else ""
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(f"\n---\n\n*Sample: {count} simulated conversations (`python -m tests.test_usage_report "
                         f"--sample {count}{f' --spread-days {spread_days}' if spread_days else ''}`: the load test's "
                         f"paths plus crisis, check-in, note, fallback and other-struggle conversations){spread}.*\n")
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="write the sample usage report from simulated conversations")
    parser.add_argument("--sample", type=int, default=300, help="conversations (default 300)")
    parser.add_argument("--spread-days", type=int, default=0, help="spread them over this many days afterwards")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "usage-report.md")
    arguments = parser.parse_args()
    sys.exit(sample(arguments.sample, arguments.out, spread_days=arguments.spread_days))
