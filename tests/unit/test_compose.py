"""deploy/docker-compose.yml gives every newsstream container settings the program accepts,
and starts the worker only after set-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from streams.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"
_DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")


def services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def newsstream_services() -> dict[str, Any]:
    return {name: s for name, s in services().items() if s.get("image") == "newsstream:dev"}


def test_every_newsstream_container_has_valid_settings() -> None:
    found = newsstream_services()
    assert {"setup", "worker", "kibana-init"} <= set(found)
    for name, service in found.items():
        environ = {k: _DEFAULTED.sub(r"\1", str(v)) for k, v in service["environment"].items()}
        settings = Settings.from_env(environ)
        assert settings.kafka_bootstrap == "kafka:19092", name
        assert settings.index_replicas == 0, name


def test_the_worker_starts_after_setup_and_does_not_set_up_itself() -> None:
    worker = services()["worker"]
    assert worker["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["NEWSSTREAM_WORKER_SETUP"] == "false"
    assert services()["setup"]["command"] == ["setup"]
