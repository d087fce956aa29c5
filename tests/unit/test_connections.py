"""Connection options for every Kafka client and the Elasticsearch client, from settings."""

from __future__ import annotations

import socket
import ssl

import certifi
import faust
import pytest

from streams.elastic.client import _client_options
from streams.errors import ConfigError
from streams.kafka import KafkaConnection, diagnose
from streams.settings import Secret, Settings

SCRAM_OVER_TLS = {
    "NEWSSTREAM_KAFKA_BOOTSTRAP": "kafka-bootstrap:9093",
    "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "NEWSSTREAM_KAFKA_SASL_USERNAME": "newsstream",
    "NEWSSTREAM_KAFKA_SASL_PASSWORD": "s3cret",
    "NEWSSTREAM_KAFKA_SSL_CAFILE": certifi.where(),
}


def test_plaintext_is_the_default_and_carries_no_tls_or_sasl() -> None:
    connection = KafkaConnection.from_settings(Settings())
    assert connection.kafka_python() == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert connection.faust_credentials() is None


def test_scram_over_tls_reaches_kafka_python_and_faust_alike() -> None:
    connection = KafkaConnection.from_settings(Settings.from_env(SCRAM_OVER_TLS))
    options = connection.kafka_python()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-512",
        "newsstream",
    )
    assert options["sasl_plain_password"] == "s3cret"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    credentials = connection.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_hostname_verification_can_be_turned_off_but_is_on_by_default() -> None:
    env = {**SCRAM_OVER_TLS, "NEWSSTREAM_KAFKA_SSL_CHECK_HOSTNAME": "false"}
    context = KafkaConnection.from_settings(Settings.from_env(env)).ssl_context()
    assert context is not None and not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED  # the chain is still verified


def test_tls_without_sasl_is_ssl_credentials_for_faust() -> None:
    env = {
        "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
        "NEWSSTREAM_KAFKA_SSL_CAFILE": certifi.where(),
    }
    connection = KafkaConnection.from_settings(Settings.from_env(env))
    assert isinstance(connection.faust_credentials(), faust.SSLCredentials)
    assert "sasl_mechanism" not in connection.kafka_python()


def test_incomplete_security_settings_are_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_SASL_USERNAME"):
        Settings.from_env({"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"):
        Settings.from_env({"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "TLS"})
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_SASL_MECHANISM"):
        Settings.from_env({**SCRAM_OVER_TLS, "NEWSSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-1"})
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_SSL_KEYFILE"):
        Settings.from_env({**SCRAM_OVER_TLS, "NEWSSTREAM_KAFKA_SSL_CERTFILE": "/c.pem"})
    with pytest.raises(ConfigError, match="NEWSSTREAM_ES_CLIENT_KEY"):
        Settings.from_env({"NEWSSTREAM_ES_CLIENT_CERT": "/c.pem"})


def test_diagnosis_of_an_unreachable_tls_listener_names_the_settings() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens
    env = {**SCRAM_OVER_TLS, "NEWSSTREAM_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}
    reason = diagnose(KafkaConnection.from_settings(Settings.from_env(env)))
    assert "NEWSSTREAM_KAFKA_BOOTSTRAP" in reason and f"127.0.0.1:{port}" in reason
    plaintext = diagnose(KafkaConnection(bootstrap=f"127.0.0.1:{port}"))
    assert "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL" in plaintext


def test_elasticsearch_tls_options_only_for_https() -> None:
    plain = _client_options(Settings(es_ca_certs="/ca.pem"))
    assert "ca_certs" not in plain and "verify_certs" not in plain
    secure = _client_options(
        Settings(
            es_url="https://es:9200",
            es_ca_certs="/ca.pem",
            es_username="elastic",
            es_password=Secret("pw"),
        )
    )
    assert secure["ca_certs"] == "/ca.pem" and secure["verify_certs"] is True
    assert secure["basic_auth"] == ("elastic", "pw")
    pinned = _client_options(Settings(es_url="https://es:9200", es_ssl_fingerprint="ab:cd"))
    assert pinned["ssl_assert_fingerprint"] == "ab:cd"
