"""Retention: deletes conversations whose last event is older than a number of days.

    python -m willow.retention purge                 # WILLOW_RETENTION_DAYS, default 30
    python -m willow.retention purge --days 90
    python -m willow.retention purge --dry-run       # only count
    python -m willow.retention purge --endpoints FILE

It works on Rasa's SQL tracker store (the ``events`` table of ``SQLTrackerStore``, SQLite or
PostgreSQL) that Willow runs with: by default the one the environment variables select
(``python -m willow.endpoints``: WILLOW_TRACKER_STORE, WILLOW_DB_PATH, POSTGRES_*), or the
``tracker_store`` of an endpoints file (``${VAR}`` substituted as Rasa does). A conversation is
every event of one sender id, across all its sessions; it is deleted whole or not at all, and
only when none of its events is newer than the cutoff. It can run while Rasa is serving: the
DELETE itself re-checks that condition, so a conversation that got a new message since the
purge looked is kept (and if one is deleted while Rasa is handling a message of it, Rasa
writes the whole conversation back when it saves the turn).

It prints how many conversations it removed, never which (sender ids identify people).
Run it daily, e.g. from cron: ``0 3 * * * cd /srv/willow && make purge``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

DEFAULT_DAYS = 30
BATCH = 500


@dataclass
class Result:
    conversations: int
    events: int
    cutoff: float
    store: str


def store_config(env: Mapping[str, str], endpoints: Optional[Path]) -> Dict[str, Any]:
    """The tracker store's settings, with the real password (this process connects itself)."""
    if endpoints is None:
        from willow import endpoints as willow_endpoints

        return willow_endpoints.tracker_store(env, secrets=True)

    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(str(endpoints), "tracker_store")
    if config is None:
        raise SystemExit(f"error: {endpoints} has no tracker_store (or does not exist)")
    return {"type": config.type, "url": config.url, **config.kwargs}


def is_sql_store(store_type: Optional[str]) -> bool:
    """Only Rasa's SQLTrackerStore (or a subclass named by module path) keeps an events table."""
    from rasa.core.tracker_store import SQLTrackerStore

    if (store_type or "").lower() == "sql":
        return True
    if store_type and "." in store_type:
        import importlib

        module, _, name = store_type.rpartition(".")
        cls = getattr(importlib.import_module(module), name, None)
        return isinstance(cls, type) and issubclass(cls, SQLTrackerStore)
    return False


def engine_for(config: Dict[str, Any]) -> Any:
    """An SQLAlchemy engine for the store, with the options Willow's tracker store uses (the same
    SQLite busy timeout, so purge and the server wait for each other; no SQL parameters, that is
    sender ids, in error messages).

    A bare engine on purpose, not a tracker store: a store on SQLite takes the serving process's
    lock (willow/tracker_store.py), and purge runs while Rasa serves."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    from willow.tracker_store import engine_options

    if not is_sql_store(config.get("type")):
        raise SystemExit(f"error: the tracker store is {config.get('type')!r}; purge works on Rasa's SQL tracker store")
    url = SQLTrackerStore.get_db_url(
        config.get("dialect", "sqlite"), config.get("url"), config.get("port"),
        config.get("db", "rasa.db"), config.get("username"), config.get("password"),
        None, config.get("query"),
    )
    return sa.create_engine(url, **engine_options(url))


def describe(config: Dict[str, Any]) -> str:
    if config.get("dialect", "sqlite") == "sqlite":
        return f"SQLite {config.get('db')}"
    return f"{config.get('dialect')} {config.get('username')}@{config.get('url')}:{config.get('port')}/{config.get('db')}"


def purge(config: Dict[str, Any], days: float, dry_run: bool = False, now: Optional[float] = None) -> Result:
    """Deletes (or with ``dry_run`` only counts) conversations last active before ``days`` ago."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    cutoff = (time.time() if now is None else now) - days * 86400
    store = describe(config)
    if config.get("dialect", "sqlite") == "sqlite" and not Path(config.get("db", "rasa.db")).exists():
        return Result(0, 0, cutoff, store)  # nothing stored yet; do not create the file
    engine = engine_for(config)
    events = SQLTrackerStore.SQLEvent.__table__
    try:
        if not sa.inspect(engine).has_table(events.name):
            return Result(0, 0, cutoff, store)
        stale = (
            sa.select(events.c.sender_id)
            .group_by(events.c.sender_id)
            .having(sa.func.max(events.c.timestamp) < cutoff)
        )
        conversations = removed_events = 0
        with engine.begin() as connection:
            senders: List[str] = [row[0] for row in connection.execute(stale)]
            if dry_run:
                return Result(len(senders), 0, cutoff, store)
            for start in range(0, len(senders), BATCH):
                batch = senders[start:start + BATCH]
                # Re-checked in the statement itself: a conversation that got a new event since
                # the query above is left alone.
                fresh = sa.select(events.c.sender_id).where(
                    events.c.sender_id.in_(batch), events.c.timestamp >= cutoff
                )
                removed_events += connection.execute(
                    events.delete().where(events.c.sender_id.in_(batch), events.c.sender_id.not_in(fresh))
                ).rowcount
                left = connection.execute(
                    sa.select(sa.func.count(sa.distinct(events.c.sender_id))).where(events.c.sender_id.in_(batch))
                ).scalar()
                conversations += len(batch) - left
        return Result(conversations, removed_events, cutoff, store)
    finally:
        engine.dispose()


def _days(value: str) -> int:
    if not re.fullmatch(r"\d+", value.strip()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of days, at least 1")
    return int(value)


def quiet() -> None:
    """Rasa 3.6's SQL code triggers SQLAlchemy 2.0 deprecation notices: not ours to fix."""
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    import rasa.core.tracker_store  # noqa: F401  (it sets its own warning filters on import)
    import sqlalchemy.exc

    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", sqlalchemy.exc.SADeprecationWarning)


def main(argv: Optional[List[str]] = None, env: Mapping[str, str] = os.environ) -> int:
    quiet()
    parser = argparse.ArgumentParser(prog="python -m willow.retention", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("purge", help="delete conversations whose last event is older than --days")
    command.add_argument(
        "--days", type=_days, default=None,
        help=f"keep conversations active in the last N days (default: WILLOW_RETENTION_DAYS or {DEFAULT_DAYS})",
    )
    command.add_argument("--endpoints", type=Path, help="use this endpoints file's tracker_store "
                         "(default: the one the environment variables select)")
    command.add_argument("--dry-run", action="store_true", help="only count what would be removed")
    args = parser.parse_args(argv)

    if args.days is None:
        try:
            args.days = _days(env.get("WILLOW_RETENTION_DAYS") or str(DEFAULT_DAYS))
        except argparse.ArgumentTypeError as error:
            parser.error(f"WILLOW_RETENTION_DAYS: {error}")
    try:
        config = store_config(env, args.endpoints)
    except ValueError as error:  # willow.endpoints.ConfigError
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = purge(config, args.days, dry_run=args.dry_run)
    before = datetime.fromtimestamp(result.cutoff, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    plural = "" if result.conversations == 1 else "s"
    if args.dry_run:
        print(f"would remove {result.conversations} conversation{plural} last active before {before} "
              f"(older than {args.days} days) from {result.store}")
    else:
        print(f"removed {result.conversations} conversation{plural} ({result.events} events) last active "
              f"before {before} (older than {args.days} days) from {result.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
