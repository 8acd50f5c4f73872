"""SQLite as `make run` uses it, under faults: read-only data, a full disk, two servers on one file.

The store side is willow/tracker_store.py; the 503 answers are the channels' (willow.outages).

- Read-only data directory or database file at start-up: Rasa exits 1 with one line naming the
  path and what to do, no traceback, no in-memory fallback, nothing written.
- Disk full while serving: 503 with a JSON error per message; conversations stored before stay
  readable, ``PRAGMA integrity_check`` is ok, and once space is freed the same server serves again.
- Directory or file made read-only while serving: 503 per message, served again once writable.
- A second Rasa on the same file: exits 1 at start-up naming the process that holds the file.
  ``make purge`` still runs beside the server (it takes no lock) and waits for its writes.
- PostgreSQL (``make services``): the store's engine pings pooled connections, so connections
  killed as in a database restart are replaced without an error.

Root ignores file permissions, so as root (CI) the Rasa server runs under ``setpriv`` without
CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH. The full disk is a small tmpfs filled with a filler file;
without root, the Rasa process's RLIMIT_FSIZE is lowered instead (writes fail with EFBIG).
Logs and a table of what each fault gave are in test-artifacts/sqlite-faults/.
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import requests
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from tests.conftest import ARTIFACTS, ROOT, sqlite_store
from willow import local_servers, outages, retention
from willow.tracker_store import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    ForgetfulSQLTrackerStore,
    TrackerStoreUnusable,
    engine_options,
)

LOGS = ARTIFACTS / "sqlite-faults"
IS_ROOT = os.geteuid() == 0
# Root bypasses permissions through these two capabilities; without them chmod binds it too.
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if IS_ROOT else []
CANARY = f"canary{uuid.uuid4().hex[:12]}"  # in every message sent during a fault: never in a log
QUIET = {"PYTHONWARNINGS": "ignore", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
DOMAIN = Domain.load(str(ROOT / "domain"))
DAY = 86400


def sender() -> str:
    return f"faults-{uuid.uuid4().hex[:12]}"


def conversation(sender_id: str, text: str, timestamp: Optional[float] = None) -> DialogueStateTracker:
    """A stored-looking conversation: session start, one user message, one reply."""
    at = time.time() if timestamp is None else timestamp
    tracker = DialogueStateTracker(sender_id, DOMAIN.slots)
    for event in (ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
                  ActionExecuted("action_listen", timestamp=at),
                  UserUttered(text, {"name": "greet", "confidence": 1.0}, timestamp=at),
                  BotUttered("hello", timestamp=at), ActionExecuted("action_listen", timestamp=at)):
        tracker.update(event)
    return tracker


def store(db: Path) -> ForgetfulSQLTrackerStore:
    return ForgetfulSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db))


def integrity(db: Path) -> str:
    # Read-only URI: checking must not create a journal or change anything.
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]


def stored_texts(db: Path, conversation_id: str) -> List[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
                                  (conversation_id,)).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


# --- start-up checks, in a process without root's override (no server) ------------------------

CONSTRUCT = textwrap.dedent("""
    import json, sys
    from willow.tracker_store import ForgetfulSQLTrackerStore, TrackerStoreUnusable
    for db in sys.argv[1:]:
        try:
            ForgetfulSQLTrackerStore(dialect="sqlite", db=db).close()
            print(json.dumps(["started", ""]))
        except TrackerStoreUnusable as error:
            print(json.dumps(["refused", str(error)]))
""")


def construct_unprivileged(*dbs: Path) -> List[Tuple[str, str]]:
    """Constructs a store on each file in one fresh process (as Rasa would, permissions binding)."""
    result = subprocess.run([*UNPRIVILEGED, sys.executable, "-c", CONSTRUCT, *map(str, dbs)], cwd=ROOT,
                            env={**local_servers.ENV, **QUIET}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return [tuple(json.loads(line)) for line in result.stdout.splitlines()]


def test_unwritable_sqlite_files_are_refused_with_a_clear_message(tmp_path):
    read_only_dir, read_only_dir_with_db = tmp_path / "ro-empty", tmp_path / "ro-with-db"
    writable = tmp_path / "rw"
    for folder in (read_only_dir, read_only_dir_with_db, writable):
        folder.mkdir()
    store(read_only_dir_with_db / "willow.db").close()
    store(writable / "read-only.db").close()
    (writable / "read-only.db").chmod(0o444)
    (writable / "not-a-db.db").write_text("these are not the conversations you are looking for")
    before = {p: p.read_bytes() for p in [read_only_dir_with_db / "willow.db", writable / "read-only.db"]}
    listing = {p: sorted(os.listdir(p)) for p in (read_only_dir, read_only_dir_with_db)}
    read_only_dir.chmod(0o555)
    read_only_dir_with_db.chmod(0o555)
    try:
        results = construct_unprivileged(read_only_dir / "willow.db", read_only_dir_with_db / "willow.db",
                                         writable / "read-only.db", writable / "not-a-db.db", writable / "new.db")
    finally:
        read_only_dir.chmod(0o755)
        read_only_dir_with_db.chmod(0o755)
    (empty, with_db, read_only_file, not_a_db, new) = results
    # SQLite writes a journal next to the file, so a read-only directory is refused even when
    # the file itself is writable.
    for (outcome, message), folder in ((empty, read_only_dir), (with_db, read_only_dir_with_db)):
        assert outcome == "refused"
        assert message.startswith(f"cannot write to the data directory {folder} (Permission denied): "
                                  "make it writable for the user running Rasa"), message
        assert "WILLOW_DB_PATH" in message
    assert read_only_file[0] == "refused"
    assert read_only_file[1].startswith(f"cannot write to the database file {writable / 'read-only.db'} "
                                        "(Permission denied)"), read_only_file[1]
    assert not_a_db == ("refused", f"{writable / 'not-a-db.db'} is not an SQLite database: move it away "
                                   "(Willow then starts a new one) or set WILLOW_DB_PATH to the right file.")
    assert new == ("started", "")
    # Nothing was written: not the files, not a journal, not a lock file.
    assert {p: p.read_bytes() for p in before} == before
    assert {p: sorted(os.listdir(p)) for p in listing} == listing


HOLD = textwrap.dedent("""
    import sys
    from willow.tracker_store import ForgetfulSQLTrackerStore
    store = ForgetfulSQLTrackerStore(dialect="sqlite", db=sys.argv[1])
    print("ready", flush=True)
    sys.stdin.read()  # holds the store until the test closes stdin
""")


def test_a_second_process_on_the_same_file_is_refused_until_the_first_exits(tmp_path):
    db = tmp_path / "willow.db"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], cwd=ROOT, env={**local_servers.ENV, **QUIET},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "ready"
        with pytest.raises(TrackerStoreUnusable) as refused:
            store(db)
        assert str(refused.value).startswith(
            f"another process (pid {first.pid}) is already serving {db}: it holds {db}.lock. "
            "Two Rasa servers on one SQLite file would mix up each other's conversations. Stop the other one")
        # A path through a symlink names the same file and the same lock.
        (tmp_path / "alias").symlink_to(tmp_path)
        with pytest.raises(TrackerStoreUnusable):
            store(tmp_path / "alias" / "willow.db")
    finally:
        first.stdin.close()
        first.wait(timeout=30)
    store(db).close()  # the lock went with the process


def test_stores_in_one_process_share_the_lock_and_release_it(tmp_path):
    """Rasa builds a new store when it loads another model; tests build several."""
    db = tmp_path / "willow.db"
    first, second = store(db), store(db)
    with open(f"{db}.lock", "rb") as other:  # another open file: as another process would
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        first.close()
        with pytest.raises(BlockingIOError):  # the second store still needs it
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        second.close()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)


class WriteLockHeld:
    """Another connection holds SQLite's write lock for ``seconds`` (a purge, or the server)."""

    def __init__(self, db: Path, seconds: float) -> None:
        self.db, self.seconds, self.taken = db, seconds, threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        with closing(sqlite3.connect(self.db, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            self.taken.set()
            time.sleep(self.seconds)
            connection.execute("COMMIT")

    def __enter__(self) -> "WriteLockHeld":
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join()


def test_purge_runs_beside_a_serving_store_and_both_wait_for_each_others_writes(tmp_path):
    db = tmp_path / "willow.db"
    serving = store(db)  # holds the process lock, as the Rasa server does
    try:
        old, recent = sender(), sender()
        asyncio.run(serving.save(conversation(old, "hi", timestamp=time.time() - 40 * DAY)))
        asyncio.run(serving.save(conversation(recent, "hi")))
        config = {"type": "willow.tracker_store.ForgetfulSQLTrackerStore", "dialect": "sqlite", "db": str(db)}

        # The server is writing while purge starts: purge waits instead of failing.
        with WriteLockHeld(db, 1.0):
            started = time.monotonic()
            result = retention.purge(config, days=30)
            waited = time.monotonic() - started
        assert (result.conversations, waited >= 0.8) == (1, True), (result, waited)
        assert asyncio.run(serving.retrieve(old)) is None
        assert asyncio.run(serving.retrieve(recent)) is not None

        # Purge is writing while the server saves a turn: the save waits instead of failing.
        tracker = asyncio.run(serving.retrieve(recent))
        tracker.update(UserUttered("and again", {"name": "greet", "confidence": 1.0}))
        with WriteLockHeld(db, 1.0):
            started = time.monotonic()
            asyncio.run(serving.save(tracker))
            waited = time.monotonic() - started
        assert 0.8 <= waited < SQLITE_BUSY_TIMEOUT_SECONDS
        assert stored_texts(db, recent) == ["hi", "and again"]
        # Past the busy timeout the write fails as an outage (a 503), and nothing is half-written.
        tracker.update(UserUttered(CANARY, {"name": "greet", "confidence": 1.0}))
        with WriteLockHeld(db, SQLITE_BUSY_TIMEOUT_SECONDS + 0.5):
            with pytest.raises(sa.exc.OperationalError) as locked:
                asyncio.run(serving.save(tracker))
        assert "database is locked" in str(locked.value) and outages.is_outage(locked.value)
        assert stored_texts(db, recent) == ["hi", "and again"]
    finally:
        serving.close()


def test_store_errors_are_outages_and_never_quote_the_conversation(tmp_path):
    db = tmp_path / "willow.db"
    broken = store(db)
    try:
        # Every connection read-only from now on (a new one per session): reads work, the INSERT,
        # whose parameters hold the message text and the sender id, fails.
        sa.event.listen(broken.engine, "connect", lambda connection, _: connection.execute("PRAGMA query_only = 1"))
        person = sender()
        with pytest.raises(sa.exc.OperationalError) as failed:
            asyncio.run(broken.save(conversation(person, f"my secret is {CANARY}")))
        assert outages.is_outage(failed.value)
        shown = f"{failed.value!s} {failed.value!r}"
        assert "attempt to write a readonly database" in shown and "INSERT INTO events" in shown, shown
        assert CANARY not in shown and person not in shown, shown
    finally:
        broken.close()


def test_the_store_uses_willows_engine_options_not_rasas(tmp_path):
    """Rasa 3.6 builds the engine inside SQLTrackerStore.__init__; Willow replaces it. A Rasa
    that builds it elsewhere or names it differently must fail here, not lose the options."""
    sqlite = store(tmp_path / "willow.db")
    try:
        assert sqlite.engine.hide_parameters
        assert sqlite.sessionmaker.kw["bind"] is sqlite.engine
        with sqlite.session_scope() as session:
            assert session.get_bind() is sqlite.engine
            assert session.execute(sa.text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_TIMEOUT_SECONDS * 1000
    finally:
        sqlite.close()
    url = SQLTrackerStore.get_db_url("postgresql", "db.internal", 5432, "willow", "willow", "pw")
    options = engine_options(url)
    assert options["pool_pre_ping"] is True and options["hide_parameters"] is True
    rasa_options = create_engine_kwargs(url)  # pool size (SQL_POOL_SIZE...), schema: kept
    assert {key: options[key] for key in rasa_options} == rasa_options and "pool_size" in rasa_options


@pytest.mark.slow
def test_postgres_connections_killed_as_in_a_restart_are_replaced_without_an_error():
    """A restart of PostgreSQL kills every pooled connection; terminating them is the same to the
    client, without disturbing `make services` for other tests."""
    from tests.test_persistence import pg_connect, services_env

    env = services_env()
    database = f"willow_faults_{uuid.uuid4().hex[:10]}"
    with closing(pg_connect(env)) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    settings = dict(dialect="postgresql", host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), db=database,
                    username=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"])

    def kill_connections() -> int:
        with closing(pg_connect(env)) as admin, admin.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
            return cursor.fetchone()[0]

    willow_store = ForgetfulSQLTrackerStore(domain=DOMAIN, **settings)
    rasa_store = SQLTrackerStore(domain=DOMAIN, **settings)
    try:
        person = sender()
        asyncio.run(willow_store.save(conversation(person, "hi")))
        assert asyncio.run(rasa_store.retrieve(person)) is not None
        assert kill_connections() >= 2  # one pooled connection of each store
        # Rasa's own engine hands out the dead connection: the fault is real.
        with pytest.raises(sa.exc.OperationalError):
            asyncio.run(rasa_store.retrieve(person))
        assert asyncio.run(willow_store.retrieve(person)).latest_message.text == "hi"
    finally:
        willow_store.close()
        rasa_store.engine.dispose()
        with closing(pg_connect(env)) as admin, admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


# --- the real server ----------------------------------------------------------------------------


class Disk:
    """The directory the database is on, which can be filled up and freed again: a small tmpfs
    (root), or else the Rasa process's file-size limit (RLIMIT_FSIZE) lowered to the file's size."""

    def __init__(self, path: Path) -> None:
        self.path, self.filler, self.tmpfs = path, path / "filler", IS_ROOT

    def __enter__(self) -> "Disk":
        self.path.mkdir(parents=True, exist_ok=True)
        if self.tmpfs:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(self.path)], check=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.tmpfs and subprocess.run(["umount", str(self.path)], check=False).returncode:
            subprocess.run(["umount", "-l", str(self.path)], check=False)  # detached once nothing uses it

    def fill(self, pid: int, db: Path) -> None:
        if not self.tmpfs:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (db.stat().st_size, resource.RLIM_INFINITY))
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            chunk = 1 << 20
            while chunk:  # down to the last byte, so no page is left
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        finally:
            os.close(fd)

    def free(self, pid: int) -> None:
        if self.tmpfs:
            self.filler.unlink()
        else:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@dataclass
class Served:
    servers: local_servers.Servers
    disk: Disk
    db: Path
    endpoints: Path
    senders: List[str] = field(default_factory=list)  # every sender id used: none may be logged
    outcomes: List[Tuple[str, str]] = field(default_factory=list)  # (fault, what happened)

    def post(self, person: str, text: str) -> requests.Response:
        self.senders.append(person)
        return requests.post(f"{self.servers.url}/webhooks/rest/webhook", json={"sender": person, "message": text},
                             headers=self.servers.rest_headers, timeout=60)

    def user_texts(self, person: str) -> List[str]:
        return [e["text"] for e in self.servers.tracker(person)["events"] if e["event"] == "user"]


@pytest.fixture(scope="module")
def served(model_path) -> Iterator[Served]:
    """One Rasa server (and action server) like `make run`'s, its SQLite file on the Disk."""
    with Disk(LOGS / "disk") as disk:
        store_files = sqlite_store(disk.path / "store")
        with local_servers.running(model_path, LOGS / "server", endpoints=store_files.endpoints,
                                   prefix=UNPRIVILEGED) as servers:
            result = Served(servers, disk, store_files.db, store_files.endpoints)
            yield result
        (LOGS / "outcomes.md").write_text(
            "| fault | measured |\n| --- | --- |\n" + "".join(f"| {f} | {o} |\n" for f, o in result.outcomes))


def assert_outage(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"status", "error"} and body["status"] == 503, body
    assert isinstance(body["error"], str) and body["error"], body


def answered(response: requests.Response) -> List[Dict]:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    replies = response.json()
    assert any(reply.get("text") for reply in replies), replies
    return replies


@pytest.mark.slow
def test_a_full_disk_gives_503_keeps_the_database_intact_and_recovers(served):
    first, second, newcomer = sender(), sender(), sender()
    answered(served.post(first, "hello"))
    answered(served.post(second, "I cried in therapy today"))
    before = {person: served.servers.tracker(person)["events"] for person in (first, second)}

    served.disk.fill(served.servers.pid, served.db)
    try:
        for person in (first, newcomer):
            assert_outage(served.post(person, f"I cried again {CANARY}"))
        # Reading needs no space: what was stored before is all there, unchanged.
        assert {person: served.servers.tracker(person)["events"] for person in before} == before
        assert integrity(served.db) == "ok"
    finally:
        served.disk.free(served.servers.pid)
    served.outcomes.append(("disk full", "503 with a JSON error per message; stored conversations readable; "
                                         "integrity_check ok"))

    # Space again: the same server answers, and the conversation goes on where it was stored.
    answered(served.post(first, f"I cried again {CANARY}"))
    assert served.user_texts(first) == ["hello", f"I cried again {CANARY}"]
    assert served.servers.tracker(first)["events"][:len(before[first])] == before[first]
    answered(served.post(newcomer, "hello"))
    assert integrity(served.db) == "ok"
    assert stored_texts(served.db, f"rest:{second}") == ["I cried in therapy today"]
    served.outcomes.append(("space freed", "the same server answers 200; nothing of the failed turns stored"))


@pytest.mark.slow
def test_a_directory_or_file_made_read_only_while_serving_gives_503_until_writable(served):
    person = sender()
    answered(served.post(person, "hello"))
    for what, path, mode, back in (("data directory", served.db.parent, 0o555, 0o755),
                                   ("database file", served.db, 0o444, 0o644)):
        path.chmod(mode)
        try:
            assert_outage(served.post(person, f"are you there {CANARY}"))
        finally:
            path.chmod(back)
        served.outcomes.append((f"{what} made read-only while serving", "503 with a JSON error per message"))
    answered(served.post(person, "I cried in therapy today"))
    assert served.user_texts(person) == ["hello", "I cried in therapy today"]
    assert integrity(served.db) == "ok"


def start_attempt(model_path: Path, endpoints: Path, log: Path) -> subprocess.Popen:
    """`rasa run` as `make run` starts it (no action server needed to fail at start-up)."""
    return local_servers.start(
        [local_servers.RASA, "run", "--model", str(model_path), "--endpoints", str(endpoints),
         "--credentials", str(ROOT / "credentials.yml"), "--port", str(local_servers.free_port())],
        log, env=QUIET, prefix=UNPRIVILEGED)


def refusal(process: subprocess.Popen, log: Path) -> str:
    """The one line Rasa printed before exiting 1; asserts nothing else went wrong loudly."""
    assert process.wait(timeout=180) == 1
    text = log.read_text()
    assert "Traceback" not in text and "InMemoryTrackerStore" not in text and "up and running" not in text, text[-3000:]
    lines = [line for line in text.splitlines() if "TrackerStoreUnusable" in line]
    assert len(lines) == 1, text[-3000:]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[0]).strip()  # Rasa prints it in red


@pytest.mark.slow
def test_a_second_server_and_a_read_only_data_directory_are_refused_at_start_up(served, model_path):
    read_only = sqlite_store(LOGS / "read-only")
    store(read_only.db).close()  # a database from an earlier run, in a directory made read-only
    contents = read_only.db.read_bytes()
    read_only.db.parent.chmod(0o555)
    try:
        # Both at once: each fails within seconds, before the model loads.
        second = start_attempt(model_path, served.endpoints, LOGS / "second-server.log")
        blocked = start_attempt(model_path, read_only.endpoints, LOGS / "read-only.log")
        second_line = refusal(second, LOGS / "second-server.log")
        blocked_line = refusal(blocked, LOGS / "read-only.log")
    finally:
        read_only.db.parent.chmod(0o755)
    assert (f"TrackerStoreUnusable: another process (pid {served.servers.pid}) is already serving {served.db}: "
            f"it holds {served.db}.lock.") in second_line, second_line
    assert (f"TrackerStoreUnusable: cannot write to the data directory {read_only.db.parent} "
            "(Permission denied): make it writable") in blocked_line, blocked_line
    assert read_only.db.read_bytes() == contents
    served.outcomes.append(("second `rasa run` on the same file", f"exit 1 at start-up: {second_line}"))
    served.outcomes.append(("read-only data directory at start-up", f"exit 1 at start-up: {blocked_line}"))
    # The first server never noticed.
    answered(served.post(sender(), "hello"))


@pytest.mark.slow
def test_no_log_holds_message_text_or_sender_ids(served):
    logs = {path.name: path.read_text() for path in (served.servers.rasa_log, served.servers.actions_log)}
    for name, text in logs.items():
        assert CANARY not in text, name
        assert not [person for person in served.senders if person in text], name
