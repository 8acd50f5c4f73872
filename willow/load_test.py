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

Every message carries a message id of its own. One that got no answer (no connection, a
timeout, 502/503/504; socket.io: the connection lost, then connected again to the same session)
is sent again with the same id for up to ``--retry-for`` seconds, as the web page does; the
server handles it once (willow/idempotency.py). Retries are listed after the table.

Bounded: every request has a timeout (``--timeout``) and the run stops starting new turns
after ``--max-seconds``; turns never sent count as errors.
Exit status: 0 when there was no error and nothing was lost, 1 otherwise, 2 on bad usage.
"""
from __future__ import annotations

import argparse
import asyncio
import json
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
    latency: Optional[float] = None  # seconds, from the first attempt to the first reply
    replies: int = 0
    error: Optional[str] = None
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # the same on every attempt
    attempts: int = 0
    failures: List[str] = field(default_factory=list)  # why earlier attempts were retried


# Answers worth sending the same message again for (with the same message id): the load
# balancer found no live instance (502, 504) or a store was down (503). Others are errors.
RETRY_STATUSES = {502, 503, 504}


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
        retried = [t for t in self.turns() if t.attempts > 1]
        if retried:
            reasons = Counter(f for t in retried for f in t.failures)
            out.append(f"sent again with the same message id: {len(retried)} messages, "
                       f"{sum(t.attempts - 1 for t in retried)} retries ("
                       + "; ".join(f"{n}x {r}" for r, n in reasons.most_common(3)) + ")")
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
    rest_token: str = "", retry_for: float = 0,
) -> None:
    """Sends the user's messages one after the other. A message that got no answer (no
    connection, a timeout, 502/503/504) is sent again with the same message id, for up to
    ``retry_for`` seconds: the server answers it once (willow/idempotency.py)."""
    user.conversation = conversation_ids.conversation_id(conversation_ids.REST, user.sender)
    for text in user.texts:
        if time.monotonic() > deadline:
            return
        turn = Turn(text)
        user.turns.append(turn)
        started = time.perf_counter()
        while True:
            turn.attempts += 1
            problem = None
            try:
                async with session.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": user.sender, "message": text, "message_id": turn.message_id},
                    headers={"Authorization": f"Bearer {rest_token}"}, timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response:
                    body = await response.text()
                    if response.status == 200:
                        turn.latency = time.perf_counter() - started
                        replies = json.loads(body)
                        turn.replies = len(replies) if isinstance(replies, list) else 0
                        if not turn.replies:
                            turn.error = "REST: no reply"
                        break
                    problem = f"REST HTTP {response.status}: {body[:120]}"
                    if response.status not in RETRY_STATUSES:
                        turn.error = problem
                        break
            except asyncio.TimeoutError:
                problem = f"REST timeout after {timeout:g} s"
            except (aiohttp.ClientError, ValueError) as e:
                problem = f"REST {type(e).__name__}: {str(e)[:120]}"
            if time.perf_counter() - started + RETRY_PAUSE > retry_for:
                turn.error = problem
                break
            turn.failures.append(problem)
            await asyncio.sleep(RETRY_PAUSE)
        if think:
            await asyncio.sleep(think)


RETRY_PAUSE = 1.0  # seconds between attempts of one message


class SocketIOConnection:
    """One socket.io client that can connect again to the same conversation after its server
    went away. Replies are matched to messages by ``reply_to`` (willow/channels/socketio.py)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url, self.timeout = url, timeout
        self.session: Optional[str] = None  # the server's session id, kept across reconnects
        self.events: "asyncio.Queue" = asyncio.Queue()  # ("reply", time, reply_to) | ("gone",) | ("error", data)
        self.sio = None
        # The load balancer keeps a socket.io client on one instance with a cookie; aiohttp
        # drops cookies of IP-address hosts unless the jar is "unsafe".
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def connect(self) -> str:
        import socketio  # python-socketio; only needed for socket.io users

        await self.close_socket()
        sio = self.sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
        # A new queue per socket: a late "disconnect" of the old one must not end the next attempt.
        events = self.events = asyncio.Queue()
        confirmed: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
        sio.on("bot_uttered", lambda data: events.put_nowait(
            ("reply", time.perf_counter(), data.get("reply_to") if isinstance(data, dict) else None)))
        sio.on("willow_error", lambda data: events.put_nowait(("error", data)))
        sio.on("disconnect", lambda *_: events.put_nowait(("gone",)))

        def on_confirm(session: str) -> None:  # the server hands out the session (a new conversation)
            if not confirmed.done():
                confirmed.set_result(str(session))

        sio.on("session_confirm", on_confirm)
        await sio.connect(self.url, transports=["polling"], wait_timeout=self.timeout)
        await sio.emit("session_request", {"session_id": self.session})
        self.session = await asyncio.wait_for(confirmed, self.timeout)
        return self.session

    async def close_socket(self) -> None:
        if self.sio is not None:
            await _close(self.sio)
            self.sio = None

    async def close(self) -> None:
        await self.close_socket()
        await self.http.close()


async def socketio_user(url: str, user: User, deadline: float, timeout: float, quiet: float, think: float,
                        retry_for: float = 0) -> None:
    """Like the web page: each message has its id; a message without an answer after a lost
    connection (or a 503) is sent again with the same id, for up to ``retry_for`` seconds,
    after connecting again to the same session."""
    connection = SocketIOConnection(url, timeout)
    try:
        session = await connection.connect()
        user.conversation = conversation_ids.conversation_id(conversation_ids.WEB, session)
    except Exception as e:  # noqa: BLE001  the user cannot start: its turns count as not sent
        user.failure = f"socket.io connect {type(e).__name__}: {str(e)[:120]}"
        await connection.close()
        return
    try:
        for text in user.texts:
            if time.monotonic() > deadline:
                return
            turn = Turn(text)
            user.turns.append(turn)
            await socketio_turn(connection, user, turn, timeout, quiet, retry_for)
            if think:
                await asyncio.sleep(think)
    finally:
        await connection.close()


async def socketio_turn(connection: SocketIOConnection, user: User, turn: Turn, timeout: float, quiet: float,
                        retry_for: float) -> None:
    started = time.perf_counter()
    while True:
        turn.attempts += 1
        problem = None
        try:
            if connection.sio is None or not connection.sio.connected:
                session = await connection.connect()
                if user.conversation != conversation_ids.conversation_id(conversation_ids.WEB, session):
                    turn.error = "socket.io: the server gave a new session after reconnecting"
                    return
            await connection.sio.emit("user_uttered", {"message": turn.text, "message_id": turn.message_id})
            attempt_deadline = time.perf_counter() + timeout
            while True:
                event = await asyncio.wait_for(connection.events.get(), max(0.01, attempt_deadline - time.perf_counter()))
                if event[0] == "reply" and event[2] == turn.message_id:
                    turn.latency = event[1] - started
                    turn.replies = 1
                    break
                if event[0] == "gone":
                    raise ConnectionError("the connection was lost")
                if event[0] == "error" and isinstance(event[1], dict) and event[1].get("message_id") == turn.message_id:
                    raise ConnectionError(f"the server answered {event[1].get('status')}")
            while True:  # the channel sends one event per message and paragraph
                event = await asyncio.wait_for(connection.events.get(), quiet)
                if event[0] == "reply" and event[2] == turn.message_id:
                    turn.replies += 1
            # (never reached: the quiet timeout ends the turn)
        except asyncio.TimeoutError:
            if turn.replies:
                return
            problem = f"socket.io: no reply within {timeout:g} s"
        except Exception as e:  # noqa: BLE001
            if turn.replies:
                return
            problem = f"socket.io {type(e).__name__}: {str(e)[:120]}"
        if time.perf_counter() - started + RETRY_PAUSE > retry_for:
            turn.error = problem
            return
        turn.failures.append(problem)
        await connection.close_socket()
        await asyncio.sleep(RETRY_PAUSE)


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
    retry_for: float = 30,
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
                    await rest_user(session, url, user, deadline, timeout, think, rest_token, retry_for)
                else:
                    await socketio_user(url, user, deadline, timeout, quiet, think, retry_for)
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
    parser.add_argument("--retry-for", type=float, default=30,
                        help="send a message that got no answer again, with the same id, for this many seconds "
                             "(default 30; 0: never)")
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
            rest_token=rest_token, retry_for=args.retry_for,
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
