"""The push API without Kafka: request parsing, auth, error bodies, the handlers with a
fake publisher, and the gateway's time bound with a producer that never acknowledges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.errors import BrokerUnavailable
from streams.kafka import KafkaConnection
from streams.messages import parse_raw_article
from streams.producers.api import (
    KafkaGateway,
    Record,
    bearer_token,
    create_api,
    openapi_document,
    parse_tokens,
    read_articles,
    token_accepted,
)
from streams.producers.api.intake import invalid_articles, unauthorized
from streams.retry import RetryPolicy

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
GOOD = b'{"url": "https://example.com/a", "title": "A", "text": "Body.", "extra": 1}'
OTHER = b'{"title": "B", "text": "Other body."}'
TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NDJSON = {**AUTH, "Content-Type": "application/x-ndjson"}


# --- auth -------------------------------------------------------------------------------


def test_tokens_are_comma_separated_and_blank_ones_ignored() -> None:
    assert parse_tokens(" a, b ,,") == (b"a", b"b")
    assert parse_tokens("") == ()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header(
    header: str | None, token: str | None
) -> None:
    assert bearer_token(header) == token


def test_any_configured_token_is_accepted_and_no_token_accepts_nothing() -> None:
    tokens = parse_tokens("one,two")
    assert token_accepted("two", tokens)
    assert not token_accepted("tw", tokens)
    assert not token_accepted(None, tokens)
    assert not token_accepted("", parse_tokens(""))


def test_401_tells_a_missing_token_from_a_wrong_one() -> None:
    assert unauthorized(None)[1] == 'Bearer realm="newsstream"'
    body, challenge = unauthorized("x")
    assert challenge.endswith('error="invalid_token"')
    assert body["status"] == 401


# --- request bodies ---------------------------------------------------------------------


def test_an_ndjson_batch_becomes_records_keyed_by_id_in_request_order() -> None:
    articles = read_articles(GOOD + b"\n\n" + OTHER + b"\n", ndjson=True)
    assert not articles.errors
    assert [r.line for r in articles.records] == [1, 3]
    first = articles.records[0]
    assert first.key == first.id.encode() == parse_raw_article(GOOD).id.encode()
    value = orjson.loads(first.value)
    assert value["id"] == first.id and "extra" not in value  # the validated article
    assert parse_raw_article(first.value) == parse_raw_article(GOOD)  # the worker agrees


def test_one_bad_line_refuses_the_whole_batch_and_each_is_named() -> None:
    body = b"\n".join([GOOD, b'{"title": "no body"}', b"", b"[1]", OTHER, b"{oops"])
    articles = read_articles(body, ndjson=True)
    assert articles.records == []
    assert [(e.line, e.reason) for e in articles.errors][:2] == [
        (2, "article has neither 'text' nor 'html'"),
        (4, "expected a JSON object, got array"),
    ]
    assert articles.errors[2].line == 6 and "not valid JSON" in articles.errors[2].reason


def test_a_json_body_is_one_article_even_across_lines() -> None:
    pretty = orjson.dumps(orjson.loads(GOOD), option=orjson.OPT_INDENT_2)
    articles = read_articles(pretty, ndjson=False)
    assert len(articles.records) == 1 and articles.records[0].line == 1
    assert read_articles(GOOD + b"\n" + OTHER, ndjson=False).errors[0].line == 1


def test_an_empty_body_is_refused() -> None:
    assert read_articles(b"\n \n", ndjson=True).errors[0].reason == "the body holds no article"


def test_an_article_over_the_size_limit_is_a_bad_line_naming_the_setting() -> None:
    errors = read_articles(OTHER + b"\n" + GOOD, ndjson=True, max_article_bytes=50).errors
    assert [e.line for e in errors] == [2]
    assert f"article is {len(GOOD)} bytes; at most 50 are accepted" in errors[0].reason
    assert "NEWSSTREAM_MAX_ARTICLE_BYTES" in errors[0].reason


def test_the_default_size_limit_takes_a_whole_page_up_to_2_mib() -> None:
    page = "<p>" + "word " * 300_000 + "</p>"  # 1.5 MB: over Kafka's default 1 MiB
    line = orjson.dumps({"url": "https://example.com/p", "title": "P", "html": page})
    assert read_articles(line, ndjson=False).errors == []
    huge = orjson.dumps({"url": "https://example.com/p", "title": "P", "html": page * 2})
    assert "NEWSSTREAM_MAX_ARTICLE_BYTES" in read_articles(huge, ndjson=False).errors[0].reason


def test_a_422_lists_at_most_100_lines_and_counts_them_all() -> None:
    body = read_articles(b"{}\n" * 150, ndjson=True)
    problem = invalid_articles(body.errors)
    assert problem["invalid_lines"] == 150 and len(problem["errors"]) == 100
    assert problem["errors"][0] == {"line": 1, "reason": "article has neither 'text' nor 'html'"}
    assert "nothing of this request was published" in problem["detail"]


# --- the handlers, with a fake publisher ------------------------------------------------


class FakePublisher:
    def __init__(self, *, ready: bool = True, error: Exception | None = None) -> None:
        self.ready = ready
        self.error = error
        self.published: list[Record] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def publish(self, records: Sequence[Record]) -> None:
        if not self.ready:
            raise BrokerUnavailable("not connected", retry_after=5)
        if self.error:
            raise self.error
        self.published.extend(records)


def serve(
    publisher: FakePublisher, check: Callable[[TestClient[Any, Any]], Awaitable[None]], **kw: Any
) -> None:
    async def run() -> None:
        app = create_api(
            publisher=publisher,
            tokens=parse_tokens(kw.get("tokens", TOKEN)),
            max_bytes=kw.get("max_bytes", 10_000),
            max_article_bytes=kw.get("max_article_bytes", 10_000),
        )
        async with TestClient(TestServer(app)) as client:
            await check(client)

    asyncio.run(run())


def test_an_accepted_batch_answers_202_with_the_ids_in_order() -> None:
    publisher = FakePublisher()

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/articles", data=OTHER + b"\n" + GOOD, headers=NDJSON)
        assert response.status == 202
        body = await response.json()
        assert body["ids"] == [r.id for r in publisher.published] and body["accepted"] == 2
        assert body["ids"][1] == parse_raw_article(GOOD).id
        metrics = await (await client.get("/metrics")).text()
        assert 'newsstream_api_requests_total{status="202"} 1.0' in metrics
        assert "newsstream_api_articles_accepted_total 2.0" in metrics
        assert "newsstream_api_kafka_latency_seconds_count 1.0" in metrics

    serve(publisher, check)


def test_invalid_lines_answer_422_and_nothing_is_published() -> None:
    publisher = FakePublisher()

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/articles", data=GOOD + b"\n{}", headers=NDJSON)
        assert response.status == 422
        assert response.content_type == "application/problem+json"
        assert [e["line"] for e in (await response.json())["errors"]] == [2]
        assert (
            "newsstream_api_rejected_lines_total 1.0" in await (await client.get("/metrics")).text()
        )

    serve(publisher, check)
    assert publisher.published == []


def test_an_oversized_article_is_a_422_line_not_a_413() -> None:
    publisher = FakePublisher()
    big = orjson.dumps({"title": "Big", "text": "x " * 100})

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/articles", data=GOOD + b"\n" + big, headers=NDJSON)
        assert response.status == 422
        errors = (await response.json())["errors"]
        assert [e["line"] for e in errors] == [2]
        assert "at most 150 are accepted (NEWSSTREAM_MAX_ARTICLE_BYTES)" in errors[0]["reason"]

    serve(publisher, check, max_article_bytes=150)
    assert publisher.published == []


@pytest.mark.parametrize("tokens", [TOKEN, ""])
def test_no_or_a_wrong_token_answers_401(tokens: str) -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        for headers in ({}, {"Authorization": "Bearer nope"}, AUTH if not tokens else {}):
            response = await client.post(
                "/v1/articles", data=GOOD, headers={**headers, "Content-Type": "application/json"}
            )
            assert response.status == 401
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="newsstream"')

    serve(FakePublisher(), check, tokens=tokens)


def test_other_media_types_answer_415() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post(
            "/v1/articles", data=GOOD, headers={**AUTH, "Content-Type": "text/plain"}
        )
        assert response.status == 415

    serve(FakePublisher(), check)


def test_a_body_over_the_limit_answers_413_announced_or_streamed() -> None:
    publisher = FakePublisher()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield GOOD + b"\n"

    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/articles", data=(GOOD + b"\n") * 10, headers=NDJSON)
        assert response.status == 413
        response = await client.post("/v1/articles", data=chunks(), headers=NDJSON)
        assert response.status == 413
        assert (await response.json())["max_bytes"] == 300

    serve(publisher, check, max_bytes=300)
    assert publisher.published == []


@pytest.mark.parametrize(
    "publisher",
    [FakePublisher(ready=False), FakePublisher(error=BrokerUnavailable("no ack", retry_after=5))],
)
def test_kafka_trouble_answers_503_with_retry_after(publisher: FakePublisher) -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.post("/v1/articles", data=GOOD, headers=NDJSON)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert (await response.json())["retry_after"] == 5

    serve(publisher, check)


def test_readyz_follows_the_producer_and_healthz_always_answers() -> None:
    publisher = FakePublisher(ready=False)

    async def check(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/healthz")).status == 200
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["reasons"] == ["Kafka unreachable"]
        publisher.ready = True
        assert (await client.get("/readyz")).status == 200
        assert "newsstream_api_kafka_ready 1.0" in await (await client.get("/metrics")).text()

    serve(publisher, check)


def test_the_openapi_document_embeds_the_generated_article_schema() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    schema = document["components"]["schemas"]["RawArticle"]
    assert schema == orjson.loads((SCHEMAS / "raw_article.schema.json").read_bytes())
    push = document["paths"]["/v1/articles"]["post"]
    assert set(push["responses"]) == {"202", "401", "413", "415", "422", "503"}
    assert set(push["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    orjson.dumps(document)  # serialisable as it is served

    async def check(client: TestClient[Any, Any]) -> None:
        assert await (await client.get("/openapi.json")).json() == document

    serve(FakePublisher(), check)


# --- the gateway, with fake producers ---------------------------------------------------


class SilentProducer:
    """Connects, then never acknowledges a record (a broker that stopped answering)."""

    def __init__(self, *, fail_starts: int = 0) -> None:
        self.fail_starts = fail_starts
        self.starts = 0
        self.sent: list[bytes] = []

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_starts:
            raise OSError("connection refused")

    async def stop(self) -> None:
        pass

    async def partitions_for(self, topic: str) -> Any:
        return {0}

    async def send(self, topic: str, *, key: bytes, value: bytes) -> Awaitable[Any]:
        self.sent.append(key)
        return asyncio.get_running_loop().create_future()


def gateway(producer: SilentProducer) -> KafkaGateway:
    return KafkaGateway(
        connection=KafkaConnection(bootstrap="127.0.0.1:1"),
        topic="t",
        send_timeout=0.2,
        reconnect=RetryPolicy(base_delay=0.01, max_delay=0.01),
        make_producer=lambda: producer,
    )


def test_the_gateway_connects_after_failures_and_bounds_an_unanswered_send() -> None:
    producer = SilentProducer(fail_starts=2)
    records = read_articles(GOOD + b"\n" + OTHER, ndjson=True).records

    async def run() -> float:
        kafka = gateway(producer)
        await kafka.start()
        try:
            with pytest.raises(BrokerUnavailable):
                await kafka.publish(records)  # not connected yet
            while not kafka.ready:
                await asyncio.sleep(0.01)
            started = asyncio.get_running_loop().time()
            with pytest.raises(BrokerUnavailable, match=r"did not acknowledge 2 record\(s\)"):
                await kafka.publish(records)
            assert not kafka.ready  # until a probe or a publish succeeds
            return asyncio.get_running_loop().time() - started
        finally:
            await kafka.stop()

    took = asyncio.run(run())
    assert producer.starts == 3
    assert producer.sent == [r.key for r in records]
    assert took < 1.0
