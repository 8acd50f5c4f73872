"""Load test: concurrent simulated users hold multi-turn conversations with Willow.

N users over the REST webhook and M over socket.io (python-socketio's AsyncClient, polling
transport, like the web page before it upgrades) talk at once. Each follows realistic paths
(greeting, "I cried in therapy", why, is it normal, crying every session + yes, not crying,
thanks, bye; buttons are sent as their payloads, like "/affirm"), one message after the
other: a user sends the next message when the previous one is answered (socket.io: after
``--quiet`` seconds without another reply), plus ``--think`` seconds.

Reported: answered messages per second, bot messages per second, p50/p95/p99 latency (REST:
the whole request; socket.io: until the first reply), and errors. Afterwards every
conversation is read back through the HTTP API (``GET /conversations/<id>/tracker``): every
message must be there once, in the order sent, each followed by at least one bot message
before the next one. A markdown table goes to stdout, progress to stderr.

Usage:
  python -m willow.load_test --users 20 --turns 8 --socketio-users 4 [--sqlite]
  python -m willow.load_test --users 5 --turns 4 --url http://127.0.0.1:5005 --token SECRET --rest-token REST

Without ``--url`` it starts its own action server and Rasa server on free local ports with
the current model (``make train`` builds it), HTTP API on behind a random token, keeping
conversations in memory (``--sqlite``: in a new SQLite file, as ``make run`` does). With
``--url`` the server needs its REST channel on (``--rest-token`` or ``WILLOW_REST_TOKEN``) and
``--enable-api --auth-token`` for the check (``--token`` or ``WILLOW_API_TOKEN``); without the
API token the check is skipped and the run fails. Hosts other
than this machine are refused unless ``--allow-remote``: never load-test what isn't yours.

Bounded: every request has a timeout (``--timeout``) and the run stops starting new turns
after ``--max-seconds``; turns never sent count as errors.
Exit status: 0 when there was no error and nothing was lost, 1 otherwise, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence
from urllib.parse import quote, urlsplit

import aiohttp

from willow import conversation_ids

# Conversation paths, as users write them. Each simulated user follows one path and, when it
# runs out of turns to take, starts another: the order of topics inside a path matters
# (follow-ups like "why?" are answered about the current topic). Nothing here mentions risk
# or asks Willow to forget the conversation: that would change what is checked.
PATHS: List[List[str]] = [
    ["hey", "i ended up crying in therapy today and i feel kind of weird about it",
     "why does that even happen", "ok but is that normal?", "thank you, that actually helps", "bye for now"],
    ["hi", "/cried_in_therapy", "/ask_why_cry", "/ask_is_normal", "thanks", "bye"],
    ["i cry every single session and it's honestly overwhelming", "/affirm",
     "is that normal though", "thanks so much", "goodbye"],
    ["i just can't stop crying in therapy lately, it happens all the time", "not right now",
     "actually how would i even bring this up with my therapist", "thank you"],
    ["i never cry in therapy, everyone else seems to, am i doing it wrong", "is that normal?",
     "but why", "thanks", "bye"],
    ["hello", "/not_crying", "/ask_is_normal", "ok thank you"],
    ["my first therapy appointment is on monday and i'm terrified i'll burst into tears",
     "what if i don't cry at all though", "thanks, that helps", "bye"],
    ["are you a real person?", "i cried in my session for the first time ever last night",
     "does crying in therapy actually do anything", "how do i bring it up with my therapist", "thanks"],
    ["i feel so stupid for crying in front of my counsellor", "/affirm",
     "does crying even help", "no that's all"],
]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def conversation(rng: random.Random, turns: int) -> List[str]:
    """``turns`` messages: one path after another, starting anywhere in the list of paths."""
    texts: List[str] = []
    while len(texts) < turns:
        texts.extend(rng.choice(PATHS))
    return texts[:turns]


@dataclass
class Turn:
    text: str
    latency: Optional[float] = None  # seconds
    replies: int = 0
    error: Optional[str] = None


@dataclass
class User:
    sender: str  # the REST sender; socket.io users get their session from the server
    channel: str  # "rest" or "socketio"
    texts: List[str]
    conversation: str = ""  # the conversation id the server keeps it under (rest:..., web:...)
    turns: List[Turn] = field(default_factory=list)  # the turns actually attempted
    problems: List[str] = field(default_factory=list)  # from the tracker check
    failure: Optional[str] = None  # could not start (socket.io connection refused)
    finished: float = 0.0  # seconds after the start of the run
    lost: int = 0
    unanswered: int = 0
    out_of_order: bool = False


@dataclass
class Report:
    users: List[User]
    duration: float  # of the whole run; each channel's row uses its own (until its last user finished)
    checked: bool

    def of(self, channel: Optional[str] = None) -> List[User]:
        return [u for u in self.users if channel is None or u.channel == channel]

    def turns(self, channel: Optional[str] = None) -> List[Turn]:
        return [t for u in self.of(channel) for t in u.turns]

    def errors(self, channel: Optional[str] = None) -> int:
        users = self.of(channel)
        not_sent = sum(len(u.texts) - len(u.turns) for u in users)
        return sum(1 for u in users for t in u.turns if t.error) + not_sent

    def lost(self, channel: Optional[str] = None) -> int:
        return sum(u.lost + u.unanswered for u in self.of(channel))

    def out_of_order(self, channel: Optional[str] = None) -> int:
        return sum(u.out_of_order for u in self.of(channel))

    @property
    def ok(self) -> bool:
        return self.checked and self.errors() == 0 and self.lost() == 0 and self.out_of_order() == 0

    def row(self, name: str, channel: Optional[str]) -> str:
        users, turns = self.of(channel), self.turns(channel)
        duration = max([u.finished for u in users] + [1e-9]) if channel else self.duration
        answered = [t for t in turns if not t.error]
        latencies = sorted(t.latency for t in answered if t.latency is not None)
        bot = sum(t.replies for t in turns)
        per_user = {len(u.texts) for u in users}
        check = (lambda n: str(n)) if self.checked else (lambda n: "not checked")
        return (
            f"| {name} | {len(users)} | {'/'.join(map(str, sorted(per_user))) or 0} | {len(turns)} | {bot} "
            f"| {duration:.1f} | {len(answered) / duration:.1f} | {bot / duration:.1f} "
            f"| {ms(percentile(latencies, 50))} | {ms(percentile(latencies, 95))} | {ms(percentile(latencies, 99))} "
            f"| {self.errors(channel)} | {check(self.lost(channel))} | {check(self.out_of_order(channel))} |"
        )

    def markdown(self) -> str:
        lines = [
            "| channel | users | turns per user | user messages | bot messages | duration (s) "
            "| answered messages/s | bot messages/s | p50 (ms) | p95 (ms) | p99 (ms) | errors "
            "| lost or unanswered | conversations out of order |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        channels = [c for c in ("rest", "socketio") if self.of(c)]
        lines += [self.row(c, c) for c in channels]
        if len(channels) > 1:
            lines.append(self.row("all", None))
        return "\n".join(lines)

    def details(self, limit: int = 10) -> List[str]:
        errors = Counter(t.error for t in self.turns() if t.error)
        errors.update(u.failure for u in self.users if u.failure)
        out = [f"error ({n}x): {e}" for e, n in errors.most_common(limit)]
        not_sent = sum(len(u.texts) - len(u.turns) for u in self.users)
        if not_sent:
            out.append(f"error: {not_sent} turns not sent (the run hit --max-seconds or a user failed)")
        problems = [f"{u.sender}: {p}" for u in self.users for p in u.problems]
        out += problems[:limit]
        if len(problems) > limit:
            out.append(f"... and {len(problems) - limit} more tracker problems")
        if not self.checked:
            out.append("not checked: the tracker check needs the HTTP API token (--token)")
        return out


def percentile(sorted_values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def ms(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


class Progress:
    def __init__(self, users: List[User], every: float, stream=sys.stderr) -> None:
        self.users, self.every, self.stream = users, every, stream
        self.started = time.monotonic()

    def line(self) -> str:
        total = sum(len(u.texts) for u in self.users)
        done = sum(1 for u in self.users for t in u.turns if t.latency is not None or t.error)
        errors = sum(1 for u in self.users for t in u.turns if t.error)
        return f"[load] {time.monotonic() - self.started:5.0f} s: {done}/{total} turns, {errors} errors"

    async def run(self) -> None:
        if self.every <= 0:
            return
        while True:
            await asyncio.sleep(self.every)
            print(self.line(), file=self.stream, flush=True)


async def rest_user(
    session: aiohttp.ClientSession, url: str, user: User, deadline: float, timeout: float, think: float,
    rest_token: str = "",
) -> None:
    user.conversation = conversation_ids.conversation_id(conversation_ids.REST, user.sender)
    for text in user.texts:
        if time.monotonic() > deadline:
            return
        turn = Turn(text)
        user.turns.append(turn)
        started = time.perf_counter()
        try:
            async with session.post(
                f"{url}/webhooks/rest/webhook", json={"sender": user.sender, "message": text},
                headers={"Authorization": f"Bearer {rest_token}"}, timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                body = await response.text()
                turn.latency = time.perf_counter() - started
                if response.status != 200:
                    turn.error = f"REST HTTP {response.status}: {body[:120]}"
                    continue
                replies = await response.json(content_type=None)
        except asyncio.TimeoutError:
            turn.error = f"REST timeout after {timeout:g} s"
            continue
        except (aiohttp.ClientError, ValueError) as e:
            turn.error = f"REST {type(e).__name__}: {str(e)[:120]}"
            continue
        turn.replies = len(replies) if isinstance(replies, list) else 0
        if not turn.replies:
            turn.error = "REST: no reply"
        if think:
            await asyncio.sleep(think)


async def socketio_user(url: str, user: User, deadline: float, timeout: float, quiet: float, think: float) -> None:
    import socketio  # python-socketio; only needed for socket.io users

    sio = socketio.AsyncClient(reconnection=False)
    replies: "asyncio.Queue[float]" = asyncio.Queue()
    confirmed = asyncio.Event()
    sio.on("bot_uttered", lambda data: replies.put_nowait(time.perf_counter()))

    def on_confirm(session: str) -> None:  # the server hands out the session (a new conversation)
        user.conversation = conversation_ids.conversation_id(conversation_ids.WEB, str(session))
        confirmed.set()

    sio.on("session_confirm", on_confirm)
    try:
        await sio.connect(url, transports=["polling"], wait_timeout=timeout)
        await sio.emit("session_request", {"session_id": None})
        await asyncio.wait_for(confirmed.wait(), timeout)
    except Exception as e:  # noqa: BLE001  the user cannot start: its turns count as not sent
        user.failure = f"socket.io connect {type(e).__name__}: {str(e)[:120]}"
        await _close(sio)
        return
    try:
        for text in user.texts:
            if time.monotonic() > deadline:
                return
            turn = Turn(text)
            user.turns.append(turn)
            started = time.perf_counter()
            try:
                await sio.emit("user_uttered", {"message": text})
                turn.latency = await asyncio.wait_for(replies.get(), timeout) - started
                turn.replies = 1
                while True:  # the channel sends one event per message and paragraph
                    await asyncio.wait_for(replies.get(), quiet)
                    turn.replies += 1
            except asyncio.TimeoutError:
                if not turn.replies:
                    turn.error = f"socket.io: no reply within {timeout:g} s"
            except Exception as e:  # noqa: BLE001
                turn.error = f"socket.io {type(e).__name__}: {str(e)[:120]}"
            if think:
                await asyncio.sleep(think)
    finally:
        await _close(sio)


async def _close(sio) -> None:
    try:
        # abort: don't wait up to a ping interval (25 s) for the open long-poll to return.
        await asyncio.wait_for(sio.eio.disconnect(abort=True), 10)
    except Exception:  # noqa: BLE001
        pass


def check_events(user: User, events: List[Dict]) -> None:
    """Every message sent is in the tracker once, in order, each followed by a bot message."""
    sent = [t.text.strip() for t in user.turns]
    said = [(e.get("text") or "").strip() for e in events if e.get("event") == "user"]
    missing = Counter(sent) - Counter(said)
    extra = Counter(said) - Counter(sent)
    user.lost = sum(missing.values())
    if user.lost:
        user.problems.append(f"{user.lost} of {len(sent)} messages are not in the tracker")
    if extra:
        user.problems.append(f"{sum(extra.values())} messages in the tracker that were not sent (or twice)")
    if not missing and not extra and said != sent:
        user.out_of_order = True
        user.problems.append("messages are in the tracker in another order than sent")
    answered = None  # None before the first user message
    for event in events:
        if event.get("event") == "user":
            if answered is False:
                user.unanswered += 1
            answered = False
        elif event.get("event") == "bot" and answered is False:
            answered = True
    if answered is False:
        user.unanswered += 1
    if user.unanswered:
        user.problems.append(f"{user.unanswered} messages have no bot message before the next one")
    stamps = [e.get("timestamp") or 0 for e in events]
    if any(b < a for a, b in zip(stamps, stamps[1:])):
        user.out_of_order = True
        user.problems.append("event timestamps go backwards")


async def verify(session: aiohttp.ClientSession, url: str, token: str, users: List[User], timeout: float) -> None:
    limit = asyncio.Semaphore(4)

    async def one(user: User) -> None:
        async with limit:
            try:
                if not user.conversation:
                    raise RuntimeError("it never got a conversation")
                async with session.get(
                    f"{url}/conversations/{quote(user.conversation, safe='/:')}/tracker", params={"token": token},
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status}")
                    tracker = await response.json(content_type=None)
            except Exception as e:  # noqa: BLE001
                user.lost = len(user.turns)
                user.problems.append(f"tracker not readable ({type(e).__name__}: {str(e)[:80]}); all counted lost")
                return
            check_events(user, tracker.get("events") or [])

    await asyncio.gather(*(one(u) for u in users))


async def run(
    url: str,
    token: Optional[str],
    users: int,
    turns: int,
    socketio_users: int = 0,
    *,
    seed: Optional[int] = None,
    timeout: float = 60,
    max_seconds: float = 600,
    quiet: float = 1.0,
    think: float = 0,
    progress_every: float = 5,
    rest_token: str = "",
) -> Report:
    """Runs the users against a running server and checks the trackers (when ``token`` is given)."""
    url = url.rstrip("/")
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:8]
    people = [User(f"load-{run_id}-rest-{i}", "rest", conversation(rng, turns)) for i in range(users)]
    people += [User(f"load-{run_id}-sio-{i}", "socketio", conversation(rng, turns)) for i in range(socketio_users)]
    progress = Progress(people, progress_every)
    reporter = asyncio.ensure_future(progress.run())
    deadline = time.monotonic() + max_seconds
    connector = aiohttp.TCPConnector(limit=max(users, 1) + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()

        async def timed(user: User) -> None:
            try:
                if user.channel == "rest":
                    await rest_user(session, url, user, deadline, timeout, think, rest_token)
                else:
                    await socketio_user(url, user, deadline, timeout, quiet, think)
            finally:
                user.finished = time.perf_counter() - started

        await asyncio.gather(*(timed(u) for u in people))
        duration = time.perf_counter() - started
        reporter.cancel()
        if token:
            await verify(session, url, token, people, timeout)
    return Report(people, max(duration, 1e-9), checked=bool(token))


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m willow.load_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="users over REST (default 20)")
    parser.add_argument("--turns", type=int, default=8, help="messages per user (default 8)")
    parser.add_argument("--socketio-users", type=int, default=0, help="users over socket.io (default 0)")
    parser.add_argument("--url", help="a running Rasa server (default: start one with the current model)")
    parser.add_argument("--token", default=os.environ.get("WILLOW_API_TOKEN"),
                        help="its HTTP API token, for the tracker check (default: $WILLOW_API_TOKEN)")
    parser.add_argument("--rest-token", default=os.environ.get("WILLOW_REST_TOKEN", ""),
                        help="the server's REST token (default: $WILLOW_REST_TOKEN)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a --url on another machine")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for one reply (default 60)")
    parser.add_argument("--max-seconds", type=float, default=600,
                        help="stop starting new turns after this many seconds (default 600)")
    parser.add_argument("--quiet", type=float, default=1.0,
                        help="socket.io: a turn ends after this many seconds without a reply (default 1)")
    parser.add_argument("--think", type=float, default=0, help="seconds a user waits between turns (default 0)")
    parser.add_argument("--seed", type=int, help="random seed for the conversation paths")
    parser.add_argument("--progress", type=float, default=5, help="seconds between progress lines (0: none)")
    parser.add_argument("--model", type=Path, help="model to serve when it starts its own (default: the current one)")
    parser.add_argument("--endpoints", type=Path,
                        help="when it starts its own: an endpoints file for the tracker and lock store (default: in memory)")
    parser.add_argument("--sqlite", action="store_true",
                        help="when it starts its own: keep conversations in a new SQLite file, like `make run`")
    parser.add_argument("--logs", type=Path, help="server logs when it starts its own (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.users < 0 or args.socketio_users < 0 or args.users + args.socketio_users == 0 or args.turns < 1:
        parser.error("need at least one user and one turn")
    if args.users + args.socketio_users > 1000 or args.turns > 1000:
        parser.error("at most 1000 users and 1000 turns per user: this is a bounded run")
    if args.url and (args.sqlite or args.endpoints or args.model):
        parser.error("--sqlite, --endpoints and --model are for the servers it starts itself, not with --url")
    if args.url and not args.allow_remote and urlsplit(args.url).hostname not in LOCAL_HOSTS:
        parser.error(f"{args.url} is not on this machine; pass --allow-remote if it is yours to load")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)

    def go(url: str, token: Optional[str], rest_token: str) -> Report:
        print(f"[load] {args.users} REST + {args.socketio_users} socket.io users x {args.turns} turns "
              f"against {url}", file=sys.stderr, flush=True)
        return asyncio.run(run(
            url, token, args.users, args.turns, args.socketio_users, seed=args.seed, timeout=args.timeout,
            max_seconds=args.max_seconds, quiet=args.quiet, think=args.think, progress_every=args.progress,
            rest_token=rest_token,
        ))

    if args.url:
        report = go(args.url, args.token, args.rest_token)
    else:
        from willow import local_servers, model_files

        model = args.model or model_files.model_path()
        if not model.exists():
            print(f"error: no model for the current data ({model}); run `make train` first", file=sys.stderr)
            return 2
        logs = args.logs or Path(tempfile.mkdtemp(prefix="willow-load-"))
        logs.mkdir(parents=True, exist_ok=True)
        print(f"[load] starting the action server and Rasa server (logs: {logs})", file=sys.stderr, flush=True)
        options = {}
        if args.sqlite:
            args.endpoints = logs / "endpoints-sqlite.yml"
            args.endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {logs / 'load.db'}\n")
        if args.endpoints:
            options["endpoints"] = args.endpoints
            print(f"[load] tracker and lock store from {args.endpoints}", file=sys.stderr, flush=True)
        with local_servers.running(model, logs, **options) as servers:
            report = go(servers.url, servers.token, servers.rest_token)

    print(report.markdown())
    for line in report.details():
        print(line)
    print("PASS: no errors, nothing lost, every conversation in order" if report.ok else "FAIL", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
