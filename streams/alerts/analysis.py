"""Text analysis shared by the keyword rules and the query-string matcher.

``standard_tokens`` (defined with the package's other tokenizers in
``streams.tokens``) reproduces Elasticsearch's ``standard`` analyzer, which the
``news-articles`` index uses for ``title`` and ``body``: Lucene's StandardTokenizer
(Unicode UAX #29 word boundaries, the same grammar rules as Lucene's JFlex
specification), tokens longer than 255 characters split, then a per-code-point
lower-case filter. So ``Russia's`` is one token ``russia's``, ``U.S.`` is ``u.s``,
``e-mail`` is ``e`` and ``mail``, and every Han ideograph is a token of its own.
Checked against Elasticsearch 9.2.4's ``_analyze`` on thousands of random strings mixing
scripts, digits and punctuation: identical, except for unusual emoji sequences (a
skin-tone modifier followed by VS16, keycaps with modifiers) and tokens over 255 UTF-16
units that contain characters outside the BMP.

``stem`` maps a token to its Snowball stem for keyword rules, so ``sanction``,
``sanctions`` and ``sanctioned`` compare equal while ``tariffless`` stays apart
from ``tariff``.
"""

from __future__ import annotations

from functools import lru_cache

import snowballstemmer

# Re-exported: the query-string matcher and keyword rules import them here.
from streams.tokens import lowercase as lowercase
from streams.tokens import standard_tokens as standard_tokens

_SNOWBALL_LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "nl": "dutch", "no": "norwegian", "nb": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


def snowball_language(language: str | None) -> str:
    """The Snowball algorithm for a language code (``en``, ``de-AT``); English by default."""
    code = (language or "").split("-")[0].split("_")[0].lower()
    return _SNOWBALL_LANGUAGES.get(code, "english")


@lru_cache(maxsize=64)
def _stemmer(algorithm: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(algorithm)


@lru_cache(maxsize=200_000)
def stem(token: str, algorithm: str = "english") -> str:
    """The stem of one lower-case token; tokens with digits or inner dots stay as they are."""
    normalised = token.replace("\u2019", "'")
    if not normalised.replace("'", "").isalpha():
        return normalised
    return str(_stemmer(algorithm).stemWord(normalised))


def stems(text: str, algorithm: str = "english") -> list[str]:
    """The stems of ``text``'s tokens, in order: what keyword rules compare."""
    return [stem(token, algorithm) for token in standard_tokens(text)]
