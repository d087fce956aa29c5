"""A feed server on loopback for the tests and the demo: the committed fixtures of
``tests/fixtures/feeds/`` with ETag and Last-Modified, answering conditional requests
with 304 as a well-behaved publisher does. Knobs make a path fail (``status``, with an
optional ``retry_after``) or answer late (``delay``); every request is remembered.

``start_fixture_feeds`` and ``fixture_article_ids`` are what ``make demo`` calls.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from streams.errors import InvalidArticle
from streams.producers import FeedConfig, entry_to_article, parse_feed

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "feeds"
# The fixtures a demo polls: the well-formed feeds (not the malformed one).
DEMO_FEEDS = ("rss2.xml", "atom.xml", "rss1.xml", "latin1.xml")
_TYPES = {".xml": "application/xml", ".html": "text/html; charset=utf-8"}


@dataclass
class FeedServer:
    root: Path = FIXTURES
    host: str = "127.0.0.1"
    port: int = 0
    status: dict[str, int] = field(default_factory=dict)  # path -> status to answer with
    retry_after: dict[str, str] = field(default_factory=dict)  # path -> Retry-After value
    delay: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "") -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.host}:{self._server.server_address[1]}/{path.lstrip('/')}"

    def start(self) -> FeedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with server._lock:
                    server.requests.append((path, dict(self.headers.items())))
                time.sleep(server.delay.get(path, 0.0))
                if path in server.status:
                    self.send_response(server.status[path])
                    if path in server.retry_after:
                        self.send_header("Retry-After", server.retry_after[path])
                    self.end_headers()
                    return
                server.answer(self, path)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def answer(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_file() or not file.is_relative_to(self.root.resolve()):
            handler.send_error(404)
            return
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = int(file.stat().st_mtime)
        if _not_modified(handler, etag, modified):
            handler.send_response(304)
            handler.send_header("ETag", etag)
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.send_header("Last-Modified", formatdate(modified, usegmt=True))
        handler.end_headers()
        handler.wfile.write(body)

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.requests]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _not_modified(handler: BaseHTTPRequestHandler, etag: str, modified: int) -> bool:
    if "If-None-Match" in handler.headers:
        return etag in [t.strip() for t in handler.headers["If-None-Match"].split(",")]
    since = handler.headers.get("If-Modified-Since")
    if not since:
        return False
    try:
        return modified <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError):
        return False


def start_fixture_feeds(feeds_file: Path, *, port: int = 0) -> FeedServer:
    """Serve the fixture feeds and write a feeds file listing ``DEMO_FEEDS`` on it.

    ``make demo``: ``server = start_fixture_feeds(RUN / "feeds.yaml", port=8788)``, then
    ``newsstream poll --once --feeds .stack/run/feeds.yaml``, then ``server.stop()``;
    ``fixture_article_ids(server)`` are the ids to wait for in Elasticsearch.
    """
    server = FeedServer(port=port).start()
    lines = ["version: 1", "feeds:"]
    for name in DEMO_FEEDS:
        lines += [f"  - url: {server.url(name)}", f"    source: fixture {name}"]
    feeds_file.parent.mkdir(parents=True, exist_ok=True)
    feeds_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return server


def fixture_article_ids(server: FeedServer) -> list[str]:
    """The ids the poller gives the valid items of ``DEMO_FEEDS`` served by ``server``."""
    ids: list[str] = []
    for name in DEMO_FEEDS:
        feed = FeedConfig(url=server.url(name), source=name)
        parsed = parse_feed((server.root / name).read_bytes(), url=feed.url)
        for entry in parsed.entries:
            try:
                article = entry_to_article(entry, feed=feed, feed_language=parsed.language)
            except InvalidArticle:
                continue
            ids.append(article.id)
    return list(dict.fromkeys(ids))
