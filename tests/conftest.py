"""Shared fixtures: one trained model and one pair of running servers per test session.

Loading a Rasa model takes 10-40 s here, so the servers start once (lazily, only
when a test needs them) and every server test talks to the same pair.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from willow import model_files  # noqa: E402

VENV_BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts"
SERVER_ENV = {
    **os.environ,
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nlu-floor", type=float, default=0.90,
        help="lowest acceptable macro-F1 on tests/test_nlu.yml",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: needs the trained model or running servers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not start within {timeout} s:\n{log.read_text()[-3000:]}")


def start(args: List[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        return subprocess.Popen(args, cwd=ROOT, env=SERVER_ENV, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The model `make train` built for the current data (trained here if missing)."""
    path = model_files.model_path()
    if not path.exists():
        subprocess.run(["make", "train"], cwd=ROOT, check=True)
    return path


@dataclass
class Servers:
    url: str
    token: str
    actions_url: str
    rasa_log: Path
    actions_log: Path

    def say(self, sender: str, text: Any) -> List[Dict[str, Any]]:
        """Sends one message over the REST channel and returns the bot's replies."""
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        response = requests.get(
            f"{self.url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=30
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def servers(model_path: Path) -> Iterator[Servers]:
    """The real action server and Rasa server on free local ports."""
    actions_port, rasa_port = free_port(), free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    endpoints = ARTIFACTS / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    actions_log, rasa_log = ARTIFACTS / "actions.log", ARTIFACTS / "rasa.log"
    token = secrets.token_urlsafe(16)

    actions = start(
        [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)],
        actions_log,
    )
    rasa = start(
        [str(VENV_BIN / "rasa"), "run", "--model", str(model_path), "--port", str(rasa_port),
         "--endpoints", str(endpoints), "--credentials", "credentials.yml",
         "--enable-api", "--auth-token", token],
        rasa_log,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
        yield Servers(
            url=f"http://127.0.0.1:{rasa_port}", token=token,
            actions_url=f"http://127.0.0.1:{actions_port}",
            rasa_log=rasa_log, actions_log=actions_log,
        )
    finally:
        stop(rasa)
        stop(actions)
