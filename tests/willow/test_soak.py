"""The soak test's own logic (willow/soak.py) without servers: windows, the store check, the
memory verdict, the table and --out; plus one real 1-minute soak (slow)."""
from __future__ import annotations

import json
import os
import re
import sqlite3

import pytest

from willow import soak
from willow.load_test import Turn, User
from willow.soak import StoreCheck, Window


def window(latencies=(), errors=0, rasa_kb=None, start=0.0, end=10.0, actions_kb=None):
    return Window(start, end, list(latencies), errors, rasa_kb, actions_kb)


def user(conversation, *texts, channel="rest"):
    u = User(conversation.split(":", 1)[1], channel, list(texts), conversation=conversation)
    u.turns = [Turn(t, latency=0.1, replies=1) for t in texts]
    return u


def test_window_statistics():
    w = window([0.01 * i for i in range(1, 101)], errors=2, end=20.0)
    assert w.answered == 100 and w.per_second == 5.0
    assert w.percentile(50) == pytest.approx(0.50) and w.percentile(95) == pytest.approx(0.95)
    assert "5.0 replies/s, p50 500 ms, p95 950 ms, 2 errors" in w.line(1, 6)
    assert window().percentile(50) is None and window().per_second == 0


def test_windows_cover_the_run_and_the_last_may_be_shorter():
    assert soak.window_bounds(30, 5) == [300, 600, 900, 1200, 1500, 1800]
    assert soak.window_bounds(1, 0.5) == [30, 60]
    assert soak.window_bounds(7, 5) == [300, 420]


def test_a_turn_counts_in_the_window_where_it_settled():
    collector = soak.Collector()
    u = User("a", "rest", ["hi", "why", "bye"])
    collector.add(u)
    u.turns.append(Turn("hi", latency=0.2, replies=1))
    first = window()
    collector.collect(first)
    assert first.answered == 0  # its user has not moved on yet: the turn may still change
    u.turns.append(Turn("why", error="REST timeout after 60 s"))
    second = window()
    collector.collect(second)
    assert (second.latencies, second.errors) == ([0.2], 0)
    u.turns.append(Turn("bye", latency=0.3, replies=2))
    collector.finish(u)
    failed = User("b", "socketio", ["hi"], failure="socket.io connect ConnectionError: refused")
    collector.add(failed)
    collector.finish(failed)
    third = window()
    collector.collect(third)
    assert (third.latencies, third.errors) == ([0.3], 2)  # the timeout and the failed connection
    fourth = window()
    collector.collect(fourth)
    assert (fourth.answered, fourth.errors) == (0, 0)  # nothing counted twice
    assert collector.users == [u, failed]


def store(tmp_path, rows):
    """An SQLite file with Rasa's events table; rows are (sender, event dict)."""
    db = tmp_path / "soak.db"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
                       "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)")
    for sender, event in rows:
        connection.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                           (sender, event["event"], event["timestamp"], json.dumps(event)))
    connection.commit()
    connection.close()
    return db


def said(sender, *pairs, start=0):
    return [(sender, {"event": kind, "text": text, "timestamp": float(start + i)})
            for i, (kind, text) in enumerate(pairs)]


def test_the_store_check_counts_lost_twice_and_out_of_order(tmp_path):
    db = store(tmp_path,
               said("rest:good", ("user", "hi"), ("bot", "Hello"), ("user", "thanks"), ("bot", "Welcome"))
               + said("rest:lost", ("user", "hi"), ("bot", "Hello"), ("user", "bye"))  # "why" lost, "bye" unanswered
               + said("rest:twice", ("user", "hi"), ("bot", "Hello"), ("user", "hi"), ("bot", "Hello again"))
               + said("web:swapped", ("user", "b"), ("bot", "x"), ("user", "a"), ("bot", "y"))
               + said("rest:stranger", ("user", "hi"), ("bot", "Hello")))
    events = soak.stored_events(db)
    assert [e["text"] for e in events["rest:good"]] == ["hi", "Hello", "thanks", "Welcome"]
    never_sent = User("idle", "rest", ["hi"], conversation="rest:idle")  # started at the deadline
    users = [user("rest:good", "hi", "thanks"), user("rest:lost", "hi", "why", "bye"),
             user("rest:twice", "hi"), user("web:swapped", "a", "b", channel="socketio"), never_sent]
    result = soak.check_store(users, events)
    assert (result.conversations, result.messages) == (4, 8)
    assert (result.lost, result.twice, result.out_of_order, result.stray) == (2, 1, 1, 1)
    assert not result.ok and any("rest:lost" in p for p in result.problems)
    clean = soak.check_store([user("rest:good", "hi", "thanks")], events)
    assert clean.ok and clean.lost == 0


def test_memory_growth_from_the_end_of_the_first_window_decides():
    ok = StoreCheck(conversations=3, messages=9)
    steady = [window(rasa_kb=1000), window(rasa_kb=1200), window(rasa_kb=1099)]
    assert soak.growth(steady) == pytest.approx(9.9)
    assert soak.verdict(steady, ok) == []
    grown = [window(rasa_kb=1000), window(rasa_kb=1100)]
    assert soak.growth(grown) == pytest.approx(10.0)
    assert "grew 10.0%" in soak.verdict(grown, ok)[0]
    assert soak.verdict(grown, ok, max_growth=20) == []
    shrunk = [window(rasa_kb=1000), window(rasa_kb=900)]
    assert soak.verdict(shrunk, ok) == []
    assert "could not be read" in soak.verdict([window(), window(rasa_kb=900)], ok)[0]
    assert "fewer than two windows" in soak.verdict([window(rasa_kb=1000)], ok)[0]


def test_anything_lost_twice_or_out_of_order_fails():
    steady = [window(rasa_kb=1000), window(rasa_kb=1000)]
    reasons = soak.verdict(steady, StoreCheck(conversations=2, messages=5, lost=1, twice=2, out_of_order=1))
    assert reasons == ["1 messages lost or unanswered in the tracker store", "2 messages stored twice",
                       "1 conversations out of order in the tracker store"]
    assert soak.verdict(steady, StoreCheck()) == ["no conversation was checked"]


def test_table_has_a_row_per_window_and_one_for_the_whole_run():
    windows = [window([0.1, 0.2], errors=1, rasa_kb=700 * 1024, actions_kb=120 * 1024, start=0, end=300),
               window([0.3], rasa_kb=710 * 1024, actions_kb=121 * 1024, start=300, end=600)]
    text = soak.table(windows)
    assert "| Rasa RSS (MB) | actions RSS (MB) |" in text
    assert "| 1 | 0.0-5.0 | 2 | 0.0 | 100 | 200 | 1 | 700 | 120 |" in text
    assert "| all | 0.0-10.0 | 3 | 0.0 | 200 | 300 | 1 | 710 | 121 |" in text
    lines = soak.summary(windows, StoreCheck(conversations=2, messages=3), [], 10, {"rest": 1, "socketio": 1})
    assert "+1.4% (limit 10%)" in lines and "Verdict: PASS" in lines


def test_out_keeps_the_text_around_the_markers(tmp_path):
    out = tmp_path / "soak.md"
    soak.write_out(out, "first table")
    assert out.read_text().startswith("# Soak test\n") and "first table" in out.read_text()
    out.write_text(out.read_text() + "\nA hand-written reading.\n")
    soak.write_out(out, "second table")
    text = out.read_text()
    assert "second table" in text and "first table" not in text and "A hand-written reading." in text
    other = tmp_path / "notes.md"
    other.write_text("# Notes\nkeep me\n")
    soak.write_out(other, "table")  # no markers: appended, nothing overwritten
    assert other.read_text().startswith("# Notes\nkeep me\n") and "table" in other.read_text()


@pytest.mark.parametrize("argv", [
    ["--users", "0"],
    ["--minutes", "5", "--window-minutes", "5"],  # one window: growth cannot be measured
    ["--minutes", "0"],
    ["--users", "3", "--socketio-users", "4"],
])
def test_bad_usage_is_refused(argv):
    with pytest.raises(SystemExit) as refused:
        soak.parse_args(argv)
    assert refused.value.code == 2


def test_defaults_split_users_like_make_load_and_write_no_file():
    args = soak.parse_args([])
    assert (args.minutes, args.window_minutes, args.users, args.socketio_users, args.out) == (30, 5, 20, 4, None)
    assert soak.parse_args(["--users", "4"]).socketio_users == 1
    assert soak.parse_args(["--users", "1"]).socketio_users == 0


def test_rss_is_read_from_proc_and_the_parent_is_not_a_child():
    assert soak.rss_kb(os.getpid()) > 1000
    assert soak.rss_kb(None) is None and soak.rss_kb(2 ** 22 + 1) is None
    assert soak.child_pid("no-such-argument-anywhere") is None


@pytest.mark.slow
def test_a_one_minute_soak_passes_and_writes_its_table(model_path, tmp_path, capsys):
    out = tmp_path / "soak.md"
    status = soak.main(["--minutes", "1", "--window-minutes", "0.5", "--users", "4", "--seed", "3",
                        "--model", str(model_path), "--logs", str(tmp_path / "logs"), "--out", str(out)])
    printed = capsys.readouterr()
    assert "[soak] window 2/2" in printed.err
    assert "| 2 | 0.5-1.0 |" in printed.out
    rest, socketio = map(int, re.search(r"\((\d+) REST, (\d+) socket.io\)", printed.out).groups())
    assert rest > 3 and socketio > 1  # both channels, and users moved on to new conversations
    assert "0 lost or unanswered, 0 answered twice, 0 conversations out of order" in printed.out, printed.out
    assert status == 0, printed.out
    assert "| all | 0.0-1.0 |" in out.read_text()
