"""Loads the YAML files in ``content/`` that the custom actions speak from.

Files are read once per action-server process; the action server is restarted
when content changes (``make run`` does that).
"""
from __future__ import annotations

import abc
import functools
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


@functools.lru_cache(maxsize=None)
def load(name: Text) -> Dict[Text, Any]:
    """Returns the parsed ``content/<name>.yml``."""
    with open(CONTENT_DIR / f"{name}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def session_events(tracker: Tracker) -> List[Dict[Text, Any]]:
    """The events of the current session (after its last session_started)."""
    events = list(tracker.events)
    starts = [i for i, event in enumerate(events) if event.get("event") == "session_started"]
    return events[starts[-1] + 1:] if starts else events


def texts_sent(tracker: Tracker) -> List[Text]:
    """What Willow has said in this session, oldest first."""
    return [e["text"] for e in session_events(tracker) if e.get("event") == "bot" and e.get("text")]


def ran_before(tracker: Tracker, action: Text) -> bool:
    """Whether ``action`` already ran in this session (the running one is not in the events yet)."""
    return any(e.get("event") == "action" and e.get("name") == action for e in session_events(tracker))


def pick(options: Sequence[Text], tracker: Optional[Tracker] = None) -> Text:
    """Chooses one variation; with ``tracker``, one this conversation has not been sent yet
    (willow/nlg.py does the same for domain responses)."""
    options = list(options)
    if tracker is not None:
        said = texts_sent(tracker)
        fresh = [option for option in options if not any(option.strip() in text for text in said)]
        options = fresh or options
    return random.choice(options)


def join(*paragraphs: Text) -> Text:
    return "\n\n".join(p.strip() for p in paragraphs if p and p.strip())


LAST_POINTS = "last_points"


def points(content_file: Text, *keys: Text) -> List[Text]:
    """The source points (``content/points.yml`` ids) that ``content/<content_file>.yml`` rests
    on, as ``content/provenance.yml`` records them: for the given top-level keys when the file
    is mapped key by key, else for the whole file. In order, without repeats."""
    mapped = load("provenance")["content"][content_file]
    lists = [mapped[key] for key in keys if key in mapped] if isinstance(mapped, dict) else [mapped]
    return list(dict.fromkeys(point for found in lists for point in found))


def remember_points(found: List[Text]) -> SlotSet:
    """The event that records what the answer just given rests on (read by action_explain_source)."""
    return SlotSet(LAST_POINTS, found)


class ContentAction(Action, abc.ABC):
    """An action that sends one message composed from one file in ``content/``."""

    content_file: Text

    @abc.abstractmethod
    def compose(self, text: Dict[Text, Any], tracker: Tracker) -> List[Text]:
        """Chooses the paragraphs to send, from the content file and the tracker."""

    def parts(self, tracker: Tracker) -> List[Text]:
        """The content file's top-level keys the answer uses (for ``points``); all by default."""
        return []

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=join(*self.compose(load(self.content_file), tracker)))
        return [remember_points(points(self.content_file, *self.parts(tracker)))]
