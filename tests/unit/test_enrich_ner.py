"""The bundled NER model through streams.enrich.ner, as enrichment loads it."""

from __future__ import annotations

import pytest
from spacy.language import Language

from streams.enrich import load_pipeline
from streams.errors import ConfigError


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("newsstream")


def ents(nlp: Language, text: str) -> list[tuple[str, str]]:
    return [(e.text, e.label_) for e in nlp(text).ents]


def test_finds_persons_organisations_and_places_with_ontonotes_labels(nlp: Language) -> None:
    found = ents(
        nlp, "Russian ambassador Igor Morgulov told Reuters in Beijing that Gazprom would expand."
    )
    assert ("Igor Morgulov", "PERSON") in found
    assert ("Beijing", "GPE") in found
    assert ("Reuters", "ORG") in found or ("Gazprom", "ORG") in found
    assert ("Russian", "NORP") in found


def test_a_surname_after_the_full_name_is_the_same_person(nlp: Language) -> None:
    found = ents(nlp, "Igor Morgulov spoke on Friday. Later, Morgulov said trade had grown.")
    assert ("Morgulov", "PERSON") in found


def test_an_unknown_model_name_is_a_configuration_error() -> None:
    with pytest.raises((ConfigError, OSError)):
        load_pipeline("no_such_spacy_model_anywhere")


def test_datelines_titles_and_roles_at_the_edges_of_names(nlp: Language) -> None:
    from streams.enrich.entities import extract_entities

    body = (
        "OTTAWA, March 3 (Reuters) - Prime Minister Mark Carney said on Monday that Canada "
        "would respond. Playmaker Lionel Messi watched from the stands, the President said."
    )
    doc = nlp(body)
    entities, countries = extract_entities(
        body, [(e.start_char, e.end_char, e.label_) for e in doc.ents]
    )
    names = {(e.name, e.label) for e in entities if e.label != "DATE"}
    assert {
        ("Ottawa", "GPE"),
        ("Reuters", "ORG"),
        ("Mark Carney", "PERSON"),
        ("Canada", "GPE"),
        ("Lionel Messi", "PERSON"),
    } == names
    assert countries == ["CA"]
