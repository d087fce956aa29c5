"""Elasticsearch clients built from settings (the one place that knows about auth)."""

from __future__ import annotations

from typing import Any

from elastic_transport import TlsError
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from streams.errors import RecordRejected, SinkBackpressure
from streams.settings import Settings


def _client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hosts": [settings.es_url],
        "request_timeout": settings.es_timeout,
        # Retries of a bulk request are ours (see streams.elastic.bulk): the client must not
        # resend a half-applied bulk on its own.
        "max_retries": 0,
        "retry_on_timeout": False,
    }
    if settings.es_api_key:
        options["api_key"] = str(settings.es_api_key)
    elif settings.es_username:
        options["basic_auth"] = (settings.es_username, str(settings.es_password))
    if settings.es_url.startswith("https:"):
        options["verify_certs"] = settings.es_verify_certs
        if settings.es_ca_certs:
            options["ca_certs"] = settings.es_ca_certs
        if settings.es_ssl_fingerprint:
            options["ssl_assert_fingerprint"] = settings.es_ssl_fingerprint
        if settings.es_client_cert:
            options["client_cert"] = settings.es_client_cert
            options["client_key"] = settings.es_client_key
    return options


def unreachable_reason(exc: BaseException | None, settings: Settings) -> str:
    """What to fix when Elasticsearch could not be used at all, named by its setting."""
    if isinstance(exc, TlsError):
        return (
            f"TLS verification of Elasticsearch at {settings.es_url} failed ({exc}): set "
            "NEWSSTREAM_ES_CA_CERTS to the cluster's CA (ECK: the ca.crt of the secret "
            "<name>-es-http-certs-public) or NEWSSTREAM_ES_SSL_FINGERPRINT"
        )
    if status_of(exc) in _AUTH_STATUS:
        return (
            f"Elasticsearch at {settings.es_url} refused our credentials ({status_of(exc)}): "
            "check NEWSSTREAM_ES_API_KEY or NEWSSTREAM_ES_USERNAME / NEWSSTREAM_ES_PASSWORD"
        )
    return (
        f"cannot reach Elasticsearch at {settings.es_url} ({exc}); is it running? "
        "Try `make up` or check NEWSSTREAM_ES_URL"
    )


def make_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(**_client_options(settings))


def make_async_client(settings: Settings) -> AsyncElasticsearch:
    return AsyncElasticsearch(**_client_options(settings))


# Answers that mean "not now" rather than "never": wait and retry, dead-letter nothing.
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Credentials refused: no record is at fault, and an operator can fix it without losing any.
_AUTH_STATUS = frozenset({401, 403})


def status_of(exc: BaseException | None) -> int | None:
    return exc.meta.status if isinstance(exc, ApiError) else None


def as_sink_error(exc: Exception, what: str) -> SinkBackpressure | RecordRejected:
    """Classify an Elasticsearch client error about one record.

    Unreachable, busy or refusing our credentials: SinkBackpressure (wait, retry, commit
    nothing). Anything else is Elasticsearch refusing this record (an id or a document it
    cannot take): RecordRejected, which dead-letters the record and spares its batch.
    """
    status = status_of(exc)
    if isinstance(exc, EsConnectionError | EsConnectionTimeout):
        return SinkBackpressure(f"{what}: Elasticsearch unreachable: {exc}", retry_after=2.0)
    if status in RETRYABLE_STATUS:
        return SinkBackpressure(f"{what}: Elasticsearch answered {status}: {exc}")
    if status in _AUTH_STATUS:
        return SinkBackpressure(
            f"{what}: Elasticsearch refused our credentials ({status}); check "
            "NEWSSTREAM_ES_API_KEY or NEWSSTREAM_ES_USERNAME / NEWSSTREAM_ES_PASSWORD",
            retry_after=10.0,
        )
    return RecordRejected(f"{what}: Elasticsearch refused it: {exc}")
