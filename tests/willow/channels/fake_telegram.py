"""A fake Telegram Bot API on 127.0.0.1 that records every call, for offline channel tests.

Serves ``POST|GET /bot<token>/<method>`` like api.telegram.org: JSON, form or multipart
parameters in, ``{"ok": true, "result": ...}`` out. Parameters that are JSON-encoded strings
(aiogram sends ``reply_markup`` that way) are decoded, so tests can assert on them directly.
Like Telegram, it refuses a wrong token (401) and what would be refused for real:
empty or over-long messages and callback data over 64 bytes (400).
"""
from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar
from urllib.parse import parse_qsl, urlsplit

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    method: str
    params: Dict[str, Any]
    token: str


class RefusedCall(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


class FakeTelegram:
    """Start with ``with FakeTelegram(token=...) as fake:``; ``fake.url`` is the API base URL."""

    def __init__(self, token: Optional[str] = None, username: str = "willow_test_bot") -> None:
        self.token = token  # None accepts any token
        self.username = username
        self.bot_id = int(token.split(":")[0]) if token else 1
        self._calls: List[Call] = []
        self._lock = threading.Lock()
        self._message_ids = itertools.count(1)
        self._webhook_url = ""
        self._server: Optional[ThreadingHTTPServer] = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "FakeTelegram":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake._serve(self)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what tests read ---------------------------------------------------------------------
    def calls(self, method: Optional[str] = None, **params: Any) -> List[Call]:
        """Recorded calls, optionally of one method and with these parameter values
        (compared as strings, since form parameters arrive as strings)."""
        with self._lock:
            calls = list(self._calls)
        return [
            c for c in calls
            if (method is None or c.method.lower() == method.lower())
            and all(str(c.params.get(k)) == str(v) for k, v in params.items())
        ]

    def sent_to(self, chat_id: Any) -> List[Call]:
        return self.calls("sendMessage", chat_id=chat_id)

    @staticmethod
    def wait_for(probe: Callable[[], T], timeout: float = 30.0, interval: float = 0.1) -> T:
        """Polls ``probe`` until it returns something truthy; returns its last value at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value or time.monotonic() >= deadline:
                return value
            time.sleep(interval)

    # -- serving -----------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path).path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return self._reply(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        token, method = parts[0][3:], parts[1]
        params = self._params(handler)
        with self._lock:
            self._calls.append(Call(method, params, token))
        if self.token is not None and token != self.token:
            return self._reply(handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            result = self._result(method, params)
        except RefusedCall as refused:
            return self._reply(handler, refused.code, {
                "ok": False, "error_code": refused.code, "description": refused.description})
        self._reply(handler, 200, {"ok": True, "result": result})

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: Dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _params(handler: BaseHTTPRequestHandler) -> Dict[str, Any]:
        pairs: List[Tuple[str, Any]] = parse_qsl(urlsplit(handler.path).query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        kind = handler.headers.get_content_type()
        if body and kind == "application/json":
            pairs += list(json.loads(body).items())
        elif body and kind == "application/x-www-form-urlencoded":
            pairs += parse_qsl(body.decode(), keep_blank_values=True)
        elif body and kind == "multipart/form-data":
            head = f"Content-Type: {handler.headers['Content-Type']}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            for part in message.iter_parts():
                payload = part.get_payload(decode=True) or b""
                pairs.append((part.get_param("name", header="content-disposition"),
                              payload if part.get_filename() else payload.decode()))
        return {key: _decode_json(value) for key, value in pairs}

    def _result(self, method: str, params: Dict[str, Any]) -> Any:
        name = method.lower()  # the Bot API ignores the case of method names
        if name == "getme":
            return {"id": self.bot_id, "is_bot": True, "first_name": "Willow (fake)",
                    "username": self.username, "can_join_groups": False,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        if name == "sendmessage":
            return self._send_message(params)
        if name == "setwebhook":
            self._webhook_url = str(params.get("url") or "")
            return True
        if name == "deletewebhook":
            self._webhook_url = ""
            return True
        if name == "getwebhookinfo":
            return {"url": self._webhook_url, "has_custom_certificate": False,
                    "pending_update_count": 0, "allowed_updates": ["message", "callback_query"]}
        return True  # answerCallbackQuery, sendChatAction and anything else

    def _send_message(self, params: Dict[str, Any]) -> Dict[str, Any]:
        text = str(params.get("text") or "")
        if not text.strip():
            raise RefusedCall(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise RefusedCall(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []) if isinstance(markup, dict) else []:
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > 64:
                    raise RefusedCall(400, "Bad Request: BUTTON_DATA_INVALID")
        chat_id = params.get("chat_id")
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id,
                     "type": "private"},
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Willow (fake)",
                     "username": self.username},
            "text": text,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message


def _decode_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
