"""HTTP delivery of one alert payload, with retries that respect the receiver.

Retry on 5xx, 429 (honouring Retry-After), timeouts and connection errors, with the
project's one retry policy (exponential backoff, here with full jitter and a budget);
never on other 4xx, which a resend cannot fix.
The httpx client is passed in, so tests use a real receiver on loopback and ops can
tune pools and proxies in one place.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from streams.errors import DeliveryError
from streams.retry import RetryPolicy, retry


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
    attempts = 0

    async def attempt() -> httpx.Response:
        nonlocal attempts
        attempts += 1
        attempt_headers = dict(headers)
        if headers_for_attempt is not None:
            # Signatures carry a timestamp: sign each attempt afresh.
            attempt_headers.update(headers_for_attempt(attempts))
        return await post_once(client, url, body, attempt_headers)

    try:
        response = await retry(
            attempt, policy=policy, wait_hint=_wait_hint, what=f"POST {url}", sleep=sleep, rng=rng
        )
    except DeliveryError as exc:
        return DeliveryResult(False, attempts, exc.status_code, str(exc))
    return DeliveryResult(True, attempts, response.status_code, None)


def _wait_hint(exc: Exception) -> float | None:
    if isinstance(exc, DeliveryError) and exc.retryable:
        return exc.retry_after or 0.0
    return None
