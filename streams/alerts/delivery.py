"""HTTP delivery of one alert payload, with retries that respect the receiver.

Retry on 5xx, 429 (honouring Retry-After), timeouts and connection errors, with
exponential backoff and full jitter; never on other 4xx, which a resend cannot fix.
The httpx client is passed in, so tests use a real receiver on loopback and ops can
tune pools and proxies in one place.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from streams.errors import ConfigError, DeliveryError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ConfigError(
                "retry policy needs max_attempts >= 1 and 0 <= base_delay <= max_delay"
            )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter delay before attempt ``attempt + 1`` (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)


QUICK = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivered: bool
    attempts: int
    status_code: int | None
    last_error: str | None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def check_response(response: httpx.Response) -> None:
    """Raise DeliveryError for a response that is not a success, saying whether to retry."""
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = f"receiver answered {code} {response.reason_phrase}: {response.text[:200]}"
    if code == 429:
        raise DeliveryError(
            detail, retryable=True, retry_after=_retry_after(response), status_code=code
        )
    raise DeliveryError(detail, retryable=code >= 500, status_code=code)


async def post_once(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str]
) -> httpx.Response:
    try:
        response = await client.post(url, content=body, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timed out posting to {url}: {exc!r}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"could not connect to {url}: {exc!r}", retryable=True) from exc
    check_response(response)
    return response


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    headers_for_attempt: Callable[[int], Mapping[str, str]] | None = None,
) -> DeliveryResult:
    """POST ``body`` until it is accepted or the retry budget is spent."""
    rng = rng or random.Random()
    last_error: str | None = None
    status: int | None = None
    for attempt in range(1, policy.max_attempts + 1):
        attempt_headers = dict(headers)
        if headers_for_attempt is not None:
            # Signatures carry a timestamp: sign each attempt afresh.
            attempt_headers.update(headers_for_attempt(attempt))
        try:
            response = await post_once(client, url, body, attempt_headers)
            return DeliveryResult(True, attempt, response.status_code, None)
        except DeliveryError as exc:
            last_error = str(exc)
            status = exc.status_code
            if not exc.retryable or attempt == policy.max_attempts:
                return DeliveryResult(False, attempt, status, last_error)
            delay = policy.backoff(attempt, rng)
            if exc.retry_after is not None:
                delay = min(max(delay, exc.retry_after), policy.max_delay)
            await sleep(delay)
    return DeliveryResult(False, policy.max_attempts, status, last_error)
