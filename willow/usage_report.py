"""Usage report: what Willow's conversations were about, in counts only, safe to share with a board.

    python -m willow.usage_report                          # the store the environment selects -> docs/usage-report.md
    python -m willow.usage_report --out reports/may.md --since 2025-05-01 --until 2025-05-31
    python -m willow.usage_report --endpoints FILE         # that endpoints file's tracker store
    python -m willow.usage_report --db data-store/willow.db

It reads Rasa's SQL tracker store (SQLite or PostgreSQL, chosen as ``make purge`` chooses it:
WILLOW_TRACKER_STORE, WILLOW_DB_PATH, POSTGRES_*, or ``--endpoints`` / ``--db``) and writes a
markdown report with PNG charts next to it (``<report name>-<chart>.png``): conversations per
day, messages per conversation, topics, the fallback and ``other_struggle`` rates, crisis
replies, safety checks, check-ins and notes per week, channels and the busiest hours (UTC).

Privacy. Conversations are health-adjacent. The report holds no message text and no sender
ids: it reads message text only to the point of parsing an event (for its channel) and keeps
none of it; sender ids only tell one conversation from the next while streaming. No count under
``SMALL`` (5) is shown, in a table or a chart, and the hidden cells of a table are never
recoverable by subtraction from its total (``suppress``). The rule is printed in the report.

A conversation is one sender id (all its sessions, as ``make purge`` counts them) with at least
one user message in the period; it counts on the day of its first message in the period.
Exit status: 0 (also for a store without conversations), 1 when the store cannot be read, 2 on
bad usage.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "data" / "nlu"
DEFAULT_OUT = ROOT / "docs" / "usage-report.md"

SMALL = 5  # counts below this are never shown
# One mark for every hidden cell, small or hidden with one: with two marks the sum of the hidden
# cells (the whole minus the shown ones) can pin a small one down, e.g. a "<5" beside a 7 hidden
# with it when another shown cell is 7 must be 4.
HIDDEN = "hidden"

# What Willow does, by the names in the domain (tests/willow/test_usage_report.py checks they exist).
CRISIS_REPLY = "utter_crisis"  # the crisis reply itself (domain/crisis_responses.yml), not the country line
SAFETY_CHECK_PREFIX = "utter_ask_safe"  # "are you safe right now?" and its follow-ups (domain/crisis_responses.yml, safety.yml)
CHECK_IN = "utter_check_in"  # the direct question on possible risk (domain/safety.yml)
NOTE_ACTION = "action_write_note"  # the note for the next session is written (domain/session_note.yml)
FALLBACK_INTENT = "nlu_fallback"  # Rasa's FallbackClassifier: Willow did not understand
OTHER_STRUGGLE_INTENT = "other_struggle"

NOT_UNDERSTOOD = "not understood (fallback)"
OTHER_TOPIC = "other"  # an intent the current training data does not have (an older model)
CHANNELS = {"rest": "REST", "socketio": "web chat (socket.io)", "telegram": "Telegram", "slack": "Slack"}
# Messages per conversation: the buckets of the histogram, as (lowest, highest or None).
BUCKETS: List[Tuple[int, Optional[int]]] = [(1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, None)]
WEEKLY = ("crisis replies", "safety checks", "check-ins", "notes")
PROGRESS_EVERY = 2.0  # seconds between progress lines on stderr
FETCH = 2000  # rows per round trip from the database


class Event(NamedTuple):
    """What the report needs of one tracker event: never text, never the sender."""
    kind: str  # Rasa's type_name: "user", "action"
    timestamp: float
    intent: Optional[str] = None
    action: Optional[str] = None
    channel: Optional[str] = None


def bucket_label(low: int, high: Optional[int]) -> str:
    return f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")


def bucket_of(messages: int) -> str:
    for low, high in BUCKETS:
        if messages >= low and (high is None or messages <= high):
            return bucket_label(low, high)
    raise ValueError(f"no bucket for {messages} messages")


def day_of(timestamp: float) -> date:
    return datetime.fromtimestamp(timestamp, timezone.utc).date()


def week_of(day: date) -> date:
    """The Monday of the ISO week ``day`` is in."""
    return day - timedelta(days=day.weekday())


# --- topics, from the training data ----------------------------------------------------------


def topics_from_nlu(nlu_dir: Path = NLU_DIR) -> Dict[str, str]:
    """intent -> topic: the data/nlu/<topic>.yml file that holds most of the intent's examples.

    The files are organised by topic already; some lend a few examples to another topic's
    intent ("everyday words" for ``cried_in_therapy``), which the majority rule ignores."""
    examples: Dict[str, Counter] = defaultdict(Counter)
    for path in sorted(Path(nlu_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if isinstance(item, dict) and item.get("intent"):
                text = item.get("examples") or ""
                lines = text if isinstance(text, list) else str(text).splitlines()
                examples[item["intent"]][path.stem] += sum(1 for line in lines if str(line).strip().startswith("-")) or 1
    # Most examples first; on a tie the alphabetically first file, so the grouping is stable.
    return {intent: min(files, key=lambda f: (-files[f], f)).replace("_", " ")
            for intent, files in examples.items()}


# --- aggregation -----------------------------------------------------------------------------


@dataclass
class Usage:
    """Counts over the conversations of a period. Nothing in here identifies anyone."""
    topic_of: Dict[str, str] = field(default_factory=dict)
    conversations: int = 0
    messages: int = 0
    per_day: Counter = field(default_factory=Counter)  # date -> conversations
    lengths: Counter = field(default_factory=Counter)  # bucket label -> conversations
    channels: Counter = field(default_factory=Counter)  # label -> conversations
    topics: Counter = field(default_factory=Counter)  # topic -> user messages
    intents: Counter = field(default_factory=Counter)  # intent -> user messages (for the rates)
    hours: Counter = field(default_factory=Counter)  # 0-23 UTC -> user messages
    weekly: Dict[str, Counter] = field(default_factory=lambda: {name: Counter() for name in WEEKLY})
    week_messages: Counter = field(default_factory=Counter)  # week -> user messages
    week_intents: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # intent -> week -> n
    first: Optional[float] = None  # first and last user message
    last: Optional[float] = None

    def topic(self, intent: Optional[str]) -> str:
        if intent == FALLBACK_INTENT:
            return NOT_UNDERSTOOD
        return self.topic_of.get(intent or "", OTHER_TOPIC)

    def add_conversation(self, events: Iterable[Event]) -> None:
        """One conversation's events, in order. Actions before its first user message (the
        session start) are ignored; a conversation with no user message is not counted."""
        messages, channel, started = 0, None, False
        for event in events:
            week = week_of(day_of(event.timestamp))
            if event.kind == "user":
                if not started:
                    started, channel = True, event.channel
                    self.per_day[day_of(event.timestamp)] += 1
                messages += 1
                self.topics[self.topic(event.intent)] += 1
                self.intents[event.intent or ""] += 1
                self.week_messages[week] += 1
                self.week_intents[event.intent or ""][week] += 1
                self.hours[datetime.fromtimestamp(event.timestamp, timezone.utc).hour] += 1
                self.first = event.timestamp if self.first is None else min(self.first, event.timestamp)
                self.last = event.timestamp if self.last is None else max(self.last, event.timestamp)
            elif event.kind == "action" and started:
                name = event.action or ""
                if name == CRISIS_REPLY:
                    self.weekly["crisis replies"][week] += 1
                elif name.startswith(SAFETY_CHECK_PREFIX):
                    self.weekly["safety checks"][week] += 1
                elif name == CHECK_IN:
                    self.weekly["check-ins"][week] += 1
                elif name == NOTE_ACTION:
                    self.weekly["notes"][week] += 1
        if not started:
            return
        self.conversations += 1
        self.messages += messages
        self.lengths[bucket_of(messages)] += 1
        self.channels[CHANNELS.get(channel or "", channel or "unknown")] += 1


def by_conversation(rows: Iterable[Tuple[Any, Event]]) -> Iterator[List[Event]]:
    """Groups (conversation key, event) rows sorted by conversation into one list per
    conversation; only one conversation is held at a time."""
    current, events = object(), []
    for key, event in rows:
        if key != current:
            if events:
                yield events
            current, events = key, []
        events.append(event)
    if events:
        yield events


def aggregate(rows: Iterable[Tuple[Any, Event]], topic_of: Mapping[str, str]) -> Usage:
    usage = Usage(topic_of=dict(topic_of))
    for events in by_conversation(rows):
        usage.add_conversation(events)
    return usage


# --- small cells -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    value: int
    shown: bool = True

    @property
    def text(self) -> str:
        return f"{self.value:,}" if self.shown else HIDDEN


def suppress(counts: Mapping[Any, int]) -> Dict[Any, Cell]:
    """The cells of one table whose counts add up to a whole (conversations, messages...).

    Every count under SMALL (zero too) is hidden. The whole may be shown (or be worked out from
    other figures), so the hidden cells must also add up to SMALL or more: otherwise their sum,
    the whole minus the shown cells, would be a small count (with one hidden cell, the cell
    itself). While they do not, the smallest shown cell is hidden too. Then each small cell has
    more than one value that fits what is shown (tests/willow/test_usage_report.py checks it)."""
    cells = {key: Cell(n, n >= SMALL) for key, n in counts.items()}
    while True:
        hidden = [c.value for c in cells.values() if not c.shown]
        shown = [k for k, c in cells.items() if c.shown]
        if not hidden or sum(hidden) >= SMALL or not shown:
            return cells
        smallest = min(shown, key=lambda k: cells[k].value)
        cells[smallest] = Cell(cells[smallest].value, False)


def total(n: int) -> Cell:
    return Cell(n, n >= SMALL)


def rate(part: int, whole: int, also_hidden: bool = False) -> Optional[float]:
    """part / whole, or None when it would reveal a small count: the part, the whole or the rest
    (whole - part) under SMALL, or the part hidden in another table (``also_hidden``)."""
    if also_hidden or part < SMALL or whole < SMALL or whole - part < SMALL:
        return None
    return part / whole


def share(cell: Cell, whole: int) -> str:
    return f"{100 * cell.value / whole:.1f}%" if cell.shown and whole else ""


# --- the report ------------------------------------------------------------------------------


@dataclass
class Meta:
    store: str  # "SQLite" or "PostgreSQL": never a path, host or credentials
    since: Optional[date]
    until: Optional[date]
    generated: datetime

    def period(self, usage: Usage) -> Tuple[Optional[date], Optional[date]]:
        start = self.since or (day_of(usage.first) if usage.first is not None else None)
        end = self.until or (day_of(usage.last) if usage.last is not None else None)
        return start, end


RULE = (f"**Small numbers are hidden.** No count under {SMALL} (zero included) is shown, in a table or a "
        f"chart: such a cell reads \"{HIDDEN}\" and its bar is left out. The cells of each table add up to a "
        f"whole (all conversations, all messages...), so the hidden cells of a table must together come to "
        f"{SMALL} or more, or subtracting the shown cells from the whole would give a small number away; "
        f"where they would not, the smallest shown cells are hidden too, marked the same way. A rate is shown "
        f"only when its count, its whole and the rest (whole minus count) are each {SMALL} or more, and the "
        f"count is not hidden elsewhere. The report holds no message text and no sender ids.")

CHARTS = ("conversations-per-day", "messages-per-conversation", "topics", "rates", "safety-per-week",
          "channels", "hours")


def days_between(start: date, end: date) -> List[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> List[str]:
    """A markdown table. ``align``: "l" or "r" per column; by default the first column left, the
    others (counts) right."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


@dataclass
class Tables:
    """Every figure of the report after suppression; the charts draw from these, not the raw counts."""
    days: Dict[date, Cell]
    lengths: Dict[str, Cell]
    topics: Dict[str, Cell]
    channels: Dict[str, Cell]
    hours: Dict[int, Cell]
    weekly: Dict[str, Dict[date, Cell]]
    rates: Dict[str, Optional[float]]
    week_rates: Dict[str, Dict[date, Optional[float]]]
    weeks: List[date]


def tables(usage: Usage, start: date, end: date) -> Tables:
    days = days_between(start, end)
    weeks = sorted({week_of(d) for d in days})
    topics = suppress({t: n for t, n in usage.topics.items()})
    rates, week_rates = {}, {}
    for name, intent in (("fallback", FALLBACK_INTENT), ("other struggle", OTHER_STRUGGLE_INTENT)):
        cell = topics.get(usage.topic(intent))
        # The count is also a row of the topics table: hidden there, hidden here, and in every
        # week too (with one week, its rate times the messages is the count).
        hidden = cell is not None and not cell.shown
        rates[name] = rate(usage.intents[intent], usage.messages, also_hidden=hidden)
        week_rates[name] = {w: rate(usage.week_intents[intent][w], usage.week_messages[w], also_hidden=hidden)
                            for w in weeks}
    return Tables(
        days=suppress({d: usage.per_day[d] for d in days}),
        lengths=suppress({bucket_label(*b): usage.lengths[bucket_label(*b)] for b in BUCKETS}),
        topics=topics,
        channels=suppress(dict(usage.channels)),
        hours=suppress({h: usage.hours[h] for h in range(24)}),
        weekly={name: suppress({w: usage.weekly[name][w] for w in weeks}) for name in WEEKLY},
        rates=rates, week_rates=week_rates, weeks=weeks,
    )


def percent(value: Optional[float]) -> str:
    return "hidden" if value is None else f"{100 * value:.1f}%"


def markdown(usage: Usage, meta: Meta, charts: Mapping[str, str], tabs: Optional[Tables]) -> str:
    start, end = meta.period(usage)
    period = f"{start} to {end} (UTC)" if start and end else "the whole store"
    lines = [
        "# Willow usage report", "",
        f"- Period: {period}",
        f"- Tracker store: {meta.store}",
        f"- Generated: {meta.generated.strftime('%Y-%m-%d %H:%M')} UTC by `make report` (`python -m willow.usage_report`)",
        "", RULE, "",
        "A conversation is one person's conversation on one channel (all its sessions) with at least one "
        "message in the period; it counts on the day of its first message. Topics group the intents Willow "
        "recognised by the training data file that holds most of their examples (`data/nlu/<topic>.yml`).",
        "",
    ]
    if not usage.conversations or tabs is None:
        lines += ["**No conversations in this period.** There is nothing to report.", ""]
        return "\n".join(lines)

    def chart(name: str, title: str) -> List[str]:
        return [f"![{title}]({charts[name]})", ""] if name in charts else []

    weekly_totals = {name: total(sum(usage.weekly[name].values())) for name in WEEKLY}
    lines += ["## Summary", ""]
    lines += table(["", "count"], [
        ["conversations", total(usage.conversations).text],
        ["messages from people", total(usage.messages).text],
        ["crisis replies", weekly_totals["crisis replies"].text],
        ["safety check questions", weekly_totals["safety checks"].text],
        ["check-ins (possible risk)", weekly_totals["check-ins"].text],
        ["notes for the next session prepared", weekly_totals["notes"].text],
    ])
    if usage.conversations >= SMALL and usage.messages >= SMALL:
        lines += ["", f"On average {usage.messages / usage.conversations:.1f} messages per conversation."]
    lines.append("")

    lines += ["## Conversations per day", ""] + chart("conversations-per-day", "Conversations per day")
    lines += ["<details><summary>Table</summary>", ""]
    lines += table(["day", "conversations"], [[str(d), c.text] for d, c in tabs.days.items()])
    lines += ["", "</details>", ""]

    lines += ["## Messages per conversation", ""] + chart("messages-per-conversation", "Messages per conversation")
    lines += table(["messages from the person", "conversations", "share"],
                   [[k, c.text, share(c, usage.conversations)] for k, c in tabs.lengths.items()])
    lines.append("")

    lines += ["## Topics", "", "Share of people's messages, by what Willow understood them to be about.", ""]
    lines += chart("topics", "Share of messages per topic")
    intents_of: Dict[str, List[str]] = defaultdict(list)
    for intent in usage.intents:
        intents_of[usage.topic(intent or None)].append(intent or "(none)")
    ordered = sorted(tabs.topics.items(), key=lambda kc: (not kc[1].shown, -kc[1].value if kc[1].shown else 0, kc[0]))
    lines += table(["topic", "messages", "share", "intents"],
                   [[t, c.text, share(c, usage.messages), ", ".join(sorted(intents_of[t]))] for t, c in ordered],
                   align="lrrl")
    lines.append("")

    lines += ["## Fallback and other struggles", "",
              "Fallback: messages Willow did not understand (`nlu_fallback`). Other struggle: messages about "
              "something other than crying in therapy (`other_struggle`), which Willow acknowledges and points "
              "to a therapist or counsellor.", ""]
    lines += chart("rates", "Fallback and other-struggle rates per week")
    lines += table(["week of", *tabs.rates],
                   [[str(w), *(percent(tabs.week_rates[name][w]) for name in tabs.rates)] for w in tabs.weeks]
                   + [["**whole period**", *(percent(v) for v in tabs.rates.values())]])
    lines.append("")

    lines += ["## Safety replies and notes per week", "",
              f"Crisis replies (`{CRISIS_REPLY}`), safety check questions (`{SAFETY_CHECK_PREFIX}*`), check-ins on "
              f"possible risk (`{CHECK_IN}`) and notes for the next session (`{NOTE_ACTION}`), by the week "
              "(starting Monday) they were sent in.", ""]
    lines += chart("safety-per-week", "Crisis replies, safety checks, check-ins and notes per week")
    lines += table(["week of", *WEEKLY],
                   [[str(w), *(tabs.weekly[name][w].text for name in WEEKLY)] for w in tabs.weeks])
    lines.append("")

    lines += ["## Channels", "", "Share of conversations by the channel of their first message.", ""]
    lines += chart("channels", "Share of conversations per channel")
    lines += table(["channel", "conversations", "share"],
                   [[k, c.text, share(c, usage.conversations)]
                    for k, c in sorted(tabs.channels.items(), key=lambda kc: kc[0])])
    lines.append("")

    lines += ["## Busiest hours", "", "People's messages by hour of the day (UTC).", ""]
    lines += chart("hours", "Messages per hour of the day (UTC)")
    lines += ["<details><summary>Table</summary>", ""]
    lines += table(["hour (UTC)", "messages"], [[f"{h:02d}:00", c.text] for h, c in tabs.hours.items()])
    lines += ["", "</details>", ""]
    return "\n".join(lines)


# --- charts ----------------------------------------------------------------------------------


def _bars(ax, labels: Sequence[str], cells: Sequence[Cell], horizontal: bool = False,
          values: Optional[Sequence[float]] = None) -> None:
    """Bars for the shown cells only; a hidden cell gets its mark where the bar would be."""
    heights = [(values[i] if values else c.value) if c.shown else 0 for i, c in enumerate(cells)]
    positions = range(len(labels))
    top = max(heights + [1])
    if horizontal:
        ax.barh(positions, heights, color="#5b7f95")
        ax.set_yticks(list(positions))
        ax.set_yticklabels(labels)
        ax.invert_yaxis()
    else:
        ax.bar(positions, heights, color="#5b7f95")
        ax.set_xticks(list(positions))
        ax.set_xticklabels(labels, rotation=90 if len(labels) > 12 else 0)
    for i, cell in enumerate(cells):
        if not cell.shown:
            if horizontal:
                ax.text(top * 0.01, i, HIDDEN, va="center", fontsize=7, color="#888888")
            else:
                ax.text(i, top * 0.01, HIDDEN, ha="center", va="bottom", fontsize=7, color="#888888", rotation=90)


def draw(tabs: Tables, usage: Usage, out_dir: Path, stem: str) -> Dict[str, str]:
    """Writes the PNG charts; returns chart name -> file name (relative to the report)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no network
    import matplotlib.pyplot as plt

    written: Dict[str, str] = {}

    def save(fig, name: str) -> None:
        fig.tight_layout()
        path = out_dir / f"{stem}-{name}.png"
        fig.savefig(path, dpi=100, metadata={"Software": None})
        plt.close(fig)
        written[name] = path.name

    fig, ax = plt.subplots(figsize=(9, 3.5))
    days = list(tabs.days)
    step = max(1, math.ceil(len(days) / 30))  # at most ~30 date labels
    _bars(ax, [str(d) if i % step == 0 else "" for i, d in enumerate(days)], list(tabs.days.values()))
    ax.set_ylabel("conversations")
    ax.set_title("Conversations per day")
    save(fig, "conversations-per-day")

    fig, ax = plt.subplots(figsize=(6, 3.5))
    _bars(ax, list(tabs.lengths), list(tabs.lengths.values()))
    ax.set_xlabel("messages from the person")
    ax.set_ylabel("conversations")
    ax.set_title("Messages per conversation")
    save(fig, "messages-per-conversation")

    def shares(name: str, title: str, items: list, whole: int, xlabel: str) -> None:
        """Horizontal bars of each item's share of ``whole`` (hidden items have no bar)."""
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(items) + 1.2))
        _bars(ax, [k for k, _ in items], [c for _, c in items], horizontal=True,
              values=[100 * c.value / max(whole, 1) for _, c in items])
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        save(fig, name)

    ordered = sorted(tabs.topics.items(), key=lambda kc: (not kc[1].shown, -kc[1].value if kc[1].shown else 0, kc[0]))
    shares("topics", "Topics", ordered, usage.messages, "% of people's messages")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    weeks = [str(w) for w in tabs.weeks]
    highest = 0.0
    for name, marker in (("fallback", "o"), ("other struggle", "s")):
        # A hidden week is a gap in the line (NaN), on the same axis positions as the others.
        values = [v * 100 if v is not None else float("nan") for v in tabs.week_rates[name].values()]
        ax.plot(range(len(weeks)), values, marker=marker, label=name)
        highest = max([highest] + [v for v in values if v == v])
    ax.set_xticks(range(len(weeks)))
    ax.set_xticklabels(weeks, rotation=90 if len(weeks) > 8 else 0)
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_ylim(0, max(highest * 1.2, 1))
    ax.set_ylabel("% of messages")
    ax.set_xlabel("week of")
    ax.set_title("Fallback and other-struggle rates per week (hidden weeks left out)")
    ax.legend()
    save(fig, "rates")

    fig, ax = plt.subplots(figsize=(8, 3.5))
    width = 0.8 / len(WEEKLY)
    for n, name in enumerate(WEEKLY):
        cells = [tabs.weekly[name][w] for w in tabs.weeks]
        xs = [i + (n - (len(WEEKLY) - 1) / 2) * width for i in range(len(cells))]
        ax.bar(xs, [c.value if c.shown else 0 for c in cells], width, label=name)
        for x, c in zip(xs, cells):
            if not c.shown:
                ax.text(x, 0, HIDDEN, ha="center", va="bottom", fontsize=7, color="#888888", rotation=90)
    ax.set_xticks(range(len(tabs.weeks)))
    ax.set_xticklabels(weeks, rotation=90 if len(weeks) > 8 else 0)
    ax.set_xlabel("week of")
    ax.set_title("Safety replies and notes per week")
    ax.legend(fontsize=8)
    save(fig, "safety-per-week")

    shares("channels", "Channels", sorted(tabs.channels.items()), usage.conversations, "% of conversations")

    fig, ax = plt.subplots(figsize=(8, 3.5))
    _bars(ax, [f"{h:02d}" for h in tabs.hours], list(tabs.hours.values()))
    ax.set_xlabel("hour of the day (UTC)")
    ax.set_ylabel("messages")
    ax.set_title("Busiest hours")
    save(fig, "hours")
    return written


# --- reading the store -----------------------------------------------------------------------


class StoreError(Exception):
    """The store cannot be read; the message names no credentials and no conversation."""


def store_config(env: Mapping[str, str], endpoints: Optional[Path], db: Optional[Path]) -> Dict[str, Any]:
    if db is not None:
        return {"type": "sql", "dialect": "sqlite", "db": str(db)}
    from willow.retention import store_config as configured

    return configured(env, endpoints)


def store_kind(config: Mapping[str, Any]) -> str:
    dialect = str(config.get("dialect", "sqlite")).lower()
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL", "postgres": "PostgreSQL"}.get(dialect, dialect)


def open_engine(config: Mapping[str, Any]):
    """A read-only SQLAlchemy engine where the database allows it. SQLite: opened with
    ``mode=ro``, so a report never creates or changes the file, and a missing file is an error."""
    import sqlalchemy as sa

    from willow.retention import engine_for, is_sql_store
    from willow.tracker_store import engine_options

    if not is_sql_store(config.get("type")):
        raise StoreError(f"the tracker store is {config.get('type')!r}; the report reads Rasa's SQL tracker "
                         f"store (SQLite or PostgreSQL)")
    if str(config.get("dialect", "sqlite")).lower() == "sqlite":
        path = Path(str(config.get("db", "rasa.db"))).expanduser().resolve()
        if not path.is_file():
            raise StoreError(f"no SQLite tracker store at {path} (start Willow once, or pass --db/--endpoints)")
        url = sa.engine.URL.create("sqlite", database=f"file:{path}?mode=ro", query={"uri": "true"})
        return sa.create_engine(url, **engine_options(url))
    return engine_for(dict(config))  # PostgreSQL: the same engine `make purge` uses


def read_rows(engine, since: Optional[date], until: Optional[date],
              progress: Callable[[int, int], None] = lambda events, conversations: None
              ) -> Iterator[Tuple[Any, Event]]:
    """Streams (conversation key, Event) in conversation order, only user and action events in
    the period. Message text is parsed out of user events for their channel, then dropped."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    events = SQLTrackerStore.SQLEvent.__table__
    if not sa.inspect(engine).has_table(events.name):
        return
    c = events.c
    query = (sa.select(c.sender_id, c.type_name, c.timestamp, c.intent_name, c.action_name,
                       # Only user events' data is needed (for input_channel): no bot text is fetched.
                       sa.case((c.type_name == "user", c.data), else_=sa.null()))
             .where(c.type_name.in_(("user", "action")))
             .order_by(c.sender_id, c.id))  # the sender_id index (with id) serves this order
    if since:
        query = query.where(c.timestamp >= datetime(since.year, since.month, since.day, tzinfo=timezone.utc).timestamp())
    if until:
        after = until + timedelta(days=1)
        query = query.where(c.timestamp < datetime(after.year, after.month, after.day, tzinfo=timezone.utc).timestamp())
    seen = conversations = 0
    previous = None
    with engine.connect() as connection:
        # stream_results: a server-side cursor on PostgreSQL, so memory stays flat on a big store.
        result = connection.execution_options(stream_results=True).execute(query)
        for rows in result.partitions(FETCH):
            for sender, kind, timestamp, intent, action, data in rows:
                channel = None
                if kind == "user" and data:
                    try:
                        channel = json.loads(data).get("input_channel")
                    except (ValueError, AttributeError):
                        channel = None
                if sender != previous:
                    conversations += 1
                    previous = sender
                yield sender, Event(kind, float(timestamp), intent, action, channel)
            seen += len(rows)
            progress(seen, conversations)


class Progress:
    """A line on stderr every few seconds while a big store is read."""

    def __init__(self, stream=sys.stderr, every: float = PROGRESS_EVERY) -> None:
        self.stream, self.every = stream, every
        self.next = time.monotonic() + every

    def __call__(self, events: int, conversations: int) -> None:
        if time.monotonic() >= self.next:
            self.next = time.monotonic() + self.every
            print(f"[report] read {events:,} events of {conversations:,} conversations", file=self.stream, flush=True)


def write_report(usage: Usage, meta: Meta, out: Path) -> List[Path]:
    """Writes the markdown and the charts; returns the files written. Charts of an earlier report of
    the same name that this one does not draw are removed (an empty period draws none)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    start, end = meta.period(usage)
    tabs = tables(usage, start, end) if usage.conversations and start and end else None
    charts = draw(tabs, usage, out.parent, out.stem) if tabs else {}
    for name in CHARTS:
        stale = out.parent / f"{out.stem}-{name}.png"
        if name not in charts and stale.exists():
            stale.unlink()
    out.write_text(markdown(usage, meta, charts, tabs), encoding="utf-8")
    return [out, *(out.parent / f for f in charts.values())]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a date as YYYY-MM-DD") from None


def main(argv: Optional[Sequence[str]] = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m willow.usage_report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the report (default docs/usage-report.md); "
                        "charts go next to it as <name>-<chart>.png")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--endpoints", type=Path, help="use this endpoints file's tracker_store "
                       "(default: the one the environment variables select, as `make run`)")
    where.add_argument("--db", type=Path, help="an SQLite tracker store file")
    parser.add_argument("--since", type=_date, help="first day (UTC, YYYY-MM-DD; default: the first message)")
    parser.add_argument("--until", type=_date, help="last day, included (default: the last message)")
    args = parser.parse_args(argv)
    if args.since and args.until and args.since > args.until:
        parser.error("--since is after --until")
    if args.out.suffix.lower() != ".md":
        parser.error(f"--out {args.out}: expected a .md file")
    if args.endpoints is not None and not args.endpoints.is_file():
        print(f"error: no endpoints file {args.endpoints}", file=sys.stderr)
        return 1

    from willow.retention import quiet

    quiet()  # after parsing: it imports Rasa, seconds a usage error need not wait
    import sqlalchemy as sa

    try:
        # SystemExit from reading an endpoints file without a tracker store: its message, exit 1.
        config = store_config(env, args.endpoints, args.db)
        meta = Meta(store_kind(config), args.since, args.until, datetime.now(timezone.utc))
        engine = open_engine(config)
    except ValueError as error:  # willow.endpoints.ConfigError
        print(f"error: {error}", file=sys.stderr)
        return 2
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"[report] reading the {meta.store} tracker store", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        usage = aggregate(read_rows(engine, args.since, args.until, Progress()), topics_from_nlu())
    except sa.exc.SQLAlchemyError as error:
        # hide_parameters: the message quotes no sender ids; only its first line, no SQL.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(f"error: cannot read the {meta.store} tracker store: {reason}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    written = write_report(usage, meta, args.out)
    if not usage.conversations:
        print(f"[report] no conversations in the store for this period; wrote {args.out} saying so",
              file=sys.stderr)
    else:
        print(f"[report] {usage.conversations:,} conversations read in {time.monotonic() - started:.1f} s; wrote "
              f"{args.out} and {len(written) - 1} charts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
