"""Property-based fuzzing of every channel of the running servers (issue 15), with hypothesis.

Each channel gets WILLOW_FUZZ_EXAMPLES generated inputs (default 5,000) against the session's
real Rasa server (tests/conftest.py ``servers``): REST bodies, socket.io events and raw engine.io
polling bodies, Telegram updates with the secret header, Slack events and interactions with valid
signatures. Shapes and types are random (hypothesis), and so is the text: emoji, RTL, combining
marks, lone surrogates, NUL, very long fields, invalid UTF-8, deep nesting, huge numbers.

Properties, checked after every input:

- no 5xx, except a deliberate 503 whose body is a JSON error;
- REST answers JSON, always;
- the Rasa process is alive, and the part of its log written since the last input has no
  "Traceback", no ERROR line and never the canary, a marker put into some of the messages
  (message text must never be logged);

and after each channel's run, a normal conversation on that channel is answered and the log of
the whole run is clean (background work, such as Slack's, may log after its input was answered).

The default run is fixed (seed ``FIXED_SEED``) so `make test` is repeatable; WILLOW_FUZZ_SEED=random
picks a new seed per run (shown in test-artifacts/fuzz.md; WILLOW_FUZZ_SEED=<number> replays it).
`make fuzz` runs 50,000 per channel with random seeds.

A failure names its cause (the exception and line from the server's traceback, or the ERROR
line) and each distinct cause is its own hypothesis bug, so one run reports and minimises all.
Most generated inputs are refused in a millisecond or two; the few that are real messages go
through NLU and policies (20-40 ms), so they are kept to a few percent, short, from a handful of
senders.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote_from_bytes

import pytest
import requests
import socketio
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.internal.conjecture import engine as _hypothesis_engine

from tests import channel_clients, domain_files
from tests.conftest import ARTIFACTS
from tests.socketio_chat import Chat
from willow.channels import telegram

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("WILLOW_FUZZ_EXAMPLES") or 5000)
# Raw engine.io bodies: on top of the socket.io events, a fifth as many (three requests each).
RAW_EIO_EXAMPLES = max(1, EXAMPLES // 5)
FIXED_SEED = 15  # issue 15
_SEED_SETTING = os.environ.get("WILLOW_FUZZ_SEED", "").strip().lower()
SEED = secrets.randbits(32) if _SEED_SETTING == "random" else int(_SEED_SETTING or FIXED_SEED)
# Digits, not letters: random letters can read as another language and change the reply.
CANARY = f"canary{uuid.uuid4().int % 10**12:012d}"
MAX_BODY = 1_000_000  # SANIC_REQUEST_MAX_SIZE (willow/local_servers.py): larger bodies get 413
TIMEOUT = 30  # seconds: an answer later than this is a hang
RAW_TIMEOUT = 2  # seconds, for engine.io requests (no NLU behind them: milliseconds)

# Even without a database hypothesis caches Unicode tables in .hypothesis/: with the test output instead.
set_hypothesis_home_dir(ARTIFACTS / "hypothesis")

# Minimising a failure replays it against the live server, which may mean a timeout per replay:
# a minute per test is enough for these inputs (hypothesis allows five).
if getattr(_hypothesis_engine, "MAX_SHRINKING_SECONDS", 0) > 60:
    _hypothesis_engine.MAX_SHRINKING_SECONDS = 60

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the server's latency varies; hangs are caught by request timeouts
    database=None,  # no .hypothesis/ in the repository; the seed makes runs repeatable
    suppress_health_check=list(HealthCheck),  # big inputs and a live server are the point
    print_blob=True,
)


def dumps(value: Any, ascii_only: bool = True) -> bytes:
    """JSON bytes; lone surrogates become ``\\ud800`` escapes (ASCII) or invalid UTF-8 (not)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# -- text ---------------------------------------------------------------------------------
SPECIAL = [
    "😢", "👩🏽‍⚕️", "🏳️‍🌈", "\U0001f926\u200d\u2640\ufe0f",  # emoji, ZWJ sequences
    "مرحبا، بكيت في جلستي", "בכיתי בטיפול", "\u202egnirtS\u202c", "\u200f", "\u061c",  # RTL, bidi controls
    "e\u0301\u0301\u0301", "Z\u0335\u0321a\u0336\u0327l\u0334g\u0337o\u0338",  # combining marks
    "\x00", "\ud800", "\udfff", "\ud83d", "\ufeff", "\uffff", "\U0010ffff", "\u2028",  # NUL, lone surrogates...
    "\r\n", "\t", "\x1b[31m", "\x7f", "日本語で泣いた", "\u3000", "ﷺ", "𒐫",
    "%s%n{0}{{x}}", "${jndi:ldap://x}", "<script>alert(1)</script>", "' OR 1=1 --", "\\", '"', "\\u0000",
    "/greet", "/start", "/restart", '/greet{"topic": "cried"}', "/greet{", "/", "@willow_test_bot",
    "<@UWILLOWBOT>", "I cried in therapy today", "hi", "is that normal?", CANARY,
]
# Characters a stored message may hold (no NUL, no lone surrogates): text for valid messages.
SAFE_SPECIAL = [s for s in SPECIAL if "\x00" not in s and not re.search("[\ud800-\udfff]", s)]
_any_char = st.characters(codec=None)  # all of Unicode but surrogates...
_surrogate = st.characters(categories=["Cs"])  # ...which come from here

# One draw or three, not one per piece: hypothesis spends ~50 us a draw and this runs 20,000+ times.
fuzz_text = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(_any_char, max_size=12),
    st.tuples(st.text(_any_char, max_size=6), st.sampled_from(SPECIAL), st.text(_any_char | _surrogate, max_size=6)).map("".join),
)
# Text the channels refuse: with a NUL or a lone surrogate somewhere.
refused_text = st.tuples(st.text(_any_char, max_size=8), st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d"]),
                         fuzz_text).map("".join)
_safe_char = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
short_text = st.one_of(
    st.sampled_from(SAFE_SPECIAL),
    st.text(_safe_char, min_size=1, max_size=20),
    st.tuples(st.sampled_from(SAFE_SPECIAL), st.text(_safe_char, max_size=10), st.sampled_from(SAFE_SPECIAL)).map(" ".join),
)
# Messages the servers refuse by length (10,000 characters), and now and then a body over 1 MB.
# Exactly 10,000 is accepted: kept rare, since spaCy's tokenizer is quadratic in a token's length
# (10,000 emoji without a space: 17 s, blocking the server).
LONG_CHARS = [10_000, 10_001, 10_001, 10_001, 30_000, 60_000, 200_000, "1 MB"]
REFUSED_LONG_CHARS = [10_001, 30_000, 200_000]
# Telegram and Slack set no length limit of their own (real Telegram texts stop at 4,096).
PLATFORM_LONG_CHARS = [300, 1000, 2000, 4096]


def repeat_to(piece: str, chars: Any) -> str:
    piece = piece or "a"
    if chars == "1 MB":  # in bytes as sent: a character can take 1-12 (escaped surrogate pairs)
        chars = MAX_BODY // max(1, len(dumps(piece)) - 2) * len(piece) + 100
    return (piece * (chars // len(piece) + 1))[:chars]


_pieces = st.sampled_from(SPECIAL) | st.text(max_size=4)
long_text = st.builds(repeat_to, _pieces, st.sampled_from(LONG_CHARS))
refused_long_text = st.builds(repeat_to, _pieces, st.sampled_from(REFUSED_LONG_CHARS))
platform_long_text = st.builds(repeat_to, _pieces, st.sampled_from(PLATFORM_LONG_CHARS))


def weighted(*pairs: Tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each ``weight`` times as likely (st.one_of picks distinct ones evenly)."""
    table = [s for weight, s in pairs for _ in range(weight)]
    index = st.integers(0, len(table) - 1)

    @st.composite
    def pick(draw: Callable) -> Any:
        return draw(table[draw(index)])

    return pick()


# -- JSON ---------------------------------------------------------------------------------
KEYS = ["sender", "message", "metadata", "input_channel", "message_id", "session_id", "text", "chat",
        "id", "from", "data", "event", "type", "user", "channel", "ts", "actions", "value", "payload", ""]
json_keys = st.sampled_from(KEYS) | fuzz_text
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.sampled_from([0, -1, 2**63, -(2**64), 10**400, 1e308, -0.0]),
)
json_leaves = scalars | fuzz_text
# Nested two levels at most (st.recursive costs several times more per draw); deeper nesting
# comes from the raw bodies.
_level1 = st.lists(json_leaves, max_size=4) | st.dictionaries(json_keys, json_leaves, max_size=4)
_containers = _level1 | st.lists(_level1 | json_leaves, max_size=3) | st.dictionaries(json_keys, _level1 | json_leaves, max_size=3)
not_a_string = st.one_of(scalars, _containers)
json_values = st.one_of(json_leaves, _containers)


def json_body(value: st.SearchStrategy) -> st.SearchStrategy:
    """``value`` as JSON, mostly ASCII with escapes, sometimes UTF-8 (invalid for lone surrogates)."""
    return st.builds(dumps, value, st.sampled_from([True, True, True, False]))


def nested(opener: str, depth: int, close: bool) -> bytes:
    closer = {"[": "]", "{": "}"}[opener.strip()[0]] * depth if close else ""
    return (opener * depth + "1" + closer).encode()


def big_number(digits: int) -> bytes:
    """A body with an integer of ``digits`` digits (Python parses at most 4,300 by default)."""
    return b'{"sender": "fuzz", "message": ' + b"9" * digits + b"}"


raw_bytes = st.one_of(
    st.binary(max_size=64),
    st.builds(nested, st.sampled_from(["[", '{"a":', '{"message":', '{"event":', '[{"x":']),
              st.sampled_from([1, 100, 999, 1001, 5000, 100_000]), st.booleans()),
    st.builds(big_number,
              st.sampled_from([4300, 4301, 100_000])),
    st.sampled_from([b"", b"null", b"{}", b"[]", b'"x"', b"NaN", b"-Infinity", b"\xef\xbb\xbf{}", b"{\"a\":1}x",
                     '{"message": "I cried"}'.encode("utf-16"), b'{"message": "\xff\xfe"}', b"\x00" * 10]),
)


def mutate(body: bytes, at: int, junk: bytes, cut: bool) -> bytes:
    """A valid body broken at one place: truncated there, or with bytes (often invalid UTF-8) put in."""
    at = at % (len(body) + 1)
    return body[:at] if cut else body[:at] + junk + body[at:]


def mutated(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(mutate, valid, st.integers(0, 10**6),
                     st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b'"', b"}", b","]) | st.binary(max_size=4),
                     st.booleans())


# -- headers ----------------------------------------------------------------------------
def header_value(value: bytes) -> bytes:
    """Any bytes a client can put in a header: no CR/LF, no leading white space."""
    return value.replace(b"\r", b"").replace(b"\n", b"").lstrip()


header_names = st.sampled_from(["X-Fuzz", "X-Forwarded-For", "X-Real-IP", "Cookie", "Referer", "User-Agent",
                                "X-Request-Id", "Accept-Charset", "Accept-Language", "Range", "If-None-Match", "Forwarded"])
HEADER_BYTES = [b"", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"a\x00b", b"\x7f", b"=?utf-8?b?w6k=?=",
                b"%00", b"a" * 8000, b"; ;;", b'"', b"*/*", b"\xe2\x80\xae", b"\t"]
# st.binary costs twice a text draw; latin-1 text covers every byte value.
header_values = st.one_of(
    st.sampled_from(HEADER_BYTES),
    st.text(st.characters(max_codepoint=255), max_size=30).map(lambda t: t.encode("latin-1")),
    st.sampled_from(SPECIAL).map(lambda t: t.encode("utf-8", "surrogatepass")),
).map(header_value)
CONTENT_TYPES = [None, "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                 "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=zz", "application/octet-stream", "", ";", "json"]
# Random ones stay bytes: requests checks a str value with Unicode's idea of white space ("\x85").
content_types = st.one_of(st.sampled_from(CONTENT_TYPES), header_values)


def _headers(content_type: Any, accept: Optional[str], encoding: Optional[str],
             extra: Dict[str, bytes]) -> Dict[str, Any]:
    named = {"Content-Type": content_type, "Accept": accept, "Content-Encoding": encoding}
    return {**{k: v for k, v in named.items() if v is not None}, **extra}


# Random headers on top of a request's usual ones.
extra_headers = st.builds(
    _headers, content_types,
    weighted((8, st.none()), (1, st.sampled_from(["text/html", "application/json", "*/*", "x/y;q=0"]))),
    weighted((8, st.none()), (1, st.sampled_from(["gzip", "br", "identity", "x"]))),
    st.dictionaries(header_names, header_values, max_size=1),
)


def weighted_headers(usual: Dict[str, Any]) -> st.SearchStrategy:
    """Mostly the usual headers; sometimes random ones on top."""
    return weighted((5, st.just(usual)), (1, extra_headers.map(lambda extra: {**usual, **extra})))


@dataclass(frozen=True)
class Case:
    """One generated HTTP request (shown shortened when hypothesis prints a failing one)."""

    body: bytes
    headers: Dict[str, Any] = field(default_factory=dict)
    params: Dict[str, str] = field(default_factory=dict)
    kind: str = ""  # what the generator meant it to be, for the statistics

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 1500 else self.body[:1500] + b"...(%d bytes)" % len(self.body)
        return f"Case(kind={self.kind!r}, body={body!r}, headers={self.headers!r}, params={self.params!r})"


# -- what the server did ------------------------------------------------------------------------
class ServerBug(AssertionError):
    """A property failed. Subclassed per cause, so that hypothesis reports each cause separately."""


_BUG_CLASSES: Dict[str, type] = {}


def bug(cause: str, detail: str) -> ServerBug:
    cls = _BUG_CLASSES.setdefault(cause, type("ServerBug", (ServerBug,), {"cause": cause}))
    return cls(f"{cause}\n{detail}")


_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)')
_ERROR_LINE = re.compile(r"\bERROR\b|\[ERROR\]|\bCRITICAL\b")


def log_problems(text: str) -> List[Tuple[str, str]]:
    """(cause, excerpt) of each problem in a piece of the Rasa log: the canary first, then each
    traceback (named by its exception and innermost frame), then ERROR lines not part of one."""
    lines = text.splitlines()
    found = [("message text in the log", line[:500]) for line in lines if CANARY in line][:1]
    in_traceback = set()
    for number, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            frame, end = None, number + 1
            while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
                match = _FRAME.match(lines[end])
                frame = match.groups() if match else frame
                end += 1
            exception = lines[end] if end < len(lines) else "?"
            where = f" at {Path(frame[0]).name}:{frame[1]} in {frame[2]}" if frame else ""
            # The ERROR line that announced the traceback (just above it) belongs to it.
            in_traceback.update(range(max(0, number - 2), end + 1))
            found.append((f"{exception.split(':')[0]}{where}", "\n".join(lines[max(0, number - 2):end + 1])[-3000:]))
    for number, line in enumerate(lines):
        if number not in in_traceback and _ERROR_LINE.search(line):
            # Without time stamps and numbers, so one cause is one bug however often it happens.
            message = re.sub(r"^\[?[\d-]+ [\d:.]+( \+\d+)?\]?\s*(\[\d+\]\s*)?", "", line)
            found.append((re.sub(r"\d+", "N", message)[:160], line[:800]))
    return found


def log_problem(text: str) -> Optional[Tuple[str, str]]:
    problems = log_problems(text)
    return problems[0] if problems else None


class Watch:
    """The Rasa log since the last look, and whether the Rasa process still runs."""

    def __init__(self, servers: Any) -> None:
        self.path = Path(servers.rasa_log)
        self.pid = servers.pid
        self.start = self.offset = self.path.stat().st_size
        self.reported: set = set()  # causes already failed an input (the after-test skips them)

    def new_text(self) -> str:
        size = self.path.stat().st_size
        if size <= self.offset:
            return ""
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        # A line still being written is read next time.
        complete = chunk.rfind(b"\n") + 1
        self.offset += complete
        return chunk[:complete].decode("utf-8", "replace")

    def since_start(self) -> str:
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            return handle.read().decode("utf-8", "replace")

    def alive(self) -> bool:
        if self.pid is None:
            return True
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")

    def problem(self) -> Optional[Tuple[str, str]]:
        """(cause, excerpt) of the first problem logged since the last look, or None."""
        text = self.new_text()
        if not text or log_problem(text) is None:
            return None
        time.sleep(0.2)  # let a traceback being written finish, for the excerpt
        problems = log_problems(text + self.new_text())
        self.reported.update(cause for cause, _ in problems)
        return problems[0]

    def check(self, what: str) -> None:
        """Raises a ServerBug if the server died or logged a problem since the last check."""
        if not self.alive():
            raise bug("the Rasa server process died", what)
        problem = self.problem()
        if problem:
            raise bug(f"log: {problem[0]}", f"{what}\n--- Rasa log ---\n{problem[1]}")


@dataclass
class Stats:
    inputs: int = 0
    to_rasa: int = 0  # inputs that were (meant to be) messages Rasa handles
    outcomes: Counter = field(default_factory=Counter)
    started: Optional[float] = None
    ended: float = 0.0

    def count(self, outcome: Any, to_rasa: bool = False) -> None:
        now = time.monotonic()
        self.started = self.started or now
        self.ended = now
        self.inputs += 1
        self.to_rasa += bool(to_rasa)
        self.outcomes[str(outcome)] += 1

    @property
    def seconds(self) -> float:
        return self.ended - self.started if self.started else 0.0


STATS: Dict[str, Stats] = {}
WATCHES: Dict[str, Watch] = {}


def stats(channel: str) -> Stats:
    return STATS.setdefault(channel, Stats())


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request: pytest.FixtureRequest):
    """Writes test-artifacts/fuzz.md (inputs, outcomes and time per channel) and prints it."""
    yield
    if not STATS:
        return
    lines = ["# Fuzzing the channels (tests/test_fuzz.py)\n",
             f"Seed {SEED}{' (random)' if _SEED_SETTING == 'random' else ''}; "
             f"{EXAMPLES} examples per test (WILLOW_FUZZ_EXAMPLES).\n",
             "| channel | inputs | to Rasa | seconds | inputs/s | outcomes (HTTP status or event) |",
             "|---|---:|---:|---:|---:|---|"]
    for name, s in STATS.items():
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(s.outcomes.items()))
        rate = s.inputs / s.seconds if s.seconds else 0
        lines.append(f"| {name} | {s.inputs} | {s.to_rasa} | {s.seconds:.1f} | {rate:.0f} | {outcomes} |")
    text = "\n".join(lines) + "\n"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "fuzz.md").write_text(text)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n" + text)


def watch(channel: str, servers: Any) -> Watch:
    """The channel's log watch, started at its first input: the after-test checks its whole run."""
    if channel not in WATCHES:
        WATCHES[channel] = Watch(servers)
    return WATCHES[channel]


def check_status(response: requests.Response, what: str, w: Watch) -> None:
    """No 5xx but a deliberate 503 (with a JSON error). A failure is named by the traceback it
    logged, which is also read here, so that it is not blamed on the next input."""
    status = response.status_code
    if status < 500:
        return
    if status == 503:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error"):
            return
    problem = w.problem()
    cause = f"HTTP {status}" + (f" ({problem[0]})" if problem else "") + ("" if status != 503 else " without a JSON error")
    raise bug(cause, f"{what}\n{response.text[:500]}" + (f"\n--- Rasa log ---\n{problem[1]}" if problem else ""))


def send(session: requests.Session, url: str, case: Case, timeout: float = TIMEOUT) -> requests.Response:
    try:
        return session.post(url, data=case.body, headers=case.headers, params=case.params, timeout=timeout)
    except requests.ConnectionError as error:
        # Sanic closes the connection after refusing an oversized body, sometimes before the
        # client has finished sending it; anything else is the server hanging up on a request.
        if len(case.body) > MAX_BODY:
            return _closed(413)
        raise bug("the connection was dropped without an answer", f"{case!r}\n{type(error).__name__}")
    except requests.Timeout:
        raise bug(f"no answer within {timeout} s", repr(case))


def _closed(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"error": "connection closed by the server"}'
    response.headers["Content-Type"] = "application/json"
    return response


def settle(w: Watch, quiet: float = 1.0, timeout: float = 30) -> None:
    """Waits until the log has not grown for ``quiet`` seconds (background work has finished)."""
    deadline = time.monotonic() + timeout
    size = w.path.stat().st_size
    last_change = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = w.path.stat().st_size
        if now != size:
            size, last_change = now, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return


def check_whole_run(channel: str) -> None:
    """The log of the channel's whole run: nothing the per-input checks could have missed."""
    w = WATCHES.get(channel)
    if w is None:
        pytest.skip(f"the {channel} fuzz test did not run")
    settle(w)
    assert w.alive(), "the Rasa server process died"
    # Problems no input was blamed for (the fuzz test reports those it could pin on an input).
    unblamed = [p for p in log_problems(w.since_start()) if p[0] not in w.reported]
    assert not unblamed, f"{channel} fuzzing left problems in the Rasa log: " + "\n\n".join(
        f"{cause}\n{excerpt}" for cause, excerpt in unblamed[:5])


@pytest.fixture(scope="module")
def http() -> requests.Session:
    """One keep-alive connection for thousands of requests."""
    with requests.Session() as session:
        yield session


def said(replies: List[dict]) -> str:
    return "\n\n".join(r.get("text") or "" for r in replies)


# -- REST ---------------------------------------------------------------------------------
# Reused, but not too often: a conversation of hundreds of turns takes 3-4 times as long a turn.
REST_SENDERS = [f"fuzz-rest-{n}" for n in range(40)]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()  # a field's value that means "leave the field out"
absent = st.just(ABSENT)


def optional_fields(fields: Dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Objects with or without each field (a field drawn as ABSENT is left out)."""
    return st.fixed_dictionaries(fields).map(lambda drawn: {k: v for k, v in drawn.items() if v is not ABSENT})


def merged(*parts: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(*parts).map(lambda dicts: {k: v for d in dicts for k, v in d.items()})


small_objects = st.dictionaries(json_keys, json_values, max_size=3)
# An object with or without each field of a REST body, each of a random type.
rest_object = merged(optional_fields({
    "sender": weighted((2, absent), (2, st.sampled_from(REST_SENDERS)), (2, json_values), (1, fuzz_text),
                       (1, st.sampled_from(["", " ", "s" * 250, "s" * 251, "\x00", "\ud800"]))),
    "message": weighted((8, not_a_string), (2, absent), (3, fuzz_text), (3, refused_text), (1, long_text),
                        (1, short_text)),
    "metadata": weighted((4, absent), (2, json_values), (1, small_objects)),
    "input_channel": weighted((4, absent), (1, st.just("rest")), (2, json_values)),
    "message_id": weighted((4, absent), (2, json_values), (1, st.uuids().map(str))),
}), st.dictionaries(json_keys, json_values, max_size=2))
# A message the channel accepts: one of a few senders, short text (sometimes the canary).
rest_valid = merged(
    st.fixed_dictionaries({"sender": st.sampled_from(REST_SENDERS), "message": short_text}),
    optional_fields({"metadata": weighted((1, absent), (1, small_objects)), "input_channel": st.sampled_from([ABSENT, None, "rest"])}),
)


def http_case(kind_body: Tuple[str, bytes], header: Tuple[str, Any], headers: Dict[str, Any],
              params: Dict[str, str]) -> Case:
    """A request from its parts; ``header`` is (name, value) of the channel's secret (value None: left out)."""
    name, value = header
    return Case(kind_body[1], headers if value is None else {**headers, name: value}, params, kind_body[0])


def rest_cases(token: str) -> st.SearchStrategy:
    auth = f"Bearer {token}"
    return st.builds(
        http_case,
        weighted(
            (14, st.tuples(st.just("object"), json_body(rest_object))),
            (4, st.tuples(st.just("json"), json_body(json_values))),
            (4, st.tuples(st.just("raw"), raw_bytes)),
            (2, st.tuples(st.just("mutated"), mutated(json_body(rest_valid)))),
            (1, st.tuples(st.just("valid"), json_body(rest_valid))),
        ),
        st.tuples(st.just("Authorization"), weighted(
            (30, st.just(auth)),
            (1, st.sampled_from([None, "", "Bearer", f"bearer {token}", f"Bearer  {token} ", f"Basic {token}",
                                 f"Bearer {token}x", f"Bearer {token[:-1]}", f"Bearer {token.upper()}"])),
            (1, header_values),
        )),
        weighted_headers({"Content-Type": "application/json"}),
        weighted((8, st.just({})),
                 (1, st.fixed_dictionaries({"stream": st.sampled_from(["true", "false", "1", "x", ""])})),
                 (1, st.dictionaries(st.sampled_from(["stream", "token", "x", "sender"]), st.text(max_size=8), max_size=2))),
    )


def check_rest_response(response: requests.Response, case: Case, w: Watch) -> None:
    check_status(response, repr(case), w)
    kind = response.headers.get("Content-Type", "")
    if response.status_code == 200 and kind.startswith("text/event-stream"):
        lines = [line for line in response.text.splitlines() if line.strip()]  # ?stream=true: JSON lines
    else:
        lines = [response.text]
        if not kind.startswith("application/json"):
            raise bug(f"REST {response.status_code} answered {kind or 'no content type'}, not JSON",
                      f"{case!r}\n{response.text[:300]}")
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            raise bug(f"REST {response.status_code} body is not JSON", f"{case!r}\n{response.text[:300]}") from None
        if response.status_code >= 400 and not (isinstance(value, dict) and (value.get("error") or value.get("message"))):
            raise bug(f"REST {response.status_code} without an error", f"{case!r}\n{response.text[:300]}")


def test_rest_fuzz(servers, http):
    url = f"{servers.url}/webhooks/rest/webhook"
    w, counts = watch("REST", servers), stats("REST")

    @seed(SEED)
    @FUZZ
    @given(case=rest_cases(servers.rest_token))
    def fuzz(case: Case) -> None:
        response = send(http, url, case)
        counts.count(response.status_code, response.status_code == 200)
        check_rest_response(response, case, w)
        w.check(repr(case))

    fuzz()


def test_rest_serves_after_fuzz(servers):
    check_whole_run("REST")
    assert said(servers.say(f"fuzz-after-{uuid.uuid4().hex[:8]}", "hi")) in domain_files.texts("utter_intro")


# -- socket.io (the web page's channel) ------------------------------------------------------------
def fit(text: str, max_bytes: int = 900_000) -> str:
    """Cut so the event stays under engine.io's 1 MB request limit (a bigger one closes the socket)."""
    while len(json.dumps(text)) > max_bytes:
        text = text[: len(text) // 2]
    return text


socket_message = merged(optional_fields({
    "message": weighted((16, not_a_string), (1, absent), (6, refused_text), (2, refused_long_text.map(fit)),
                        (1, short_text)),
    "session_id": weighted((3, absent), (2, json_values), (1, st.uuids().map(lambda u: u.hex))),
    "metadata": weighted((4, absent), (1, json_values)),
    "customData": weighted((4, absent), (1, json_values)),
    "message_id": weighted((4, absent), (1, json_values)),
}), st.dictionaries(json_keys, json_values, max_size=1))
socket_payload = weighted((12, socket_message), (4, not_a_string), (1, st.binary(max_size=16)))


@dataclass(frozen=True)
class SocketCase:
    event: str
    args: Tuple[Any, ...]  # the event's arguments: usually one, sometimes none or two

    def __repr__(self) -> str:
        args = repr(self.args)
        return f"SocketCase(event={self.event!r}, args={args[:1500]}{'...' if len(args) > 1500 else ''})"

    @property
    def to_rasa(self) -> bool:
        """Whether the channel should take it as a message (for the statistics)."""
        if self.event != "user_uttered" or len(self.args) != 1 or not isinstance(self.args[0], dict):
            return False
        text = self.args[0].get("message", "")
        return isinstance(text, str) and len(text) <= 10_000 and not re.search("[\x00\ud800-\udfff]", text)


socket_cases = st.builds(
    SocketCase,
    weighted((6, st.just("user_uttered")), (1, st.just("session_request"))),
    weighted((20, st.tuples(socket_payload)), (1, st.just(())), (1, st.tuples(socket_payload, json_values))),
)


class SocketClient:
    """A python-socketio client (polling, as the page falls back to) that waits for each event's
    acknowledgement, so that each event is handled before the next is sent."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.replies: List[dict] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.append)
        self.connect()

    def connect(self) -> None:
        self.sio.connect(self.url, transports=["polling"], wait_timeout=10)

    def emit(self, case: SocketCase) -> threading.Event:
        acknowledged = threading.Event()
        # A tuple is sent as that many arguments (an empty one: an event without arguments).
        self.sio.emit(case.event, case.args, callback=lambda *_: acknowledged.set())
        return acknowledged

    def close(self) -> None:
        try:
            self.sio.eio.disconnect(abort=True)  # no waiting for the open long-poll
        except Exception:  # noqa: BLE001  already disconnected
            pass


ACK_TIMEOUT = 30  # seconds: a message waits for NLU, policies and actions before it is acknowledged
REFUSAL_GRACE = 0.05  # seconds to wait for an acknowledgement after the server logged a refusal


def test_socketio_fuzz(servers):
    w, counts = watch("socket.io", servers), stats("socket.io")
    client = SocketClient(servers.url)

    @seed(SEED)
    @FUZZ
    @given(case=socket_cases)
    def fuzz(case: SocketCase) -> None:
        if not client.sio.connected:  # dropped after the previous event: reconnect, blame that one
            client.connect()
        logged = w.path.stat().st_size
        acknowledged = client.emit(case)
        deadline, refused_at = time.monotonic() + ACK_TIMEOUT, None
        while not acknowledged.wait(0.02):
            # A handler that raised never acknowledges: its traceback in the log is the answer.
            w.check(repr(case))
            if w.offset > logged:
                # Not acknowledged, but the server logged a line (no problem) about it: engine.io
                # refuses a packet it cannot decode (an integer of more than 100 digits) unanswered.
                refused_at = refused_at or time.monotonic()
                if time.monotonic() - refused_at > REFUSAL_GRACE:
                    counts.count("refused, logged")
                    return
            if time.monotonic() > deadline or not client.sio.connected:
                counts.count("no ack")
                raise bug("socket.io event not acknowledged" if client.sio.connected
                          else "socket.io connection dropped", repr(case))
        counts.count(case.event, case.to_rasa)
        w.check(repr(case))

    try:
        fuzz()
    finally:
        client.close()


# Raw engine.io polling bodies: what no client library sends. Packets: engine.io type digit, then
# for "4" (message) a socket.io packet: type digit, namespace, ack id, JSON data.
def _sio_packet(kind: str, namespace: str, ack: str, data: str) -> str:
    return f"4{kind}{namespace}{ack}{data}"


def event_text(name: str, payload: Any, ascii_only: bool) -> str:
    return dumps([name, payload], ascii_only).decode("utf-8", "surrogatepass")


event_json = st.builds(
    event_text,
    st.sampled_from(["user_uttered", "session_request", "connect", "disconnect", "x", ""]),
    weighted((3, socket_message), (1, json_values)), st.booleans(),
)
eio_packet = st.one_of(
    st.builds(_sio_packet, st.sampled_from("0123456789"), st.sampled_from(["", "/", "/x,", "/admin,", "//,"]),
              st.sampled_from(["", "1", "007", "9" * 30]), weighted((3, event_json), (1, fuzz_text),
                                                                       (1, json_body(json_values).map(lambda b: b.decode("utf-8", "surrogatepass"))))),
    st.builds(str.__add__, st.sampled_from(list("0123456789b")), fuzz_text),
    st.sampled_from(["2probe", "3", "5", "6", "1", "40", "41", "b", "b====", "bAAAA", ""]),
)
eio_bodies = st.one_of(
    st.lists(eio_packet, min_size=1, max_size=3).map(lambda packets: "\x1e".join(packets).encode("utf-8", "surrogatepass")),
    raw_bytes,
    st.lists(st.just("42[\"user_uttered\",{\"message\":5}]"), min_size=101, max_size=120).map(lambda p: "\x1e".join(p).encode()),
)
eio_cases = st.builds(
    http_case,
    st.tuples(st.just("engine.io"), eio_bodies),
    st.tuples(st.just("Content-Type"),
              st.sampled_from([None, "text/plain;charset=UTF-8", "application/octet-stream", "application/json"])),
    st.just({}),
    weighted((8, st.just({})), (1, st.dictionaries(st.sampled_from(["EIO", "transport", "sid", "t", "b64", "j"]),
                                                   st.sampled_from(["3", "4", "5", "websocket", "x", "", "1"]), max_size=2))),
)


def test_socketio_raw_engineio_fuzz(servers, http):
    w, counts = watch("socket.io", servers), stats("engine.io (raw)")
    url = f"{servers.url}/socket.io/"

    @seed(SEED)
    @settings(FUZZ, max_examples=RAW_EIO_EXAMPLES)
    @given(case=eio_cases)
    def fuzz(case: Case) -> None:
        params = {"EIO": "4", "transport": "polling"}
        handshake = http.get(url, params=params, timeout=RAW_TIMEOUT)
        assert handshake.status_code == 200, handshake.text[:300]
        params["sid"] = json.loads(handshake.text[1:])["sid"]
        http.post(url, params=params, data=b"40", timeout=RAW_TIMEOUT)  # join the default namespace
        response = send(http, url, Case(case.body, case.headers, {**params, **case.params}, case.kind), RAW_TIMEOUT)
        counts.count(response.status_code)
        check_status(response, repr(case), w)
        # Close, so no session is left behind; whatever the body did to the session, this must work.
        # Its answer also means the packets' handlers (background tasks) have run, so that what they
        # logged is blamed on this input.
        closed = send(http, url, Case(b"1", {}, params, "close"), RAW_TIMEOUT)
        check_status(closed, f"closing the session after {case!r}", w)
        w.check(repr(case))

    fuzz()


def test_socketio_serves_after_fuzz(servers):
    check_whole_run("socket.io")
    chat = Chat(servers.url)
    try:
        assert said(chat.say("hi")) in domain_files.texts("utter_intro")
    finally:
        chat.close()


# -- Telegram -------------------------------------------------------------------------------------
# As REST_SENDERS: reused, but no conversation gets hundreds of turns.
TG_CHATS = [10**9 + 7000 + n for n in range(40)]
tg_ids = weighted((2, st.sampled_from(TG_CHATS)), (1, json_values))
tg_user = weighted((3, optional_fields({"id": tg_ids, "is_bot": weighted((3, st.just(False)), (1, json_values)),
                                        "first_name": weighted((1, absent), (2, fuzz_text))})),
                   (1, json_values))
tg_chat = weighted((3, optional_fields({"id": weighted((1, absent), (6, tg_ids)),
                                        "type": weighted((1, absent), (2, st.sampled_from(["private", "group", "supergroup", "channel"])),
                                                         (1, json_values))})),
                   (1, json_values))
tg_text = weighted((16, not_a_string), (2, absent), (3, fuzz_text), (5, refused_text), (1, platform_long_text),
                   (1, short_text))
tg_message = optional_fields({
    "message_id": weighted((1, absent), (2, st.integers()), (1, json_values)),
    "date": weighted((1, absent), (2, st.integers()), (1, json_values)),
    "from": weighted((1, absent), (3, tg_user)),
    "chat": weighted((1, absent), (6, tg_chat)),
    "text": tg_text,
    "entities": weighted((4, absent), (1, json_values)),
    "sticker": weighted((6, absent), (1, json_values)),
})
tg_callback = optional_fields({
    "id": weighted((1, absent), (2, fuzz_text), (1, json_values)),
    "from": weighted((1, absent), (3, tg_user)),
    "data": tg_text,
    "message": weighted((1, absent), (3, tg_message), (1, json_values)),
    "chat_instance": weighted((2, absent), (1, json_values)),
})
tg_update = merged(
    optional_fields({"update_id": weighted((1, absent), (3, st.integers()), (1, json_values))}),
    weighted(
        (6, st.fixed_dictionaries({"message": weighted((6, tg_message), (1, json_values))})),
        (3, st.fixed_dictionaries({"callback_query": weighted((6, tg_callback), (1, json_values))})),
        (1, st.fixed_dictionaries({"edited_message": tg_message})),
        (1, st.dictionaries(st.sampled_from(["my_chat_member", "channel_post", "inline_query", "poll", ""]) | fuzz_text,
                            json_values, max_size=2)),
    ),
)
def tg_text_update(update_id: int, chat: int, text: str) -> Dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": 1, "date": 1_700_000_000, "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Fuzz"}, "text": text}}


tg_valid = st.builds(tg_text_update, st.integers(0, 2**31), st.sampled_from(TG_CHATS), short_text)


def tg_to_rasa(body: bytes) -> bool:
    """Whether the channel should hand this update to Rasa (for the statistics only)."""
    try:
        update = json.loads(body)
        button, message = update.get("callback_query"), update.get("message")
        if isinstance(button, dict):
            chat, text = ((button.get("message") or {}).get("chat") or button.get("from") or {}), button.get("data")
        elif isinstance(message, dict):
            chat, text = message.get("chat") or {}, message.get("text")
        else:
            return False
        return isinstance(text, str) and chat.get("id") is not None
    except Exception:  # noqa: BLE001  whatever the server makes of it, this is only a count
        return False


def telegram_cases() -> st.SearchStrategy:
    secret = channel_clients.SECRET  # read at run time: the session's servers got this one
    return st.builds(
        http_case,
        weighted(
            (24, st.tuples(st.just("update"), json_body(tg_update))),
            (2, st.tuples(st.just("json"), json_body(json_values))),
            (2, st.tuples(st.just("raw"), raw_bytes)),
            (1, st.tuples(st.just("mutated"), mutated(json_body(tg_valid)))),
            (1, st.tuples(st.just("valid"), json_body(tg_valid))),
        ),
        st.tuples(st.just(telegram.SECRET_HEADER), weighted(
            (30, st.just(secret)),
            (1, st.sampled_from([None, "", secret + "x", secret[:-1], secret.upper(), secret + " ", "a" + secret])),
            (1, header_values),
        )),
        weighted_headers({"Content-Type": "application/json"}),
        st.just({}),
    )


def test_telegram_fuzz(servers, http):
    w, counts = watch("Telegram", servers), stats("Telegram")
    url = f"{servers.url}/webhooks/telegram/webhook"

    @seed(SEED)
    @FUZZ
    @given(case=telegram_cases())
    def fuzz(case: Case) -> None:
        response = send(http, url, case)
        counts.count(response.status_code, response.status_code == 200 and tg_to_rasa(case.body))
        check_status(response, repr(case), w)
        w.check(repr(case))

    fuzz()


def test_telegram_serves_after_fuzz(servers, telegram_fake):
    check_whole_run("Telegram")
    chat = channel_clients.new_chat()
    assert channel_clients.post_telegram(servers, channel_clients.text_update(chat, "hi")).status_code == 200
    assert telegram_fake.wait_for(lambda: telegram_fake.sent_to(chat), timeout=30), "no Telegram reply"


# -- Slack ---------------------------------------------------------------------------------------
# Replaced by a fresh value at each send, so that a replayed input is not a duplicate event
# (hypothesis replays inputs while minimising; Slack's dedupe would answer them differently).
UNIQUE = "UNIQUEzUNIQUE"
SLACK_USERS = [f"UFUZZ{n:05d}" for n in range(4)]
SLACK_DMS = [f"DFUZZ{n:05d}" for n in range(4)]
SUPPORTED_ACTIONS = ["button", "select", "static_select", "external_select", "conversations_select",
                     "users_select", "channels_select", "overflow", "datepicker"]
slack_ts = weighted((1, absent), (3, st.just(UNIQUE)), (1, st.sampled_from(["1700000000.000100", "", "0"])),
                    (1, json_values))
slack_text = weighted((16, not_a_string), (2, absent), (6, fuzz_text), (4, refused_text), (1, platform_long_text),
                      (3, short_text))


def slack_channels() -> st.SearchStrategy:
    return weighted((1, absent), (3, st.sampled_from(SLACK_DMS + [channel_clients.CONFIGURED_CHANNEL])),
                    (2, json_values))


def slack_event() -> st.SearchStrategy:
    return optional_fields({
        "type": weighted((6, st.just("message")), (2, st.just("app_mention")), (1, fuzz_text), (1, json_values)),
        "user": weighted((1, absent), (4, st.sampled_from(SLACK_USERS)), (2, json_values)),
        "text": slack_text,
        "ts": slack_ts,
        "thread_ts": weighted((4, absent), (1, slack_ts)),
        "channel": slack_channels(),
        "channel_type": weighted((1, absent), (3, st.sampled_from(["im", "channel", "group", "mpim"])), (1, json_values)),
        "subtype": weighted((6, absent), (2, st.sampled_from(["bot_message", "thread_broadcast", "file_share",
                                                             "message_changed", None])), (1, json_values)),
        "bot_id": weighted((8, absent), (1, json_values)),
        "team": weighted((3, absent), (1, json_values)),
    })


def slack_envelope() -> st.SearchStrategy:
    return optional_fields({
        "type": weighted((8, st.just("event_callback")), (1, st.just("app_rate_limited")), (1, json_values)),
        "team_id": weighted((1, absent), (3, st.just(channel_clients.TEAM)), (1, json_values)),
        "event_id": weighted((1, absent), (4, st.just("Ev" + UNIQUE)), (1, json_values)),
        "event_time": weighted((2, absent), (1, json_values)),
        "event": weighted((1, absent), (8, slack_event()), (2, json_values)),
        "authorizations": weighted((2, absent), (2, st.just([{"user_id": "UWILLOWBOT", "is_bot": True}])), (1, json_values)),
        "authed_users": weighted((4, absent), (1, json_values)),
        "challenge": weighted((6, absent), (1, json_values)),
    })


def slack_dm(user: str, dm: str, text: str) -> Dict[str, Any]:
    return {"type": "event_callback", "team_id": channel_clients.TEAM, "event_id": "Ev" + UNIQUE,
            "event": {"type": "message", "user": user, "text": text, "ts": UNIQUE, "channel": dm, "channel_type": "im"},
            "authorizations": [{"user_id": "UWILLOWBOT", "is_bot": True}]}


def slack_valid() -> st.SearchStrategy:
    return st.builds(slack_dm, st.sampled_from(SLACK_USERS), st.sampled_from(SLACK_DMS), short_text)


slack_verification = st.fixed_dictionaries({"type": st.just("url_verification"), "challenge": json_values},
                                           optional={"token": json_values})
slack_action = optional_fields({
    "type": weighted((1, absent), (4, st.sampled_from(SUPPORTED_ACTIONS + ["link_button", "workflow_button"])), (1, json_values)),
    "value": weighted((1, absent), (2, short_text), (2, json_values)),
    "selected_option": weighted((2, absent), (1, st.fixed_dictionaries({"value": json_values})), (1, json_values)),
    "selected_options": weighted((3, absent), (1, json_values)),
    "selected_date": weighted((3, absent), (1, json_values)),
    "selected_user": weighted((3, absent), (1, json_values)),
    "action_id": weighted((2, absent), (1, json_values)),
})


def slack_interaction() -> st.SearchStrategy:
    return optional_fields({
        "type": weighted((3, st.sampled_from(["block_actions", "interactive_message"])), (1, json_values)),
        "user": weighted((1, absent), (3, optional_fields({"id": weighted((1, absent), (3, st.sampled_from(SLACK_USERS)), (1, json_values)),
                                                           "team_id": weighted((1, absent), (1, json_values))})),
                         (1, json_values)),
        "channel": weighted((1, absent), (3, optional_fields({"id": slack_channels()})), (1, json_values)),
        "team": weighted((2, absent), (1, json_values)),
        "actions": weighted((1, absent), (4, st.lists(slack_action, max_size=2)), (1, json_values)),
        "message": weighted((2, absent), (2, optional_fields({"ts": slack_ts, "thread_ts": slack_ts})), (1, json_values)),
        "trigger_id": weighted((1, absent), (3, st.just(UNIQUE)), (1, json_values)),
    })


def form(pairs: List[Tuple[bytes, bytes]]) -> bytes:
    return b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in pairs)


def slack_form_bodies() -> st.SearchStrategy:
    as_bytes = st.text(max_size=8).map(str.encode)
    return weighted(
        (6, json_body(slack_interaction()).map(lambda payload: form([(b"payload", payload)]))),
        (1, json_body(json_values).map(lambda payload: form([(b"payload", payload)]))),
        (1, st.lists(st.tuples(st.sampled_from([b"payload", b"token", b"x"]) | as_bytes,
                               st.sampled_from([b"\xff\xfe", b"{", b"", b"%", b"null"]) | as_bytes), max_size=3).map(form)),
        (1, raw_bytes),
    )


@dataclass(frozen=True)
class SlackCase:
    body: bytes
    content_type: Optional[str]
    signed: str  # "valid", or how the signature is wrong
    headers: Dict[str, Any] = field(default_factory=dict)
    kind: str = ""

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 1500 else self.body[:1500] + b"...(%d bytes)" % len(self.body)
        return (f"SlackCase(kind={self.kind!r}, body={body!r}, content_type={self.content_type!r}, "
                f"signed={self.signed!r}, headers={self.headers!r})")


_unique = iter(range(10**12))


def sign(body: bytes, timestamp: int, secret: str) -> Dict[str, str]:
    """Slack's signature over any bytes (slack_sdk's helper needs the body to be UTF-8)."""
    base = b"v0:%d:" % timestamp + body
    return {"X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()}


def slack_request(case: SlackCase) -> Case:
    """The request as sent: fresh ids in place of UNIQUE, then signed (or not) as the case says."""
    body = re.sub(UNIQUE.encode(), lambda _: f"{int(time.time())}.{next(_unique):06d}".encode(), case.body)
    timestamp = int(time.time()) - (3600 if case.signed == "stale" else 0)
    secret = channel_clients.SIGNING_SECRET + ("x" if case.signed == "wrong secret" else "")
    headers = {} if case.signed == "unsigned" else sign(body, timestamp, secret)
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    return Case(body, {**headers, **case.headers}, {}, case.kind)


def slack_case(kind_body_type: Tuple[str, bytes, Optional[str]], signed: str, headers: Dict[str, Any]) -> SlackCase:
    kind, body, content_type = kind_body_type
    return SlackCase(body, content_type, signed, headers, kind)


def slack_cases() -> st.SearchStrategy:
    json_types = weighted((12, st.just("application/json")), (1, st.sampled_from(CONTENT_TYPES)))
    form_types = weighted((12, st.just("application/x-www-form-urlencoded")), (1, st.sampled_from(CONTENT_TYPES)))
    return st.builds(
        slack_case,
        weighted(
            (12, st.tuples(st.just("event"), json_body(slack_envelope()), json_types)),
            (1, st.tuples(st.just("url_verification"), json_body(slack_verification), json_types)),
            (5, st.tuples(st.just("interaction"), slack_form_bodies(), form_types)),
            (2, st.tuples(st.just("json"), json_body(json_values), json_types)),
            (2, st.tuples(st.just("raw"), raw_bytes, st.sampled_from(CONTENT_TYPES))),
            (1, st.tuples(st.just("valid"), json_body(slack_valid()), st.just("application/json"))),
        ),
        weighted((40, st.just("valid")), (1, st.sampled_from(["unsigned", "stale", "wrong secret"]))),
        weighted((12, st.just({})), (1, st.fixed_dictionaries({"X-Slack-Retry-Num": st.sampled_from(["1", "x", ""]),
                                                              "X-Slack-Retry-Reason": fuzz_text.map(lambda t: t.encode("utf-8", "surrogatepass")).map(header_value)})),
                 (1, extra_headers)),
    )


def test_slack_fuzz(servers, http, slack_fake):
    w, counts = watch("Slack", servers), stats("Slack")
    url = f"{servers.url}/webhooks/slack/webhook"

    @seed(SEED)
    @FUZZ
    @given(case=slack_cases())
    def fuzz(case: SlackCase) -> None:
        posts = len(slack_fake.calls("chat.postMessage"))
        response = send(http, url, slack_request(case))
        check_status(response, repr(case), w)
        try:
            dispatched = response.json() == {"ok": True}  # anything ignored says why
        except ValueError:
            dispatched = False
        counts.count(response.status_code, dispatched)
        if dispatched:
            # Handled in the background: wait for the reply (or a problem) before the next input,
            # so that a failure is blamed on this one and the fake is not flooded.
            deadline = time.monotonic() + ACK_TIMEOUT
            while len(slack_fake.calls("chat.postMessage")) <= posts:
                w.check(repr(case))
                if time.monotonic() > deadline:
                    raise bug("a Slack message got no reply", repr(case))
                time.sleep(0.01)
        w.check(repr(case))

    fuzz()


def test_slack_serves_after_fuzz(servers, slack_fake):
    check_whole_run("Slack")
    user, dm = channel_clients.new_id("U"), channel_clients.new_id("D")
    assert channel_clients.post_slack(servers, channel_clients.message_event(user, dm, "hi")).status_code == 200
    assert slack_fake.wait_for(lambda fake: fake.posts(dm), timeout=30), "no Slack reply"
