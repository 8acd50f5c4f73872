"""`make services` from a clone the service users cannot reach (issue 15).

As root, scripts/services.sh runs PostgreSQL as `postgres` and Redis as `redis`. A clone under a
mode-700 directory (/root/src, a private home) is out of their reach, so the script must keep the
services' data outside the clone (/var/lib/willow-services/<hash>) and the secrets inside it. This
test makes such a clone, starts its own PostgreSQL and Redis on other ports, talks to them with the
credentials that clone wrote, and stops them again. Not as root, the services run as the invoking
user with their data in the clone, which the same test checks.
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import stat
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from tests.conftest import ROOT

EXTERNAL_BASE = Path("/var/lib/willow-services")
IS_ROOT = os.geteuid() == 0


def free_service_port() -> int:
    """A free port below the kernel's ephemeral range, as the script's defaults are."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-29999")


def read_env(path: Path) -> Dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line.strip() and not line.startswith("#"))


def can_enter(user: str, path: Path) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)], cwd="/").returncode == 0


@pytest.mark.slow
def test_services_start_and_stop_from_a_clone_the_service_users_cannot_reach(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)  # whatever the umask
    clone = private / "willow"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    # The working tree's script, which may not be committed yet (it cds to its own parent).
    shutil.copy2(ROOT / "scripts" / "services.sh", clone / "scripts" / "services.sh")
    env = {**os.environ, "SERVICES_PG_PORT": str(free_service_port()),
           "SERVICES_REDIS_PORT": str(free_service_port())}
    services = clone / ".services"

    def script(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(clone / "scripts" / "services.sh"), command], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=180)

    data = services  # where the data is, once the script has said so
    try:
        started = script("start")
        assert started.returncode == 0, started.stdout + started.stderr
        if IS_ROOT:
            # The case this is about: neither service user can get into the clone ...
            assert not can_enter("postgres", services) and not can_enter("redis", services)
            # ... so the data is outside it, one directory per clone, and the clone says where.
            data = Path((services / "data-dir").read_text().strip())
            assert data.parent == EXTERNAL_BASE and len(data.name) == 12, data
            assert str(data) in started.stdout
            info = data.stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o755)
            for sub, owner in [("pg", "postgres"), ("pg-socket", "postgres"), ("redis", "redis")]:
                info = (data / sub).stat()
                assert stat.S_IMODE(info.st_mode) == 0o700, sub
                assert info.st_uid == int(subprocess.check_output(["id", "-u", owner])), sub
            assert not (services / "pg").exists() and not (services / "redis").exists()
        else:
            assert not (services / "data-dir").exists() and (services / "pg" / "PG_VERSION").exists()
        # Secrets and settings stay in the clone, for the invoking user only.
        for name in ["env", "pg-password", "redis-password"]:
            info = (services / name).stat()
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o600), name

        settings = read_env(services / "env")
        assert (settings["POSTGRES_PORT"], settings["REDIS_PORT"]) == (
            env["SERVICES_PG_PORT"], env["SERVICES_REDIS_PORT"])
        import psycopg2
        import redis

        with psycopg2.connect(host=settings["POSTGRES_HOST"], port=settings["POSTGRES_PORT"],
                              dbname=settings["POSTGRES_DB"], user=settings["POSTGRES_USER"],
                              password=settings["POSTGRES_PASSWORD"], connect_timeout=5) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_database()")
                assert cursor.fetchone() == (settings["POSTGRES_DB"],)
        connection.close()
        # It is this clone's cluster that answers (postmaster.pid: data directory, ..., port).
        pid_file = (data / "pg" / "postmaster.pid").read_text().splitlines()
        assert (pid_file[1], pid_file[3]) == (str(data / "pg"), settings["POSTGRES_PORT"])
        client = redis.Redis(host=settings["REDIS_HOST"], port=int(settings["REDIS_PORT"]),
                             db=int(settings["REDIS_DB"]), password=settings["REDIS_PASSWORD"],
                             socket_timeout=5)
        assert client.set("willow:clone-test", "1") and client.get("willow:clone-test") == b"1"
        assert client.config_get("dir")["dir"] == str(data / "redis")
        client.close()
        with pytest.raises(redis.AuthenticationError):  # the password is really needed
            redis.Redis(host="127.0.0.1", port=int(settings["REDIS_PORT"]), socket_timeout=5).get("x")

        again = script("start")  # idempotent
        assert again.returncode == 0, again.stdout + again.stderr
        assert "PostgreSQL is already running" in again.stdout and "Redis is already running" in again.stdout
        status = script("status")
        assert status.returncode == 0, status.stdout + status.stderr
        assert f"data in {data if IS_ROOT else '.services'}/pg" in status.stdout
        assert not status.stderr, status.stderr

        stopped = script("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "Stopping PostgreSQL" in stopped.stdout and "Stopping Redis" in stopped.stdout
        status = script("status")
        assert status.returncode == 3 and status.stdout.count("not running") == 2, status.stdout
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(host="127.0.0.1", port=settings["POSTGRES_PORT"], dbname="postgres",
                             user="willow", password=settings["POSTGRES_PASSWORD"], connect_timeout=3)
    finally:
        script("stop")  # harmless when already stopped
        record = services / "data-dir"
        if record.exists():  # even if an assertion came first
            data = Path(record.read_text().strip())
            if data.parent == EXTERNAL_BASE:
                shutil.rmtree(data, ignore_errors=True)
