"""Loads the YAML files in ``content/`` that the custom actions speak from.

Files are read once per action-server process; the action server is restarted
when content changes (``make run`` does that).
"""
from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any, Dict, Sequence, Text

import yaml

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


@functools.lru_cache(maxsize=None)
def load(name: Text) -> Dict[Text, Any]:
    """Returns the parsed ``content/<name>.yml``."""
    with open(CONTENT_DIR / f"{name}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def pick(options: Sequence[Text]) -> Text:
    """Chooses one variation, so repeat visitors don't read the same sentence twice."""
    return random.choice(list(options))


def join(*paragraphs: Text) -> Text:
    return "\n\n".join(p.strip() for p in paragraphs if p and p.strip())
