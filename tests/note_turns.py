"""One conversation that writes the note for the next session, for the channel tests:
what the user sends, and what Willow must ask next (the response whose text ends that turn)."""
from __future__ import annotations

from typing import List, Tuple

from tests import domain_files

TURNS: List[Tuple[str, str]] = [
    ("can you help me write a note for my therapist", "utter_ask_note_sessions"),
    ("most of them tbh", "utter_ask_note_outside"),
    ("/skip_question", "utter_ask_note_distress"),  # the Skip button
    ("8", "utter_ask_note_triggers"),  # a button of the 0-10 scale
    ("when we get into stuff about my dad", "utter_ask_note_goal"),
    ("whether it means something's wrong with me", "utter_ask_note_extra"),
    ("nope", ""),  # the last answer: the note follows
]
TITLE = "A note for my next session"
NOTE_LINES = [
    "How often I cry in sessions: most of them tbh",
    "How distressing it feels: 8 out of 10",
    "What tends to bring it on: when we get into stuff about my dad",
    "What I'd like to understand or change: whether it means something's wrong with me",
]


def question(name: str) -> List[str]:
    """The texts of the (unconditional) question ``name``."""
    return [v["text"] for v in domain_files.RESPONSES[name] if not v.get("condition")]
