"""The load test's own logic (willow/load_test.py), without servers: paths, percentiles, the tracker check."""
from __future__ import annotations

import random

import pytest

from willow import load_test
from willow.load_test import Turn, User


def user(*texts: str) -> User:
    u = User("s", "rest", list(texts))
    u.turns = [Turn(t, latency=0.1, replies=1) for t in texts]
    return u


def events(*pairs):
    """("user", text) / ("bot", text) / ("action", name) in tracker form, with rising timestamps."""
    out = [{"event": "action", "name": "action_session_start", "timestamp": 0}, {"event": "session_started", "timestamp": 0}]
    for i, (kind, value) in enumerate(pairs, 1):
        key = "name" if kind == "action" else "text"
        out.append({"event": kind, key: value, "timestamp": float(i)})
    return out


def test_conversations_follow_the_paths_and_have_the_requested_length():
    rng = random.Random(0)
    for turns in (1, 4, 8, 30):
        texts = load_test.conversation(rng, turns)
        assert len(texts) == turns
        # It starts at the beginning of a path (follow-ups like "why?" need their topic first).
        assert any(texts[:len(path)] == path[:turns] for path in load_test.PATHS)
    assert any(t.startswith("/") for path in load_test.PATHS for t in path), "button payloads are used"
    assert "/affirm" in {t for path in load_test.PATHS for t in path}


def test_percentiles_are_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert load_test.percentile(values, 50) == 50
    assert load_test.percentile(values, 95) == 95
    assert load_test.percentile(values, 99) == 99
    assert load_test.percentile([3.0], 99) == 3.0
    assert load_test.percentile([], 50) is None


def test_a_complete_conversation_passes():
    u = user("hi", "thanks")
    load_test.check_events(u, events(("user", "hi"), ("action", "utter_intro"), ("bot", "Hello"),
                                     ("action", "action_listen"), ("user", "thanks"), ("bot", "You're welcome")))
    assert (u.lost, u.unanswered, u.out_of_order, u.problems) == (0, 0, False, [])


def test_a_missing_message_is_lost():
    u = user("hi", "thanks", "bye")
    load_test.check_events(u, events(("user", "hi"), ("bot", "Hello"), ("user", "bye"), ("bot", "Bye")))
    assert u.lost == 1 and "1 of 3 messages are not in the tracker" in u.problems


def test_a_message_without_a_bot_reply_is_unanswered():
    u = user("hi", "thanks")
    load_test.check_events(u, events(("user", "hi"), ("user", "thanks"), ("bot", "You're welcome")))
    assert u.unanswered == 1
    u = user("hi", "thanks")
    load_test.check_events(u, events(("user", "hi"), ("bot", "Hello"), ("user", "thanks")))
    assert u.unanswered == 1


def test_messages_in_another_order_are_out_of_order():
    u = user("hi", "thanks")
    load_test.check_events(u, events(("user", "thanks"), ("bot", "x"), ("user", "hi"), ("bot", "y")))
    assert u.out_of_order and u.lost == 0


def test_duplicates_and_backward_timestamps_are_reported():
    u = user("hi")
    load_test.check_events(u, events(("user", "hi"), ("bot", "x"), ("user", "hi"), ("bot", "y")))
    assert any("not sent (or twice)" in p for p in u.problems)
    u = user("hi")
    backwards = events(("user", "hi"), ("bot", "x"))
    backwards[-1]["timestamp"] = -1
    load_test.check_events(u, backwards)
    assert u.out_of_order


def test_report_fails_on_errors_loss_or_when_not_checked():
    good = user("hi")
    assert load_test.Report([good], 1.0, checked=True).ok
    assert not load_test.Report([good], 1.0, checked=False).ok
    errored = user("hi")
    errored.turns[0].error = "REST HTTP 500"
    assert not load_test.Report([errored], 1.0, checked=True).ok
    not_sent = user("hi")
    not_sent.texts.append("thanks")  # never sent: the run hit its time bound
    report = load_test.Report([not_sent], 1.0, checked=True)
    assert report.errors() == 1 and not report.ok
    table = load_test.Report([good], 2.0, checked=True).markdown()
    assert "| rest | 1 | 1 | 1 | 1 |" in table and "p95 (ms)" in table


@pytest.mark.parametrize("argv", [
    ["--users", "0"],
    ["--turns", "0"],
    ["--users", "2000"],
    ["--url", "http://example.com:5005"],
])
def test_unbounded_or_remote_runs_are_refused(argv):
    with pytest.raises(SystemExit) as refused:
        load_test.parse_args(argv)
    assert refused.value.code == 2


def test_local_urls_are_accepted():
    args = load_test.parse_args(["--url", "http://127.0.0.1:5005", "--users", "3", "--turns", "2"])
    assert (args.users, args.turns, args.socketio_users) == (3, 2, 0)
