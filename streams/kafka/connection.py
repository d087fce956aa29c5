"""How every Kafka client connects: one set of security settings for all of them.

The Faust worker (aiokafka underneath), the CLI's kafka-python producers, consumers and
admin, and the worker's readiness probe all take their options from ``KafkaConnection``,
so a cluster that needs TLS and SCRAM (Strimzi) is configured once. One
``ssl.SSLContext`` carries the CA, the client certificate (mTLS) and hostname
verification for every client.

When a connection fails, ``diagnose`` finds out why in terms of the settings: the TLS
handshake is tried on its own, so an untrusted certificate is told apart from refused
credentials, and the operator reads which variable to fix.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streams.settings import Settings

if TYPE_CHECKING:  # faust is the worker's: `newsstream produce` and `setup` do not load it
    from faust.types.auth import CredentialsT

_HANDSHAKE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    bootstrap: str
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = ""
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""
    check_hostname: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConnection:
        return cls(
            bootstrap=settings.kafka_bootstrap,
            protocol=settings.kafka_security_protocol,
            mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=str(settings.kafka_sasl_password),
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            check_hostname=settings.kafka_ssl_check_hostname,
        )

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.cafile or None)
        context.check_hostname = self.check_hostname
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer, KafkaAdminClient."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's clients (the readiness probe's admin client)."""
        # Both libraries spell these options the same way.
        return self.kafka_python()

    def faust_credentials(self) -> CredentialsT | None:
        """``broker_credentials`` for the Faust app; None for PLAINTEXT."""
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                ssl_context=self.ssl_context(),
                mechanism=self.mechanism,
            )
        if self.uses_tls:
            context = self.ssl_context()
            assert context is not None
            return faust.SSLCredentials(context)
        return None


def diagnose(connection: KafkaConnection) -> str:
    """What to fix when no broker answered, as far as a TLS handshake can tell."""
    if not connection.uses_tls:
        return (
            f"no Kafka broker answered at {connection.bootstrap}; start it (`make up`) or set "
            "NEWSSTREAM_KAFKA_BOOTSTRAP (and NEWSSTREAM_KAFKA_SECURITY_PROTOCOL if the "
            "listener uses TLS or SASL)"
        )
    host, _, port = connection.bootstrap.split(",")[0].rpartition(":")
    try:
        context = connection.ssl_context()
        assert context is not None
        with (
            socket.create_connection((host, int(port)), timeout=_HANDSHAKE_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            pass
    except ssl.SSLCertVerificationError as exc:
        return (
            f"the Kafka broker's certificate at {connection.bootstrap} is not trusted "
            f"({exc.verify_message}): set NEWSSTREAM_KAFKA_SSL_CAFILE to the cluster's CA "
            "(Strimzi: the ca.crt of the secret <cluster>-cluster-ca-cert)"
        )
    except (OSError, ValueError) as exc:
        return (
            f"no TLS connection to Kafka at {connection.bootstrap} ({exc}): check "
            "NEWSSTREAM_KAFKA_BOOTSTRAP and NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"
        )
    if connection.uses_sasl:
        return (
            f"Kafka at {connection.bootstrap} did not accept user {connection.username!r} "
            f"({connection.mechanism}): check NEWSSTREAM_KAFKA_SASL_USERNAME, "
            "NEWSSTREAM_KAFKA_SASL_PASSWORD and NEWSSTREAM_KAFKA_SASL_MECHANISM"
        )
    return (
        f"Kafka at {connection.bootstrap} refused the TLS client: check "
        "NEWSSTREAM_KAFKA_SSL_CERTFILE and NEWSSTREAM_KAFKA_SSL_KEYFILE"
    )
