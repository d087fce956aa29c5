"""The Helm chart's Kafka ACLs and Elasticsearch roles are enough for each component, and
tight: proved on a Kafka and an Elasticsearch of this module's own, with security on.

- Kafka: SASL_SSL + SCRAM, ACLs enforced (KRaft's StandardAuthorizer; no ACL, no access);
  one SCRAM user per KafkaUser the chart renders, with exactly that KafkaUser's
  ``spec.authorization.acls``, applied as the admin through kafka-python's ``create_acls``.
- Elasticsearch: HTTPS, the chart's ``roles.yml`` (the es-roles Secret) as the node's file
  roles, and the chart's file-realm users (username, password, role from its Secrets).

Which user a component runs as is read from the rendered workloads' environment, so the
test proves the chart as shipped: its ACLs, its roles and its wiring. Then each component
runs with only its own credentials: `newsstream setup`, the worker without set-up rights
(ready, indexing, alerting), `newsstream poll --once`, `newsstream indices rollover`; and
a few things each must not be able to do are refused.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import secrets
import shutil
import subprocess
import sys
from base64 import b64decode
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from elasticsearch import AuthorizationException, Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    NewTopic,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import TopicAuthorizationFailedError

from streams.devtools import FeedServer, WebhookReceiver, localrun
from streams.kafka.topics import pipeline_topics
from streams.settings import Settings

from .conftest import ROOT, SAMPLES, SEED_ID, free_port, produce_file, start_worker, wait_until
from .secure_servers import (
    FileRealm,
    FileRealmUser,
    SecureElasticsearch,
    SecureKafka,
    generate_certificates,
    start_secure_elasticsearch,
    start_secure_kafka,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHART = ROOT / "deploy" / "helm" / "newsstream"
VALUES = CHART / "ci" / "in-cluster-values.yaml"
FEEDS = ("rss2.xml", "atom.xml", "rss1.xml", "latin1.xml")
COMMAND_TIMEOUT = 120
# The name Kafka gives the one cluster resource (Strimzi's `type: cluster` has none).
KAFKA_CLUSTER_RESOURCE = "kafka-cluster"


# --------------------------------------------------------------------------- the chart


def render_chart() -> list[dict[str, Any]]:
    helm = Path(sys.prefix) / "bin" / "helm"
    binary = str(helm) if helm.exists() else shutil.which("helm")
    if binary is None:
        pytest.fail("no helm binary: run `bash deploy/helm/tools.sh` (make test does)")
    done = subprocess.run(
        [binary, "template", "t", str(CHART), "-f", str(VALUES)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"helm template failed: {done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ComponentUsers:
    kafka: str | None
    es: str | None


def component_users(docs: Sequence[Mapping[str, Any]]) -> dict[str, ComponentUsers]:
    """Which Kafka and Elasticsearch user each workload of the chart runs as."""
    users = {}
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job", "CronJob"):
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        env = {
            item["name"]: item.get("value")
            for container in pod_spec(doc)["containers"]
            for item in container.get("env", [])
        }
        users[component] = ComponentUsers(
            kafka=env.get("NEWSSTREAM_KAFKA_SASL_USERNAME"), es=env.get("NEWSSTREAM_ES_USERNAME")
        )
    return users


def kafka_user_acls(docs: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """KafkaUser name (its SCRAM principal) -> its Strimzi ACL rules."""
    return {
        doc["metadata"]["name"]: doc["spec"]["authorization"]["acls"]
        for doc in docs
        if doc["kind"] == "KafkaUser"
    }


def es_file_realm(docs: Sequence[Mapping[str, Any]]) -> FileRealm:
    """The chart's roles.yml and its file-realm users (ECK's basic-auth Secrets)."""
    roles = next(
        doc["stringData"]["roles.yml"]
        for doc in docs
        if doc["kind"] == "Secret" and "roles.yml" in doc.get("stringData", {})
    )

    def field(doc: Mapping[str, Any], key: str) -> str:
        return b64decode(doc["data"][key]).decode()

    users = tuple(
        FileRealmUser(field(doc, "username"), field(doc, "password"), (field(doc, "roles"),))
        for doc in docs
        if doc["kind"] == "Secret" and doc.get("type") == "kubernetes.io/basic-auth"
    )
    return FileRealm(roles_yml=roles, users=users)


# --------------------------------------------------------------------------- Strimzi -> Kafka

RESOURCE_TYPES = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "cluster": ResourceType.CLUSTER,
    "transactionalId": ResourceType.TRANSACTIONAL_ID,
}
PATTERN_TYPES = {
    "literal": ACLResourcePatternType.LITERAL,
    "prefix": ACLResourcePatternType.PREFIXED,
}
PERMISSIONS = {"allow": ACLPermissionType.ALLOW, "deny": ACLPermissionType.DENY}


def acl_operation(name: str) -> ACLOperation:
    """Strimzi's ``DescribeConfigs`` is Kafka's ``DESCRIBE_CONFIGS``."""
    return ACLOperation[re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()]


def strimzi_acls(principal: str, rules: Sequence[Mapping[str, Any]]) -> list[ACL]:
    """Kafka ACLs for what a KafkaUser's ``spec.authorization.acls`` says, as the User
    Operator creates them. A field this does not translate fails the test rather than
    being dropped: the test must prove what the chart ships."""
    acls = []
    for rule in rules:
        unknown = set(rule) - {"resource", "operations", "host", "type"}
        assert not unknown, f"ACL fields not translated: {unknown} in {rule}"
        resource = rule["resource"]
        assert set(resource) <= {"type", "name", "patternType"}, resource
        kind = RESOURCE_TYPES[resource["type"]]
        name = KAFKA_CLUSTER_RESOURCE if kind is ResourceType.CLUSTER else resource["name"]
        pattern = ResourcePattern(kind, name, PATTERN_TYPES[resource.get("patternType", "literal")])
        for operation in rule["operations"]:
            acls.append(
                ACL(
                    principal=f"User:{principal}",
                    host=rule.get("host", "*"),
                    operation=acl_operation(operation),
                    permission_type=PERMISSIONS[rule.get("type", "allow")],
                    resource_pattern=pattern,
                )
            )
    return acls


def apply_acls(kafka: SecureKafka, acls: Sequence[ACL]) -> None:
    admin = KafkaAdminClient(**kafka.client_options())
    try:
        result = admin.create_acls(list(acls))
        assert not result["failed"], f"the broker refused ACLs: {result['failed']}"
        everything = ACLFilter(
            principal=None,
            host="*",
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(
                ResourceType.ANY, None, ACLResourcePatternType.ANY
            ),
        )
        # Created through the metadata log: wait until the broker's authorizer has them.
        wait_until(
            lambda: len(admin.describe_acls(everything)[0]) >= len(acls),
            timeout=30,
            what="the ACLs in force on the broker",
        )
    finally:
        admin.close()


# --------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Servers:
    kafka: SecureKafka  # as the super user
    es: SecureElasticsearch  # as elastic
    kafka_passwords: Mapping[str, str]
    es_passwords: Mapping[str, str]
    users: Mapping[str, ComponentUsers]  # component -> its users, from the chart

    def settings(self, component: str, **changes: Any) -> Settings:
        """Settings with only ``component``'s credentials; a service it does not use is an
        address where nothing listens, so a stray connection fails."""
        users = self.users[component]
        values: dict[str, Any] = {"index_replicas": 0}  # one node: no replica to place
        if users.kafka:
            kafka = self.kafka.as_user(users.kafka, self.kafka_passwords[users.kafka])
            values.update(kafka.settings_overrides())
        else:
            values["kafka_bootstrap"] = f"127.0.0.1:{free_port()}"
        if users.es:
            es = self.es.as_user(users.es, self.es_passwords[users.es])
            values.update(es.settings_overrides())
        else:
            values["es_url"] = f"http://127.0.0.1:{free_port()}"
        return Settings(**{**values, **changes})

    def kafka_options(self, component: str, **overrides: Any) -> dict[str, Any]:
        name = self.users[component].kafka
        assert name is not None, f"the chart gives the {component} no Kafka user"
        return self.kafka.as_user(name, self.kafka_passwords[name]).client_options(**overrides)

    def es_client(self, component: str | None = None) -> Elasticsearch:
        """A client as ``component``'s user, or as the admin (None)."""
        server = self.es
        if component is not None:
            name = self.users[component].es
            assert name is not None, f"the chart gives the {component} no Elasticsearch user"
            server = self.es.as_user(name, self.es_passwords[name])
        return Elasticsearch(**server.client_options(max_retries=0))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    docs = render_chart()
    acl_rules = kafka_user_acls(docs)
    realm = es_file_realm(docs)
    users = component_users(docs)
    kafka_passwords = {name: secrets.token_hex(16) for name in acl_rules}
    certs = generate_certificates(tmp_path_factory.mktemp("least-privilege-certs"))
    # Both servers start at once: each spends most of its start-up waiting on its JVM.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        kafka_start = pool.submit(
            start_secure_kafka,
            tmp_path_factory.mktemp("least-privilege-kafka"),
            certificates=certs,
            username="newsstream-admin",
            authorize=True,
            users=kafka_passwords,
        )
        es_start = pool.submit(
            start_secure_elasticsearch,
            tmp_path_factory.mktemp("least-privilege-es"),
            certificates=certs,
            file_realm=realm,
        )
    errors = [f.exception() for f in (kafka_start, es_start) if f.exception() is not None]
    kafka = kafka_start.result() if kafka_start.exception() is None else None
    es = es_start.result() if es_start.exception() is None else None
    try:
        if errors or kafka is None or es is None:
            pytest.fail("\n".join(str(e) for e in errors), pytrace=False)
        apply_acls(
            kafka,
            [acl for name, rules in acl_rules.items() for acl in strimzi_acls(name, rules)],
        )
        yield Servers(
            kafka=kafka,
            es=es,
            kafka_passwords=kafka_passwords,
            es_passwords={user.name: user.password for user in realm.users},
            users=users,
        )
    finally:
        for server in (kafka, es):
            if server is not None:
                server.stop()


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=ROOT,
        env={**os.environ, **settings.as_env()},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def topic_names(servers: Servers) -> set[str]:
    admin = KafkaAdminClient(**servers.kafka.client_options())
    try:
        return {name for name in admin.list_topics() if not name.startswith("__")}
    finally:
        admin.close()


def read_all(servers: Servers, topic: str) -> list[Any]:
    """The records of ``topic`` so far, read as the admin without a consumer group."""
    consumer = KafkaConsumer(
        topic,
        **servers.kafka.client_options(
            group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=3000
        ),
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def set_up(servers: Servers) -> subprocess.CompletedProcess[str]:
    done = run_cli(servers.settings("setup"), "setup")
    if done.returncode != 0:
        pytest.fail(
            f"`newsstream setup` as the setup users failed:\n{done.stdout}{done.stderr[-3000:]}"
        )
    return done


# --------------------------------------------------------------------------- enough


def test_the_chart_names_a_user_for_each_component(servers: Servers) -> None:
    users = servers.users
    assert {users[c].kafka for c in ("setup", "worker", "poller", "api")} <= set(
        servers.kafka_passwords
    )
    assert {users[c].es for c in ("setup", "worker", "lifecycle")} <= set(servers.es_passwords)
    assert users["lifecycle"].kafka is None  # the lifecycle does not touch Kafka
    assert users["poller"].es is None and users["api"].es is None


def test_setup_creates_everything_with_only_the_setup_users(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    settings = servers.settings("setup")
    assert topic_names(servers) == {topic.name for topic in pipeline_topics(settings)}
    with servers.es_client() as es:
        assert es.indices.exists_alias(name=settings.articles_alias)
        assert es.indices.exists(index=[settings.alerts_index, settings.fingerprints_index])
    # Idempotent with the same rights: a second run (every upgrade's Job) finds it all.
    again = run_cli(settings, "setup")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "kafka topics: all present" in again.stdout


def test_the_worker_runs_indexes_and_alerts_with_only_the_worker_users(
    servers: Servers, set_up: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    topics_before = topic_names(servers)
    receiver = WebhookReceiver().start()
    settings = servers.settings(
        "worker",
        worker_setup=False,
        worker_data_dir=tmp_path / "worker",
        worker_web_port=free_port(),
        webhook_url=receiver.url,
        sink_batch_seconds=0.3,
        enrich_batch_seconds=0.1,
    )
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        readyz = f"http://127.0.0.1:{settings.worker_web_port}/readyz"
        wait_until(
            lambda: httpx.get(readyz, timeout=5).status_code == 200,
            timeout=90,
            what=f"the worker's /readyz 200 (log: {log})",
        )
        produce_file(servers.settings("api"), SAMPLES / "seed_article.jsonl")
        with servers.es_client() as es:

            def searchable() -> bool:
                es.indices.refresh(index=settings.articles_alias)
                found = es.search(
                    index=settings.articles_alias, query={"ids": {"values": [SEED_ID]}}
                )
                return bool(found["hits"]["hits"])

            wait_until(searchable, timeout=120, what="the seed article searchable")

            def alert_records() -> list[dict[str, Any]]:
                es.indices.refresh(index=settings.alerts_index)
                found = es.search(
                    index=settings.alerts_index, query={"term": {"article_id": SEED_ID}}
                )
                return [hit["_source"] for hit in found["hits"]["hits"]]

            records = wait_until(
                lambda: [r for r in alert_records() if r.get("status") == "sent"],
                timeout=60,
                what="a sent alert record for the seed article",
            )
        assert "sanctions-watch" in {record["rule_id"] for record in records}
        assert any(SEED_ID in hook.body.decode() for hook in receiver.received)
        # A record the worker cannot decode goes to its dead-letter topic (Write there).
        poison = tmp_path / "poison.jsonl"
        poison.write_text("this line is not JSON\n")
        produce_file(servers.settings("api"), poison)
        wait_until(
            lambda: read_all(servers, settings.topic_dlq),
            timeout=60,
            what=f"the worker's dead letter on {settings.topic_dlq}",
        )
        assert httpx.get(readyz, timeout=5).status_code == 200
    finally:
        localrun.stop(worker)
        receiver.stop()
    text = log.read_text(errors="replace")
    assert "AuthorizationFailed" not in text and "security_exception" not in text, text[-3000:]
    # Faust declared nothing: the topics are the ones set-up made.
    assert topic_names(servers) == topics_before


def test_poll_once_with_only_the_poller_user(
    servers: Servers, set_up: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    feeds = FeedServer().start()
    try:
        feeds_file = tmp_path / "feeds.yaml"
        feeds_file.write_text(
            "feeds:\n" + "".join(f"  - {{url: '{feeds.url(name)}'}}\n" for name in FEEDS)
        )
        settings = servers.settings("poller", feeds_path=str(feeds_file))
        first = run_cli(settings, "poll", "--once")
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        assert first.stdout.splitlines()[-1].endswith(", 0 failed")
        # The second run reads the state topic back: everything is known, nothing goes out.
        second = run_cli(settings, "poll", "--once")
        assert second.returncode == 0, second.stdout + second.stderr[-3000:]
        assert "published 0," in second.stdout.splitlines()[-1]
    finally:
        feeds.stop()


def test_the_lifecycle_runs_with_only_the_lifecycle_user(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    settings = servers.settings("lifecycle", articles_rollover_max_docs=1)
    with servers.es_client() as es:
        es.index(index=settings.articles_alias, id="lifecycle-probe", document={"title": "x"})
        old = "2001-01-01T00:00:00Z"
        es.index(index=settings.alerts_index, id="old-alert", document={"created_at": old})
        es.index(index=settings.fingerprints_index, id="old-fingerprint", document={"seen_at": old})
        for index in (settings.articles_alias, settings.alerts_index, settings.fingerprints_index):
            es.indices.refresh(index=index)
        done = run_cli(settings, "indices", "rollover")
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        assert f"{settings.articles_alias}: rolled over" in done.stdout
        assert f"{settings.alerts_index}: deleted 1 documents" in done.stdout
        assert f"{settings.fingerprints_index}: deleted 1 documents" in done.stdout
        assert not es.exists(index=settings.alerts_index, id="old-alert")
        assert len(es.indices.get_alias(name=settings.articles_alias)) == 2


# --------------------------------------------------------------------------- tight


def test_the_worker_cannot_create_a_topic(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    admin = KafkaAdminClient(**servers.kafka_options("worker"))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            admin.create_topics([NewTopic("worker-made", num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    assert "worker-made" not in topic_names(servers)


def test_the_api_cannot_read_raw_articles(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    raw = servers.settings("api").topic_raw
    consumer = KafkaConsumer(**servers.kafka_options("api", group_id=None))
    try:
        consumer.assign([TopicPartition(raw, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            consumer.seek_to_beginning()
            for _ in range(20):
                consumer.poll(timeout_ms=500)
    finally:
        consumer.close()


def test_the_worker_cannot_change_an_index_template(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    settings = servers.settings("worker")
    with servers.es_client("worker") as es, pytest.raises(AuthorizationException):
        es.indices.put_index_template(
            name=settings.articles_alias, index_patterns=["worker-made-*"], template={}
        )


def test_the_poller_sees_but_cannot_write_the_workers_topics(
    servers: Servers, set_up: subprocess.CompletedProcess[str]
) -> None:
    enriched = servers.settings("poller").topic_enriched
    producer = KafkaProducer(**servers.kafka_options("poller", max_block_ms=10_000))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(enriched, b"not the poller's to write").get(timeout=30)
    finally:
        producer.close()
