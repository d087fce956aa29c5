"""The service pages the long-running producers share (``newsstream api`` serves them with
aiohttp, ``newsstream poll`` with a small threaded server): the answers of ``/healthz``
and ``/readyz`` from a list of reasons (``/metrics``: streams.prometheus)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def liveness(reasons: Sequence[str]) -> tuple[int, dict[str, Any]]:
    """200 and ``{"live": true}`` without reasons; 503 and the reasons otherwise."""
    return (503 if reasons else 200), {"live": not reasons, "reasons": list(reasons)}


def readiness(reasons: Sequence[str]) -> tuple[int, dict[str, Any]]:
    """200 and ``{"ready": true}`` without reasons; 503 and the reasons otherwise."""
    return (503 if reasons else 200), {"ready": not reasons, "reasons": list(reasons)}
