"""Shared fixtures: one trained model and one pair of running servers per test session.

Loading a Rasa model takes 10-40 s here, so the servers start once (lazily, only
when a test needs them) and every server test talks to the same pair.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import channel_clients  # noqa: E402
from tests.willow.channels.fake_slack import FakeSlack  # noqa: E402
from tests.willow.channels.fake_telegram import FakeTelegram  # noqa: E402
from willow import endpoints, local_servers, model_files  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts"
SERVER_ENV = local_servers.ENV


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nlu-floor", type=float, default=0.97,
        help="lowest acceptable macro-F1 on tests/test_nlu.yml",
    )


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The model `make train` built for the current data (trained here if missing)."""
    path = model_files.model_path()
    if not path.exists():
        subprocess.run(["make", "train"], cwd=ROOT, check=True)
    return path


@dataclass
class SqliteStore:
    db: Path
    endpoints: Path  # tracker store only; local_servers adds the action endpoint


def sqlite_store(folder: Path) -> SqliteStore:
    """A fresh SQLite tracker store in ``folder``, configured as ``make run`` does by default."""
    shutil.rmtree(folder, ignore_errors=True)
    db = folder / "willow.db"
    source = endpoints.write(folder / "endpoints.yml",
                             env={"WILLOW_TRACKER_STORE": "sqlite", "WILLOW_DB_PATH": str(db)})
    return SqliteStore(db, source)


@pytest.fixture(scope="session")
def default_store() -> Iterator[SqliteStore]:
    """The session servers' tracker store: SQLite, the default, in test-artifacts/store-<pid>/
    (one per session, so test runs side by side never share or delete each other's)."""
    store = sqlite_store(ARTIFACTS / f"store-{os.getpid()}")
    yield store
    shutil.rmtree(store.db.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def telegram_fake() -> Iterator[FakeTelegram]:
    """The fake Bot API the session's servers send Telegram replies to."""
    with FakeTelegram(token=channel_clients.TOKEN, username=channel_clients.USERNAME) as fake:
        yield fake


@pytest.fixture(scope="session")
def slack_fake() -> Iterator[FakeSlack]:
    """The fake Slack Web API the session's servers post Slack replies to."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="session")
def servers(model_path: Path, default_store: SqliteStore, telegram_fake: FakeTelegram,
            slack_fake: FakeSlack) -> Iterator[local_servers.Servers]:
    """The real action server and Rasa server on free local ports, set up like `make run`: every
    channel of credentials.yml (Telegram and Slack pointed at the fakes; REST on, behind a token),
    conversations in the default tracker store (SQLite)."""
    env = {**channel_clients.telegram_env(telegram_fake.url), **channel_clients.slack_env(slack_fake.url)}
    with local_servers.running(model_path, ARTIFACTS, endpoints=default_store.endpoints, env=env) as running:
        yield running


@dataclass
class WebStack:
    page_url: str
    origin: str
    servers: local_servers.Servers


@pytest.fixture(scope="session")
def web_stack(model_path: Path) -> Iterator[WebStack]:
    """The chat page on a static server, and Willow allowing exactly that page's origin."""
    subprocess.run(["make", "--no-print-directory", "-s", "web"], cwd=ROOT, check=True)
    port = local_servers.free_port()
    origin = f"http://127.0.0.1:{port}"
    page = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", "web"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with local_servers.running(
            model_path, ARTIFACTS / "web", env={"WEB_ALLOWED_ORIGINS": origin}, extra_args=["--cors", origin]
        ) as servers:
            local_servers.wait_until_up(f"{origin}/index.html", page, ARTIFACTS / "web" / "rasa.log")
            yield WebStack(page_url=f"{origin}/index.html?server={servers.url}", origin=origin, servers=servers)
    finally:
        local_servers.stop(page)
