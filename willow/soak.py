"""Soak test: simulated users talk to Willow for a long time; does it keep up, leak or lose anything?

``--users`` users (a fifth of them over socket.io, the rest over REST, as ``make load`` splits
them) talk to fresh servers set up as ``make run`` sets them up: the real action server and
a Rasa server keeping conversations in a new SQLite file (Willow's SQL tracker store). Each
user holds one multi-turn conversation after another, each under a new sender id (socket.io:
a new connection, so a new session), drawn from the load test's realistic paths
(``willow.load_test.PATHS``: one path, sometimes carrying on into another). The next message
goes out as soon as the previous one is answered (plus ``--think`` seconds), so the load stays
up for the whole run.

Per window (``--window-minutes``) it prints answered messages per second (replies/s), p50 and
p95 latency (REST: the whole request; socket.io: until the first reply), errors, and the
resident memory (VmRSS) of the Rasa server and the action server at the window's end. After
the run, with the servers stopped, it reads every conversation from the SQLite file: each
message sent must be stored once, in the order sent, and be followed by a bot message.

Exit status 0 when nothing was lost, answered twice or out of order and the Rasa server's
memory at the end grew by less than ``--max-growth`` percent (default 10) over its memory at
the end of the first window; 1 otherwise, with the reasons; 2 on bad usage. Errors (timeouts,
HTTP errors) are reported but are not in the verdict: a message that really failed shows up as
lost in the store check.

Usage:
  python -m willow.soak                                  # 20 users, 30 minutes, 5-minute windows
  python -m willow.soak --minutes 2 --window-minutes 0.5 --users 4 --out /tmp/soak.md

The markdown table goes to stdout (and, with ``--out``, into FILE between markers, keeping the
text around them), progress to stderr. Only ``make soak`` writes docs/soak.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp

from willow import load_test
from willow.load_test import User

# Conversation length in messages: one path of load_test.PATHS (4-6 messages) or a path and part
# of the next, as people who come back to another topic do.
MIN_TURNS, MAX_TURNS = 4, 10
# Before a new conversation a user waits up to this long (a new person arriving), so the
# users do not all start their conversations in lock step.
MAX_ARRIVAL_PAUSE = 0.5
# A user whose whole conversation failed waits this long before the next, so a dead server
# does not make the load generator spin.
FAILED_PAUSE = 1.0

BEGIN = "<!-- BEGIN soak: written by `python -m willow.soak --out`; text outside these markers is kept -->"
END = "<!-- END soak -->"


# -- Memory ------------------------------------------------------------------------------------

def rss_kb(pid: Optional[int]) -> Optional[int]:
    """Resident memory of ``pid`` in kB (VmRSS in /proc/<pid>/status), or None."""
    if not pid:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def child_pid(*args: str) -> Optional[int]:
    """A child process of this one whose command line has all of ``args``.

    local_servers starts the action server without handing out its pid; it is our own child,
    so looking among our children (and nowhere else) finds it.
    """
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in stat may contain spaces or ")": the ppid is after the last ")".
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            argv = [a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")]
        except (OSError, ValueError, IndexError):
            continue
        if all(a in argv for a in args):
            return int(entry.name)
    return None


def mb(kb: Optional[int]) -> str:
    return "-" if kb is None else f"{kb / 1024:.0f}"


# -- Windows -----------------------------------------------------------------------------------

@dataclass
class Window:
    """What happened between ``start`` and ``end`` (seconds after the run started)."""

    start: float
    end: float
    latencies: List[float] = field(default_factory=list)  # of the answered messages, seconds
    errors: int = 0
    rasa_kb: Optional[int] = None  # resident memory at the end of the window
    actions_kb: Optional[int] = None

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.answered / max(self.end - self.start, 1e-9)

    def percentile(self, p: float) -> Optional[float]:
        return load_test.percentile(sorted(self.latencies), p)

    def line(self, number: int, of: int) -> str:
        """The progress line printed when the window closes."""
        return (f"[soak] window {number}/{of} ({self.start / 60:.1f}-{self.end / 60:.1f} min): "
                f"{self.per_second:.1f} replies/s, p50 {load_test.ms(self.percentile(50))} ms, "
                f"p95 {load_test.ms(self.percentile(95))} ms, {self.errors} errors, "
                f"Rasa {mb(self.rasa_kb)} MB, actions {mb(self.actions_kb)} MB")


def whole_run(windows: Sequence[Window]) -> Window:
    """All windows as one (memory: at the end)."""
    total = Window(windows[0].start, windows[-1].end, errors=sum(w.errors for w in windows),
                   rasa_kb=windows[-1].rasa_kb, actions_kb=windows[-1].actions_kb)
    for w in windows:
        total.latencies.extend(w.latencies)
    return total


class Collector:
    """Assigns each finished turn to the window open when it settled.

    A turn is settled once its user has started the next one or finished the conversation:
    only then are its latency, replies and error final (a socket.io turn keeps counting replies
    for a quiet second after the first). Users are added as their conversations start.
    """

    def __init__(self) -> None:
        self.users: List[User] = []
        self._open: List[Tuple[User, List[int]]] = []  # user, [turns counted so far]
        self._done: set = set()  # ids of users whose conversation has ended

    def add(self, user: User) -> None:
        self.users.append(user)
        self._open.append((user, [0]))

    def finish(self, user: User) -> None:
        self._done.add(id(user))

    def collect(self, window: Window) -> None:
        still_open = []
        for user, counted in self._open:
            done = id(user) in self._done
            settled = len(user.turns) if done else max(len(user.turns) - 1, 0)
            for turn in user.turns[counted[0]:settled]:
                if turn.error or turn.latency is None:
                    window.errors += 1
                else:
                    window.latencies.append(turn.latency)
            counted[0] = max(counted[0], settled)
            if done:
                window.errors += bool(user.failure)  # a socket.io user that could not connect
            else:
                still_open.append((user, counted))
        self._open = still_open


def window_bounds(minutes: float, window_minutes: float) -> List[float]:
    """Ends of the windows in seconds; the last one may be shorter."""
    count = math.ceil(minutes / window_minutes - 1e-9)
    return [min((i + 1) * window_minutes, minutes) * 60 for i in range(count)]


# -- Users -------------------------------------------------------------------------------------

def new_conversation(rng: random.Random) -> List[str]:
    return load_test.conversation(rng, rng.randint(MIN_TURNS, MAX_TURNS))


async def simulated_user(
    name: str, channel: str, rng: random.Random, collector: Collector, deadline: float,
    talk,  # coroutine function (User) -> None: one conversation on this user's channel
) -> None:
    number = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(0, MAX_ARRIVAL_PAUSE))
        if time.monotonic() >= deadline:
            return
        user = User(f"{name}-{number}", channel, new_conversation(rng))
        collector.add(user)
        try:
            await talk(user)
        finally:
            collector.finish(user)
        number += 1
        if user.failure or (user.turns and all(t.error for t in user.turns)):
            await asyncio.sleep(FAILED_PAUSE)


async def soak(
    url: str, rest_token: str, rest_users: int, socketio_users: int, bounds: Sequence[float], *,
    pids, think: float = 0, timeout: float = 60, quiet: float = 1.0, seed: Optional[int] = None,
    stream=None,
) -> Tuple[List[Window], Collector]:
    """Runs the users until the last bound (seconds); returns the windows and every conversation.

    ``pids`` is a callable returning (Rasa pid, action server pid), read at each window's end.
    """
    stream = stream or sys.stderr  # looked up now, not at import, so a redirected stderr gets it
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    collector = Collector()
    started = time.monotonic()
    deadline = started + bounds[-1]
    connector = aiohttp.TCPConnector(limit=rest_users + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        def rest(user: User):
            return load_test.rest_user(session, url, user, deadline, timeout, think, rest_token)

        def sio(user: User):
            return load_test.socketio_user(url, user, deadline, timeout, quiet, think)

        # Each user gets its own random stream, so the paths do not depend on scheduling.
        tasks = [asyncio.ensure_future(simulated_user(
            f"soak-{run_id}-rest-{i}", "rest", random.Random(rng.random()), collector, deadline, rest))
            for i in range(rest_users)]
        tasks += [asyncio.ensure_future(simulated_user(
            f"soak-{run_id}-sio-{i}", "socketio", random.Random(rng.random()), collector, deadline, sio))
            for i in range(socketio_users)]
        windows: List[Window] = []
        begin = 0.0
        try:
            for number, bound in enumerate(bounds, 1):
                await asyncio.sleep(max(0.0, started + bound - time.monotonic()))
                if number == len(bounds):
                    # No new turns after the deadline; the ones in flight still count.
                    await asyncio.gather(*tasks)
                window = Window(begin, time.monotonic() - started)
                collector.collect(window)
                rasa_pid, actions_pid = pids()
                window.rasa_kb, window.actions_kb = rss_kb(rasa_pid), rss_kb(actions_pid)
                windows.append(window)
                print(window.line(number, len(bounds)), file=stream, flush=True)
                begin = window.end
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return windows, collector


# -- The store check ---------------------------------------------------------------------------

@dataclass
class StoreCheck:
    conversations: int = 0  # checked: had at least one message sent
    messages: int = 0  # sent
    lost: int = 0  # not stored, or stored without a bot message before the next one
    twice: int = 0  # stored more often than sent
    out_of_order: int = 0  # conversations
    stray: int = 0  # conversations in the store that no simulated user started
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.conversations > 0 and not (self.lost or self.twice or self.out_of_order)


def stored_events(db: Path) -> Dict[str, List[Dict]]:
    """Every conversation's events in the SQLite tracker store, in the order Rasa reads them (id)."""
    conversations: Dict[str, List[Dict]] = {}
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for sender, data in connection.execute("SELECT sender_id, data FROM events ORDER BY id"):
            conversations.setdefault(sender, []).append(json.loads(data))
    finally:
        connection.close()
    return conversations


def check_store(users: Sequence[User], conversations: Dict[str, List[Dict]], limit: int = 10) -> StoreCheck:
    """load_test's per-conversation check on the stored events, plus messages stored twice."""
    result = StoreCheck()
    mine = set()
    for user in users:
        if not user.turns:
            continue  # never sent anything (started at the deadline, or could not connect)
        result.conversations += 1
        result.messages += len(user.turns)
        mine.add(user.conversation)
        events = conversations.get(user.conversation, []) if user.conversation else []
        load_test.check_events(user, events)
        said = [(e.get("text") or "").strip() for e in events if e.get("event") == "user"]
        twice = Counter(said) - Counter(t.text.strip() for t in user.turns)
        result.lost += user.lost + user.unanswered
        result.twice += sum(twice.values())
        result.out_of_order += user.out_of_order
        if len(result.problems) < limit:
            result.problems += [f"{user.conversation or user.sender}: {p}" for p in user.problems]
    result.stray = len(set(conversations) - mine)
    del result.problems[limit:]
    return result


# -- Verdict and table -------------------------------------------------------------------------

def growth(windows: Sequence[Window]) -> Optional[float]:
    """Rasa's memory at the end over its memory at the end of the first window, in percent."""
    first, last = windows[0].rasa_kb, windows[-1].rasa_kb
    if not first or last is None:
        return None
    return (last - first) / first * 100


def verdict(windows: Sequence[Window], store: StoreCheck, max_growth: float = 10.0) -> List[str]:
    """The reasons the soak failed; empty when it passed."""
    reasons = []
    grown = growth(windows)
    if len(windows) < 2:
        reasons.append("fewer than two windows: memory growth not measured")
    elif grown is None:
        reasons.append("the Rasa server's memory could not be read")
    elif grown >= max_growth:
        reasons.append(f"Rasa's memory grew {grown:.1f}% after the first window "
                       f"({mb(windows[0].rasa_kb)} -> {mb(windows[-1].rasa_kb)} MB; limit {max_growth:g}%)")
    if store.conversations == 0:
        reasons.append("no conversation was checked")
    if store.lost:
        reasons.append(f"{store.lost} messages lost or unanswered in the tracker store")
    if store.twice:
        reasons.append(f"{store.twice} messages stored twice")
    if store.out_of_order:
        reasons.append(f"{store.out_of_order} conversations out of order in the tracker store")
    return reasons


def table(windows: Sequence[Window]) -> str:
    lines = [
        "| window | minutes | answered messages | replies/s | p50 (ms) | p95 (ms) | errors "
        "| Rasa RSS (MB) | actions RSS (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, w: Window) -> str:
        return (f"| {name} | {w.start / 60:.1f}-{w.end / 60:.1f} | {w.answered} | {w.per_second:.1f} "
                f"| {load_test.ms(w.percentile(50))} | {load_test.ms(w.percentile(95))} | {w.errors} "
                f"| {mb(w.rasa_kb)} | {mb(w.actions_kb)} |")

    lines += [row(str(i), w) for i, w in enumerate(windows, 1)]
    if windows:
        lines.append(row("all", whole_run(windows)))
    return "\n".join(lines)


def summary(windows: Sequence[Window], store: StoreCheck, reasons: Sequence[str], max_growth: float,
            channels: Counter) -> str:
    grown = growth(windows)
    actions_first, actions_last = windows[0].actions_kb, windows[-1].actions_kb
    actions = (f"; action server {mb(actions_first)} -> {mb(actions_last)} MB"
               if actions_first and actions_last is not None else "")
    lines = [
        f"- Conversations: {store.conversations} ({channels['rest']} REST, {channels['socketio']} socket.io), "
        f"{store.messages} user messages sent.",
        f"- Tracker store (SQLite, read after the servers stopped): {store.lost} lost or unanswered, "
        f"{store.twice} answered twice, {store.out_of_order} conversations out of order"
        + (f", {store.stray} conversations nobody started" if store.stray else "") + ".",
        "- Rasa server memory: "
        + (f"{mb(windows[0].rasa_kb)} MB at the end of window 1, {mb(windows[-1].rasa_kb)} MB at the end: "
           f"{grown:+.1f}% (limit {max_growth:g}%)" if grown is not None else "not measured")
        + actions + ".",
        f"- Verdict: {'PASS' if not reasons else 'FAIL: ' + '; '.join(reasons)}.",
    ]
    return "\n".join(lines)


def write_out(path: Path, block: str, title: str = "# Soak test") -> None:
    """Puts ``block`` between the markers in ``path``, keeping the text around them."""
    wrapped = f"{BEGIN}\n{block}\n{END}"
    text = path.read_text() if path.exists() else f"{title}\n\n"
    if BEGIN in text and END in text.split(BEGIN, 1)[1]:
        before, rest = text.split(BEGIN, 1)
        text = before + wrapped + rest.split(END, 1)[1]
    else:  # never clobber a file that has no markers: add the block at its end
        text = text.rstrip("\n") + "\n\n" + wrapped + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- Command line ------------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m willow.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30, help="how long the users talk (default 30)")
    parser.add_argument("--window-minutes", type=float, default=5,
                        help="one line and one table row per window this long (default 5)")
    parser.add_argument("--users", type=int, default=20, help="simulated users at once (default 20)")
    parser.add_argument("--socketio-users", type=int,
                        help="how many of them use socket.io (default: a fifth, at least one of two or more)")
    parser.add_argument("--out", type=Path, help="also write the table into this markdown file (default: none)")
    parser.add_argument("--max-growth", type=float, default=10,
                        help="fail when Rasa's memory grows this many percent after window 1 (default 10)")
    parser.add_argument("--think", type=float, default=0, help="seconds a user waits between turns (default 0)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for one reply (default 60)")
    parser.add_argument("--seed", type=int, help="random seed for the conversations")
    parser.add_argument("--model", type=Path, help="model to serve (default: the current one)")
    parser.add_argument("--logs", type=Path, help="server logs and the SQLite file (default: a new temp dir)")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= 500:
        parser.error("--users: from 1 to 500")
    if args.socketio_users is None:
        args.socketio_users = max(1, round(args.users / 5)) if args.users >= 2 else 0
    if not 0 <= args.socketio_users <= args.users:
        parser.error("--socketio-users: from 0 to --users")
    if not 0 < args.minutes <= 24 * 60 or args.window_minutes <= 0:
        parser.error("--minutes: more than 0, at most a day; --window-minutes: more than 0")
    if len(window_bounds(args.minutes, args.window_minutes)) < 2:
        parser.error("need at least two windows (--minutes over --window-minutes): growth is measured "
                     "from the end of the first one")
    if len(window_bounds(args.minutes, args.window_minutes)) > 500:
        parser.error("at most 500 windows")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from willow import endpoints, local_servers, model_files

    model = args.model or model_files.trained_model()  # None: it told the user to train one
    if model is None:
        return 2
    if not model.exists():
        print(f"error: {model} does not exist", file=sys.stderr)
        return 2
    logs = args.logs or Path(tempfile.mkdtemp(prefix="willow-soak-"))
    logs.mkdir(parents=True, exist_ok=True)
    db = logs / "soak.db"
    if db.exists():
        db.unlink()  # the check assumes a fresh store
    # The tracker store `make run` uses (Willow's SQL store on SQLite), in a new file.
    source = endpoints.write(logs / "endpoints-sqlite.yml",
                             env={"WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(db)})
    bounds = window_bounds(args.minutes, args.window_minutes)
    rest_users = args.users - args.socketio_users
    ends = time.strftime("%H:%M", time.localtime(time.time() + 40 + bounds[-1]))
    print(f"[soak] {rest_users} REST + {args.socketio_users} socket.io users for {args.minutes:g} min "
          f"({len(bounds)} windows of {args.window_minutes:g} min) on fresh servers with SQLite, after "
          f"10-40 s of start-up; ends about {ends}; server logs and the store in {logs}",
          file=sys.stderr, flush=True)
    started_at = datetime.now(timezone.utc)
    load_before = os.getloadavg()[0]
    with local_servers.running(model, logs, endpoints=source) as servers:
        actions_port = servers.actions_url.rsplit(":", 1)[1]
        actions_pid = child_pid("actions", "--port", actions_port)
        print(f"[soak] servers up: Rasa pid {servers.pid}, action server pid {actions_pid or 'not found'}",
              file=sys.stderr, flush=True)
        windows, collector = asyncio.run(soak(
            servers.url, servers.rest_token, rest_users, args.socketio_users, bounds,
            pids=lambda: (servers.pid, actions_pid), think=args.think, timeout=args.timeout, seed=args.seed,
        ))
    print("[soak] servers stopped; checking every conversation in the tracker store", file=sys.stderr, flush=True)
    store = check_store(collector.users, stored_events(db))
    reasons = verdict(windows, store, args.max_growth)
    channels = Counter(u.channel for u in collector.users if u.turns)
    block = "\n\n".join([
        f"{started_at:%Y-%m-%d %H:%M} UTC, {rest_users} REST + {args.socketio_users} socket.io users, "
        f"{args.minutes:g} min in {args.window_minutes:g}-minute windows, fresh servers with SQLite "
        f"(`python -m willow.soak`), {os.cpu_count()} cores, load average {load_before:.1f} before the start.",
        table(windows),
        summary(windows, store, reasons, args.max_growth, channels),
    ])
    print(block)
    for problem in store.problems:
        print(f"problem: {problem}")
    if args.out:
        write_out(args.out, block)
        print(f"[soak] wrote {args.out}", file=sys.stderr)
    print("PASS" if not reasons else "FAIL: " + "; ".join(reasons), flush=True)
    return 0 if not reasons else 1


if __name__ == "__main__":
    sys.exit(main())
