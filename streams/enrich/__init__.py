"""Enrichment: turn a raw article into one an analyst can search and alert on. ``Enricher``
is the one entry point; its steps (and their loaders) are exported too, so bench/ can
measure each step alone."""

from streams.enrich.categories import CategoryModel, categorize, load_categories
from streams.enrich.clean import clean_html
from streams.enrich.dedup import DuplicateIndex, Fingerprint, InMemoryDuplicateIndex, fingerprint
from streams.enrich.ner import load_pipeline
from streams.enrich.pipeline import Enriched, Enricher, mark_duplicates
from streams.enrich.screening import Screener, load_screener
from streams.enrich.topics import lexicon_scores, load_taxonomy, match_topics, parse_taxonomy

__all__ = [
    "CategoryModel",
    "DuplicateIndex",
    "Enriched",
    "Enricher",
    "Fingerprint",
    "InMemoryDuplicateIndex",
    "Screener",
    "categorize",
    "clean_html",
    "fingerprint",
    "lexicon_scores",
    "load_categories",
    "load_pipeline",
    "load_screener",
    "load_taxonomy",
    "mark_duplicates",
    "match_topics",
    "parse_taxonomy",
]
