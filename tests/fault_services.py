"""A PostgreSQL cluster and a Redis of one test module's own, which the test may stop and start.

The outage tests take these down mid-run; `make services`' PostgreSQL and Redis stay up for
every other test. Both come from the same Debian packages (`make services` installs them), listen
on 127.0.0.1 only, and live in a temporary directory removed afterwards. As root they run as the
`postgres` and `redis` users (neither may run as root); otherwise as the invoking user.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from willow.local_servers import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as(user: str, command: List[str]) -> List[str]:
    return ["runuser", "-u", user, "--", *command] if os.geteuid() == 0 else command


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


class ThrowawayStores:
    """``start()`` initialises and starts both; ``env`` is what willow.endpoints reads."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="willow-faults-"))
        self.root.chmod(0o755)  # the service users must reach their directories
        self.pg_port, self.redis_port = free_port(), free_port()
        self.pg_data, self.pg_socket = self.root / "pg", self.root / "pg-socket"
        self.redis_dir = self.root / "redis"
        self.redis: Optional[subprocess.Popen] = None

    @property
    def env(self) -> Dict[str, str]:
        return {
            "WILLOW_TRACKER_STORE": "postgres", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.pg_port),
            "POSTGRES_DB": "willow", "POSTGRES_USER": "willow",
            "WILLOW_LOCK_STORE": "redis", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port),
            "REDIS_DB": "0",
        }

    def start(self) -> "ThrowawayStores":
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> "ThrowawayStores":
        for folder in (self.pg_data, self.pg_socket, self.redis_dir):
            folder.mkdir(mode=0o700)
        _own(self.pg_data, "postgres")
        _own(self.pg_socket, "postgres")
        _own(self.redis_dir, "redis")
        # Trust on 127.0.0.1: a throwaway cluster of one test, never reachable from elsewhere.
        subprocess.run(_as("postgres", [str(PG_BIN / "initdb"), "-D", str(self.pg_data), "-U", "postgres",
                                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True, timeout=120)
        self.start_postgres()
        subprocess.run(_as("postgres", [str(PG_BIN / "psql"), "-X", "-q", "-h", str(self.pg_socket), "-p",
                                        str(self.pg_port), "-U", "postgres", "-d", "postgres", "-c",
                                        "CREATE ROLE willow LOGIN", "-c", "CREATE DATABASE willow OWNER willow"]),
                       check=True, capture_output=True, timeout=60)
        self.start_redis()
        return self

    # --- PostgreSQL --------------------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        log = self.root / "pg.log"
        if not log.exists():
            log.touch()
            _own(log, "postgres")
        subprocess.run(_as("postgres", [str(PG_BIN / "pg_ctl"), "-D", str(self.pg_data), "-l", str(log),
                                        "-w", "-t", "60", *args]),
                       check=True, capture_output=True, timeout=90)

    def start_postgres(self) -> None:
        self._pg_ctl("start", "-o", f"-p {self.pg_port} -k {self.pg_socket} -c listen_addresses=127.0.0.1")

    def stop_postgres(self, mode: str = "immediate") -> None:
        """``immediate``: like a crash (no checkpoint, connections cut); ``fast``: a clean restart."""
        self._pg_ctl("stop", "-m", mode)

    # --- Redis -------------------------------------------------------------------------------

    def start_redis(self) -> None:
        # No persistence: a Redis that comes back has lost every lock, the harder case.
        command = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.redis_dir), "--daemonize", "no"]
        log = open(self.root / "redis.log", "ab")
        # Started as the redis user directly (not through runuser), so our pid is Redis itself.
        user = {"user": "redis", "group": "redis"} if os.geteuid() == 0 else {}
        self.redis = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **user)
        log.close()
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis_port, socket_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError(f"Redis did not start on {self.redis_port}: {(self.root / 'redis.log').read_text()[-2000:]}")

    def kill_redis(self) -> None:
        """SIGKILL: Redis is gone at once, with every lock it held."""
        if self.redis is not None and self.redis.poll() is None:
            self.redis.kill()
            self.redis.wait(timeout=10)
        self.redis = None

    def close(self) -> None:
        try:
            self.kill_redis()
        finally:
            try:
                self.stop_postgres("fast")
            except subprocess.CalledProcessError:
                pass  # not running
            shutil.rmtree(self.root, ignore_errors=True)
