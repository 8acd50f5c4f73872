"""Action tests: variation choice is made deterministic so tests assert exact messages.

The first of the variations ``content.pick`` may choose: the first one, or the first one the
conversation has not been sent yet.
"""
import pytest

from actions import content


@pytest.fixture(autouse=True)
def first_variation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content.random, "choice", lambda options: list(options)[0])
