"""The container image installs exactly the locked dependencies of the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "deploy" / "docker" / "requirements.lock"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.MULTILINE)


def locked() -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in _PIN.findall(LOCK.read_text())}


def test_every_dependency_is_locked_within_its_range() -> None:
    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for line in [*project["dependencies"], *build]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {LOCK.name}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in {LOCK.name} is outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_every_pin_carries_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text().split("\n", 2)[2])
    pinned = [b for b in blocks if _PIN.match(b)]
    assert len(pinned) == len(locked()) > 50
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_dockerfile_installs_the_lock_before_copying_the_code() -> None:
    text = DOCKERFILE.read_text()
    install = text.index("--require-hashes")
    assert text.index("COPY deploy/docker/requirements.lock") < install
    assert install < text.index("COPY streams") and install < text.index("COPY pyproject.toml")
    assert re.search(r"^USER \d+:\d+$", text, re.MULTILINE), "USER must be numeric"
    assert "HEALTHCHECK" in text
