"""Language identification: ISO 639-1 codes from py3langid.

The classifier reads the text's lower-case words when there are enough of them: the
language is in its function words, while names, headlines in capitals and tables of
results ("BERLIN GRAND PRIX RESULTS ... 13.27 seconds") mislead it (to Croatian or
Nigerian Pidgin, seen on Reuters sports pages).

py3langid keeps the model's feature table column-major once it is restricted to some
languages, so reading the rows of a text's features touches a cache line per language;
``_identifier`` stores the same table row-major (same values, same scores).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from streams.tokens import letter_runs

# Enough text to decide reliably; identifying a whole long article costs time for nothing.
_SAMPLE_CHARS = 2000
_MIN_CONFIDENCE = 0.5
_MIN_PROSE_CHARS = 20


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # The model also knows ISO 639-3 languages (pcm, ace, ...): ours is ISO 639-1.
    identifier.set_languages([code for code in identifier.nb_classes if len(code) == 2])
    # A copy in row order replaces the column-major one set_languages made: each feature
    # row is then one read, not one per language (a third of a classification's time).
    identifier.nb_ptc = np.ascontiguousarray(identifier.nb_ptc)
    return identifier


def prose(sample: str) -> str:
    """The lower-case words of ``sample``: what carries its language."""
    return " ".join(word for word in letter_runs(sample) if word.islower())


def detect_language(text: str, *, declared: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``.

    Detection wins over the producer's ``declared`` language (feeds often declare a site
    default); ``declared`` is used when the text is too short or ambiguous to tell.
    """
    sample = text[:_SAMPLE_CHARS].strip()
    fallback = _normalise(declared)
    if len(sample) < 20:
        return fallback
    words = prose(sample)
    code, confidence = _identifier().classify(words if len(words) >= _MIN_PROSE_CHARS else sample)
    if confidence < _MIN_CONFIDENCE and fallback:
        return fallback
    return str(code)


def _normalise(declared: str | None) -> str | None:
    """``en-GB`` / ``EN_us`` / ``en`` -> ``en``; anything else unusable -> None."""
    if not declared:
        return None
    code = declared.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None
