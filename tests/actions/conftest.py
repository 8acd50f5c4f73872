"""Action tests: variation choice is made deterministic so tests assert exact messages."""
import pytest

from actions import content


@pytest.fixture(autouse=True)
def first_variation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "pick", lambda options: list(options)[0])
