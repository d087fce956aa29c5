"""The secured test servers of secure_servers.py answer as a secured cluster should.

Kafka: SASL_SSL + SCRAM-SHA-512 with a PEM key store; Elasticsearch: HTTPS with a
generated CA and the ``elastic`` user's password. Right credentials and CA work; a wrong
password or an unrelated CA fail, each with the error a client sees.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from elastic_transport import TlsError
from elasticsearch import AuthenticationException, Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError

from streams.devtools import localrun
from streams.kafka.connection import KafkaConnection, diagnose
from streams.settings import Secret, Settings

from .conftest import SAMPLES, SEED_ID, free_port, get_docs, produce_file, start_worker, wait_until
from .secure_servers import (
    Certificates,
    SecureElasticsearch,
    SecureKafka,
    secure_certificates,
    secure_elasticsearch,
    secure_kafka,
)

pytestmark = pytest.mark.integration

# The imported fixtures are used by name (as test parameters); listing them here tells
# linters so (a `noqa: F401` would trade the warning for F811 on every parameter).
__all__ = ["secure_certificates", "secure_elasticsearch", "secure_kafka"]

# A client that cannot get in fails fast instead of after kafka-python's 30 s default.
FAIL_FAST = {"bootstrap_timeout_ms": 4000, "request_timeout_ms": 4000}


def kafka_failure_log(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kafka"))


def test_kafka_lists_topics_over_sasl_ssl(secure_kafka: SecureKafka) -> None:
    admin = KafkaAdminClient(**secure_kafka.client_options())
    try:
        topic = f"secure-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in admin.list_topics()
    finally:
        admin.close()
    producer = KafkaProducer(**secure_kafka.client_options())
    producer.send(topic, b"over SASL_SSL").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        **secure_kafka.client_options(
            auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=20_000
        ),
    )
    try:
        assert next(consumer).value == b"over SASL_SSL"
    finally:
        consumer.close()


def test_kafka_refuses_a_wrong_password(
    secure_kafka: SecureKafka, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kafka")
    # kafka-python 3 keeps retrying the bootstrap and then gives up with a timeout; the
    # broker's answer is in its log records.
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**secure_kafka.client_options(sasl_plain_password="wrong", **FAIL_FAST))
    # The broker answers a failed SCRAM exchange and closes the connection (after its
    # connection.failed.authentication.delay.ms); which of the two the client reads first
    # is a race, so either is the refusal. (A TLS failure would say CERTIFICATE_VERIFY.)
    log = kafka_failure_log(caplog)
    assert (
        "SaslAuthenticationFailedError: Authentication failed during authentication due to "
        "invalid credentials with SASL mechanism SCRAM-SHA-512"
    ) in log or "socket disconnected" in log
    assert "CERTIFICATE_VERIFY_FAILED" not in log


def test_kafka_certificate_is_not_trusted_with_an_unrelated_ca(
    secure_kafka: SecureKafka,
    secure_certificates: Certificates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kafka")
    options = secure_kafka.client_options(
        ssl_cafile=str(secure_certificates.unrelated_ca_file), **FAIL_FAST
    )
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**options)
    assert "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed" in kafka_failure_log(caplog)


def test_diagnose_tells_an_untrusted_certificate_from_refused_credentials(
    secure_kafka: SecureKafka, secure_certificates: Certificates
) -> None:
    settings = Settings(**secure_kafka.settings_overrides())
    untrusted = KafkaConnection.from_settings(
        settings.replace(kafka_ssl_cafile=str(secure_certificates.unrelated_ca_file))
    )
    assert "certificate" in diagnose(untrusted)
    assert "NEWSSTREAM_KAFKA_SSL_CAFILE" in diagnose(untrusted)
    refused = KafkaConnection.from_settings(settings)  # the TLS handshake itself succeeds
    assert "did not accept user" in diagnose(refused)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_elasticsearch_health_over_https(
    secure_elasticsearch: SecureElasticsearch, host: str
) -> None:
    url = secure_elasticsearch.url.replace("127.0.0.1", host)
    with Elasticsearch(**secure_elasticsearch.client_options(hosts=[url])) as es:
        assert es.cluster.health()["status"] in ("green", "yellow")
        assert es.security.authenticate()["username"] == "elastic"


def no_retries(server: SecureElasticsearch, **overrides: Any) -> Elasticsearch:
    return Elasticsearch(**server.client_options(max_retries=0, **overrides))


def test_elasticsearch_certificate_is_not_trusted_with_an_unrelated_ca(
    secure_elasticsearch: SecureElasticsearch, secure_certificates: Certificates
) -> None:
    es = no_retries(secure_elasticsearch, ca_certs=str(secure_certificates.unrelated_ca_file))
    with es, pytest.raises(TlsError) as untrusted:
        es.cluster.health()
    # str(TlsError) is just "TLS error" here (no .errors): the reason is in .message.
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value.message)


def test_elasticsearch_refuses_a_wrong_password(
    secure_elasticsearch: SecureElasticsearch,
) -> None:
    es = no_retries(secure_elasticsearch, basic_auth=("elastic", "wrong"))
    with es, pytest.raises(AuthenticationException) as refused:
        es.cluster.health()
    assert refused.value.meta.status == 401


# --- newsstream itself against the secured servers ---------------------------------------


def secure_settings(
    tmp_path: Path, kafka: SecureKafka, es: SecureElasticsearch, **overrides: Any
) -> Settings:
    fields = {**kafka.settings_overrides(), **es.settings_overrides(), **overrides}
    return Settings.from_env().isolated(
        f"secure-{uuid.uuid4().hex[:8]}",
        worker_data_dir=tmp_path / "worker",
        worker_web_port=free_port(),
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
        **fields,
    )


def newsstream(
    settings: Settings, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_pipeline_runs_against_secured_kafka_and_elasticsearch(
    tmp_path: Path, secure_kafka: SecureKafka, secure_elasticsearch: SecureElasticsearch
) -> None:
    settings = secure_settings(tmp_path, secure_kafka, secure_elasticsearch)
    setup = newsstream(settings, "setup")
    assert setup.returncode == 0, setup.stderr
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        produce_file(settings, SAMPLES / "seed_article.jsonl")
        es = Elasticsearch(**secure_elasticsearch.client_options())
        docs = wait_until(
            lambda: get_docs(es, settings.articles_alias, [SEED_ID]),
            timeout=120,
            what="the seed article in the secured Elasticsearch",
        )
        assert "sanctions" in {t["label"] for t in docs[SEED_ID]["topics"]}
        readyz = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
        wait_until(  # the readiness probes use the same TLS and SCRAM settings
            lambda: httpx.get(readyz, timeout=5).status_code == 200,
            timeout=60,
            what="the worker to be ready against the secured servers",
        )
    finally:
        localrun.stop(worker)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"kafka_sasl_password": Secret("wrong")}, "NEWSSTREAM_KAFKA_SASL_PASSWORD"),
        ("unrelated-kafka-ca", "NEWSSTREAM_KAFKA_SSL_CAFILE"),
        ("unrelated-es-ca", "NEWSSTREAM_ES_CA_CERTS"),
        ({"es_password": Secret("wrong")}, "NEWSSTREAM_ES_PASSWORD"),
    ],
)
def test_a_wrong_password_or_certificate_stops_the_worker_with_one_line_naming_it(
    tmp_path: Path,
    secure_kafka: SecureKafka,
    secure_elasticsearch: SecureElasticsearch,
    secure_certificates: Certificates,
    change: dict[str, Any] | str,
    setting: str,
) -> None:
    unrelated = str(secure_certificates.unrelated_ca_file)
    overrides = (
        {
            "unrelated-kafka-ca": {"kafka_ssl_cafile": unrelated},
            "unrelated-es-ca": {"es_ca_certs": unrelated},
        }.get(change, change)
        if isinstance(change, str)
        else change
    )
    settings = secure_settings(tmp_path, secure_kafka, secure_elasticsearch, **overrides)
    result = newsstream(settings, "worker")  # set-up runs first: it fails, the worker stops
    line = last_line(result)
    assert result.returncode == 1
    assert line.startswith("newsstream: ") and setting in line
