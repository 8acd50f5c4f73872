"""willow/usage_report.py without servers: aggregation of hand-built events, small-cell
suppression (including that no hidden small count can be worked out), and the command line on
hand-built SQLite stores (empty, missing, a period)."""
from __future__ import annotations

import itertools
import json
import random
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Dict, List

import yaml

from willow import endpoints, local_servers
from willow import usage_report as report
from willow.usage_report import Event

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400
MONDAY = datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc).timestamp()  # a Monday, 09:30 UTC


def conversation(start: float, intents: List[str], channel: str = "rest", actions: Dict[int, List[str]] = None):
    """Events of one conversation: the session start, then each user message and its replies."""
    events = [Event("action", start - 1, action="action_session_start")]
    for i, intent in enumerate(intents):
        events.append(Event("user", start + i * 10, intent=intent, channel=channel))
        for name in (actions or {}).get(i, ["utter_intro"]):
            events.append(Event("action", start + i * 10 + 1, action=name))
        events.append(Event("action", start + i * 10 + 2, action="action_listen"))
    return events


def rows(*conversations):
    return [(f"c{n}", e) for n, events in enumerate(conversations) for e in events]


TOPICS = report.topics_from_nlu()


# --- topics from the training data ------------------------------------------------------------

def test_topics_come_from_the_nlu_file_with_most_of_an_intents_examples(tmp_path):
    (tmp_path / "crying.yml").write_text(yaml.safe_dump({"nlu": [
        {"intent": "cried", "examples": "- a\n- b\n- c\n"},
    ]}))
    (tmp_path / "everyday_words.yml").write_text(yaml.safe_dump({"nlu": [
        {"intent": "cried", "examples": "- d\n"}, {"intent": "greet", "examples": "- hi\n- hey\n"},
        {"lookup": "country", "examples": "- France\n"},
    ]}))
    assert report.topics_from_nlu(tmp_path) == {"cried": "crying", "greet": "everyday words"}


def test_the_real_data_groups_intents_by_topic():
    # A few intents borrowed by data/nlu/everyday_words.yml stay with their own topic.
    assert TOPICS["cried_in_therapy"] == TOPICS["ask_is_normal"] == "crying"
    assert TOPICS["frequent_crying"] == "frequent crying"
    assert TOPICS["other_struggle"] == "other struggle"
    assert TOPICS["crisis"] == "crisis"
    assert TOPICS["want_note"] == "session note"
    assert "everyday words" not in TOPICS.values()


def test_the_names_it_counts_exist_in_the_domain():
    """A renamed response or action would silently count nothing."""
    domain: Dict = {"responses": {}, "actions": [], "intents": []}
    for path in (ROOT / "domain").glob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        domain["responses"].update(data.get("responses") or {})
        domain["actions"] += data.get("actions") or []
        domain["intents"] += [i if isinstance(i, str) else next(iter(i)) for i in data.get("intents") or []]
    assert report.CRISIS_REPLY in domain["responses"]
    assert report.CHECK_IN in domain["responses"]
    assert report.NOTE_ACTION in domain["actions"]
    assert report.OTHER_STRUGGLE_INTENT in domain["intents"]
    assert {"utter_ask_safe", "utter_ask_safe_misread"} <= {
        r for r in domain["responses"] if r.startswith(report.SAFETY_CHECK_PREFIX)}


# --- aggregation ------------------------------------------------------------------------------

def test_aggregation_counts_conversations_messages_channels_topics_and_safety():
    crisis = {1: ["utter_crisis", "utter_ask_safe"], 2: ["utter_ask_safe_again"]}
    usage = report.aggregate(rows(
        conversation(MONDAY, ["greet", "cried_in_therapy", "ask_is_normal"]),
        conversation(MONDAY + 60, ["greet", "crisis", "affirm"], "socketio", crisis),
        conversation(MONDAY + DAY + 3600, ["nlu_fallback"], "telegram", {0: ["action_offer_topics"]}),
        conversation(MONDAY + 8 * DAY, ["possible_crisis", "want_note"], "slack",
                     {0: ["utter_check_in"], 1: ["action_write_note"]}),
        [Event("action", MONDAY, action="action_session_start")],  # no message: not a conversation
    ), TOPICS)
    assert usage.conversations == 4
    assert usage.messages == 9
    assert usage.per_day == {date(2025, 3, 3): 2, date(2025, 3, 4): 1, date(2025, 3, 11): 1}
    assert usage.lengths == {"3-4": 2, "1": 1, "2": 1}
    assert usage.channels == {"REST": 1, "web chat (socket.io)": 1, "Telegram": 1, "Slack": 1}
    assert usage.topics["crying"] == 2 and usage.topics["basics"] == 3
    assert usage.topics[report.NOT_UNDERSTOOD] == 1 and usage.topics["crisis"] == 2
    assert usage.hours == {9: 8, 10: 1}
    week1, week2 = date(2025, 3, 3), date(2025, 3, 10)
    assert usage.weekly["crisis replies"] == {week1: 1}
    assert usage.weekly["safety checks"] == {week1: 2}  # the question and its follow-up
    assert usage.weekly["check-ins"] == {week2: 1}
    assert usage.weekly["notes"] == {week2: 1}
    assert usage.week_messages == {week1: 7, week2: 2}


def test_a_conversation_counts_on_the_day_and_channel_of_its_first_message():
    events = conversation(MONDAY, ["greet"], "rest") + conversation(MONDAY + 2 * DAY, ["thank"], "socketio")
    usage = report.aggregate([("same", e) for e in events], TOPICS)
    assert usage.conversations == 1 and usage.messages == 2
    assert usage.per_day == {date(2025, 3, 3): 1} and usage.channels == {"REST": 1}


def test_an_intent_the_data_does_not_have_counts_as_other():
    usage = report.aggregate(rows(conversation(MONDAY, ["retired_intent"])), TOPICS)
    assert usage.topics == {report.OTHER_TOPIC: 1}


def test_conversations_are_streamed_one_at_a_time():
    """The grouping holds only the current conversation: it yields each as soon as the next begins."""
    seen = []

    def source():
        for n in range(3):
            seen.append(n)
            yield f"c{n}", Event("user", MONDAY, intent="greet")

    grouped = report.by_conversation(source())
    assert len(next(grouped)) == 1 and seen == [0, 1]
    assert len(list(grouped)) == 2


# --- small cells ------------------------------------------------------------------------------

def shown(cells):
    return {k: c.value for k, c in cells.items() if c.shown}


def test_small_counts_are_hidden_and_large_ones_shown():
    cells = report.suppress({"a": 40, "b": 12, "c": 3, "d": 4})
    assert shown(cells) == {"a": 40, "b": 12}  # 3 + 4 hidden: 7, more than one way
    assert cells["c"].text == cells["d"].text == report.HIDDEN


def test_one_hidden_cell_takes_the_smallest_shown_one_with_it():
    # Else 100 - 40 - 12 would give the 3 away.
    cells = report.suppress({"a": 40, "b": 12, "c": 3, "e": 45})
    assert shown(cells) == {"a": 40, "e": 45}


def test_zeros_are_hidden_and_hidden_cells_always_add_up_to_five_or_more():
    cells = report.suppress({h: 0 for h in range(23)} | {23: 31})
    assert shown(cells) == {}  # else 0s everywhere and 31 at 23:00 would be plain
    cells = report.suppress({"a": 2, "b": 2, "c": 9, "d": 7})
    assert shown(cells) == {"c": 9}


def test_nothing_small_nothing_hidden():
    assert shown(report.suppress({"a": 5, "b": 6})) == {"a": 5, "b": 6}
    assert report.total(4).text == report.HIDDEN and report.total(5).text == "5"


def consistent(cells, whole: int):
    """Every assignment of values to the hidden cells that a reader who knows the whole and the
    rule cannot rule out: they add up to the whole minus the shown cells, none is above the
    smallest shown cell (they were hidden first), and at least one is under SMALL (else none
    would be hidden)."""
    hidden = [k for k, c in cells.items() if not c.shown]
    rest = whole - sum(c.value for c in cells.values() if c.shown)
    ceiling = min([c.value for c in cells.values() if c.shown] or [rest])
    for values in itertools.product(range(ceiling + 1), repeat=len(hidden)):
        if sum(values) == rest and min(values, default=report.SMALL) < report.SMALL:
            yield dict(zip(hidden, values))


def test_no_small_count_can_be_worked_out_from_the_whole():
    rng = random.Random(16)
    for _ in range(400):
        counts = {k: rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 9, 12, 30]) for k in "abcde"[:rng.randint(1, 5)]}
        cells = report.suppress(counts)
        if not any(not c.shown for c in cells.values()):
            continue
        options = list(consistent(cells, sum(counts.values())))
        assert {k: counts[k] for k, c in cells.items() if not c.shown} in options
        for key, cell in cells.items():
            if counts[key] < report.SMALL:
                assert not cell.shown
                if sum(counts.values()) >= report.SMALL:  # a whole under 5 is hidden itself
                    assert len({o[key] for o in options}) > 1, (counts, key)


def test_rates_hide_a_small_count_its_whole_or_its_rest():
    assert report.rate(10, 100) == 0.1
    assert report.rate(4, 100) is None  # the count
    assert report.rate(4, 4) is None  # the whole
    assert report.rate(97, 100) is None  # the rest: 3 messages that were not
    assert report.rate(10, 100, also_hidden=True) is None


def test_a_rate_is_hidden_when_its_count_is_hidden_in_the_topics_table():
    # 6 fallbacks are not small, but the 2 crisis messages hide them with it in the topics table.
    events = [conversation(MONDAY + n * 60, ["greet"] * 10) for n in range(10)]
    events.append(conversation(MONDAY + 3600, ["nlu_fallback"] * 6 + ["crisis"] * 2))
    usage = report.aggregate(rows(*events), TOPICS)
    tables = report.tables(usage, date(2025, 3, 3), date(2025, 3, 3))
    assert not tables.topics[report.NOT_UNDERSTOOD].shown
    assert tables.rates["fallback"] is None
    assert set(tables.week_rates["fallback"].values()) == {None}  # one week: its rate would be the same


# --- the report -------------------------------------------------------------------------------

def big_usage():
    convs = [conversation(MONDAY + n * 3000, ["greet", "cried_in_therapy", "ask_why_cry", "thank"]) for n in range(30)]
    convs += [conversation(MONDAY + DAY + n * 600, ["crisis", "deny_risk"], "socketio",
                           {0: ["utter_crisis", "utter_ask_safe"]}) for n in range(7)]
    convs += [conversation(MONDAY + 2 * DAY, ["want_note"], "telegram", {0: ["action_write_note"]})]
    return report.aggregate(rows(*convs), TOPICS)


def test_markdown_says_period_store_time_and_rule_and_shows_no_small_count(tmp_path):
    usage = big_usage()
    meta = report.Meta("SQLite", None, None, datetime(2025, 3, 31, 8, 0, tzinfo=timezone.utc))
    written = report.write_report(usage, meta, tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "Period: 2025-03-03 to 2025-03-05 (UTC)" in text
    assert "Tracker store: SQLite" in text and "Generated: 2025-03-31 08:00 UTC" in text
    assert "No count under 5 (zero included) is shown" in text
    assert "| conversations | 38 |" in text and "| crisis replies | 7 |" in text
    assert "| notes for the next session prepared | hidden |" in text
    assert "| Telegram | hidden |" in text and "| REST | 30 | 78.9% |" in text
    # No number under 5 anywhere in a table's count cells.
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            for cell in line.strip("|").split("|")[1:]:
                cell = cell.strip().replace(",", "")
                if cell.isdigit():
                    assert int(cell) >= report.SMALL, line
    assert len(written) == 1 + len(report.CHARTS)
    for path in written[1:]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({path.name})" in text


def test_an_empty_period_writes_a_report_saying_so_and_removes_old_charts(tmp_path):
    report.write_report(big_usage(), report.Meta("SQLite", None, None, datetime.now(timezone.utc)), tmp_path / "r.md")
    assert len(list(tmp_path.glob("r-*.png"))) == len(report.CHARTS)
    report.write_report(report.Usage(), report.Meta("PostgreSQL", None, None, datetime.now(timezone.utc)),
                        tmp_path / "r.md")
    assert "No conversations in this period" in (tmp_path / "r.md").read_text()
    assert list(tmp_path.glob("r-*.png")) == []


# --- the command line on hand-built stores ------------------------------------------------------

def make_store(db: Path, conversations) -> None:
    """Rasa's events table, filled as Rasa fills it (data holds the whole event, text included)."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    engine = sa.create_engine(f"sqlite:///{db}")
    SQLTrackerStore.Base.metadata.create_all(engine)
    engine.dispose()
    with closing(sqlite3.connect(db)) as connection, connection:
        for sender, events in conversations:
            for e in events:
                data = {"event": e.kind, "timestamp": e.timestamp}
                if e.kind == "user":
                    data.update(text=f"secret words of {sender}", input_channel=e.channel,
                                parse_data={"intent": {"name": e.intent}})
                else:
                    data["name"] = e.action
                connection.execute(
                    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)", (sender, e.kind, e.timestamp, e.intent, e.action, json.dumps(data)))


def run_cli(*args: str):
    return subprocess.run([sys.executable, "-m", "willow.usage_report", *args], cwd=ROOT, env=local_servers.ENV,
                          capture_output=True, text=True, timeout=120)


def test_command_line_reads_a_period_of_an_sqlite_store(tmp_path):
    db = tmp_path / "willow.db"
    march = [(f"rest:person-{n}", conversation(MONDAY + n * 60, ["greet", "thank"])) for n in range(6)]
    april = [(f"web:{n:032x}", conversation(MONDAY + 40 * DAY, ["greet"], "socketio")) for n in range(7)]
    make_store(db, march + april)
    result = run_cli("--db", str(db), "--out", str(tmp_path / "march.md"), "--since", "2025-03-01", "--until", "2025-03-31")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "march.md").read_text()
    assert "Period: 2025-03-01 to 2025-03-31 (UTC)" in text and "| conversations | 6 |" in text
    assert "| messages from people | 12 |" in text and "socket.io" not in text
    assert "[report]" in result.stderr
    everything = text + result.stdout + result.stderr
    assert "secret words" not in everything and "person-" not in everything and str(db) not in text

    # The same store named by an endpoints file, as `make run` writes it.
    source = endpoints.write(tmp_path / "endpoints.yml", env={"WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(db)})
    result = run_cli("--endpoints", str(source), "--out", str(tmp_path / "all.md"))
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "all.md").read_text()
    assert "| conversations | 13 |" in text and "| web chat (socket.io) | 7 |" in text


def test_command_line_on_an_empty_store_says_so_and_exits_0(tmp_path):
    db = tmp_path / "empty.db"
    make_store(db, [])
    result = run_cli("--db", str(db), "--out", str(tmp_path / "r.md"))
    assert result.returncode == 0, result.stderr
    assert "no conversations" in result.stderr
    assert "No conversations in this period" in (tmp_path / "r.md").read_text()
    sqlite3.connect(tmp_path / "no-table.db").close()  # an SQLite file Rasa never wrote to
    assert run_cli("--db", str(tmp_path / "no-table.db"), "--out", str(tmp_path / "r.md")).returncode == 0


def test_command_line_on_a_missing_store_fails_and_creates_nothing(tmp_path):
    missing = tmp_path / "data-store" / "willow.db"
    env_result = subprocess.run(
        [sys.executable, "-m", "willow.usage_report", "--out", str(tmp_path / "r.md")], cwd=ROOT,
        env={**local_servers.ENV, "WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(missing)},
        capture_output=True, text=True, timeout=120)
    assert env_result.returncode == 1 and "no SQLite tracker store" in env_result.stderr
    assert not missing.exists() and not (tmp_path / "r.md").exists()


def test_command_line_refuses_bad_dates():
    result = run_cli("--since", "2025-13-01")
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr


def test_command_line_refuses_a_store_that_is_not_sql(tmp_path):
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: in_memory\n")
    result = run_cli("--endpoints", str(tmp_path / "endpoints.yml"), "--out", str(tmp_path / "r.md"))
    assert result.returncode == 1 and "reads Rasa's SQL tracker store" in result.stderr
