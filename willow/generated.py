"""Files the project generates from content/ (domain/crisis_responses.yml,
data/rules/safety_check.yml): written, or checked to be up to date with ``--check``."""
from __future__ import annotations

from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(path: Path, rendered: str, argv: List[str], command: str) -> int:
    """Writes ``rendered`` to ``path``; with ``--check`` in ``argv`` only compares, and says
    which make ``command`` regenerates it. Returns the exit code."""
    name = path.relative_to(ROOT)
    if "--check" in argv:
        if not path.exists() or path.read_text(encoding="utf-8") != rendered:
            print(f"{name} is out of date: run `{command}`")
            return 1
        return 0
    path.write_text(rendered, encoding="utf-8")
    print(f"Wrote {name}")
    return 0
