#!/usr/bin/env bash
# PostgreSQL 15 and Redis from Debian's packages, for Willow's scale-out set-up and its tests.
#
#   scripts/services.sh start    install (apt-get, only if missing) and start both; idempotent
#   scripts/services.sh stop     stop both (the data stays)
#   scripts/services.sh status   say what is running
#
# Both listen on 127.0.0.1 only, keep their data under .services/ (never the system's cluster or
# the system's Redis) and run as unprivileged users: when run as root, PostgreSQL runs as the
# `postgres` user and Redis as the `redis` user that Debian's packages create.
# When those users cannot reach .services/ (as root in a clone under /root or a mode-700 home), the
# data (cluster, socket, logs, Redis) goes to /var/lib/willow-services/<hash of the clone's path>
# instead, one per clone, and .services/data-dir says where; secrets and env stay in .services/.
# Both have passwords, generated once into .services/ (mode 600). Everything a client needs is
# written to .services/env:  set -a; . .services/env; set +a
# Also installs Debian's haproxy, the load balancer of deploy/haproxy.cfg (tests/test_load_balancer.py).
#
# Settings: SERVICES_PG_PORT (default 15432), SERVICES_REDIS_PORT (default 16379): ports away from
# the standard ones (a system PostgreSQL or Redis never gets in the way) and below the range the
# kernel hands out to other programs (32768-60999), so a random local port cannot take them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=$root/.services          # secrets and env: always here, for the invoking user
pg_port=${SERVICES_PG_PORT:-15432}
redis_port=${SERVICES_REDIS_PORT:-16379}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
# Where data lives when the service users cannot reach the clone (root-owned, 755: only traversal).
external_base=/var/lib/willow-services
db=willow
db_user=willow

say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi

# Runs a command as the user that owns a service (root must not run PostgreSQL or Redis).
as_user() {  # user, command...
  local user=$1; shift
  # From /: the service user may be unable to enter the clone (PostgreSQL's tools then complain).
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$user" -- "$@"); else "$@"; fi
}
pg_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }
redis_user() { if [ "$(id -u)" = 0 ]; then echo redis; else id -un; fi; }

# The services' data: .services/ itself, or the directory .services/data-dir names.
set_data() {  # directory
  data=$1
  pg_data=$data/pg
  pg_socket=$data/pg-socket
  pg_log=$data/pg.log
  redis_dir=$data/redis
  if [ "$data" = "$dir" ]; then shown=.services; else shown=$data; fi
}
if [ -s "$dir/data-dir" ]; then set_data "$(cat "$dir/data-dir")"; else set_data "$dir"; fi

reachable() {  # directory: both service users can traverse to it
  as_user "$(pg_user)" test -x "$1" && as_user "$(redis_user)" test -x "$1"
}

install_packages() {
  local missing=()
  [ -x "$pg_bin/initdb" ] || missing+=(postgresql-15)
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
  # /usr/sbin is not on every user's PATH.
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  [ ${#missing[@]} = 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get here; install PostgreSQL 15, Redis and HAProxy yourself (PG_BIN=<dir of initdb> if PostgreSQL is elsewhere)"
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    die "missing ${missing[*]}: run as root, or install them: apt-get install ${missing[*]}"
  fi
  say "Installing ${missing[*]} from Debian's packages"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}; try: sudo apt-get install ${missing[*]}"
  [ -x "$pg_bin/initdb" ] || die "PostgreSQL 15 is not in $pg_bin after installing it (set PG_BIN)"
}

check_users() {  # as root, the services run as the users Debian's packages create
  [ "$(id -u)" = 0 ] || return 0
  id postgres > /dev/null 2>&1 || die "no 'postgres' user to run PostgreSQL as (Debian's postgresql package creates it)"
  id redis > /dev/null 2>&1 || die "no 'redis' user to run Redis as (Debian's redis-server package creates it)"
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Secrets: generated once, readable only by the user who runs this script (and root).
secret() {  # file
  if [ ! -s "$1" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' > "$1")
  fi
  cat "$1"
}

prepare_dir() {
  mkdir -p "$dir"
  pg_password=$(secret "$dir/pg-password")
  redis_password=$(secret "$dir/redis-password")
  if [ -s "$dir/data-dir" ]; then
    prepare_external "$data"
    chmod 700 "$dir"  # the service users never need into .services/ then
    return 0
  fi
  chmod 755 "$dir"  # the service users must be able to reach their data in it
  if reachable "$dir"; then
    return 0
  elif [ -e "$dir/pg" ] || [ -e "$dir/redis" ]; then
    # Data made while the clone was reachable; moving it silently could lose a cluster.
    die "$(pg_user) or $(redis_user) can no longer reach $dir (a parent directory is not world-executable), where the data is; make it reachable (chmod o+x on the parents) or remove .services/pg and .services/redis"
  else
    # The path's hash keeps each clone's data apart, and the same on every run.
    prepare_external "$external_base/$(printf %s "$(pwd -P)" | sha256sum | cut -c1-12)"
    echo "$data" > "$dir/data-dir"
    chmod 700 "$dir"
    say "$(pg_user) cannot reach $dir; the services' data goes to $data (recorded in .services/data-dir)"
  fi
}

prepare_external() {  # directory under $external_base, made root-owned and traversable only
  local base
  base=$(dirname "$1")
  # Root creates these; refuse anything another user could have planted or redirected.
  for d in "$base" "$1"; do
    if [ -L "$d" ] || { [ -e "$d" ] && [ "$(stat -c %u "$d")" != 0 ]; }; then
      die "$d exists but is not a directory owned by root; remove it, then run this again"
    fi
    mkdir -p "$d"
    chmod 755 "$d"
  done
  set_data "$1"
  reachable "$data" || die "$(pg_user) or $(redis_user) cannot reach $data"
}

pg_ctl_() { as_user "$(pg_user)" "$pg_bin/pg_ctl" -D "$pg_data" "$@"; }
psql_() {  # over the private socket, as the superuser
  as_user "$(pg_user)" "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_socket" -p "$pg_port" \
    -U postgres -d postgres "$@"
}

start_postgres() {
  if [ ! -s "$pg_data/PG_VERSION" ]; then
    say "Creating a PostgreSQL cluster in $shown/pg"
    mkdir -p "$pg_data"
    chown "$(pg_user)" "$pg_data"
    chmod 700 "$pg_data"
    # Only the service user may use the socket (peer-like: trust on a 0700 socket directory);
    # TCP connections need a password (scram-sha-256).
    as_user "$(pg_user)" "$pg_bin/initdb" -D "$pg_data" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 > "$data/pg-initdb.log" 2>&1 \
      || { cat "$data/pg-initdb.log" >&2; die "initdb failed"; }
  fi
  mkdir -p "$pg_socket"
  chown "$(pg_user)" "$pg_socket"
  chmod 700 "$pg_socket"
  if pg_ctl_ status > /dev/null 2>&1; then
    say "PostgreSQL is already running (127.0.0.1:$(sed -n 4p "$pg_data/postmaster.pid"))"
  else
    port_taken "$pg_port" && die "port $pg_port is taken by another program; choose another: make services SERVICES_PG_PORT=..."
    say "Starting PostgreSQL 15 on 127.0.0.1:$pg_port (log: $shown/pg.log)"
    # A failed statement is logged with its text, which can be a conversation: owner only.
    (umask 077; touch "$pg_log")
    chown "$(pg_user)" "$pg_log"
    chmod 600 "$pg_log"
    pg_ctl_ -l "$pg_log" -w -t 60 start \
      -o "-p $pg_port -k $pg_socket -c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700" > /dev/null \
      || { tail -n 20 "$pg_log" >&2; die "PostgreSQL did not start"; }
  fi
  local running_port
  running_port=$(sed -n 4p "$pg_data/postmaster.pid")
  [ "$running_port" = "$pg_port" ] \
    || die "PostgreSQL in $shown/pg runs on port $running_port, not $pg_port: make services-stop, then make services"
  # The application's role and database (idempotent). CREATEDB lets tests make throwaway databases.
  # (On stdin, not the command line, so the password never shows in `ps`; it is alphanumeric.)
  psql_ <<SQL
SELECT 'CREATE ROLE $db_user LOGIN CREATEDB'
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$db_user') \gexec
ALTER ROLE $db_user PASSWORD '$pg_password';
SELECT 'CREATE DATABASE $db OWNER $db_user'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
SQL
}

redis_cli() { REDISCLI_AUTH=${redis_password:-} redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }
redis_up() {
  [ -s "$dir/redis-password" ] && command -v redis-cli > /dev/null || return 1
  redis_password=$(cat "$dir/redis-password")
  [ "$(redis_cli ping 2>/dev/null)" = PONG ]
}

start_redis() {
  mkdir -p "$redis_dir"
  chown "$(redis_user)" "$redis_dir"
  chmod 700 "$redis_dir"
  # The password lives in a file only the service user can read, not on the command line.
  (umask 077; cat > "$redis_dir/redis.conf" <<CONF
port $redis_port
bind 127.0.0.1
protected-mode yes
daemonize yes
dir $redis_dir
pidfile $redis_dir/redis.pid
logfile $redis_dir/redis.log
requirepass $redis_password
CONF
  )
  chown "$(redis_user)" "$redis_dir/redis.conf"
  if redis_up; then
    say "Redis is already running (127.0.0.1:$redis_port)"
    return
  fi
  port_taken "$redis_port" && die "port $redis_port is taken by another program; choose another: make services SERVICES_REDIS_PORT=..."
  say "Starting Redis on 127.0.0.1:$redis_port (log: $shown/redis/redis.log)"
  as_user "$(redis_user)" redis-server "$redis_dir/redis.conf"
  for _ in $(seq 1 50); do
    redis_up && return
    sleep 0.1
  done
  tail -n 20 "$redis_dir/redis.log" >&2 || true
  die "Redis did not start"
}

write_env() {
  (umask 077; cat > "$dir/env" <<ENV
# Written by scripts/services.sh: Willow on the local PostgreSQL and Redis (make services).
#   set -a; . .services/env; set +a; make run
WILLOW_TRACKER_STORE=postgres
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=$pg_port
POSTGRES_DB=$db
POSTGRES_USER=$db_user
POSTGRES_PASSWORD=$pg_password
WILLOW_LOCK_STORE=redis
REDIS_HOST=127.0.0.1
REDIS_PORT=$redis_port
REDIS_DB=1
REDIS_PASSWORD=$redis_password
ENV
  )
}

stop_services() {
  if [ -s "$pg_data/PG_VERSION" ] && pg_ctl_ status > /dev/null 2>&1; then
    say "Stopping PostgreSQL"
    pg_ctl_ -w -t 60 -m fast stop > /dev/null
  else
    say "PostgreSQL is not running"
  fi
  # Through its own port and password, never a pid that may have been reused since.
  if redis_up; then
    say "Stopping Redis"
    redis_cli shutdown > /dev/null 2>&1 || true
    for _ in $(seq 1 100); do redis_up || return 0; sleep 0.1; done
    die "Redis on port $redis_port did not stop"
  else
    say "Redis is not running"
  fi
}

status() {
  local code=0
  if [ -s "$pg_data/PG_VERSION" ] && pg_ctl_ status > /dev/null 2>&1; then
    echo "PostgreSQL: running on 127.0.0.1:$(sed -n 4p "$pg_data/postmaster.pid"), data in $shown/pg"
  else
    echo "PostgreSQL: not running"; code=3
  fi
  if redis_up; then
    echo "Redis: running on 127.0.0.1:$redis_port, data in $shown/redis"
  else
    echo "Redis: not running"; code=3
  fi
  return $code
}

case ${1:-start} in
  start)
    install_packages
    check_users
    prepare_dir
    start_postgres
    start_redis
    write_env
    say "PostgreSQL and Redis are ready; their settings are in .services/env. To run Willow on them:"
    echo "      set -a; . .services/env; set +a; make run"
    ;;
  stop) stop_services ;;
  status) status ;;
  *) die "usage: $0 [start|stop|status]" ;;
esac
