"""Per-rule throttling: at most N alerts per window, or one digest per window.

The policy is a frozen value read from the rule file; the decision is a pure function
of the policy, the rule's current state and ``now`` (seconds, any monotonic or epoch
clock the caller chooses), so the dispatcher owns the clock and the state::

    decision = decide(rule.throttle, state, now=now, alert_id=alert.alert_id)
    state = decision.state
    if decision.action is ThrottleAction.SEND: deliver it
    if decision.action is ThrottleAction.SUPPRESS: record it as throttled
    if decision.action is ThrottleAction.DIGEST: keep it for the digest
    ...
    ids, state = flush_digest(rule.throttle, state, now=now)  # when next_digest_at() is due

In a rules file::

    throttle: none              # the default: every match is sent
    throttle: {max: 5, per: 1h} # sliding window: at most 5 alerts in any hour
    throttle: {digest: 15m}     # one message summarising each 15 minutes of matches
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from streams.errors import ConfigError

ThrottleMode = Literal["none", "limit", "digest"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    mode: ThrottleMode = "none"
    max_alerts: int = 0
    window_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.mode == "none" and (self.max_alerts or self.window_seconds):
            raise ConfigError("throttle 'none' takes no limit or window")
        if self.mode == "limit" and (self.max_alerts < 1 or self.window_seconds <= 0):
            raise ConfigError("throttle limit needs max >= 1 and a positive window")
        if self.mode == "digest" and (self.max_alerts or self.window_seconds <= 0):
            raise ConfigError("throttle digest needs a positive window and no max")

    @classmethod
    def limit(cls, max_alerts: int, window_seconds: float) -> ThrottlePolicy:
        return cls("limit", max_alerts, window_seconds)

    @classmethod
    def digest(cls, window_seconds: float) -> ThrottlePolicy:
        return cls("digest", 0, window_seconds)

    def describe(self) -> str:
        window = format_duration(self.window_seconds)
        if self.mode == "limit":
            return f"at most {self.max_alerts} per {window}"
        if self.mode == "digest":
            return f"one digest every {window}"
        return "no throttle"


NO_THROTTLE = ThrottlePolicy()


class ThrottleAction(StrEnum):
    SEND = "send"
    SUPPRESS = "suppress"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """What one rule has done lately; start from ``ThrottleState()``."""

    sent_at: tuple[float, ...] = ()
    digest_opened_at: float | None = None
    digest_alert_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    action: ThrottleAction
    state: ThrottleState
    reason: str


def decide(
    policy: ThrottlePolicy, state: ThrottleState, *, now: float, alert_id: str
) -> ThrottleDecision:
    """What to do with one new alert of a rule, and the rule's state afterwards."""
    if policy.mode == "digest":
        opened = now if state.digest_opened_at is None else state.digest_opened_at
        ids = (*state.digest_alert_ids, alert_id)
        due = format_duration(max(0.0, opened + policy.window_seconds - now))
        return ThrottleDecision(
            ThrottleAction.DIGEST,
            ThrottleState(state.sent_at, opened, ids),
            f"held for the digest due in {due} ({len(ids)} waiting)",
        )
    if policy.mode == "none":
        return ThrottleDecision(ThrottleAction.SEND, state, "not throttled")
    recent = tuple(t for t in state.sent_at if t > now - policy.window_seconds)
    if len(recent) < policy.max_alerts:
        return ThrottleDecision(
            ThrottleAction.SEND,
            ThrottleState((*recent, now), state.digest_opened_at, state.digest_alert_ids),
            f"{len(recent) + 1} of {policy.max_alerts} in the window",
        )
    free_in = format_duration(min(recent) + policy.window_seconds - now)
    return ThrottleDecision(
        ThrottleAction.SUPPRESS,
        ThrottleState(recent, state.digest_opened_at, state.digest_alert_ids),
        f"throttled: {policy.describe()} already sent; next slot in {free_in}",
    )


def next_digest_at(policy: ThrottlePolicy, state: ThrottleState) -> float | None:
    """When the pending digest is due, or None when nothing waits."""
    if policy.mode != "digest" or state.digest_opened_at is None:
        return None
    return state.digest_opened_at + policy.window_seconds


def flush_digest(
    policy: ThrottlePolicy, state: ThrottleState, *, now: float
) -> tuple[tuple[str, ...], ThrottleState]:
    """The alert ids of a digest that is due (empty when none is), and the state after it."""
    due = next_digest_at(policy, state)
    if due is None or now < due:
        return (), state
    return state.digest_alert_ids, ThrottleState(state.sent_at, None, ())


def parse_throttle(spec: object) -> ThrottlePolicy:
    """A policy from its rules-file form; ConfigError names the problem."""
    if spec is None or spec == "none":
        return NO_THROTTLE
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"throttle must be 'none', {{max: N, per: 1h}} or {{digest: 15m}}, got {spec!r}"
        )
    keys = set(spec)
    if keys == {"max", "per"}:
        max_alerts = spec["max"]
        if not isinstance(max_alerts, int) or isinstance(max_alerts, bool) or max_alerts < 1:
            raise ConfigError(f"throttle max must be a positive whole number, got {max_alerts!r}")
        return ThrottlePolicy.limit(max_alerts, parse_duration(spec["per"]))
    if keys == {"digest"}:
        return ThrottlePolicy.digest(parse_duration(spec["digest"]))
    raise ConfigError(
        f"throttle takes either 'max' and 'per' or 'digest', got {', '.join(map(str, keys))}"
    )


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h"`` or ``"1d"``; must be positive."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = float(match[1]) * _SECONDS[match[2]]
    else:
        raise ConfigError(f"{value!r} is not a duration; write e.g. 90s, 15m, 1h or 1d")
    if seconds <= 0:
        raise ConfigError(f"duration {value!r} must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
