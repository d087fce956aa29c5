"""HTTP for the poller, with httpx: conditional GETs of feeds and politely fetched pages.

Every request names the project in its User-Agent, has a timeout (per read and for the
whole response) and a size limit. ``fetch`` returns None for 304 Not Modified and raises
FeedError for anything else that is not a 2xx, a timeout, a transport error or a body
over the limit; for 429 and 503 the error carries the server's Retry-After. The poller
decides how long to back off (``streams.retry.RetryPolicy.delay``). ``HostThrottle``
spaces requests to one host (item pages) at least ``min_interval`` apart.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from streams import __version__
from streams.errors import FeedError

USER_AGENT = f"newsstream/{__version__} (+https://github.com/newsstream)"
TIMEOUT = 15.0  # seconds per connect/read; the whole response gets twice that
MAX_BYTES = 5 * 1024 * 1024
_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


def make_http_client(
    *, timeout: float = TIMEOUT, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        transport=transport,
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Fetched | None:
    """GET ``url``; None when the server says it has not changed since these validators."""
    sent = dict(headers or {})
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    limit = 2 * (client.timeout.read or TIMEOUT)
    try:
        with client.stream("GET", url, headers=sent) as response:
            if response.status_code == 304:
                return None
            _check_status(response)
            body = _read(response, max_bytes=max_bytes, deadline=time.monotonic() + limit)
    except httpx.TimeoutException as exc:
        raise FeedError(f"{url}: timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: {type(exc).__name__}: {exc}") from exc
    return Fetched(
        url=str(response.url),
        body=body,
        content_type=response.headers.get("Content-Type"),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
    )


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    wait = retry_after(response.headers.get("Retry-After")) if status in (429, 503) else 0.0
    raise FeedError(f"{response.url}: HTTP {status} {response.reason_phrase}", retry_after=wait)


def _read(response: httpx.Response, *, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FeedError(f"{response.url}: {declared} bytes is over the {max_bytes} byte limit")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedError(f"{response.url}: more than the {max_bytes} byte limit")
        if time.monotonic() > deadline:
            raise FeedError(f"{response.url}: the response took too long")
        chunks.append(chunk)
    return b"".join(chunks)


def retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); 0.0 if none."""
    if not value or not value.strip():
        return 0.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def decode_html(body: bytes, content_type: str | None) -> str:
    """A page's text: the charset of the header, else of a ``<meta>``, else UTF-8."""
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=")[-1].split(";")[0].strip(" \"'")
    if charset is None and (match := _CHARSET.search(body[:4096])):
        charset = match.group(1).decode("ascii")
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


def host_of(url: str) -> str:
    """The host politeness is counted by (not the port: one server, many ports)."""
    return (urlsplit(url).hostname or "").lower()


@dataclass
class HostThrottle:
    """At most one request per host per ``min_interval`` seconds (politeness for pages).

    Thread-safe: concurrent polls each reserve the next free slot of the host under the
    lock, then sleep until it outside the lock, so other hosts are not held up.
    """

    min_interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, url: str) -> None:
        host = host_of(url)
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + self.min_interval
        if slot > now:
            self.sleep(slot - now)
