"""Watch topics in German, French, Spanish and Italian: the terms, their matching rules
(compounds, accents, elisions) and the English-only classifier left out of other languages."""

from __future__ import annotations

import pytest

from streams.enrich import load_taxonomy, match_topics
from streams.enrich.terms import TermList, match_form
from streams.enrich.topic_model import FORMAT, TOKENIZER, parse_model
from streams.enrich.topics import classifier_applies
from streams.errors import ConfigError
from streams.settings import Settings
from streams.tokens import tokenize


def topics(title: str, body: str, language: str | None = None) -> set[str]:
    taxonomy = load_taxonomy(Settings().taxonomy_path)
    found = match_topics(taxonomy, title=tokenize(title), body=tokenize(body), language=language)
    return {m.label for m in found}


@pytest.mark.parametrize(
    ("title", "body", "topic"),
    [
        (
            "Washington droht mit Strafzöllen auf deutsche Autos",
            "Der Zollstreit mit den USA verschärft sich. Berlin warnt vor einem Handelskrieg.",
            "trade",
        ),
        (
            "Handelsdefizit der USA wächst",
            "Das Defizit in der Handelsbilanz stieg im Mai auf 75 Milliarden Dollar.",
            "trade",
        ),
        (
            "Berlin verschärft Exportkontrollen",
            "Für Dual-Use-Güter gilt künftig eine Ausfuhrgenehmigung.",
            "export-controls",
        ),
        (
            "EU beschließt neues Sanktionspaket",
            "Die EU-Sanktionen treffen Banken und Reedereien; Vermögen werden eingefroren.",
            "sanctions",
        ),
        (
            "Ottawa riposte aux droits de douane américains",
            "Le Canada imposera des surtaxes douanières sur l'acier, sur fond de guerre "
            "commerciale avec Washington.",
            "trade",
        ),
        (
            "L'accord commercial avec le Japon entre en vigueur",
            "Les droits de douane sur le vin disparaissent.",
            "trade",
        ),
        (
            "Washington durcit le contrôle des exportations de puces",
            "Les restrictions à l'exportation visent les semi-conducteurs avancés.",
            "export-controls",
        ),
        (
            "México responde con aranceles",
            "El Gobierno impondrá aranceles a productos estadounidenses en plena guerra comercial.",
            "trade",
        ),
        (
            "Bruselas aprueba nuevas sanciones",
            "La UE acordó la congelación de activos de veinte empresas rusas.",
            "sanctions",
        ),
        (
            "Cina, nuovi controlli sulle esportazioni di grafite",
            "Pechino introduce controlli all'esportazione su materiali a duplice uso.",
            "export-controls",
        ),
        (
            "Dazi, l'Ue prepara la risposta",
            "La guerra commerciale con gli Stati Uniti preoccupa gli esportatori italiani.",
            "trade",
        ),
        (
            "Cresce l'avanzo commerciale",
            "La bilancia commerciale segna un surplus di 4 miliardi.",
            "trade",
        ),
    ],
)
def test_news_in_other_languages_matches_its_topic(title: str, body: str, topic: str) -> None:
    assert topic in topics(title, body)


@pytest.mark.parametrize(
    ("title", "body", "topic"),
    [
        (
            "Neues Notebook mit 16-Zoll-Display",
            "Das Gerät hat einen 16 Zoll großen Bildschirm.",
            "trade",
        ),
        ("Zoll stellt Drogen sicher", "Der Zoll fand im Hafen 200 Kilogramm Kokain.", "trade"),
        ("Fans zollen Respekt", "Die Zuschauer zollten dem Torwart Beifall.", "trade"),
        ("Handel im Advent", "Der Handel in den Innenstädten meldet weniger Kunden.", "trade"),
        (
            "Jobcenter verhängen mehr Sanktionen",
            "Beim Bürgergeld wurden mehr Sanktionen verhängt.",
            "sanctions",
        ),
        (
            "Il giudice sportivo squalifica il difensore",
            "Tre giornate di squalifica e una sanzione per il club.",
            "sanctions",
        ),
        (
            "Commission de discipline : sanction pour le club",
            "La commission de discipline a infligé une sanction disciplinaire au club.",
            "sanctions",
        ),
        (
            "Tres partidos de sanción para el portero",
            "El Comité de Competición sancionó al jugador.",
            "sanctions",
        ),
        ("Bollette, tariffe in aumento", "Le tariffe di luce e gas salgono del 4%.", "trade"),
    ],
)
def test_same_words_in_another_sense_do_not_match(title: str, body: str, topic: str) -> None:
    assert topic not in topics(title, body)


def test_compounds_by_head_and_by_part() -> None:
    terms = TermList({"*zölle": 1.0, "*sanktion*": 1.0, "zollstreit*": 1.0})
    hits = terms.find(tokenize("US-Zölle, Strafzölle, EU-Sanktionen, Sanktionspaket, Zollstreits"))
    assert [h.term for h in hits] == ["*zölle", "*zölle", "*sanktion*", "*sanktion*", "zollstreit*"]


def test_accents_fold_but_umlauts_stay_apart() -> None:
    terms = TermList({"sanción": 1.0, "contrôle* des exportations": 1.0, "zöllen": 1.0})
    text = "SANCION y sanción; controles des exportations; Zöllen, Zoellen, zollen"
    assert [h.term for h in terms.find(tokenize(text))] == [
        "sanción",
        "sanción",
        "contrôle* des exportations",
        "zöllen",
        "zöllen",
    ]
    assert match_form("Zölle".lower()) == "zoelle"


def test_elided_articles_are_not_part_of_the_word() -> None:
    terms = TermList({"avanzo commerciale": 1.0, "controll* all'esportazione": 1.0})
    hits = terms.find(tokenize("L'avanzo commerciale; controlli all'esportazione"))
    assert [h.term for h in hits] == ["avanzo commerciale", "controll* all'esportazione"]
    # English possessives keep their apostrophe: "japan's" is not "s".
    assert match_form("japan's") == "japan's" and match_form("dell'export") == "export"


def test_english_only_classifier_is_not_asked_about_other_languages() -> None:
    model = parse_model(
        {
            "format": FORMAT,
            "features": {
                "tokenizer": TOKENIZER,
                "ngram_max": 1,
                "sublinear_tf": True,
                "norm": "l2",
            },
            "intercept": -1.0,
            "terms": {"tariff": [1.0, 1.0]},
            "languages": ["en"],
        }
    )
    assert model.languages == ("en",)
    assert classifier_applies(model, "en") and classifier_applies(model, None)
    assert not classifier_applies(model, "de")
    # The shipped trade model: English only. A German tariff story is scored by its terms.
    title = "USA erheben Strafzölle"
    body = "Die Zölle gelten ab Montag. Die EU droht mit Gegenzöllen im Handelsstreit."
    assert "trade" in topics(title, body)
    assert "trade" in topics(title, body, language="de")
    taxonomy = load_taxonomy(Settings().taxonomy_path)
    [found] = [
        m
        for m in match_topics(taxonomy, title=tokenize(title), body=tokenize(body))
        if m.label == "trade"
    ]
    assert not any(line.startswith("classifier") for line in found.evidence)


def test_model_languages_must_be_a_list_of_codes() -> None:
    data = {
        "format": FORMAT,
        "features": {"tokenizer": TOKENIZER, "ngram_max": 1, "sublinear_tf": True, "norm": "l2"},
        "intercept": 0.0,
        "terms": {"tariff": [1.0, 1.0]},
        "languages": "en",
    }
    with pytest.raises(ConfigError, match="languages"):
        parse_model(data)
    del data["languages"]
    assert parse_model(data).languages == ()  # files written before: any language
