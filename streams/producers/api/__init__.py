"""``newsstream api``: HTTP push of articles onto ``articles.raw``.

Unlike ``newsstream produce``, which forwards every line and lets the worker dead-letter
the bad ones, the API answers the sender: a request is all or nothing, refused with 422
(each bad line and why) when any article fails the codec's gate, and accepted with 202
once Kafka acknowledged every record. ``intake`` judges a request (pure), ``gateway``
talks to Kafka, ``app`` wires them into aiohttp, ``openapi`` describes the result.
"""

from streams.producers.api.app import ApiMetrics, create_api, run_api
from streams.producers.api.gateway import KafkaGateway, Publisher
from streams.producers.api.intake import (
    Articles,
    LineError,
    Record,
    bearer_token,
    parse_tokens,
    read_articles,
    token_accepted,
)
from streams.producers.api.openapi import openapi_document, raw_article_schema

__all__ = [
    "ApiMetrics",
    "Articles",
    "KafkaGateway",
    "LineError",
    "Publisher",
    "Record",
    "bearer_token",
    "create_api",
    "openapi_document",
    "parse_tokens",
    "raw_article_schema",
    "read_articles",
    "run_api",
    "token_accepted",
]
