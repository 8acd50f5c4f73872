"""A small load test inside `make test` (`make load` runs a bigger one): concurrent users over
REST and socket.io against the real servers; nothing may fail or be lost, every conversation
must be in the tracker in the order sent. No timing assertions: the figures are printed."""
from __future__ import annotations

import asyncio

import pytest

from willow import load_test

pytestmark = pytest.mark.slow


def test_concurrent_conversations_are_answered_completely_and_in_order(servers):
    report = asyncio.run(load_test.run(
        servers.url, servers.token, users=5, turns=4, socketio_users=2,
        seed=5, timeout=60, max_seconds=180, progress_every=0, rest_token=servers.rest_token,
    ))
    print("\n" + report.markdown())
    assert report.checked
    assert len(report.turns()) == 7 * 4
    assert report.errors() == 0, report.details()
    assert report.lost() == 0, report.details()
    assert report.out_of_order() == 0, report.details()


def test_command_line_prints_the_table_and_exits_0(servers, capsys):
    status = load_test.main([
        "--users", "2", "--turns", "3", "--url", servers.url, "--token", servers.token,
        "--rest-token", servers.rest_token, "--progress", "0",
    ])
    out = capsys.readouterr().out
    assert "| rest | 2 | 3 | 6 |" in out and "PASS" in out
    assert status == 0


def test_without_the_token_nothing_is_checked_and_the_run_fails(servers, capsys):
    assert load_test.main(["--users", "1", "--turns", "1", "--url", servers.url, "--token", "",
                           "--rest-token", servers.rest_token, "--progress", "0"]) == 1
    assert "not checked" in capsys.readouterr().out


def test_without_the_rest_token_every_rest_turn_is_an_error(servers, capsys):
    assert load_test.main(["--users", "1", "--turns", "1", "--url", servers.url, "--token", servers.token,
                           "--rest-token", "", "--progress", "0"]) == 1
    assert "REST HTTP 401" in capsys.readouterr().out
