"""Persistence against real servers and real stores.

- SQLite (the default): a conversation survives a restart of the Rasa server.
- Scale-out: two Rasa instances on PostgreSQL (tracker store) and Redis (lock store), started by
  `make services`, serve one conversation alternately, keeping its state and order.
- Retention: `python -m willow.retention purge` / `make purge` delete only old conversations, on
  SQLite and PostgreSQL.

PostgreSQL and Redis come from `make services` (`make test` runs it first); without them these
tests fail and say so. Each run uses a throwaway PostgreSQL database, dropped afterwards.
"""
from __future__ import annotations

import contextlib
import re
import sqlite3
import subprocess
import sys
import threading
import uuid
from contextlib import closing
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

import pytest
import yaml

from tests import channel_clients, cross_channel, domain_files
from tests.conftest import ARTIFACTS, ROOT, sqlite_store
from tests.willow.channels.fake_slack import FakeSlack
from tests.willow.channels.fake_telegram import FakeTelegram
from willow import conversation_ids, endpoints, local_servers

LOGS = ARTIFACTS / "persistence"
SERVICES_ENV = ROOT / ".services" / "env"
CONTENT = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "content").glob("*.yml")}
OFTEN_AND_DISTRESSING = CONTENT["talking_to_therapist"]["openers"]["often_and_distressing"]
DISTRESSED = "i cry every single session and it's overwhelming"
SLOTS = {"crying_frequency": "often", "distress": "high", "topic": "frequent"}
DAY = 86400


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def rest(user: str) -> str:
    """The conversation id the REST client ``user`` is stored under."""
    return conversation_ids.conversation_id(conversation_ids.REST, user)


def said(replies) -> str:
    return "\n\n".join(r["text"] for r in replies if r.get("text"))


def slots(tracker) -> Dict[str, str]:
    return {name: tracker["slots"][name] for name in SLOTS}


def user_texts(tracker) -> List[str]:
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def assert_each_message_answered(tracker, messages: Sequence[str]) -> None:
    """All user messages, in order, each followed by at least one bot message before the next."""
    turns: List[List[str]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append([])
        elif event["event"] == "bot" and turns:
            turns[-1].append(event.get("text") or "")
    assert user_texts(tracker) == list(messages)
    assert all(turns), f"a message got no reply: {[len(t) for t in turns]}"


# --- the generated endpoints file (no servers) ---------------------------------------------


def test_endpoints_default_to_sqlite_in_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = endpoints.endpoints({})
    assert config == {
        "action_endpoint": {"url": "http://localhost:5055/webhook"},
        "tracker_store": {"type": endpoints.TRACKER_STORE_CLASS, "dialect": "sqlite", "db": str(tmp_path / "data-store" / "willow.db")},
        "nlg": {"type": "willow.nlg.FreshResponses"},  # no text sent twice in a conversation
    }
    # The repository's endpoints.yml documents the same default.
    documented = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    assert documented["tracker_store"] == {"type": endpoints.TRACKER_STORE_CLASS, "dialect": "sqlite", "db": "data-store/willow.db"}
    assert "lock_store" not in documented
    assert documented["nlg"] == config["nlg"]
    # Writing it creates the data directory: SQLite cannot create it, and Rasa would retry forever.
    endpoints.write(tmp_path / "out" / "endpoints.yml", env={"WILLOW_DB_PATH": "db/here.db"})
    assert (tmp_path / "db").is_dir()


def test_endpoints_for_postgres_and_redis_keep_passwords_out_of_the_file():
    env = {
        "WILLOW_TRACKER_STORE": "postgres", "POSTGRES_HOST": "db.internal", "POSTGRES_PORT": "6432",
        "POSTGRES_DB": "willow_prod", "POSTGRES_USER": "willow_app", "POSTGRES_PASSWORD": "s3cret-pg",
        "WILLOW_LOCK_STORE": "redis", "REDIS_HOST": "cache.internal", "REDIS_PORT": "6380",
        "REDIS_DB": "2", "REDIS_PASSWORD": "s3cret-redis", "ACTION_SERVER_URL": "http://actions:5055/webhook",
    }
    text = endpoints.render(endpoints.endpoints(env))
    assert "s3cret" not in text
    config = yaml.safe_load(text)
    assert config["action_endpoint"] == {"url": "http://actions:5055/webhook"}
    assert config["tracker_store"] == {
        "type": endpoints.TRACKER_STORE_CLASS, "dialect": "postgresql", "url": "db.internal", "port": 6432,
        "db": "willow_prod", "username": "willow_app", "password": "${POSTGRES_PASSWORD}",
    }
    assert config["lock_store"] == {
        "type": "redis", "url": "cache.internal", "port": 6380, "db": 2,
        "key_prefix": "willow", "password": "${REDIS_PASSWORD}",
    }
    # Rasa substitutes the placeholders from its environment (and only unquoted ones).
    from rasa.shared.utils.io import read_yaml

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POSTGRES_PASSWORD", "s3cret-pg")
        patch.setenv("REDIS_PASSWORD", "s3cret-redis")
        substituted = read_yaml(text)
    assert substituted["tracker_store"]["password"] == "s3cret-pg"
    assert substituted["lock_store"]["password"] == "s3cret-redis"


@pytest.mark.parametrize("name, value", [
    ("WILLOW_TRACKER_STORE", "mongo"), ("WILLOW_LOCK_STORE", "dynamo"), ("POSTGRES_PORT", "five"),
])
def test_endpoints_refuse_unknown_settings(name, value):
    env = {"WILLOW_TRACKER_STORE": "postgres", "WILLOW_LOCK_STORE": "redis", name: value}
    with pytest.raises(endpoints.ConfigError, match=name):
        endpoints.endpoints(env)
    result = subprocess.run([sys.executable, "-m", "willow.endpoints"], cwd=ROOT, capture_output=True,
                            text=True, env={**local_servers.ENV, **env})
    assert result.returncode == 2 and name in result.stderr


# --- fixtures: real servers and stores -----------------------------------------------------


def services_env() -> Dict[str, str]:
    """The settings `make services` wrote, after checking PostgreSQL and Redis answer."""
    hint = "start them with `make services` (`make test` does it before pytest)"
    if not SERVICES_ENV.exists():
        pytest.fail(f"PostgreSQL and Redis are not set up ({SERVICES_ENV} is missing): {hint}", pytrace=False)
    env = dict(
        line.split("=", 1) for line in SERVICES_ENV.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    import psycopg2
    import redis

    problems = []
    try:
        psycopg2.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"], dbname=env["POSTGRES_DB"],
                         user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"], connect_timeout=5).close()
    except psycopg2.Error as error:
        problems.append(f"PostgreSQL on port {env['POSTGRES_PORT']} does not answer ({str(error).strip()})")
    try:
        redis_client(env).ping()
    except redis.RedisError as error:
        problems.append(f"Redis on port {env['REDIS_PORT']} does not answer ({error})")
    if problems:
        pytest.fail(f"{'; '.join(problems)}: {hint}", pytrace=False)
    return env


def redis_client(env: Dict[str, str]):
    import redis

    return redis.Redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]), db=int(env["REDIS_DB"]),
                       password=env["REDIS_PASSWORD"], socket_timeout=5)


def pg_connect(env: Dict[str, str], db: str = ""):
    import psycopg2

    connection = psycopg2.connect(host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                                  dbname=db or env["POSTGRES_DB"], user=env["POSTGRES_USER"],
                                  password=env["POSTGRES_PASSWORD"])
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def throwaway_database(prefix: str = "willow_test") -> Iterator[Dict[str, str]]:
    """`make services`' settings, pointing at a new database of its own (dropped afterwards)."""
    env = services_env()
    database = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with closing(pg_connect(env)) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database}")
    try:
        yield {**env, "POSTGRES_DB": database}
    finally:
        with closing(pg_connect(env)) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture(scope="module")
def postgres_env() -> Iterator[Dict[str, str]]:
    with throwaway_database() as env:
        yield env


@pytest.fixture(scope="module")
def actions_url() -> Iterator[str]:
    """One action server for every Rasa instance in this module."""
    with local_servers.action_server(LOGS) as url:
        yield url


@pytest.fixture(scope="module")
def fakes() -> Iterator[Tuple[FakeTelegram, FakeSlack]]:
    with FakeTelegram(token=channel_clients.TOKEN, username=channel_clients.USERNAME) as telegram:
        with FakeSlack() as slack:
            yield telegram, slack


@pytest.fixture(scope="module")
def cluster(model_path, actions_url, postgres_env, fakes) -> Iterator[List[local_servers.Servers]]:
    """Two Rasa instances on one PostgreSQL tracker store and one Redis lock store, with every
    channel of credentials.yml (Telegram and Slack pointed at fakes)."""
    source = endpoints.write(LOGS / "scale-out" / "source-endpoints.yml", env=postgres_env)
    env = {**postgres_env, **channel_clients.telegram_env(fakes[0].url), **channel_clients.slack_env(fakes[1].url)}
    with local_servers.rasa_servers(model_path, LOGS / "scale-out", actions_url, instances=2,
                                    endpoints=source, env=env) as instances:
        yield instances


class RedisMonitor:
    """Records the Redis commands that mention one conversation (Redis MONITOR)."""

    def __init__(self, env: Dict[str, str], needle: str) -> None:
        self.needle, self.commands = needle, []
        self._monitor = redis_client(env).monitor()
        self._monitor.__enter__()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        try:
            for command in self._monitor.listen():
                if self.needle in command["command"]:
                    self.commands.append(command["command"])
        except Exception:  # the connection is closed by stop()
            pass

    def stop(self) -> List[str]:
        self._monitor.connection.disconnect()
        self._thread.join(timeout=5)
        return self.commands


# --- restart ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_conversation_continues_after_a_restart(model_path, actions_url, tmp_path):
    """Stop the Rasa server mid-conversation, start a new one on the same SQLite file: it goes on."""
    logs = LOGS / "restart"
    store = sqlite_store(tmp_path / "store")
    db, source = store.db, store.endpoints
    user = sender()
    with local_servers.rasa_servers(model_path, logs / "first", actions_url, endpoints=source) as [before]:
        assert said(before.say(user, DISTRESSED))
        assert slots(before.tracker(user)) == SLOTS
    # The conversation is on disk, in Rasa's events table, while no server runs.
    with closing(sqlite3.connect(db)) as connection:
        stored = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (rest(user),)
        ).fetchall()
    assert [yaml.safe_load(data)["text"] for (data,) in stored] == [DISTRESSED]

    with local_servers.rasa_servers(model_path, logs / "second", actions_url, endpoints=source) as [after]:
        assert after.url != before.url
        replies = after.say(user, "yes please")
        assert any(opener in said(replies) for opener in OFTEN_AND_DISTRESSING), said(replies)
        tracker = after.tracker(user)
    assert slots(tracker) == SLOTS
    assert_each_message_answered(tracker, [DISTRESSED, "yes please"])


# --- scale-out -------------------------------------------------------------------------------

CONVERSATION = [
    "hi",
    DISTRESSED,
    "yes please",
    "is that normal?",
    "does crying even help?",
    "thank you",
]


@pytest.mark.slow
def test_two_instances_serve_one_conversation_in_turn(cluster, postgres_env):
    """Messages alternate between two Rasa instances behind (what would be) a load balancer."""
    user = sender()
    monitor = RedisMonitor(postgres_env, user)
    try:
        for number, message in enumerate(CONVERSATION):
            instance = cluster[number % 2]
            replies = instance.say(user, message)
            assert said(replies), f"no reply from instance {number % 2 + 1} to {message!r}"
            if message == "yes please":
                # The slots set through the other instance shape this answer.
                assert any(opener in said(replies) for opener in OFTEN_AND_DISTRESSING), said(replies)
    finally:
        lock_commands = monitor.stop()

    trackers = [instance.tracker(user) for instance in cluster]
    for tracker in trackers:
        assert slots(tracker) == SLOTS
        assert_each_message_answered(tracker, CONVERSATION)
    assert trackers[0]["events"] == trackers[1]["events"]
    # The events are in PostgreSQL, in order ...
    with closing(pg_connect(postgres_env, postgres_env["POSTGRES_DB"])) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT data FROM events WHERE sender_id = %s AND type_name = 'user' ORDER BY id",
                       (rest(user),))
        assert [yaml.safe_load(data)["text"] for (data,) in cursor.fetchall()] == CONVERSATION
    # ... and every message took the conversation's lock in Redis.
    assert any(f"willow:lock:{rest(user)}" in command for command in lock_commands), lock_commands[:5]


@pytest.mark.slow
def test_conversation_started_on_one_instance_continues_on_the_other(cluster):
    """A conversation started on one instance is the same conversation on the other."""
    user = sender()
    first, second = cluster
    assert said(first.say(user, "i never cry in my sessions and i'm worried i'm doing therapy wrong"))
    replies = second.say(user, "is that normal?")
    # Said once already: briefly, then something new (not the same answer again).
    assert any(said(replies).startswith(p) for p in CONTENT["not_crying"]["again"]), said(replies)


# --- retention -------------------------------------------------------------------------------


def purge_output_count(output: str) -> int:
    match = re.search(r"removed (\d+) conversations?", output)
    assert match, output
    return int(match.group(1))


def check_purge(
    servers: local_servers.Servers,
    run_purge: Callable[[List[str]], str],
    execute: Callable[[str, Sequence], List[tuple]],
    placeholder: str,
) -> None:
    """Old conversations go, new ones stay, and so does an old one that got a new message."""
    old, new, revived = [sender(), sender()], [sender(), sender()], sender()
    for user in old + new + [revived]:
        assert said(servers.say(user, DISTRESSED))

    def events(user: str) -> int:
        return execute(f"SELECT COUNT(*) FROM events WHERE sender_id = {placeholder}", (rest(user),))[0][0]

    def age(users: List[str], days: int) -> None:
        marks = ", ".join([placeholder] * len(users))
        execute(f"UPDATE events SET timestamp = timestamp - {days * DAY} WHERE sender_id IN ({marks})",
                [rest(user) for user in users])

    age(old + [revived], 45)  # last active 45 days ago ...
    assert said(servers.say(revived, "yes please"))  # ... but this one is back today
    counts = {user: events(user) for user in old + new + [revived]}
    assert all(counts.values())

    assert purge_output_count(run_purge(["--days", "30", "--dry-run"]).replace("would remove", "removed")) == 2
    assert all(events(user) == count for user, count in counts.items())

    assert purge_output_count(run_purge(["--days", "30"])) == 2
    assert [events(user) for user in old] == [0, 0]
    assert all(events(user) == counts[user] for user in new + [revived])
    # Rasa sees the same: the purged conversations are gone, the others intact.
    assert user_texts(servers.tracker(old[0])) == []
    assert user_texts(servers.tracker(new[0])) == [DISTRESSED]
    assert user_texts(servers.tracker(revived)) == [DISTRESSED, "yes please"]
    # Nothing else is old enough now.
    assert purge_output_count(run_purge(["--days", "30"])) == 0
    assert purge_output_count(run_purge(["--days", "44"])) == 0


@pytest.mark.slow
def test_purge_removes_only_old_conversations_from_sqlite(servers, default_store):
    """The default store, which the session's servers use."""
    db = str(default_store.db)
    env = {**local_servers.ENV, "WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": db}

    def run_purge(args: List[str]) -> str:
        if "--dry-run" in args:  # the same store, named by an endpoints file instead
            args = [*args, "--endpoints", str(default_store.endpoints)]
        result = subprocess.run([sys.executable, "-m", "willow.retention", "purge", *args], cwd=ROOT,
                                env=env if "--endpoints" not in args else local_servers.ENV,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def execute(sql: str, params: Sequence) -> List[tuple]:
        with closing(sqlite3.connect(db)) as connection, connection:
            return connection.execute(sql, params).fetchall()

    check_purge(servers, run_purge, execute, "?")


@pytest.mark.slow
def test_make_purge_removes_only_old_conversations_from_postgres(cluster, postgres_env):
    """The scale-out store, through `make purge` with the settings in the environment."""
    env = {**local_servers.ENV, **postgres_env}

    def run_purge(args: List[str]) -> str:
        days = args[args.index("--days") + 1]
        if "--dry-run" in args:  # `make purge` has no dry run; the command itself does
            command = [sys.executable, "-m", "willow.retention", "purge", *args]
        else:
            command = ["make", "--no-print-directory", "-s", "purge", f"WILLOW_RETENTION_DAYS={days}"]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    with closing(pg_connect(postgres_env, postgres_env["POSTGRES_DB"])) as connection:
        def execute(sql: str, params: Sequence) -> List[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(sql, tuple(params))
                return cursor.fetchall() if cursor.description else []

        check_purge(cluster[0], run_purge, execute, "%s")


def test_purge_refuses_zero_days():
    result = subprocess.run([sys.executable, "-m", "willow.retention", "purge", "--days", "0"], cwd=ROOT,
                            env=local_servers.ENV, capture_output=True, text=True)
    assert result.returncode == 2 and "at least 1" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("person, stranger", cross_channel.PAIRS)
def test_on_postgres_a_claimed_id_never_joins_or_deletes_another_channels_conversation(
        cluster, postgres_env, fakes, person, stranger):
    """Issue 13's attack on the scale-out store: the person on one instance, the stranger on the other."""
    def stored(conversation: str) -> cross_channel.Events:
        with closing(pg_connect(postgres_env, postgres_env["POSTGRES_DB"])) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id",
                               (conversation,))
                return cross_channel.events_from_rows(cursor.fetchall())

    first, second = (cross_channel.Channels(instance, *fakes) for instance in cluster)
    try:
        outcome = cross_channel.attack(first, person, stranger, stored, stranger_channels=second)
    finally:
        first.close()
        second.close()
    first_pair = (person, stranger) == cross_channel.PAIRS[0]
    lines = cross_channel.table([outcome]).splitlines()
    with open(ARTIFACTS / "conversation-ids-postgres.md", "w" if first_pair else "a") as out:
        out.write("\n".join(lines if first_pair else lines[-1:]) + "\n")
    cross_channel.check(outcome)


@pytest.mark.slow
def test_delete_my_data_removes_the_conversation_from_postgres(cluster, postgres_env):
    """"Delete my data" on the scale-out store: asked on one instance, confirmed on the other."""
    user, bystander = sender(), sender()
    cluster[0].say(bystander, "is crying in therapy normal?")
    cluster[0].say(user, "I cried in therapy today")
    asked = cluster[1].say(user, "delete my data")
    assert said(asked) == domain_files.default_text("utter_ask_forget_confirm")
    confirmed = cluster[0].say(user, asked[-1]["buttons"][0]["payload"])
    assert said(confirmed) == domain_files.default_text("utter_conversation_deleted")

    with closing(pg_connect(postgres_env, postgres_env["POSTGRES_DB"])) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s", (rest(user),))
            assert cursor.fetchone()[0] == 0
            cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s", (rest(bystander),))
            assert cursor.fetchone()[0] > 0
