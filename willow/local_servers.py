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
from urllib.parse import quote

import requests
import yaml

from willow import conversation_ids
from willow.endpoints import NLG

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).parent / "rasa")
ENV = {"TICKET_LOCK_LIFETIME": "30",  # as scripts/serve.sh sets it (README, Scale-out)
       **os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}


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


def start(args: List[str], log: Path, env: Optional[Dict[str, str]] = None,
          prefix: Optional[List[str]] = None) -> subprocess.Popen:
    """``prefix`` goes before the command, e.g. ``setpriv ...`` to run it with fewer privileges."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [*(prefix or []), *args], cwd=ROOT, env={**ENV, **(env or {})}, stdout=handle, stderr=subprocess.STDOUT
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
    token: str  # the HTTP API's (--auth-token)
    actions_url: str
    rasa_log: Path
    actions_log: Path
    pid: Optional[int] = None  # of the Rasa server process
    rest_token: str = ""  # WILLOW_REST_TOKEN: the REST channel is on only with one

    @property
    def rest_headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.rest_token}"}

    def say(self, sender: str, text: Any) -> List[Dict[str, Any]]:
        """Sends one message over the REST channel and returns the bot's replies."""
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            headers=self.rest_headers,
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def tracker(self, sender: str) -> Dict[str, Any]:
        """The conversation of the REST client ``sender``."""
        return self.conversation(conversation_ids.conversation_id(conversation_ids.REST, sender))

    def conversation(self, conversation_id: str) -> Dict[str, Any]:
        """A tracker by its full conversation id (``web:<session>``, ``telegram:<chat id>``...)."""
        response = requests.get(
            f"{self.url}/conversations/{quote(conversation_id, safe='/:')}/tracker",
            params={"token": self.token}, timeout=30,
        )
        response.raise_for_status()
        return response.json()


def write_endpoints(out: Path, actions_url: str, source: Optional[Path] = None) -> Path:
    """``source``'s settings (tracker store, lock store...) with the action endpoint at ``actions_url``.

    Without ``source`` only the action endpoint is set: Rasa's in-memory tracker store.
    ``${VAR}`` placeholders in ``source`` are kept for Rasa to substitute.
    """
    config = (yaml.safe_load(Path(source).read_text()) or {}) if source else {}
    config["action_endpoint"] = {"url": f"{actions_url}/webhook"}
    config.setdefault("nlg", dict(NLG))  # as `make run` has it
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


@dataclass
class _Rasa:
    process: subprocess.Popen
    servers: Servers


def _start_rasa(
    model: Path, log: Path, endpoints: Path, actions_url: str, actions_log: Path,
    credentials: Path, env: Optional[Dict[str, str]], extra_args: Optional[List[str]],
    prefix: Optional[List[str]] = None,
) -> _Rasa:
    port, token = free_port(), secrets.token_hex(16)  # hex: a token starting with "-" reads as a CLI flag
    # The REST channel is off without a token (as in `make run`); tests and tools turn it on.
    # An env without WILLOW_REST_TOKEN's key gets a random one; an empty value keeps it off.
    env = {"WILLOW_REST_TOKEN": secrets.token_hex(16), **(env or {})}
    process = start(
        [RASA, "run", "--model", str(model), "--port", str(port),
         "--endpoints", str(endpoints), "--credentials", str(credentials),
         "--enable-api", "--auth-token", token, *(extra_args or [])],
        log,
        # Bodies over 1 MB get 413, as with `make run` (Rasa only: actions receive whole trackers).
        {"SANIC_REQUEST_MAX_SIZE": "1000000", "SANIC_FALLBACK_ERROR_FORMAT": "json", **env},
        prefix,
    )
    servers = Servers(url=f"http://127.0.0.1:{port}", token=token, actions_url=actions_url,
                      rasa_log=log, actions_log=actions_log, pid=process.pid,
                      rest_token=env["WILLOW_REST_TOKEN"])
    return _Rasa(process, servers)


@contextlib.contextmanager
def action_server(logs: Path) -> Iterator[str]:
    """Only the action server; yields its base URL (add ``/webhook`` for Rasa)."""
    port, log = free_port(), logs / "actions.log"
    process = start([RASA, "run", "actions", "--actions", "actions", "--port", str(port)], log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextlib.contextmanager
def rasa_servers(
    model: Path,
    logs: Path,
    actions_url: str,
    instances: int = 1,
    endpoints: Optional[Path] = None,
    credentials: Path = ROOT / "credentials.yml",
    env: Optional[Dict[str, str]] = None,
    extra_args: Optional[List[str]] = None,
    prefix: Optional[List[str]] = None,
) -> Iterator[List[Servers]]:
    """``instances`` Rasa servers sharing one endpoints file (and so one tracker store and
    lock store), all using the action server at ``actions_url``. They load the model in
    parallel; the logs are ``rasa.log``, ``rasa-2.log``...; stopped on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    effective = write_endpoints(logs / "endpoints.yml", actions_url, endpoints)
    started: List[_Rasa] = []
    try:
        for number in range(1, instances + 1):
            log = logs / ("rasa.log" if number == 1 else f"rasa-{number}.log")
            started.append(_start_rasa(model, log, effective, actions_url, logs / "actions.log",
                                       credentials, env, extra_args, prefix))
        for rasa in started:
            wait_until_up(f"{rasa.servers.url}/", rasa.process, rasa.servers.rasa_log)
        yield [rasa.servers for rasa in started]
    finally:
        for rasa in started:
            stop(rasa.process)


@contextlib.contextmanager
def running(
    model: Path,
    logs: Optional[Path] = None,
    with_actions: bool = True,
    credentials: Path = ROOT / "credentials.yml",
    env: Optional[Dict[str, str]] = None,
    extra_args: Optional[List[str]] = None,
    endpoints: Optional[Path] = None,
    prefix: Optional[List[str]] = None,
) -> Iterator[Servers]:
    """The real action server and Rasa server (HTTP API on, behind a random token).

    ``with_actions=False`` leaves the action server out (its port stays closed), to test
    what users get when it is down. ``credentials``, ``env`` and ``extra_args`` configure
    channels (for example fake Telegram or Slack APIs on 127.0.0.1, or ``--cors``).
    ``endpoints`` is an endpoints file whose tracker store and lock store Rasa uses (for
    example one written by ``python -m willow.endpoints``); its action endpoint is replaced
    by this action server. Without it, Rasa keeps conversations in memory. ``prefix`` goes before
    the Rasa command only (e.g. ``setpriv`` so root respects file permissions in fault tests).
    """
    logs = logs or Path(tempfile.mkdtemp(prefix="willow-servers-"))
    logs.mkdir(parents=True, exist_ok=True)
    actions_port = free_port()
    actions_url, actions_log = f"http://127.0.0.1:{actions_port}", logs / "actions.log"
    effective = write_endpoints(logs / "endpoints.yml", actions_url, endpoints)

    actions = None
    if with_actions:
        actions = start(
            [RASA, "run", "actions", "--actions", "actions", "--port", str(actions_port)], actions_log
        )
    rasa = _start_rasa(model, logs / "rasa.log", effective, actions_url, actions_log,
                       credentials, env, extra_args, prefix)
    try:
        if actions:
            wait_until_up(f"{actions_url}/health", actions, actions_log)
        wait_until_up(f"{rasa.servers.url}/", rasa.process, rasa.servers.rasa_log)
        yield rasa.servers
    finally:
        stop(rasa.process)
        if actions:
            stop(actions)
