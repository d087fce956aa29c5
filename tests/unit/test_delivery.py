"""Webhook delivery against a real HTTP receiver on loopback (no mocks)."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import httpx
import pytest

from streams.alerts import deliver
from streams.devtools import WebhookReceiver
from streams.retry import RetryPolicy

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, jitter=True)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def post(url: str, policy: RetryPolicy = FAST) -> object:
    async def run() -> object:
        async with httpx.AsyncClient(timeout=2) as client:
            return await deliver(
                client,
                url,
                b'{"a":1}',
                {"Content-Type": "application/json"},
                policy=policy,
                rng=random.Random(1),
            )

    return asyncio.run(run())


def test_delivered_on_first_attempt(receiver: WebhookReceiver) -> None:
    result = post(receiver.url)
    assert (result.delivered, result.attempts, result.status_code) == (True, 1, 200)  # type: ignore[attr-defined]
    assert [r.body for r in receiver.received] == [b'{"a":1}']


def test_three_server_errors_then_success_is_one_delivery(receiver: WebhookReceiver) -> None:
    receiver.fail_first = 3
    result = post(receiver.url)
    assert result.delivered and result.attempts == 4  # type: ignore[attr-defined]
    assert len(receiver.received) == 1


def test_budget_spent_reports_the_last_error(receiver: WebhookReceiver) -> None:
    receiver.fail_first = 10
    result = post(receiver.url)
    assert not result.delivered and result.attempts == 4  # type: ignore[attr-defined]
    assert result.status_code == 500 and "500" in (result.last_error or "")  # type: ignore[attr-defined]
    assert receiver.received == []


def test_connection_refused_is_retried_then_failed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result = post(
        f"http://127.0.0.1:{port}/hook",
        RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, jitter=True),
    )
    assert not result.delivered and result.attempts == 2  # type: ignore[attr-defined]
    assert "could not connect" in (result.last_error or "")  # type: ignore[attr-defined]


def test_client_errors_are_not_retried() -> None:
    async def run() -> object:
        transport = httpx.MockTransport(lambda request: httpx.Response(404, text="no such hook"))
        async with httpx.AsyncClient(transport=transport) as client:
            return await deliver(client, "http://receiver/hook", b"{}", {}, policy=FAST)

    result = asyncio.run(run())
    assert not result.delivered and result.attempts == 1 and result.status_code == 404  # type: ignore[attr-defined]


def test_429_honours_retry_after() -> None:
    slept: list[float] = []
    answers = iter([httpx.Response(429, headers={"Retry-After": "0.04"}), httpx.Response(200)])

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run() -> object:
        transport = httpx.MockTransport(lambda request: next(answers))
        async with httpx.AsyncClient(transport=transport) as client:
            return await deliver(
                client,
                "http://receiver/hook",
                b"{}",
                {},
                policy=FAST,
                rng=random.Random(0),
                sleep=sleep,
            )

    result = asyncio.run(run())
    assert result.delivered and result.attempts == 2  # type: ignore[attr-defined]
    assert slept == [0.04]
