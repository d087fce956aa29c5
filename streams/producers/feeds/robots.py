"""robots.txt (RFC 9309) for the poller: asked before a feed or a page is fetched.

The rules of a host are read from ``<scheme>://<host>/robots.txt`` with the poller's
User-Agent, kept ``ROBOTS_TTL`` seconds (RFC 9309 asks for at most 24 h) and matched
with ``urllib.robotparser`` against the product token ``newsstream``. What the answer
means (``rules_from_answer``, pure):

- 2xx: the file's rules (a file over ``ROBOTS_MAX_BYTES`` is read up to that size, as
  RFC 9309 allows).
- 4xx (404, 401, 403, 410, ...): "unavailable": everything is allowed.
- 5xx, a timeout or a transport error: "unreachable": everything is disallowed for now
  (RFC 9309 2.3.1.4: the crawler MUST assume complete disallow). This is kept only
  ``UNREACHABLE_TTL`` seconds, so the host is asked again soon; until then its feed
  fails with the reason and is backed off like any failing feed, and its pages are not
  fetched (the feed's own text is shipped).

Limits: ``urllib.robotparser`` applies the first rule that matches, in file order, not the
longest match RFC 9309 asks for, and knows no ``*``/``$`` patterns; the URL checked is the
one configured, not where a redirect leads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from streams.errors import FeedError
from streams.producers.feeds.fetching import USER_AGENT

log = logging.getLogger(__name__)

ROBOTS_TTL = 3600.0
UNREACHABLE_TTL = 300.0
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """One host's answer: ``allow_all``, ``disallow_all`` (unreachable), or a parsed file."""

    source: str  # the robots.txt URL
    parser: RobotFileParser | None = None
    disallow_all: bool = False
    reason: str = ""

    def allows(self, url: str, user_agent: str = USER_AGENT) -> bool:
        if self.disallow_all:
            return False
        return True if self.parser is None else self.parser.can_fetch(user_agent, url)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def rules_from_answer(source: str, status: int | None, body: bytes) -> RobotsRules:
    """What a robots.txt answer means; ``status`` None: no answer (timeout, network)."""
    if status is not None and 200 <= status < 300:
        parser = RobotFileParser(source)
        parser.parse(body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace").splitlines())
        return RobotsRules(source, parser=parser)
    if status is not None and 400 <= status < 500:
        return RobotsRules(source)
    why = "no answer" if status is None else f"HTTP {status}"
    return RobotsRules(source, disallow_all=True, reason=f"{source} is unreachable ({why})")


def fetch_robots(client: httpx.Client, source: str) -> tuple[int | None, bytes]:
    """The status and (up to the limit) body of ``source``; (None, b"") without an answer."""
    try:
        with client.stream("GET", source, timeout=ROBOTS_TIMEOUT) as response:
            body = b""
            if 200 <= response.status_code < 300:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) >= ROBOTS_MAX_BYTES:
                        break
            return response.status_code, body
    except httpx.HTTPError as exc:
        log.warning("robots.txt: %s: %s: %s", source, type(exc).__name__, exc)
        return None, b""


@dataclass
class RobotsCache:
    """The rules of each host, fetched when first needed and again after their TTL.

    Thread-safe: polls run concurrently; one fetch per host at a time (a lock per host),
    other hosts are not held up by it.
    """

    http: httpx.Client
    ttl: float = ROBOTS_TTL
    unreachable_ttl: float = UNREACHABLE_TTL
    clock: Callable[[], float] = time.monotonic
    user_agent: str = USER_AGENT
    _rules: dict[str, tuple[float, RobotsRules]] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rules(self, url: str) -> RobotsRules:
        source = robots_url(url)
        with self._lock:
            host_lock = self._locks.setdefault(source, threading.Lock())
        with host_lock:
            cached = self._rules.get(source)
            if cached is not None and cached[0] > self.clock():
                return cached[1]
            rules = rules_from_answer(source, *fetch_robots(self.http, source))
            ttl = self.unreachable_ttl if rules.disallow_all else self.ttl
            self._rules[source] = (self.clock() + ttl, rules)
            return rules

    def check(self, url: str) -> None:
        """FeedError, saying why, when robots.txt does not let us fetch ``url``."""
        rules = self.rules(url)
        if rules.allows(url, self.user_agent):
            return
        if rules.disallow_all:
            raise FeedError(
                f"{url}: not fetched: {rules.reason}, and RFC 9309 says to assume it "
                "disallows everything until it answers; tried again later"
            )
        raise FeedError(
            f"{url}: not fetched: {rules.source} disallows it for user agent "
            f"'newsstream'; remove the feed or ask the publisher to allow it"
        )
