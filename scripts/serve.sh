#!/usr/bin/env bash
# Starts the action server, then Willow's Rasa server (`run`) or a terminal chat (`shell`).
# Called by `make run` / `make shell`; stops the action server again on exit.
set -euo pipefail
mode=$1 model=$2 port=$3 actions_port=$4
venv=${VENV:-.venv}
mkdir -p logs
# How long a conversation's lock in Redis outlives an instance that died holding it (Rasa's
# default is 60 s): the longest turn is two custom actions of at most WILLOW_ACTION_TIMEOUT
# (10 s) each, so 30 s never frees a lock that is still in use, and a person whose instance was
# killed waits at most 30 s for the answer on another (README, Scale-out).
export TICKET_LOCK_LIFETIME=${TICKET_LOCK_LIFETIME:-30}

# The effective endpoints (tracker store, lock store, action server) from environment variables
# (`run` only; the terminal chat keeps its conversation in memory, see below):
# SQLite in data-store/ unless WILLOW_TRACKER_STORE / WILLOW_LOCK_STORE say otherwise (README, Persistence).
# It holds no passwords, only ${POSTGRES_PASSWORD} / ${REDIS_PASSWORD} for Rasa to substitute.
endpoints=logs/endpoints-$mode.yml
if [ "$mode" = run ]; then
  "$venv/bin/python" -m willow.endpoints --out "$endpoints" \
    --action-url "${ACTION_SERVER_URL:-http://localhost:$actions_port/webhook}"
  echo "==> $("$venv/bin/python" -m willow.endpoints --describe)"
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_for() {  # url, what, pid, log
  for _ in $(seq 1 180); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "error: the $2 stopped during start-up; see $4" >&2; tail -n 20 "$4" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: the $2 did not start within 90 s; see $4" >&2; exit 1
}

if curl -fsS -o /dev/null "http://localhost:$actions_port/health" 2>/dev/null; then
  echo "==> Using the action server already running on port $actions_port"
else
  echo "==> Starting the action server on port $actions_port (log: logs/actions.log)"
  "$venv/bin/rasa" run actions --actions actions --port "$actions_port" > logs/actions.log 2>&1 &
  pids+=($!)
  wait_for "http://localhost:$actions_port/health" "action server" "${pids[-1]}" logs/actions.log
fi

if [ "$mode" = shell ]; then
  # Rasa's terminal chat runs its own REST webhook, which takes any sender id as the conversation.
  # So the terminal chat keeps its conversation in memory (never the store real users' conversations
  # are in) and listens on 127.0.0.1 only.
  printf 'action_endpoint:\n  url: "%s"\n' "${ACTION_SERVER_URL:-http://localhost:$actions_port/webhook}" > "$endpoints"
  echo "==> Loading the model (10-40 s), then type a message; /stop ends the chat (kept in memory only)."
  "$venv/bin/rasa" shell --model "$model" --endpoints "$endpoints" --port "$port" --interface 127.0.0.1
  exit
fi

echo "==> Starting Willow on port $port (log: logs/rasa.log); loading the model takes 10-40 s"
# shellcheck disable=SC2086  # WEB_ALLOWED_ORIGINS is a space-separated list
# Request bodies over 1 MB get 413 (the Rasa server only: the action server receives whole trackers).
# Sanic's own errors (413, 404...) as JSON, like Willow's, whatever the client's Accept header.
SANIC_REQUEST_MAX_SIZE="${SANIC_REQUEST_MAX_SIZE:-1000000}" SANIC_FALLBACK_ERROR_FORMAT=json \
  "$venv/bin/rasa" run --model "$model" --endpoints "$endpoints" --credentials credentials.yml \
  --port "$port" --cors ${WEB_ALLOWED_ORIGINS:-} > logs/rasa.log 2>&1 &
pids+=($!)
rasa_pid=$!
web_port=${WEB_PORT:-8080}
echo "==> Serving the chat page on port $web_port"
"$venv/bin/python" -m http.server "$web_port" --bind 127.0.0.1 --directory web > logs/web.log 2>&1 &
pids+=($!)
wait_for "http://localhost:$port/" "Rasa server" "$rasa_pid" logs/rasa.log
if [ -n "${WILLOW_REST_TOKEN:-}" ]; then
  rest="curl -s localhost:$port/webhooks/rest/webhook -H \"Authorization: Bearer \$WILLOW_REST_TOKEN\" -d '{\"sender\": \"me\", \"message\": \"hi\"}'"
else
  rest="off (set WILLOW_REST_TOKEN to turn it on; README, REST)"
fi
cat <<MSG

Willow is running. Chat with it:
  in the browser:   http://localhost:$web_port/?server=http://localhost:$port
  in the terminal:  make shell   (in another terminal)
  over REST:        $rest
Press Ctrl+C to stop.
MSG
wait "$rasa_pid"
