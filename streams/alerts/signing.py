"""HMAC-SHA256 signatures on webhook deliveries, replay-safe with a timestamp.

When a target has a secret, every delivery carries two headers::

    X-Newsstream-Timestamp: 1767225600
    X-Newsstream-Signature: v1=969d676f81fa7e2837c17b02cc940f595e1f7feb1b113a377a8012626c144f9f

The signature is the hex HMAC-SHA256, keyed with the shared secret, of the timestamp,
a dot, and the raw request body: ``f"{timestamp}.".encode() + body``. (The example is
secret ``s3cret`` and body ``{"kind":"alert"}``.) A receiver:

1. reads the raw body bytes, before any JSON parsing;
2. rejects the request when the timestamp is more than 5 minutes from its own clock
   (a captured request cannot be replayed later);
3. computes ``hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()``;
4. compares it in constant time with each ``v1=`` value of the signature header
   (there may be several, comma-separated, while a secret is being rotated);
5. drops repeats of one alert by the ``X-Newsstream-Alert-Id`` header.

In Python that is ``verify(body, request.headers, secret, now=time.time())``.
Each retry is signed afresh with a new timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Newsstream-Timestamp"
SIGNATURE_HEADER = "X-Newsstream-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(body: bytes, secret: str, *, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}." + body``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_headers(body: bytes, secret: str, *, timestamp: int) -> dict[str, str]:
    """The two headers to send with ``body``; ``timestamp`` is Unix seconds."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SCHEME}={signature(body, secret, timestamp=timestamp)}",
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when ``body`` was signed with ``secret`` within ``tolerance_seconds`` of ``now``.

    Header names are matched case-insensitively, as HTTP requires.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "").strip()
    if not raw_timestamp.isdigit() or not secret:
        return False
    timestamp = int(raw_timestamp)
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(body, secret, timestamp=timestamp)
    offered = [
        part.strip().removeprefix(f"{SCHEME}=")
        for part in lowered.get(SIGNATURE_HEADER.lower(), "").split(",")
        if part.strip().startswith(f"{SCHEME}=")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
