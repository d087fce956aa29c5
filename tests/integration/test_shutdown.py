"""SIGTERM stops a worker that is waiting out an Elasticsearch outage, within a bound, and
leaves the batch it held unacked: after a restart every article is indexed exactly once.

The outage is a TCP gate in front of the shared Elasticsearch that the test shuts: the
worker's set-up passes through it, then its connections are cut and new ones refused,
while the node itself (shared with other tests) is never touched.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch

from streams.devtools import localrun
from streams.elastic import make_client
from streams.settings import Settings
from streams.setup import remove_everything

from .conftest import (
    ARTICLE_IDS,
    SAMPLES,
    consume_all,
    isolated_settings,
    produce_file,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

# A bound on a stop, not a speed figure: the worker's own deadline is 8 s.
STOP_BOUND_SECONDS = 15.0


class Gate:
    """Forwards TCP connections to ``target`` until ``shut()``: then every connection is
    cut and new ones are refused (nothing listens on the port any more)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_shut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # shut
                return
            with self.lock:
                if self.is_shut:
                    client.close()
                    return
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def shut(self) -> None:
        with self.lock:
            self.is_shut = True
            # shutdown() first: a close() alone leaves the accept() in progress listening.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def es_address(settings: Settings) -> tuple[str, int]:
    url = urlsplit(settings.es_url)
    return url.hostname or "127.0.0.1", url.port or 9200


def test_sigterm_stops_a_worker_stuck_in_a_retry_and_nothing_is_lost_or_doubled(
    tmp_path: Path,
) -> None:
    settings = isolated_settings(tmp_path)
    gate = Gate(es_address(settings))
    stuck_log, restarted_log = tmp_path / "stuck.log", tmp_path / "restarted.log"
    stuck = start_worker(settings.replace(es_url=f"http://127.0.0.1:{gate.port}"), stuck_log)
    restarted: subprocess.Popen[bytes] | None = None
    es = make_client(settings)
    try:
        gate.shut()
        produce_file(settings, SAMPLES / "articles.jsonl")
        wait_until(
            lambda: b"records wait" in stuck_log.read_bytes(),
            timeout=90,
            what="the worker retrying a batch while Elasticsearch is unreachable",
        )
        assert versions(es, settings, ARTICLE_IDS) == {}  # the outage is real

        stuck.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = stuck.wait(timeout=STOP_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running {STOP_BOUND_SECONDS:.0f}s after SIGTERM")
        log = stuck_log.read_text(errors="replace")
        assert code == 0, (
            f"not a clean stop after {time.monotonic() - started:.1f}s:\n{log[-3000:]}"
        )
        assert "not acked, read again after the restart" in log

        restarted = start_worker(settings, restarted_log)
        indexed = wait_until(
            lambda: (
                (docs := versions(es, settings, ARTICLE_IDS))
                and len(docs) == len(ARTICLE_IDS)
                and docs
            ),
            timeout=120,
            what="every sample article indexed after the restart",
        )
        # Version 1: each document was written once (a replay would overwrite: version 2).
        assert set(indexed.values()) == {1}
        es.indices.refresh(index=settings.articles_alias)
        assert es.count(index=settings.articles_alias)["count"] == len(ARTICLE_IDS)
        assert consume_all(settings, settings.topic_dlq, expect=1, timeout=5) == []
        localrun.stop(restarted)
        assert restarted.returncode == 0
        # The clients are closed on the way out: no "Unclosed client session" error.
        assert "Unclosed" not in restarted_log.read_text(errors="replace")
        restarted = None
    finally:
        for process in (stuck, restarted):
            if process is not None:
                localrun.stop(process)
        gate.shut()
        es.close()
        remove_everything(settings)


def versions(es: Elasticsearch, settings: Settings, ids: list[str]) -> dict[str, int]:
    """Document id -> its version, for the ids Elasticsearch has (a realtime GET)."""
    found = es.mget(index=settings.articles_alias, ids=ids)["docs"]
    return {d["_id"]: d["_version"] for d in found if d.get("found")}
