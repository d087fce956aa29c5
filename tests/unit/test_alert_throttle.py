"""Throttle policies: validation, the rules-file forms, and the pure decision function."""

from __future__ import annotations

import pytest

from streams.alerts import NO_THROTTLE, ThrottlePolicy
from streams.alerts.throttle import (
    ThrottleAction,
    ThrottleState,
    decide,
    flush_digest,
    next_digest_at,
    parse_duration,
    parse_throttle,
)
from streams.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        (None, NO_THROTTLE),
        ("none", NO_THROTTLE),
        ({"max": 5, "per": "1h"}, ThrottlePolicy.limit(5, 3600)),
        ({"max": 1, "per": 90}, ThrottlePolicy.limit(1, 90)),
        ({"digest": "15m"}, ThrottlePolicy.digest(900)),
    ],
)
def test_rules_file_forms(spec: object, policy: ThrottlePolicy) -> None:
    assert parse_throttle(spec) == policy


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"max": 0, "per": "1h"}, "positive whole number"),
        ({"max": 2.5, "per": "1h"}, "positive whole number"),
        ({"max": 5}, "either 'max' and 'per' or 'digest'"),
        ({"digest": "15m", "max": 3}, "either 'max' and 'per' or 'digest'"),
        ({"digest": "-5m"}, "not a duration"),
        ({"digest": 0}, "must be positive"),
        ("always", "throttle must be"),
    ],
)
def test_invalid_forms_are_rejected(spec: object, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_throttle(spec)


def test_policies_validate_themselves() -> None:
    with pytest.raises(ConfigError):
        ThrottlePolicy("limit", 0, 60)
    with pytest.raises(ConfigError):
        ThrottlePolicy("digest", 3, 60)
    with pytest.raises(ConfigError):
        ThrottlePolicy("none", 1, 0)
    assert ThrottlePolicy.limit(5, 3600).describe() == "at most 5 per 1h"
    assert ThrottlePolicy.digest(900).describe() == "one digest every 15m"


def test_durations() -> None:
    assert [parse_duration(v) for v in ("30s", "15m", "2h", "1d", "1.5h", 45)] == [
        30,
        900,
        7200,
        86400,
        5400,
        45,
    ]


def test_no_throttle_always_sends() -> None:
    state = ThrottleState()
    for now in range(100):
        decision = decide(NO_THROTTLE, state, now=now, alert_id=f"a{now}")
        assert decision.action is ThrottleAction.SEND
        state = decision.state


def test_limit_is_a_sliding_window() -> None:
    policy = ThrottlePolicy.limit(2, 60)
    state = ThrottleState()
    actions = []
    for now in (0, 10, 20, 59, 61, 65, 71):
        decision = decide(policy, state, now=now, alert_id=f"a{now}")
        actions.append(decision.action.value)
        state = decision.state
    # 0 and 10 fill the window; 20 and 59 wait; 61 frees the slot of 0 (>60 s old),
    # 65 waits for 10's slot, which frees at 70; 71 gets it.
    assert actions == ["send", "send", "suppress", "suppress", "send", "suppress", "send"]
    assert state.sent_at == (61, 71)


def test_a_suppressed_alert_says_when_the_next_slot_frees() -> None:
    policy = ThrottlePolicy.limit(1, 3600)
    first = decide(policy, ThrottleState(), now=0, alert_id="a")
    second = decide(policy, first.state, now=600, alert_id="b")
    assert second.action is ThrottleAction.SUPPRESS
    assert second.reason == "throttled: at most 1 per 1h already sent; next slot in 50m"


def test_digest_collects_a_window_then_flushes_once() -> None:
    policy = ThrottlePolicy.digest(900)
    state = ThrottleState()
    for now, alert_id in ((100, "a"), (400, "b"), (950, "c")):
        decision = decide(policy, state, now=now, alert_id=alert_id)
        assert decision.action is ThrottleAction.DIGEST
        state = decision.state
    assert next_digest_at(policy, state) == 1000
    assert flush_digest(policy, state, now=999) == ((), state)
    ids, state = flush_digest(policy, state, now=1000)
    assert ids == ("a", "b", "c")
    assert next_digest_at(policy, state) is None
    assert flush_digest(policy, state, now=5000) == ((), state)
    reopened = decide(policy, state, now=5000, alert_id="d")
    assert next_digest_at(policy, reopened.state) == 5900
