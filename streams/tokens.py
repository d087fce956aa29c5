"""What counts as a word: every tokenizer of the package, one function per variant.

The variants differ on purpose, and each is pinned by something outside this module, so
none may change without what that implies (retraining, reindexing, re-tuning):

* ``tokenize``: letters and digits joined inside by ``-``, ``'``, ``’`` or ``.``; lower
  case, ``’`` written ``'``; with offsets. For term lists (categories, watch topics) and
  keywords: terms are written ``"u.s"``, ``"g7"``, ``"covid-19"``, and a hit quotes its
  sentence.
* ``letter_words``: the same without digits or one-letter words. For the topic model,
  which was trained on exactly these features; its files record ``letters-v1``.
* ``letter_runs``: runs of letters, no joiners, case kept. For language identification,
  which reads only the lower-case words.
* ``alnum_runs``: runs of letters and digits, no joiners. For duplicate fingerprints,
  which must not see punctuation (and for the name words keywords leave out).
* ``name_tokens``: ``[a-z0-9]+`` after folding to ASCII. For sanctions screening, which
  compares names across accents and romanisations.
* ``standard_tokens``: Lucene's UAX #29 words, lower case. For alert rules and query
  strings, which must see the words the Elasticsearch index holds.

A "letter" is what ``[^\\W\\d_]`` matches: a character ``str.isalnum`` accepts that is
not a decimal digit (so ``²`` is a letter); ``[^\\W_]`` adds the digits. Each function's
docstring says why its consumer cannot share another's variant. ``sentence_span`` is the
sentence boundary used to quote a term hit as evidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

_WORD = re.compile(r"[^\W_]+(?:[-'’.][^\W_]+)*")
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*")
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_ALNUM_RUN = re.compile(r"[^\W_]+")
_NAME_TOKEN = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])|\n+")

# The name topic model files record for ``letter_words``. Any change to ``letter_words``
# needs a new name and retrained models, so that an old file is refused by
# ``topic_model.parse_model`` instead of being scored on features it was not trained on.
LETTER_WORDS_TOKENIZER = "letters-v1"


@dataclass(frozen=True, slots=True)
class Tokens:
    """Lower-case words of a text and where each one starts and ends."""

    text: str
    words: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]


def fold_word(word: str) -> str:
    """A word as ``tokenize`` and ``letter_words`` write it: lower case, ``’`` as ``'``."""
    return word.lower().replace("’", "'")


def tokenize(text: str) -> Tokens:
    """The words of ``text`` for term lists, with their offsets.

    Letters and digits with inner hyphens, apostrophes and dots, so a term list can name
    ``"u.s"``, ``"trade-weighted"``, ``"g7"`` or ``"covid-19"`` as one word; a closing
    full stop is not part of a word. Offsets let a hit quote its sentence.
    """
    matches = list(_WORD.finditer(text))
    if not matches:
        words: tuple[str, ...] = ()
    elif "Σ" in text:  # the one letter whose lower case depends on the letters around it
        words = tuple(fold_word(m.group()) for m in matches)
    else:  # all words folded in one call, the same as one by one: no word holds a \n
        words = tuple(fold_word("\n".join([m.group() for m in matches])).split("\n"))
    return Tokens(text=text, words=words, offsets=tuple(m.span() for m in matches))


def letter_words(text: str) -> list[str]:
    """The words of ``text`` for the topic model (tokenizer ``letters-v1``).

    Like ``tokenize`` without digits (they separate words and are dropped) and without
    one-letter words. The trained models were fitted on exactly these features and their
    files name this tokenizer (``LETTER_WORDS_TOKENIZER``), so it must not follow changes
    to ``tokenize``.
    """
    return [fold_word(w) for w in _LETTER_WORD.findall(text) if len(w) > 1]


def letter_runs(text: str) -> list[str]:
    """Runs of letters in ``text``, case kept, for language identification.

    Digits separate words: tables of results ("13.27 seconds") mislead the classifier. No joiners:
    each part of a compound stands alone, so the lower-case part of ``"pro-Kremlin"``
    still counts when the language module keeps only the words in lower case.
    """
    return _LETTER_RUN.findall(text)


def alnum_runs(text: str) -> list[str]:
    """Runs of letters and digits in ``text``; every other character separates.

    Duplicate fingerprints hash these (after NFKC and case folding), so a republication
    that only changes punctuation (``e-mail``/``e mail``, ``’``/``'``) hashes the same.
    The content hashes and MinHash signatures are stored in Elasticsearch: a different
    definition would stop new articles from matching the stored ones.
    """
    return _ALNUM_RUN.findall(text)


def ascii_fold(text: str) -> str:
    """``text`` decomposed, its combining marks dropped, lower case: ``"José"`` -> ``"jose"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def name_tokens(text: str) -> list[str]:
    """The tokens of a person's or organisation's name, for sanctions screening.

    Folded to ASCII with ASCII apostrophes removed, so ``"José O'Neill"`` and ``"Jose
    ONeill"`` give the same tokens: sanctions lists and news spell names in different
    romanisations and accents. Letters with no ASCII decomposition separate tokens.
    """
    return _NAME_TOKEN.findall(ascii_fold(text).replace("'", ""))


def sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence (or line) around ``text[start:end]``, unstripped."""
    left = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    right_match = _SENTENCE_END.search(text, end)
    return left, right_match.start() if right_match else len(text)


# --- Elasticsearch's standard analyzer ------------------------------------------------
#
# Keyword rules and query strings are matched in Python on the tokens Elasticsearch
# indexes, so an alert fires exactly on what a search of the index finds. The rules below
# reproduce Lucene's StandardTokenizer; the alerts.analysis docstring says how closely.

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
_UAX29_WORD = (
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
_STANDARD_PATTERN = rf"{_UAX29_WORD}|{_SOUTH_EAST_ASIAN}|{_SINGLE_CHAR}|{_EMOJI}"
# Lucene's tokenizer takes the longest match. Greedy matching finds the same tokens except
# around Hebrew quotes (WB7a-c), so the slower leftmost-longest (POSIX) search runs only there.
_STANDARD = regex.compile(_STANDARD_PATTERN, regex.VERSION1)
_STANDARD_LONGEST = regex.compile(_STANDARD_PATTERN, regex.VERSION1 | regex.POSIX)
_HEBREW_LETTER = regex.compile(r"\p{WB=Hebrew_Letter}")


def lowercase(text: str) -> str:
    """Lower-case one code point at a time, as Java's ``Character.toLowerCase`` does.

    ``str.lower`` differs in two places: it maps ``İ`` to two code points and it
    applies the Greek final-sigma rule, which Lucene does not.
    """
    if text.isascii():
        return text.lower()
    return "".join(char.lower()[0] for char in text)


def standard_tokens(text: str) -> list[str]:
    """The tokens Elasticsearch's ``standard`` analyzer produces for ``text``, in order.

    Not ``tokenize``: UAX #29 keeps ``a:b``, ``x.com`` and ``foo_bar`` whole, splits
    ``e-mail``, and makes every Han ideograph a token, because Lucene does; a rule must
    see the words the ``news-articles`` index holds for ``title`` and ``body``.
    """
    tokens: list[str] = []
    pattern = _STANDARD_LONGEST if _HEBREW_LETTER.search(text) else _STANDARD
    for match in pattern.finditer(text):
        token = lowercase(match.group())
        if len(token) <= MAX_TOKEN_LENGTH:
            tokens.append(token)
        else:
            tokens.extend(
                token[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(token), MAX_TOKEN_LENGTH)
            )
    return tokens
