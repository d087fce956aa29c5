"""Enrichment: clean body, language, entities, categories, watch topics, screening, duplicates.

``Enricher`` is the one entry point; the modules beside it are small pure functions.
"""

from streams.enrich.dedup import DuplicateIndex, Fingerprint, InMemoryDuplicateIndex, fingerprint
from streams.enrich.pipeline import Enriched, Enricher, mark_duplicates

__all__ = [
    "DuplicateIndex",
    "Enriched",
    "Enricher",
    "Fingerprint",
    "InMemoryDuplicateIndex",
    "fingerprint",
    "mark_duplicates",
]
