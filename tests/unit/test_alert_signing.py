"""Signed deliveries verify with the documented recipe and resist replay and tampering."""

from __future__ import annotations

import hashlib
import hmac

from streams.alerts import sign_headers, verify
from streams.alerts.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

BODY = b'{"kind":"alert"}'
SECRET = "s3cret"
NOW = 1_767_225_600


def test_the_documented_example_and_recipe_agree() -> None:
    headers = sign_headers(BODY, SECRET, timestamp=NOW)
    assert headers == {
        "X-Newsstream-Timestamp": "1767225600",
        "X-Newsstream-Signature": "v1="
        "969d676f81fa7e2837c17b02cc940f595e1f7feb1b113a377a8012626c144f9f",
    }
    # What a receiver in any language does: HMAC-SHA256 over "<timestamp>.<raw body>".
    expected = hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"v1={expected}"


def test_a_fresh_signature_verifies_with_any_header_case() -> None:
    headers = sign_headers(BODY, SECRET, timestamp=NOW)
    assert verify(BODY, headers, SECRET, now=NOW + 10)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verify(BODY, lowered, SECRET, now=NOW - 10)


def test_an_old_or_future_timestamp_is_a_replay() -> None:
    headers = sign_headers(BODY, SECRET, timestamp=NOW)
    assert verify(BODY, headers, SECRET, now=NOW + 300)
    assert not verify(BODY, headers, SECRET, now=NOW + 301)
    assert not verify(BODY, headers, SECRET, now=NOW - 301)
    assert verify(BODY, headers, SECRET, now=NOW + 3000, tolerance_seconds=3600)


def test_tampering_with_body_timestamp_or_secret_fails() -> None:
    headers = sign_headers(BODY, SECRET, timestamp=NOW)
    assert not verify(BODY + b" ", headers, SECRET, now=NOW)
    assert not verify(BODY, headers, "other", now=NOW)
    moved = {**headers, TIMESTAMP_HEADER: str(NOW + 1)}
    assert not verify(BODY, moved, SECRET, now=NOW)


def test_missing_or_malformed_headers_fail() -> None:
    assert not verify(BODY, {}, SECRET, now=NOW)
    headers = sign_headers(BODY, SECRET, timestamp=NOW)
    assert not verify(BODY, {**headers, TIMESTAMP_HEADER: "soon"}, SECRET, now=NOW)
    bare = {**headers, SIGNATURE_HEADER: headers[SIGNATURE_HEADER].removeprefix("v1=")}
    assert not verify(BODY, bare, SECRET, now=NOW)
    assert not verify(BODY, headers, "", now=NOW)


def test_any_of_several_signatures_may_match_during_secret_rotation() -> None:
    old = sign_headers(BODY, "old-secret", timestamp=NOW)[SIGNATURE_HEADER]
    new = sign_headers(BODY, SECRET, timestamp=NOW)[SIGNATURE_HEADER]
    headers = {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: f"{old}, {new}"}
    assert verify(BODY, headers, SECRET, now=NOW)
    assert verify(BODY, headers, "old-secret", now=NOW)
