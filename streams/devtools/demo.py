"""`make demo`: the samples through the whole pipeline, and what came out.

Starts (or reuses) a webhook receiver and a worker in the background, publishes the
committed samples, waits until they are indexed and shows articles, alerts and dead
letters. The stack, worker and receiver keep running; `make down` stops them all.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer

from streams.clock import utc_now
from streams.devtools import localrun
from streams.devtools.feedserver import fixture_article_ids, start_fixture_feeds
from streams.elastic import make_client
from streams.kafka import KafkaConnection
from streams.producers import to_record
from streams.settings import Settings
from streams.setup import setup_everything

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
RUN = ROOT / ".stack" / "run"
RECEIVER_PORT = 8787
FEED_PORT = 8788
SAMPLE_FILES = ("seed_article.jsonl", "articles.jsonl", "malformed.jsonl")


def main() -> int:
    settings = Settings.from_env()
    if not settings.webhook_url:
        settings = settings.replace(webhook_url=f"http://127.0.0.1:{RECEIVER_PORT}/hook")
    env = {**os.environ, **settings.as_env()}
    for line in setup_everything(settings):
        print(line)
    RUN.mkdir(parents=True, exist_ok=True)
    start_background(
        "receiver", ["receiver", "--port", str(RECEIVER_PORT)], env, ready=b"listening"
    )
    start_background("worker", ["worker"], env, ready=b"Ready")
    started = utc_now()
    for name in SAMPLE_FILES:
        subprocess.run(
            [sys.executable, "-m", "streams.cli", "produce", str(SAMPLES / name)],
            env=env,
            check=True,
        )
    feed_ids = poll_fixture_feeds(env)
    es = make_client(settings)
    docs = wait_for_docs(es, settings, valid_ids(), since=started, what="sample articles")
    # An earlier demo already published the feed items (the poller remembers them): wait
    # for them to be there, not for them to be new.
    docs |= wait_for_docs(es, settings, feed_ids, since="", what="feed items")
    time.sleep(3)  # alerts are delivered just after indexing
    print_articles(docs, fired_alerts(es, settings, list(docs)))
    print_dead_letters(settings)
    print_receiver_log()
    print_next_steps(settings)
    return 0


def poll_fixture_feeds(env: dict[str, str]) -> list[str]:
    """Serve the committed feed fixtures on loopback and poll them once."""
    feeds_file = RUN / "feeds.yaml"
    server = start_fixture_feeds(feeds_file, port=FEED_PORT)  # fixed: an item's id has it
    try:
        subprocess.run(
            [sys.executable, "-m", "streams.cli", "poll", "--once", "--feeds", str(feeds_file)],
            env=env,
            check=True,
        )
        return fixture_article_ids(server)
    finally:
        server.stop()


def start_background(name: str, args: list[str], env: dict[str, str], *, ready: bytes) -> None:
    pidfile, log = RUN / f"{name}.pid", RUN / f"{name}.log"
    if pidfile.exists() and _alive(int(pidfile.read_text())):
        print(f"{name} already running (pid {pidfile.read_text().strip()}, log {log})")
        return
    process = localrun.start(args, env=env, log=log, ready=ready)
    pidfile.write_text(str(process.pid))
    print(f"{name} started (pid {process.pid}, log {log})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def valid_ids() -> list[str]:
    ids = []
    for name in SAMPLE_FILES:
        for line in (SAMPLES / name).read_bytes().splitlines():
            if line.strip() and (record := to_record(line.strip())).error is None:
                ids.append(record.key.decode())
    return list(dict.fromkeys(ids))


def wait_for_docs(
    es: Elasticsearch, settings: Settings, ids: list[str], *, since: str, what: str
) -> dict[str, Any]:
    """The documents of ``ids`` once each was (re-)indexed by this run."""
    deadline = time.monotonic() + 300
    while True:
        es.indices.refresh(index=settings.articles_alias)
        found = es.mget(index=settings.articles_alias, ids=ids)["docs"]
        docs = {
            d["_id"]: d["_source"]
            for d in found
            if d.get("found") and d["_source"]["ingested_at"] >= since
        }
        if len(docs) == len(ids):
            print(f"\nall {len(ids)} {what} are indexed in {settings.articles_alias}\n")
            return docs
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {len(docs)} of {len(ids)} {what} indexed after 300s; "
                f"see {RUN / 'worker.log'}"
            )
        time.sleep(1)


def fired_alerts(es: Elasticsearch, settings: Settings, ids: list[str]) -> dict[str, list[str]]:
    es.indices.refresh(index=settings.alerts_index)
    hits = es.search(index=settings.alerts_index, query={"terms": {"article_id": ids}}, size=500)[
        "hits"
    ]["hits"]
    fired: dict[str, list[str]] = {}
    for hit in hits:
        record = hit["_source"]
        fired.setdefault(record["article_id"], []).append(
            f"{record['rule_id']}({record['status']})"
        )
    return fired


def print_articles(docs: dict[str, Any], fired: dict[str, list[str]]) -> None:
    print(f"{'title':<48} {'lang':<4} {'top entities':<42} {'topics':<28} alerts")
    print("-" * 150)
    for doc_id, doc in docs.items():
        entities = sorted(doc["entities"], key=lambda e: -e["count"])
        top = ", ".join(e["name"] for e in entities if e["label"] in {"PERSON", "ORG", "GPE"})[:42]
        topics = ", ".join(t["label"] for t in doc["topics"][:3])[:28]
        dup = " [duplicate]" if doc.get("duplicate_of") else ""
        print(
            f"{(doc['title'] or '')[:47]:<48} {doc['language'] or '?':<4} {top:<42} "
            f"{topics:<28} {', '.join(fired.get(doc_id, [])) or '-'}{dup}"
        )


def print_dead_letters(settings: Settings) -> None:
    consumer = KafkaConsumer(
        settings.topic_dlq,
        **KafkaConnection.from_settings(settings).kafka_python(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=2000,
    )
    letters = [orjson.loads(r.value) for r in consumer]
    consumer.close()
    print(f"\n{settings.topic_dlq}: {len(letters)} dead letters; the latest:")
    for letter in letters[-3:]:
        original = base64.b64decode(letter["original"])[:40]
        print(
            f"  {letter['source_topic']}[{letter['source_partition']}]@{letter['source_offset']}"
            f" {letter['stage']}: {letter['reason']}  <- {original!r}"
        )


def print_receiver_log() -> None:
    lines = [ln for ln in (RUN / "receiver.log").read_text().splitlines() if "received" in ln]
    print(f"\nwebhook receiver got {len(lines)} alerts so far; the latest:")
    for line in lines[-8:]:
        print(f"  {line}")


def print_next_steps(settings: Settings) -> None:
    print(f"""
Search it:
  curl -s '{settings.es_url}/{settings.articles_alias}/_search?pretty' \\
    -H 'Content-Type: application/json' -d '{{"query": {{"query_string": {{"query":
    "topics.label:sanctions AND entities.name:\\"Xi Jinping\\""}}}}}}'
  curl -s '{settings.es_url}/{settings.alerts_index}/_search?pretty'
The worker's status page: http://127.0.0.1:{settings.worker_web_port}/  (metrics: /metrics)
The stack, worker ({RUN / "worker.log"}) and receiver keep running. Stop everything with: make down
""")


if __name__ == "__main__":
    sys.exit(main())
