"""The fault suite's own plain Elasticsearch: one node on free ports that a test may
freeze (SIGSTOP), stop and start again on the same ports and data folder.

The shared stack (`make up`, 9092/9200) must never be touched by a fault, so the suite
runs a Kafka (tests/integration/kafka_servers.py) and this node of its own. The node is
laid out like secure_servers.py's secured one (tests/integration/es_nodes.py), but with
security off: what is tested here is the pipeline under faults, not TLS.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.es_nodes import LaidOutNode, es_user, lay_out_node
from tests.integration.kafka_servers import (
    KafkaNode,
    start_process,
    stop_process,
    wait_until_up,
)

ES_START_TIMEOUT = 150.0


@dataclass
class ElasticsearchNode:
    """A plain single-node Elasticsearch; ``stop()`` then ``start()`` is a restart."""

    node: LaidOutNode = field(repr=False)
    timeout: float = ES_START_TIMEOUT
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    startup_seconds: float = 0.0

    @property
    def directory(self) -> Path:
        return self.node.directory

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node.http_port}"

    @property
    def log_file(self) -> Path:
        return self.node.log_file

    def start(self) -> float:
        """Start the node; return the seconds until the cluster was yellow or green."""
        assert self.process is None or self.process.poll() is not None, "already running"
        stdout_log = self.node.logs / "stdout.log"
        self.process = start_process(
            self.node.command, stdout_log, cwd=self.directory, env=self.node.env, **es_user()
        )
        self.startup_seconds = wait_until_up(
            "fault-suite Elasticsearch",
            lambda: _healthy(self.url),
            self.process,
            timeout=self.timeout,
            logs=[stdout_log, self.log_file],
        )
        return self.startup_seconds

    def stop(self, *, remove: bool = False) -> None:
        """SIGTERM: a clean shutdown; the data stays unless ``remove``."""
        if self.process is not None:
            stop_process(self.process)
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_cluster/health?timeout=2s", timeout=5) as response:
        return json.load(response)["status"] in ("green", "yellow")


def start_plain_elasticsearch(
    tmp_dir: Path, *, timeout: float = ES_START_TIMEOUT
) -> ElasticsearchNode:
    """A plain (HTTP, no security) one-node Elasticsearch of the caller's own."""
    node = lay_out_node(tmp_dir, name="faults", settings={"xpack.security.enabled": False})
    server = ElasticsearchNode(node, timeout=timeout)
    try:
        server.start()
    except BaseException:
        server.stop(remove=True)
        raise
    return server


# --------------------------------------------------------------------------- faults


def _group_signal(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """Signal the server's whole process group (Elasticsearch: launcher and JVM)."""
    assert process is not None and process.poll() is None, "the server is not running"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def freeze(server: ElasticsearchNode | KafkaNode) -> None:
    """SIGSTOP: the server keeps its sockets open but answers nothing (a GC pause, a hung VM)."""
    _group_signal(server.process, signal.SIGSTOP)


def thaw(server: ElasticsearchNode | KafkaNode) -> None:
    _group_signal(server.process, signal.SIGCONT)
