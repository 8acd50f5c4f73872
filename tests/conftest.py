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
    # Another site embedding the launcher (willow-embed.js from `origin`): pages allowed by both CORS
    # and the socket.io origin check, by CORS only, and by neither. Each host page is on an origin of
    # its own (another port), with index.html (launcher closed), open.html (data-open="true") and
    # inline.html (data-launcher="false"), left.html (data-position="left").
    host_origin: str = ""
    cors_only_origin: str = ""
    refused_origin: str = ""


EMBED_TITLE = "Willow at Riverside Clinic"
EMBED_COLOR = "#5b3a8c"  # 8:1 against white; the tests check it is the launcher's colour


def write_host_pages(folder: Path, widget_origin: str, server: str) -> None:
    """A clinic's own pages, each embedding Willow with the one script tag of the README."""
    folder.mkdir(parents=True, exist_ok=True)
    variants = {"index.html": ("", ""), "open.html": (' data-open="true"', ""),
                "inline.html": (' data-launcher="false"', '<div id="willow-chat"></div>'),
                "left.html": (' data-position="left"', "")}
    for name, (extra, target) in variants.items():
        (folder / name).write_text(f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Riverside Clinic</title></head>
<body>
<main>
<h1>Riverside Clinic</h1>
<p>Counselling for adults and young people. <a href="#hours">Opening hours</a></p>
<p id="hours">Monday to Friday, 9 to 5.</p>
{target}
</main>
<script src="{widget_origin}/willow-embed.js" data-server="{server}" data-title="{EMBED_TITLE}"
  data-primary-color="{EMBED_COLOR}"{extra}></script>
</body>
</html>
""", encoding="utf-8")


def static_server(directory: Path, log: Path) -> tuple:
    """``python -m http.server`` for ``directory`` on a free 127.0.0.1 port, up before the next one picks
    a port: (process, origin)."""
    port = local_servers.free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(directory)],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    origin = f"http://127.0.0.1:{port}"
    local_servers.wait_until_up(f"{origin}/", process, log, timeout=30)
    return process, origin


@pytest.fixture(scope="session")
def web_stack(model_path: Path) -> Iterator[WebStack]:
    """The chat page on a static server, and Willow allowing exactly that page's origin and the
    allowed host page's (one Rasa server for both); the other host pages' origins are refused."""
    subprocess.run(["make", "--no-print-directory", "-s", "web"], cwd=ROOT, check=True)
    hosts = ARTIFACTS / "web" / f"host-{os.getpid()}"
    shutil.rmtree(hosts, ignore_errors=True)
    hosts.mkdir(parents=True)
    statics = []
    try:
        for number, directory in enumerate((ROOT / "web", hosts, hosts, hosts)):
            statics.append(static_server(directory, ARTIFACTS / "web" / f"static-{number}.log"))
        (page, origin), (_, host), (_, cors_only), (_, refused) = statics
        allowed = f"{origin} {host}"
        with local_servers.running(
            model_path, ARTIFACTS / "web", env={"WEB_ALLOWED_ORIGINS": allowed},
            extra_args=["--cors", origin, host, cors_only],
        ) as servers:
            write_host_pages(hosts, origin, servers.url)
            yield WebStack(page_url=f"{origin}/index.html?server={servers.url}", origin=origin, servers=servers,
                           host_origin=host, cors_only_origin=cors_only, refused_origin=refused)
    finally:
        for process, _ in statics:
            local_servers.stop(process)
        shutil.rmtree(hosts, ignore_errors=True)
