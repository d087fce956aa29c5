"""The Enricher end to end with the real spaCy model (loaded once for this module)."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from spacy.language import Language

from streams.enrich import (
    Enriched,
    Enricher,
    InMemoryDuplicateIndex,
    fingerprint,
    load_pipeline,
    load_screener,
    mark_duplicates,
)
from streams.errors import EnrichmentError
from streams.messages import EnrichedArticle, RawArticle
from streams.settings import Settings

SEED = (Path(__file__).parents[1] / "fixtures" / "seed_article.txt").read_text(encoding="utf-8")
SEED_PERSONS = {
    "Igor Morgulov",
    "Xi Jinping",
    "Vladimir Putin",
    "Wang Yi",
    "Sergei Shoigu",
    "Sanae Takaichi",
}
NOW = "2025-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline(Settings().spacy_model)


def make_enricher(nlp: Language, **kwargs: Any) -> Enricher:
    settings = Settings()
    return Enricher(
        spacy_model=settings.spacy_model, taxonomy_path=settings.taxonomy_path, nlp=nlp, **kwargs
    )


@pytest.fixture(scope="module")
def enricher(nlp: Language) -> Enricher:
    return make_enricher(nlp)


@pytest.fixture(scope="module")
def seed(enricher: Enricher) -> EnrichedArticle:
    return enricher.enrich(RawArticle(id="seed", title="", text=SEED), ingested_at=NOW)


def test_seed_has_exactly_the_six_persons(seed: EnrichedArticle) -> None:
    persons = {e.name for e in seed.entities if e.label == "PERSON"}
    assert persons == SEED_PERSONS


def test_seed_short_forms_merge_into_the_full_name(seed: EnrichedArticle) -> None:
    morgulov = next(e for e in seed.entities if e.name == "Igor Morgulov")
    mentions = {seed.body[start:end] for start, end in morgulov.spans}
    assert mentions == {"Igor Morgulov", "Morgulov"}
    assert morgulov.count == len(morgulov.spans) >= 7


def test_seed_places_and_countries(seed: EnrichedArticle) -> None:
    places = {e.name for e in seed.entities if e.label in ("GPE", "LOC")}
    assert {"China", "Russia", "Beijing", "Moscow", "Japan", "Taiwan", "Ukraine"} <= places
    assert {"CN", "RU", "JP", "TW", "UA"} <= set(seed.countries)


def test_seed_boilerplate_gone_and_story_kept(seed: EnrichedArticle) -> None:
    for furniture in ("More Articles", "Latest", "Content is protected", "Pune University"):
        assert furniture not in seed.body
    assert "Tariffs of 21.9%" not in seed.body
    assert "Concerns grow over paid anti-China content" not in seed.body
    assert "Regional Security: Japan and Taiwan" in seed.body
    assert "“highest level in history”" in seed.body
    assert seed.body.rstrip().endswith("safeguarding global fairness and stability.")
    assert seed.author == "Tejaswini Deshmukh"
    assert seed.title.startswith("China and Russia say their partnership")


def test_seed_topics_categories_and_language(seed: EnrichedArticle) -> None:
    topics = {t.label: t for t in seed.topics}
    assert "sanctions" in topics
    assert any("sanction" in term for term in topics["sanctions"].evidence)
    assert seed.categories[0].label == "politics"
    assert seed.language == "en"
    assert seed.keywords


def test_every_span_is_its_mention(seed: EnrichedArticle) -> None:
    for entity in seed.entities:
        for start, end in entity.spans:
            assert seed.body[start:end].strip() == seed.body[start:end] != ""


def test_no_clean_keeps_the_input_text_exactly(enricher: Enricher) -> None:
    article = enricher.enrich(RawArticle(id="a", title="", text=SEED), ingested_at=NOW, clean=False)
    assert article.body == SEED
    putin = next(e for e in article.entities if e.name == "Vladimir Putin")
    assert all(SEED[s:e] == "Vladimir Putin" for s, e in putin.spans)


def test_a_body_over_the_cap_is_cut_at_a_word_and_says_so(nlp: Language) -> None:
    capped = make_enricher(nlp, max_body_chars=2_000)
    article = capped.enrich(RawArticle(id="a", title="", text=SEED), ingested_at=NOW, clean=False)
    assert article.truncated and len(article.body) <= 2_000
    assert SEED.startswith(article.body) and SEED[len(article.body)].isspace()
    assert all(e < len(article.body) for entity in article.entities for _, e in entity.spans)


def test_a_body_under_the_cap_is_whole_and_not_truncated(seed: EnrichedArticle) -> None:
    assert not seed.truncated and len(SEED) < Settings().max_body_chars


def test_from_settings_takes_the_body_cap(nlp: Language) -> None:
    enricher = Enricher.from_settings(Settings(max_body_chars=1_000))
    article = enricher.enrich(RawArticle(id="s", title="", text=SEED), ingested_at=NOW)
    assert article.truncated and len(article.body) <= 1_000


def test_html_body_comes_from_main_text_extraction(enricher: Enricher) -> None:
    paragraph = "Officials in Berlin said the new tariffs on steel imports would start in May. "
    html = (
        "<html><head><title>Steel tariffs</title></head><body><nav>Home | World | Sport</nav>"
        f"<article><h1>Steel tariffs</h1><p>{paragraph * 3}</p><p>{paragraph * 2}</p></article>"
        "<footer>Copyright 2025 Example News</footer></body></html>"
    )
    article = enricher.enrich(RawArticle(id="h", title="", html=html), ingested_at=NOW)
    assert "Officials in Berlin" in article.body
    assert "Home | World" not in article.body and "Copyright" not in article.body
    assert "DE" in article.countries


def test_batch_returns_one_result_per_input_in_order(enricher: Enricher) -> None:
    raws = [
        RawArticle(id="ok", title="", text=SEED),
        RawArticle(id="empty", title="t"),
        RawArticle(id="short", title="Brief", text="Markets rose in Tokyo on Monday."),
    ]
    results = enricher.enrich_batch(raws, ingested_at=NOW)
    assert isinstance(results[0], Enriched) and results[0].article.id == "ok"
    assert isinstance(results[1], EnrichmentError) and "empty" in str(results[1])
    assert isinstance(results[2], Enriched) and results[2].article.id == "short"
    assert results[0].fingerprint == fingerprint(results[0].article.body)


def test_enrich_raises_enrichment_error_for_a_bad_article(enricher: Enricher) -> None:
    with pytest.raises(EnrichmentError):
        enricher.enrich(RawArticle(id="empty", title="t", text="   "), ingested_at=NOW)


def test_german_article_gets_its_places_from_the_gazetteer_not_english_ner(
    enricher: Enricher,
) -> None:
    text = (
        "Die Bundesregierung in Berlin hat am Montag neue Sanktionen gegen Russland "
        "beschlossen. Bundeskanzler Olaf Scholz sagte, die Maßnahmen seien notwendig."
    )
    article = enricher.enrich(RawArticle(id="de", title="", text=text), ingested_at=NOW)
    assert article.language == "de"
    # No German model installs here: places by look-up, and no English guesses at persons.
    assert {(e.name, e.label) for e in article.entities} == {("Berlin", "GPE"), ("Russland", "GPE")}
    assert article.body


def test_decomposed_accents_are_composed_before_any_word_is_matched(enricher: Enricher) -> None:
    text = (
        "Die Regierung in Berlin kündigte am Montag neue Strafzölle auf Stahl aus China an. "
        "Die Zölle sollen ab Juli gelten, sagte das Wirtschaftsministerium in Berlin."
    )
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    composed, split = (
        enricher.enrich(RawArticle(id=n, title="Zölle", text=t), ingested_at=NOW)
        for n, t in (("nfc", text), ("nfd", decomposed))
    )
    assert "trade" in {topic.label for topic in composed.topics}
    assert split.body == composed.body and split.title == composed.title
    assert split.topics == composed.topics and split.entities == composed.entities


def test_from_settings_builds_a_working_enricher() -> None:
    enricher = Enricher.from_settings(Settings())
    article = enricher.enrich(RawArticle(id="s", title="", text=SEED), ingested_at=NOW)
    assert article.screening == []  # no sanctions lists configured: screening off


def test_duplicates_point_at_the_first_id_seen(enricher: Enricher) -> None:
    duplicates = InMemoryDuplicateIndex()
    [first] = mark_duplicates(
        enricher.enrich_batch([RawArticle(id="first", title="", text=SEED)], ingested_at=NOW),
        duplicates,
    )
    copy = SEED.replace("Latest", "Read more") + "\n\nThis story was first published elsewhere."
    results = mark_duplicates(
        enricher.enrich_batch(
            [
                RawArticle(id="copy", title="", text=copy),
                RawArticle(id="first", title="", text=SEED),
            ],
            ingested_at=NOW,
        ),
        duplicates,
    )
    assert isinstance(first, EnrichedArticle)
    assert first.duplicate_of is None
    assert [r.duplicate_of for r in results if isinstance(r, EnrichedArticle)] == ["first", None]


def test_screening_hits_on_persons_and_organisations(nlp: Language) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures" / "sanctions"
    screener = load_screener(
        ofac_paths=[fixtures / "sdn.csv"], un_paths=[fixtures / "un_consolidated.xml"]
    )
    enricher = make_enricher(nlp, screener=screener)
    text = (
        "Rosneft chief executive Igor Sechin met officials in Caracas on Tuesday. "
        "Sechin said the company would keep buying Venezuelan crude despite US sanctions."
    )
    article = enricher.enrich(RawArticle(id="s", title="Oil talks", text=text), ingested_at=NOW)
    assert [(h.entity, h.list, h.entry_id) for h in article.screening] == [
        ("Igor Sechin", "OFAC SDN", "16692")
    ]
