"""Starts Willow's action server and Rasa server on free local ports, for tests and tools.

Used by the pytest session fixture, ``make safety-eval`` and the benchmark, so all of
them talk to the real servers the same way ``make run`` starts them.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).parent / "rasa")
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


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
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not start within {timeout} s:\n{log.read_text()[-3000:]}")


def start(args: List[str], log: Path, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        return subprocess.Popen(
            args, cwd=ROOT, env={**ENV, **(env or {})}, stdout=handle, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


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


@contextlib.contextmanager
def running(
    model: Path,
    logs: Optional[Path] = None,
    with_actions: bool = True,
    credentials: Path = ROOT / "credentials.yml",
    env: Optional[Dict[str, str]] = None,
    extra_args: Optional[List[str]] = None,
) -> Iterator[Servers]:
    """The real action server and Rasa server (HTTP API on, behind a random token).

    ``with_actions=False`` leaves the action server out (its port stays closed), to test
    what users get when it is down. ``credentials``, ``env`` and ``extra_args`` configure
    channels (for example fake Telegram or Slack APIs on 127.0.0.1, or ``--cors``).
    """
    logs = logs or Path(tempfile.mkdtemp(prefix="willow-servers-"))
    logs.mkdir(parents=True, exist_ok=True)
    actions_port, rasa_port = free_port(), free_port()
    endpoints = logs / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    actions_log, rasa_log = logs / "actions.log", logs / "rasa.log"
    token = secrets.token_hex(16)  # hex: a token starting with "-" would read as a CLI flag

    actions = None
    if with_actions:
        actions = start(
            [RASA, "run", "actions", "--actions", "actions", "--port", str(actions_port)], actions_log
        )
    rasa = start(
        [RASA, "run", "--model", str(model), "--port", str(rasa_port),
         "--endpoints", str(endpoints), "--credentials", str(credentials),
         "--enable-api", "--auth-token", token, *(extra_args or [])],
        rasa_log,
        env,
    )
    try:
        if actions:
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, actions_log)
        wait_until_up(f"http://127.0.0.1:{rasa_port}/", rasa, rasa_log)
        yield Servers(
            url=f"http://127.0.0.1:{rasa_port}", token=token,
            actions_url=f"http://127.0.0.1:{actions_port}",
            rasa_log=rasa_log, actions_log=actions_log,
        )
    finally:
        stop(rasa)
        if actions:
            stop(actions)
