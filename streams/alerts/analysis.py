"""Text analysis shared by the keyword rules and the query-string matcher.

``standard_tokens`` reproduces Elasticsearch's ``standard`` analyzer, which the
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

import regex
import snowballstemmer

MAX_TOKEN_LENGTH = 255  # Elasticsearch's default max_token_length for the standard tokenizer

# Character classes of UAX #29, each followed by the characters WB4 tells us to skip.
_X = r"[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}]*"
_AHLETTER = rf"[\p{{WB=ALetter}}\p{{WB=Hebrew_Letter}}]{_X}"
_HEBREW = rf"\p{{WB=Hebrew_Letter}}{_X}"
_NUMERIC = rf"[\p{{WB=Numeric}}\uFF10-\uFF19]{_X}"
_KATAKANA = rf"\p{{WB=Katakana}}{_X}"
_EXTEND_NUM_LET = rf"\p{{WB=ExtendNumLet}}{_X}"
_MID_LETTER = rf"[\p{{WB=MidLetter}}\p{{WB=MidNumLet}}\p{{WB=Single_Quote}}]{_X}"
_MID_NUM = rf"[\p{{WB=MidNum}}\p{{WB=MidNumLet}}\p{{WB=Single_Quote}}]{_X}"
_SINGLE_QUOTE = rf"\p{{WB=Single_Quote}}{_X}"
_DOUBLE_QUOTE = rf"\p{{WB=Double_Quote}}{_X}"

# WB5-WB13b: one "segment" of letters, numbers or katakana, joined by the mid characters.
_SEGMENT = (
    rf"(?:{_KATAKANA}(?:(?:{_EXTEND_NUM_LET})*{_KATAKANA})*"
    rf"|(?:{_HEBREW}(?:{_SINGLE_QUOTE}|{_DOUBLE_QUOTE}{_HEBREW})"
    rf"|{_NUMERIC}(?:(?:(?:{_EXTEND_NUM_LET})*|{_MID_NUM}){_NUMERIC})*"
    rf"|{_AHLETTER}(?:(?:(?:{_EXTEND_NUM_LET})*|{_MID_LETTER}){_AHLETTER})*"
    rf")+)"
)
_WORD = (
    rf"(?:{_EXTEND_NUM_LET})*{_SEGMENT}(?:(?:{_EXTEND_NUM_LET})+{_SEGMENT})*(?:{_EXTEND_NUM_LET})*"
)
_SOUTH_EAST_ASIAN = rf"(?:\p{{Line_Break=Complex_Context}}{_X})+"
_SINGLE_CHAR = rf"[\p{{Script=Han}}\p{{Script=Hiragana}}]{_X}"
# Emoji (UTS #51) are tokens of their own: flags, keycaps and ZWJ sequences stay whole (WB3c).
_NOT_VS16 = r"[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}--\uFE0F]*"
_EMOJI_UNIT = (
    rf"(?:\p{{Regional_Indicator}}{_X}\p{{Regional_Indicator}}{_X}"
    rf"|[0-9#*]\uFE0F?\u20E3{_X}"
    rf"|\p{{Emoji_Modifier}}{_NOT_VS16}"
    rf"|[\p{{Extended_Pictographic}}\p{{Emoji_Presentation}}--\p{{ASCII}}--\p{{Regional_Indicator}}]"
    rf"{_NOT_VS16}\uFE0F?)"
)
_EMOJI = rf"(?:\u200D(?=\p{{Extended_Pictographic}}))?{_EMOJI_UNIT}(?:(?<=\u200D){_EMOJI_UNIT})*"
_TOKEN_PATTERN = rf"{_WORD}|{_SOUTH_EAST_ASIAN}|{_SINGLE_CHAR}|{_EMOJI}"
# Lucene's tokenizer takes the longest match. Greedy matching finds the same tokens except
# around Hebrew quotes (WB7a-c), so the slower leftmost-longest (POSIX) search runs only there.
_TOKEN = regex.compile(_TOKEN_PATTERN, regex.VERSION1)
_TOKEN_LONGEST = regex.compile(_TOKEN_PATTERN, regex.VERSION1 | regex.POSIX)
_HEBREW_LETTER = regex.compile(r"\p{WB=Hebrew_Letter}")

_SNOWBALL_LANGUAGES = {
    "ar": "arabic", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "en": "english", "es": "spanish", "et": "estonian", "eu": "basque",
    "fi": "finnish", "fr": "french", "ga": "irish", "hi": "hindi", "hu": "hungarian",
    "hy": "armenian", "id": "indonesian", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "nl": "dutch", "no": "norwegian", "nb": "norwegian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


def lowercase(text: str) -> str:
    """Lower-case one code point at a time, as Java's ``Character.toLowerCase`` does.

    ``str.lower`` differs in two places: it maps ``İ`` to two code points and it
    applies the Greek final-sigma rule, which Lucene does not.
    """
    if text.isascii():
        return text.lower()
    return "".join(char.lower()[0] for char in text)


def standard_tokens(text: str) -> list[str]:
    """The tokens Elasticsearch's ``standard`` analyzer produces for ``text``, in order."""
    tokens: list[str] = []
    pattern = _TOKEN_LONGEST if _HEBREW_LETTER.search(text) else _TOKEN
    for match in pattern.finditer(text):
        token = lowercase(match.group())
        if len(token) <= MAX_TOKEN_LENGTH:
            tokens.append(token)
        else:
            tokens.extend(
                token[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(token), MAX_TOKEN_LENGTH)
            )
    return tokens


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
