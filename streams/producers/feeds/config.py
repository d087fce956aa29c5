"""The feeds file: which RSS/Atom feeds ``newsstream poll`` reads, and how often.

::

    version: 1
    feeds:
      - url: https://example.org/news/rss     # required, http or https
        source: Example News                  # optional (or `name`); default: the host
        language: en                          # optional hint (ISO 639-1) for the worker
        interval: 15m                         # optional: 90s, 15m, 1h or seconds; default 15m
        headers:                              # optional, sent with every request of this feed
          Authorization: "Bearer ${EXAMPLE_TOKEN}"   # ${VAR} from the environment

``load_feeds`` rejects a file with any invalid feed; the ConfigError names the file, each
bad feed and its problem. ``check_feeds_file`` lists the same problems one a line (for
``newsstream settings --check``). ``FeedsHolder`` keeps the last good list and reloads the file
when it changes, as the worker does with the rules file: a broken edit is logged and
ignored.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from streams.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 15 * 60.0
MIN_INTERVAL = 10.0
_FEED_FIELDS = ("url", "source", "name", "language", "interval", "headers")
_FILE_FIELDS = frozenset({"version", "feeds"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    source: str
    language: str | None = None
    interval: float = DEFAULT_INTERVAL
    headers: Mapping[str, str] = field(default_factory=dict)
    # The url as written, ${VAR}s not expanded: names the feed in metrics without the
    # secrets a URL may carry. Empty when built in code: the url is the name then.
    written: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        return self.written or self.url


def load_feeds(path: Path, *, environ: Mapping[str, str]) -> tuple[FeedConfig, ...]:
    return parse_feeds(_read_yaml(path), environ=environ, origin=str(path))


def check_feeds_file(path: Path, *, environ: Mapping[str, str]) -> list[str]:
    """Every problem of the feeds file at ``path``, one line each; [] when it is good."""
    try:
        data = _read_yaml(path)
    except ConfigError as exc:
        return [str(exc)]
    return [f"{path}: {problem}" for problem in _parse(data, environ)[1]]


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the feeds file {path}: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def parse_feeds(
    data: Any, *, environ: Mapping[str, str], origin: str = "feeds file"
) -> tuple[FeedConfig, ...]:
    feeds, problems = _parse(data, environ)
    if problems:
        raise ConfigError(f"{origin}: " + "; ".join(problems))
    return feeds


def _parse(data: Any, environ: Mapping[str, str]) -> tuple[tuple[FeedConfig, ...], list[str]]:
    """The feeds, and every problem found (the feeds are of no use unless there is none)."""
    if not isinstance(data, dict) or not isinstance(data.get("feeds"), list):
        return (), ["expected a mapping with a list under 'feeds'"]
    unknown = sorted(set(data) - _FILE_FIELDS)
    if unknown:
        return (), [f"unknown top-level field(s) {unknown}; use {sorted(_FILE_FIELDS)}"]
    if data.get("version", 1) != 1:
        return (), [f"version {data['version']!r} is not supported (use 1)"]
    feeds: list[FeedConfig] = []
    problems: list[str] = []
    for number, entry in enumerate(data["feeds"], start=1):
        label = f"feed {number}"
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            label += f" ({entry['url']})"
        try:
            feeds.append(parse_feed(entry, environ=environ))
        except ConfigError as exc:
            problems.append(f"{label}: {exc}")
    seen: set[str] = set()
    for feed in feeds:
        if feed.url in seen:
            problems.append(f"feed {feed.label} is listed twice")
        seen.add(feed.url)
    return tuple(feeds), problems


def parse_feed(entry: Any, *, environ: Mapping[str, str]) -> FeedConfig:
    if not isinstance(entry, dict):
        raise ConfigError("expected a mapping with at least 'url'")
    for name in sorted(set(entry) - set(_FEED_FIELDS)):
        close = difflib.get_close_matches(str(name), _FEED_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; use {list(_FEED_FIELDS)}"
        raise ConfigError(f"unknown field {name!r}{hint}")
    written = _required_text(entry, "url")
    url = _expand(written, environ)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"url {url!r} is not an http(s) URL")
    if "source" in entry and "name" in entry:
        raise ConfigError("give 'source' or 'name', not both")
    source = _text(entry, "source") or _text(entry, "name") or parts.hostname
    language = _text(entry, "language")
    if language is not None and not re.fullmatch(r"[A-Za-z]{2}([-_][A-Za-z0-9]+)*", language):
        raise ConfigError(f"language {language!r} is not a language tag such as 'en' or 'de-AT'")
    return FeedConfig(
        url=url,
        source=source,
        language=language,
        interval=parse_interval(entry.get("interval", DEFAULT_INTERVAL)),
        headers=_headers(entry.get("headers", {}), environ),
        written=written,
    )


def parse_interval(value: Any) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"1h"`` → seconds; at least MIN_INTERVAL."""
    match = _DURATION.match(str(value)) if not isinstance(value, bool) else None
    if match is None:
        raise ConfigError(f"interval {value!r} is not a duration such as 90s, 15m or 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < MIN_INTERVAL:
        raise ConfigError(f"interval {value!r} is shorter than {MIN_INTERVAL:.0f}s")
    return seconds


def _text(entry: Mapping[str, Any], name: str) -> str | None:
    return None if entry.get(name) is None else _required_text(entry, name)


def _required_text(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{name!r} must be a non-empty string")
    return value.strip()


def _headers(value: Any, environ: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise ConfigError("'headers' must map header names to strings")
    return {name: _expand(str(v), environ) for name, v in value.items()}


def _expand(text: str, environ: Mapping[str, str]) -> str:
    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"${{{name}}} is not set in the environment")
        return environ[name]

    return _VARIABLE.sub(variable, text)


@dataclass
class FeedsHolder:
    """The last good feeds list; ``reload_if_changed`` reads the file again after an edit."""

    path: Path
    environ: Mapping[str, str]
    current: tuple[FeedConfig, ...]
    stamp: tuple[int, int] = (0, 0)

    @classmethod
    def load(cls, path: Path, *, environ: Mapping[str, str]) -> FeedsHolder:
        return cls(path, environ, load_feeds(path, environ=environ), _stamp(path))

    def reload_if_changed(self) -> bool:
        stamp = _stamp(self.path)
        if stamp == self.stamp:
            return False
        self.stamp = stamp
        try:
            self.current = load_feeds(self.path, environ=self.environ)
        except ConfigError as exc:
            log.error("keeping the last good feeds: %s", exc)
            return False
        log.info("reloaded %d feeds from %s", len(self.current), self.path)
        return True


def _stamp(path: Path) -> tuple[int, int]:
    """Modification time and size, so quick rewrites show."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)
