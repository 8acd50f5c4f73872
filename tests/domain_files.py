"""The domain as tests see it: every file in domain/, merged like Rasa merges them."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml

ROOT = Path(__file__).resolve().parent.parent
FILES = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "domain").glob("*.yml"))}

RESPONSES: Dict[str, List[Dict[str, Any]]] = {
    name: variations for data in FILES.values() for name, variations in (data.get("responses") or {}).items()
}
INTENTS: List[str] = [intent for data in FILES.values() for intent in data.get("intents") or []]
# Entities as names ("language:" with options is a one-key mapping).
ENTITIES: List[str] = [e if isinstance(e, str) else next(iter(e)) for data in FILES.values()
                       for e in data.get("entities") or []]


def texts(name: str) -> List[str]:
    return [v["text"] for v in RESPONSES[name]]


def default_text(name: str) -> str:
    """The variation used when no slot condition applies."""
    (text,) = [v["text"] for v in RESPONSES[name] if not v.get("condition")]
    return text
