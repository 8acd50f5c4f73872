"""Fingerprints of text we must not copy: hashes of its 8-word runs, never the text itself.

The real questions in ../shared/data/counsel-chat-dev are for measuring, not for copying into
training data or tests. ``real_dev_shingles.txt`` holds the first 12 hex digits of the SHA-1 of
every run of 8 lower-cased words in them, so the check runs on any clone without the text.

Regenerate (only if the development set changes):
    .venv/bin/python -m tests.data.shingles ../shared/data/counsel-chat-dev/questions.csv \\
        > tests/data/real_dev_shingles.txt
"""
from __future__ import annotations

import csv
import hashlib
import re
import sys
from pathlib import Path
from typing import Iterable, Set

RUN = 8
FINGERPRINTS = Path(__file__).with_name("real_dev_shingles.txt")


def words(text: str) -> list:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def fingerprints(text: str, run: int = RUN) -> Set[str]:
    w = words(text)
    return {hashlib.sha1(" ".join(w[i:i + run]).encode()).hexdigest()[:12] for i in range(len(w) - run + 1)}


def of_csv(path: Path) -> Iterable[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield from (row.get("title") or "", row.get("text") or "")


def main(paths: list) -> int:
    found: Set[str] = set()
    for path in paths:
        for text in of_csv(Path(path)):
            found |= fingerprints(text)
    print("\n".join(sorted(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
