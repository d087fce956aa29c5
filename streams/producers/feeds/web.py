"""The running poller's web port: /metrics, /healthz, /readyz (see telemetry.py).

The poller is synchronous (httpx, kafka-python, threads), so its pages come from the
standard library's ``ThreadingHTTPServer`` on a daemon thread rather than an event loop
of their own. ``page`` decides each answer (no sockets; the unit tests call it); the
answers' shapes are the API's (streams.producers.probes).
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from streams.errors import ConfigError
from streams.producers.feeds.telemetry import PollTelemetry
from streams.producers.probes import liveness, readiness
from streams.prometheus import METRICS_CONTENT_TYPE, metrics_text

log = logging.getLogger(__name__)

JSON = "application/json"


def page(path: str, telemetry: PollTelemetry) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET of ``path``."""
    path = path.split("?", 1)[0]
    if path == "/metrics":
        return 200, METRICS_CONTENT_TYPE, metrics_text(telemetry.metrics.registry)
    if path == "/healthz":
        return _json(*liveness(telemetry.health.not_live_because()))
    if path == "/readyz":
        return _json(*readiness(telemetry.health.not_ready_because()))
    return _json(404, {"error": f"no page {path}; try /metrics, /healthz or /readyz"})


def _json(status: int, body: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, JSON, orjson.dumps(body)


def serve_pages(telemetry: PollTelemetry, *, host: str, port: int) -> ThreadingHTTPServer:
    """Serve the pages on ``host:port`` from a daemon thread; ``shutdown()`` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = page(self.path, telemetry)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the poller's own log

    try:
        server = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise ConfigError(
            f"the poller cannot serve its pages on {host}:{port} ({exc.strerror or exc}); "
            "set NEWSSTREAM_POLL_WEB_PORT to a free port, or 0 for no pages"
        ) from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="poll-web", daemon=True).start()
    return server
