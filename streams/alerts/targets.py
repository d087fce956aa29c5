"""Where alerts go: named targets, as a rules file declares them.

::

    targets:
      risk-slack:
        type: slack                      # webhook | slack | teams | template
        url: ${RISK_SLACK_WEBHOOK_URL}   # ${VAR} or ${VAR:-fallback}, from the environment
      siem:
        type: webhook
        url: https://siem.example.com/hooks/newsstream
        secret: ${SIEM_WEBHOOK_SECRET}   # optional: HMAC-SHA256 signature headers
        headers: {Authorization: "Bearer ${SIEM_TOKEN}"}
      tickets:
        type: template                   # a Jinja2 template renders the body
        url: ${TICKETS_URL}
        content_type: application/json
        template: '{"summary": {{ rule.name | tojson }}, "link": {{ alert.links.kibana | tojson }}}'

A target named ``default``, a generic webhook to the URL the worker is configured with
(``NEWSSTREAM_WEBHOOK_URL``), always exists; a file may redefine it. Secrets come from
the environment (a Kubernetes Secret mounted as variables), never from the file itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from streams.errors import ConfigError
from streams.settings import Secret

TargetType = Literal["webhook", "slack", "teams", "template"]
TARGET_TYPES: tuple[TargetType, ...] = ("webhook", "slack", "teams", "template")
DEFAULT_TARGET = "default"

_FIELDS = frozenset({"type", "url", "secret", "headers", "template", "content_type"})
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    type: TargetType
    url: str
    secret: Secret = Secret("")
    template: str | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def enabled(self) -> bool:
        """False for a target without a URL (``default`` when no webhook URL is set)."""
        return bool(self.url)


def default_target(url: str, secret: str = "") -> Target:
    return Target(DEFAULT_TARGET, "webhook", url, Secret(secret))


def expand_variables(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` and ``${VAR:-fallback}``; ConfigError names an unset variable."""

    def replace(match: re.Match[str]) -> str:
        name, fallback = match[1], match[2]
        value = environ.get(name)
        if value:
            return value
        if fallback is not None:
            return fallback
        raise ConfigError(f"environment variable {name} is not set")

    return _VARIABLE.sub(replace, text)


def parse_target(name: str, spec: object, environ: Mapping[str, str]) -> Target:
    """One target from its rules-file form; ConfigError names the problem."""
    if not isinstance(spec, Mapping):
        raise ConfigError("must be a mapping with type and url")
    unknown = set(map(str, spec)) - _FIELDS
    if unknown:
        raise ConfigError(
            f"unknown field {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(_FIELDS))})"
        )
    kind = spec.get("type")
    if kind not in TARGET_TYPES:
        raise ConfigError(f"type must be one of {', '.join(TARGET_TYPES)}, got {kind!r}")
    url = expand_variables(_string(spec, "url", required=True), environ)
    if url and urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"url must be an http(s) URL, got {url!r}")
    template = spec.get("template")
    if (kind == "template") != (template is not None):
        raise ConfigError("a template is required for type template, and only there")
    if template is not None and (not isinstance(template, str) or not template.strip()):
        raise ConfigError("template must be non-empty text")
    return Target(
        name=name,
        type=kind,
        url=url,
        secret=Secret(expand_variables(_string(spec, "secret"), environ)),
        template=template,
        content_type=_string(spec, "content_type") or "application/json",
        headers=_headers(spec.get("headers"), environ),
    )


def _string(spec: Mapping[str, object], key: str, *, required: bool = False) -> str:
    value = spec.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value.strip()


def _headers(value: object, environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError("headers must map header names to strings")
    return tuple((k, expand_variables(v, environ)) for k, v in value.items())
