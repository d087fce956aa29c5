"""The enricher: one raw article in, one enriched article (or an EnrichmentError) out.

All enrichment runs behind ``Enricher.enrich`` / ``Enricher.enrich_batch``; the worker's
enrich stage and the offline CLI only call these. Models and lists load once, in
``__init__``. Enrichment does no I/O: the duplicate look-up needs a store shared by every
worker, so ``enrich_batch`` hands back each article's fingerprint and the caller asks its
store (``mark_duplicates`` for an in-process one, the worker's stage for Elasticsearch).

Steps for each article:
1. body: trafilatura for ``html``, scraped-text cleaning for ``text``, in Unicode NFC
   (``clean=False``: the text exactly as given, so entity spans index into the input); a body over
   ``max_body_chars`` is cut at a word boundary (a prefix: spans still index into the
   input) and the article says ``truncated``, so no step below sees an unbounded text;
2. language (ISO 639-1); English bodies go through NER (``spacy_model``), bodies in a
   language of ``ner_models`` through that language's pipeline (loaded at its first
   article), others get no entities;
3. entities with canonical names, spans and counts; country codes of places;
4. IPTC categories, watch topics with evidence, keywords;
5. sanctions screening of persons and organisations (when lists are configured);
6. content hash and fingerprint (the caller sets ``duplicate_of`` = first id seen).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from streams.enrich.categories import DEFAULT_LEXICON, CategoryModel, categorize, load_categories
from streams.enrich.clean import CleanText, clean_html, clean_text
from streams.enrich.dedup import DuplicateIndex, Fingerprint, fingerprint
from streams.enrich.entities import extract_entities
from streams.enrich.keywords import extract_keywords
from streams.enrich.language import detect_language
from streams.enrich.ner import (
    DEFAULT_NER_MODELS,
    check_language_model,
    load_language_pipeline,
    load_pipeline,
    parse_ner_models,
)
from streams.enrich.screening import Screener, load_screener
from streams.enrich.terms import tokenize
from streams.enrich.topics import Taxonomy, load_taxonomy, match_topics
from streams.errors import EnrichmentError
from streams.messages import (
    DEFAULT_MAX_BODY_CHARS,
    EnrichedArticle,
    Entity,
    RawArticle,
    truncate_at_word,
)
from streams.settings import Settings

# The language ``spacy_model`` reads; others are routed by the ``ner_models`` setting.
ENGLISH = "en"
# spaCy refuses texts over nlp.max_length; a longer body keeps entities of its start.
_MAX_NER_CHARS = 200_000
# Bugs in a step for one odd article must not stop the stream: they become an
# EnrichmentError for that article (dead-lettered), never a crash of the batch.
_STEP_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)


@dataclass(frozen=True, slots=True)
class Enriched:
    """One enriched article and the fingerprint its duplicate look-up needs."""

    article: EnrichedArticle
    fingerprint: Fingerprint

    def duplicate_of(self, original_id: str | None) -> EnrichedArticle:
        return replace(self.article, duplicate_of=original_id) if original_id else self.article


def mark_duplicates(
    results: Sequence[Enriched | EnrichmentError], duplicates: DuplicateIndex
) -> list[EnrichedArticle | EnrichmentError]:
    """Ask an in-process duplicate index about each article, in order."""
    return [
        r
        if isinstance(r, EnrichmentError)
        else r.duplicate_of(duplicates.first_seen(r.article.id, r.fingerprint))
        for r in results
    ]


@dataclass(frozen=True, slots=True)
class _Prepared:
    raw: RawArticle
    cleaned: CleanText
    language: str | None
    truncated: bool = False


class Enricher:
    """Turns RawArticles into EnrichedArticles. Create one per worker and reuse it."""

    def __init__(
        self,
        *,
        spacy_model: str,
        taxonomy_path: Path,
        category_lexicon: Path = DEFAULT_LEXICON,
        screener: Screener | None = None,
        nlp: Language | None = None,
        batch_size: int = 16,
        max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
        ner_models: Mapping[str, str] | None = None,
    ) -> None:
        self._nlp = nlp if nlp is not None else load_pipeline(spacy_model)
        models = parse_ner_models(DEFAULT_NER_MODELS) if ner_models is None else ner_models
        self._language_models = {k: v for k, v in models.items() if k != ENGLISH}
        for language, model in self._language_models.items():
            check_language_model(language, model)
        self._language_nlp: dict[str, Language] = {}  # loaded at a language's first article
        # What each language's entities are labelled as found by (Entity.source).
        self._recognisers = {ENGLISH: spacy_model, **self._language_models}
        self._taxonomy: Taxonomy = load_taxonomy(taxonomy_path)
        self._categories: CategoryModel = load_categories(category_lexicon)
        self._screener = screener
        self._batch_size = batch_size
        self._max_body_chars = max_body_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher:
        return cls(
            spacy_model=settings.spacy_model,
            taxonomy_path=settings.taxonomy_path,
            screener=load_screener(
                ofac_paths=_paths(settings.sanctions_ofac_paths),
                un_paths=_paths(settings.sanctions_un_paths),
            ),
            batch_size=settings.enrich_batch_size,
            max_body_chars=settings.max_body_chars,
            ner_models=parse_ner_models(settings.ner_models),
        )

    def enrich(self, raw: RawArticle, *, ingested_at: str, clean: bool = True) -> EnrichedArticle:
        """Enrich one article; raise EnrichmentError if it cannot be enriched.

        No duplicate look-up: ``duplicate_of`` stays None.
        """
        result = self.enrich_batch([raw], ingested_at=ingested_at, clean=clean)[0]
        if isinstance(result, EnrichmentError):
            raise result
        return result.article

    def enrich_batch(
        self, raws: Sequence[RawArticle], *, ingested_at: str, clean: bool = True
    ) -> list[Enriched | EnrichmentError]:
        """One result per input, in order; a failing article yields its EnrichmentError."""
        prepared = [self._prepare(raw, clean=clean) for raw in raws]
        docs = self._run_ner([p for p in prepared if isinstance(p, _Prepared) and self._wants(p)])
        results: list[Enriched | EnrichmentError] = []
        for item in prepared:
            if isinstance(item, EnrichmentError):
                results.append(item)
                continue
            try:
                results.append(self._finish(item, docs.get(id(item)), ingested_at=ingested_at))
            except EnrichmentError as exc:
                results.append(exc)
            except _STEP_ERRORS as exc:
                results.append(_failure(item.raw, "enrichment", exc))
        return results

    def _prepare(self, raw: RawArticle, *, clean: bool) -> _Prepared | EnrichmentError:
        if clean:
            raw = composed(raw)
        try:
            cleaned = _clean(raw, clean=clean)
            body, truncated = truncate_at_word(cleaned.body, self._max_body_chars)
            cleaned = replace(cleaned, body=body)
            language = detect_language(body, declared=raw.language)
        except EnrichmentError as exc:
            return EnrichmentError(f"article {raw.id}: {exc}")
        except _STEP_ERRORS as exc:
            return _failure(raw, "cleaning", exc)
        return _Prepared(raw=raw, cleaned=cleaned, language=language, truncated=truncated)

    def _wants(self, item: _Prepared) -> bool:
        wanted = item.language == ENGLISH or item.language in self._language_models
        return wanted and bool(item.cleaned.body.strip())

    def _run_ner(self, items: Sequence[_Prepared]) -> dict[int, Doc]:
        by_language: dict[str, list[_Prepared]] = defaultdict(list)
        for item in items:
            by_language[item.language or ENGLISH].append(item)
        found: dict[int, Doc] = {}
        for language, group in by_language.items():
            texts = (item.cleaned.body[:_MAX_NER_CHARS] for item in group)
            docs = self._pipeline(language).pipe(texts, batch_size=self._batch_size)
            found.update((id(item), doc) for item, doc in zip(group, docs, strict=True))
        return found

    def _pipeline(self, language: str) -> Language:
        if language == ENGLISH:
            return self._nlp
        if language not in self._language_nlp:
            model = self._language_models[language]
            self._language_nlp[language] = load_language_pipeline(language, model)
        return self._language_nlp[language]

    def _finish(self, item: _Prepared, doc: Doc | None, *, ingested_at: str) -> Enriched:
        raw, body = item.raw, item.cleaned.body
        title = raw.title or item.cleaned.title or ""
        mentions = [(e.start_char, e.end_char, e.label_) for e in doc.ents] if doc else []
        # No recogniser for the language: only persons named by a role are found, by pattern.
        source = self._recognisers[item.language or ENGLISH] if doc else "pattern"
        entities, countries = extract_entities(body, mentions, source=source)
        title_tokens, body_tokens = tokenize(title), tokenize(body)
        fp = fingerprint(body)
        article = EnrichedArticle(
            id=raw.id,
            url=raw.url,
            title=title,
            body=body,
            language=item.language,
            source=raw.source,
            published_at=raw.published_at,
            ingested_at=ingested_at,
            entities=entities,
            categories=categorize(self._categories, title=title_tokens, body=body_tokens),
            topics=match_topics(
                self._taxonomy, title=title_tokens, body=body_tokens, language=item.language
            ),
            keywords=extract_keywords(body_tokens, exclude=_names(entities)),
            countries=countries,
            author=item.cleaned.author,
            dateline=item.cleaned.dateline,
            content_hash=fp.content_hash,
            screening=self._screener.screen(entities) if self._screener is not None else [],
            truncated=item.truncated,
        )
        return Enriched(article, fp)


def _clean(raw: RawArticle, *, clean: bool) -> CleanText:
    if not clean:
        if raw.text is not None:
            return CleanText(body=raw.text, title=raw.title or None)
        if raw.html is not None:
            return clean_html(raw.html, url=raw.url, title=raw.title or None)
        raise EnrichmentError("article has neither text nor html")
    if raw.html and raw.html.strip():
        try:
            return clean_html(raw.html, url=raw.url, title=raw.title or None)
        except EnrichmentError:
            if not (raw.text and raw.text.strip()):
                raise
    if raw.text and raw.text.strip():
        return clean_text(raw.text, title=raw.title or None)
    raise EnrichmentError("article has neither text nor html")


def composed(raw: RawArticle) -> RawArticle:
    """``raw`` with its text in Unicode NFC: a page may spell "ö" as "o" and a combining
    diaeresis, which no word list, gazetteer or model would match."""
    fields = {"title": raw.title, "text": raw.text, "html": raw.html}
    changed = {
        name: unicodedata.normalize("NFC", value)
        for name, value in fields.items()
        if value and not unicodedata.is_normalized("NFC", value)
    }
    return replace(raw, **changed) if changed else raw


def _paths(value: str) -> list[Path]:
    return [Path(part.strip()) for part in value.split(",") if part.strip()]


def _names(entities: Sequence[Entity]) -> list[str]:
    return [e.name for e in entities if e.label not in ("DATE", "MONEY", "PERCENT")]


def _failure(raw: RawArticle, step: str, exc: Exception) -> EnrichmentError:
    error = EnrichmentError(f"article {raw.id}: {step} failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
