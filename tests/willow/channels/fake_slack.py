"""A fake Slack Web API on 127.0.0.1 for tests: answers like Slack and records every call.

Point the channel at it with ``SLACK_API_URL=fake.url``. Every method answers
``{"ok": true, ...}`` (chat.postMessage and auth.test with the fields clients read);
``fail_channel`` makes chat.postMessage to one channel fail like Slack does (HTTP 200,
``ok: false``). Calls are recorded with their method, parsed parameters (JSON or form
body, plus query string) and bearer token; replies are sent from a background task, so
tests wait with ``wait_for``.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UWILLOWBOT"
BOT_ID = "BWILLOWBOT"
TEAM_ID = "TWILLOW"
# Form-encoded calls carry these as JSON strings; decode them like Slack does.
JSON_FORM_FIELDS = {"blocks", "attachments", "metadata"}


@dataclass
class Call:
    method: str
    params: Dict[str, Any]
    token: Optional[str]


class FakeSlack:
    def __init__(self) -> None:
        self._calls: List[Call] = []
        self._lock = threading.Lock()
        self._failing: Dict[str, str] = {}
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/api/"

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> "FakeSlack":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- what tests use ------------------------------------------------------------------

    def calls(self, method: Optional[str] = None) -> List[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def posts(self, channel: str) -> List[Dict[str, Any]]:
        """Parameters of every chat.postMessage to ``channel``, oldest first."""
        return [c.params for c in self.calls("chat.postMessage") if c.params.get("channel") == channel]

    def wait_for(
        self,
        condition: Callable[["FakeSlack"], Any],
        timeout: float = 60,
        interval: float = 0.1,
    ) -> Any:
        """Polls until ``condition(self)`` is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition(self)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"fake Slack: condition not met within {timeout} s; calls: {self.calls()}")
            time.sleep(interval)

    def fail_channel(self, channel: str, error: str = "channel_not_found") -> None:
        with self._lock:
            self._failing[channel] = error

    # -- HTTP ----------------------------------------------------------------------------------

    def _answer(self, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        if method == "chat.postMessage":
            channel = params.get("channel")
            with self._lock:
                error = self._failing.get(channel)
            if error:
                return {"ok": False, "error": error}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            message = {k: v for k, v in params.items() if k in {"text", "blocks", "thread_ts"}}
            return {
                "ok": True, "channel": channel, "ts": ts,
                "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts, **message},
            }
        if method == "auth.test":
            return {
                "ok": True, "url": "https://willow-test.slack.com/", "team": "Willow test",
                "user": "willow", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
            }
        return {"ok": True}

    def _handler_class(self) -> type:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urlsplit(self.path)
                method = url.path.rstrip("/").rsplit("/", 1)[-1]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params: Dict[str, Any] = dict(parse_qsl(url.query))
                kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if body and kind == "application/json":
                    params.update(json.loads(body))
                elif body:
                    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
                        if key in JSON_FORM_FIELDS:
                            try:
                                value = json.loads(value)
                            except ValueError:
                                pass
                        params[key] = value
                auth = self.headers.get("Authorization") or ""
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else params.pop("token", None)
                with fake._lock:
                    fake._calls.append(Call(method, params, token))
                payload = json.dumps(fake._answer(method, params)).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        return Handler
