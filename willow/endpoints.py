"""Writes the endpoints file Rasa runs with, from environment variables.

Rasa's ``endpoints.yml`` substitutes ``${VAR}`` but fails when a variable is unset, so the
defaults live here instead. ``endpoints.yml`` in the repository is the documented default
(SQLite tracker store, in-memory lock store); ``make run``, ``make shell`` and the tests run
with the file this module generates:

    python -m willow.endpoints                    # print the effective configuration
    python -m willow.endpoints --out FILE         # write it (what scripts/serve.sh does)
    python -m willow.endpoints --action-url URL   # override ACTION_SERVER_URL

Variables (all optional):

    WILLOW_TRACKER_STORE  sqlite (default) | postgres
    WILLOW_DB_PATH        SQLite file, default data-store/willow.db (relative to the current directory)
    POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DB, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_SSLMODE
    WILLOW_LOCK_STORE     memory (default) | redis
    REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD, REDIS_USE_SSL
    ACTION_SERVER_URL     default http://localhost:5055/webhook

Passwords are never written into the file: it holds ``${POSTGRES_PASSWORD}`` /
``${REDIS_PASSWORD}``, which Rasa reads from its own environment at start-up.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import yaml

# Rasa's SQL tracker store, plus real deletion when a user asks Willow to forget them.
TRACKER_STORE_CLASS = "willow.tracker_store.ForgetfulSQLTrackerStore"
# Rasa's response generator, without sending one conversation the same text twice.
NLG = {"type": "willow.nlg.FreshResponses"}

DEFAULT_DB_PATH = "data-store/willow.db"
DEFAULT_ACTION_SERVER_URL = "http://localhost:5055/webhook"
TRACKER_STORES = ("sqlite", "postgres")
LOCK_STORES = ("memory", "redis")
DEFAULTS = {
    "POSTGRES_HOST": "localhost",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "willow",
    "POSTGRES_USER": "willow",
    "REDIS_HOST": "localhost",
    "REDIS_PORT": "6379",
    "REDIS_DB": "1",
}
# Rasa's RedisLockStore prefixes its keys with this (alphanumeric only), so several
# assistants can share one Redis.
REDIS_KEY_PREFIX = "willow"


class ConfigError(ValueError):
    """An environment variable has a value Willow cannot use."""


def _get(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    return value or DEFAULTS.get(name, "")


def _choice(env: Mapping[str, str], name: str, choices: tuple) -> str:
    value = (env.get(name) or choices[0]).strip().lower() or choices[0]
    aliases = {"postgresql": "postgres", "in_memory": "memory", "in-memory": "memory"}
    value = aliases.get(value, value)
    if value not in choices:
        raise ConfigError(f"{name}={env.get(name)!r}: expected one of {', '.join(choices)}")
    return value


def _number(env: Mapping[str, str], name: str, low: int = 1, high: int = 65535) -> int:
    value = _get(env, name)
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"{name}={value!r}: expected a whole number from {low} to {high}")
    return int(value)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def db_path(env: Mapping[str, str] = os.environ) -> Path:
    """The SQLite file, absolute (relative paths are taken from the current directory)."""
    return Path(_get(env, "WILLOW_DB_PATH") or DEFAULT_DB_PATH).expanduser().resolve()


def tracker_store(env: Mapping[str, str] = os.environ, secrets: bool = False) -> Dict[str, Any]:
    """The ``tracker_store`` section: Rasa's own SQLTrackerStore, on SQLite or PostgreSQL.

    ``secrets=False`` writes ``${POSTGRES_PASSWORD}`` (for a file Rasa reads);
    ``secrets=True`` puts the password itself (for connecting from this process).
    """
    kind = _choice(env, "WILLOW_TRACKER_STORE", TRACKER_STORES)
    if kind == "sqlite":
        return {"type": TRACKER_STORE_CLASS, "dialect": "sqlite", "db": str(db_path(env))}
    config: Dict[str, Any] = {
        "type": TRACKER_STORE_CLASS,
        "dialect": "postgresql",
        "url": _get(env, "POSTGRES_HOST"),
        "port": _number(env, "POSTGRES_PORT"),
        "db": _get(env, "POSTGRES_DB"),
        "username": _get(env, "POSTGRES_USER"),
    }
    if env.get("POSTGRES_PASSWORD"):
        config["password"] = env["POSTGRES_PASSWORD"] if secrets else "${POSTGRES_PASSWORD}"
    if env.get("POSTGRES_SSLMODE"):
        config["query"] = {"sslmode": env["POSTGRES_SSLMODE"]}
    return config


def lock_store(env: Mapping[str, str] = os.environ) -> Optional[Dict[str, Any]]:
    """The ``lock_store`` section, or None for Rasa's in-memory lock store (one instance only)."""
    if _choice(env, "WILLOW_LOCK_STORE", LOCK_STORES) == "memory":
        return None
    config: Dict[str, Any] = {
        "type": "redis",
        "url": _get(env, "REDIS_HOST"),
        "port": _number(env, "REDIS_PORT"),
        "db": _number(env, "REDIS_DB", low=0, high=10_000),
        "key_prefix": REDIS_KEY_PREFIX,
    }
    if env.get("REDIS_PASSWORD"):
        config["password"] = "${REDIS_PASSWORD}"
    if _flag(env, "REDIS_USE_SSL"):
        config["use_ssl"] = True
    return config


def endpoints(env: Mapping[str, str] = os.environ, action_url: Optional[str] = None) -> Dict[str, Any]:
    """The whole endpoints configuration, as Rasa reads it from ``--endpoints``."""
    config: Dict[str, Any] = {
        "action_endpoint": {"url": action_url or _get(env, "ACTION_SERVER_URL") or DEFAULT_ACTION_SERVER_URL},
        "tracker_store": tracker_store(env),
        "nlg": dict(NLG),
    }
    locks = lock_store(env)
    if locks:
        config["lock_store"] = locks
    return config


def render(config: Dict[str, Any]) -> str:
    header = "# GENERATED by `python -m willow.endpoints` from environment variables; see README, Persistence.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def write(path: Path, env: Mapping[str, str] = os.environ, action_url: Optional[str] = None) -> Path:
    """Writes the effective endpoints file and creates the SQLite file's directory."""
    config = endpoints(env, action_url)
    if config["tracker_store"]["dialect"] == "sqlite":
        Path(config["tracker_store"]["db"]).parent.mkdir(parents=True, exist_ok=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(config))
    return path


def describe(env: Mapping[str, str] = os.environ) -> str:
    """One line for start-up messages (no secrets)."""
    store = tracker_store(env)
    if store["dialect"] == "sqlite":
        where = f"SQLite {store['db']}"
    else:
        where = f"PostgreSQL {store['username']}@{store['url']}:{store['port']}/{store['db']}"
    locks = lock_store(env)
    lock = f"Redis {locks['url']}:{locks['port']}/{locks['db']}" if locks else "in memory (one Rasa instance only)"
    return f"conversations: {where}; locks: {lock}"


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m willow.endpoints", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the file here instead of printing it")
    parser.add_argument("--action-url", help="action server webhook URL (default: ACTION_SERVER_URL or "
                        f"{DEFAULT_ACTION_SERVER_URL})")
    parser.add_argument("--describe", action="store_true", help="print one line saying where conversations go")
    args = parser.parse_args(argv)
    try:
        if args.describe:
            print(describe())
        elif args.out:
            write(args.out, action_url=args.action_url)
        else:
            sys.stdout.write(render(endpoints(action_url=args.action_url)))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
