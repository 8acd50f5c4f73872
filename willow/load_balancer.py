"""HAProxy in front of Rasa instances, run with the production file ``deploy/haproxy.cfg``.

For tests and tools: ``running(["127.0.0.1:5005", "127.0.0.1:5006"], logs)`` starts Debian's
haproxy (installed by ``make services``) in the foreground on a free local port, with the file's
environment variables pointing at those instances and its runtime API on a private socket, and
stops it on exit. The yielded ``LoadBalancer`` says where it listens and what HAProxy thinks of
each instance (UP, DOWN...), from the runtime API's ``show stat``.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional

import requests

from willow.local_servers import ROOT, free_port

CONFIG = ROOT / "deploy" / "haproxy.cfg"
BACKEND = "rasa"  # REST and everything else; holds the health checks
SOCKETIO_BACKEND = "rasa_socketio"  # sticky; tracks BACKEND's checks
COOKIE = "WILLOW_BACKEND"
SERVERS = ["rasa1", "rasa2"]  # the config's server names, in the order of WILLOW_RASA_1, _2


class HAProxyMissing(RuntimeError):
    pass


def haproxy_binary() -> str:
    # Debian puts it in /usr/sbin, which is not on every user's PATH.
    for candidate in [shutil.which("haproxy"), "/usr/sbin/haproxy"]:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise HAProxyMissing("haproxy is not installed: run `make services` (it installs Debian's haproxy)")


@dataclass
class LoadBalancer:
    url: str
    pid: int  # of HAProxy's master process
    stats_socket: Path
    log: Path

    def command(self, line: str, timeout: float = 5) -> str:
        """One runtime API command (``show stat``, ``set server rasa/rasa1 state drain``...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.stats_socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:  # HAProxy closes the connection after answering one command
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks).decode()
                chunks.append(chunk)

    def stats(self, backend: str = BACKEND) -> Dict[str, Dict[str, str]]:
        """``show stat`` for ``backend``'s servers: {server name: row}, e.g. row["status"] "UP",
        "DOWN", "UP 1/2" (going down), row["stot"] the requests it has been sent."""
        text = self.command("show stat").lstrip("# ")
        return {row["svname"]: row for row in csv.DictReader(io.StringIO(text))
                if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")}

    def states(self, backend: str = BACKEND) -> Dict[str, str]:
        return {name: row["status"] for name, row in self.stats(backend).items()}

    def sent(self, backend: str = BACKEND) -> Dict[str, int]:
        """How many requests each server of ``backend`` has been given so far, including those
        it failed to take (which were then redispatched: row["wredis"])."""
        return self._counter("stot", backend)

    def answered(self, backend: str = BACKEND) -> Dict[str, int]:
        """How many 2xx responses each server of ``backend`` has sent so far."""
        return self._counter("hrsp_2xx", backend)

    def _counter(self, field: str, backend: str) -> Dict[str, int]:
        return {name: int(row[field] or 0) for name, row in self.stats(backend).items()}

    def wait_for(self, states: Mapping[str, str], timeout: float = 15) -> float:
        """Waits until the servers are in ``states`` ({"rasa1": "DOWN"}); returns the seconds it took."""
        started = time.monotonic()
        while True:
            now = self.states()
            if all(now.get(name) == state for name, state in states.items()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"servers are {now}, not {dict(states)}, after {timeout} s")
            time.sleep(0.1)


@contextlib.contextmanager
def running(backends: List[str], logs: Path, env: Optional[Dict[str, str]] = None,
            timeout: float = 20) -> Iterator[LoadBalancer]:
    """HAProxy with deploy/haproxy.cfg in front of ``backends`` ("127.0.0.1:port", two of them),
    listening on 127.0.0.1; ready (every instance UP) when yielded, stopped on exit. Its log
    (stdout and stderr) is ``logs/haproxy.log``. ``env`` adds or overrides the file's variables."""
    if len(backends) != len(SERVERS):
        raise ValueError(f"{CONFIG.name} has {len(SERVERS)} servers (WILLOW_RASA_1, _2), got {backends}")
    binary = haproxy_binary()
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "haproxy.log"
    # Private (0700) and short: a Unix socket's path is limited to about 100 characters.
    runtime = Path(tempfile.mkdtemp(prefix="willow-lb-"))
    port = free_port()
    lb = LoadBalancer(url=f"http://127.0.0.1:{port}", pid=0, stats_socket=runtime / "stats.sock", log=log)
    settings = {
        **os.environ,
        "WILLOW_LB_BIND": f"127.0.0.1:{port}",
        "WILLOW_LB_STATS_SOCKET": str(lb.stats_socket),
        **{f"WILLOW_RASA_{number}": address for number, address in enumerate(backends, 1)},
        **(env or {}),
    }
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "-W", "-db", "-f", str(CONFIG)], env=settings, cwd=runtime,
                                   stdout=out, stderr=subprocess.STDOUT)
    lb.pid = process.pid
    try:
        _wait_until_ready(lb, process, timeout)
        yield lb
    finally:
        process.terminate()  # SIGTERM to the master: it stops its worker and exits
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(runtime, ignore_errors=True)


def _wait_until_ready(lb: LoadBalancer, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    problem = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"haproxy exited during start-up ({process.returncode}):\n{lb.log.read_text()[-3000:]}")
        try:
            # Answers through the proxy, and the first health checks have passed everywhere.
            if requests.get(f"{lb.url}/", timeout=2).ok and set(lb.states().values()) == {"UP"}:
                return
            problem = f"servers {lb.states()}"
        except (requests.RequestException, OSError) as error:
            problem = str(error)
        time.sleep(0.2)
    raise RuntimeError(f"haproxy at {lb.url} not ready within {timeout} s ({problem}):\n{lb.log.read_text()[-3000:]}")
