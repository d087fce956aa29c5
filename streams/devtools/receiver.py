"""A small webhook receiver for demos and tests: prints what it gets, remembers it.

Real HTTP on loopback, standard library only. ``fail_first`` makes it answer 500 to
the first N requests, to watch the dispatcher's retries; ``hold_first`` keeps the first
request waiting that many seconds before answering, to catch a sender mid-delivery.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class WebhookReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    fail_first: int = 0
    hold_first: float = 0.0
    echo: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    requests_seen: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the receiver first"
        return f"http://{self.host}:{self._server.server_address[1]}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests_seen += 1
                    first = receiver.requests_seen == 1
                    fail = receiver.requests_seen <= receiver.fail_first
                    if not fail:
                        item = Received(self.path, dict(self.headers.items()), body)
                        receiver.received.append(item)
                if first and receiver.hold_first:
                    time.sleep(receiver.hold_first)
                if fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"induced failure")
                    return
                if receiver.echo:
                    receiver.echo(item)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok":true}')

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def alert_ids(self) -> list[str]:
        """The X-Newsstream-Alert-Id of every request received, repeats included."""
        return [r.headers.get("X-Newsstream-Alert-Id", "") for r in self.received]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def print_alert(item: Received) -> None:
    try:
        data = item.json()
        summary = data.get("rule", {}).get("name") or data.get("rule_name") or ""
        title = data.get("article", {}).get("title") or data.get("article_title") or ""
        print(f"webhook received: [{summary}] {title}", flush=True)
    except (orjson.JSONDecodeError, AttributeError):
        print(f"webhook received {len(item.body)} bytes on {item.path}", flush=True)
    sys.stdout.flush()


def serve(port: int) -> None:
    receiver = WebhookReceiver(port=port, echo=print_alert).start()
    print(f"webhook receiver listening on {receiver.url}", flush=True)
    threading.Event().wait()
