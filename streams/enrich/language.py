"""Language identification: ISO 639-1 codes from py3langid."""

from __future__ import annotations

from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Enough text to decide reliably; identifying a whole long article costs time for nothing.
_SAMPLE_CHARS = 2000
_MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, *, declared: str | None = None) -> str | None:
    """The ISO 639-1 code of ``text``.

    Detection wins over the producer's ``declared`` language (feeds often declare a site
    default); ``declared`` is used when the text is too short or ambiguous to tell.
    """
    sample = text[:_SAMPLE_CHARS].strip()
    fallback = _normalise(declared)
    if len(sample) < 20:
        return fallback
    code, confidence = _identifier().classify(sample)
    if confidence < _MIN_CONFIDENCE and fallback:
        return fallback
    return str(code)


def _normalise(declared: str | None) -> str | None:
    """``en-GB`` / ``EN_us`` / ``en`` -> ``en``; anything else unusable -> None."""
    if not declared:
        return None
    code = declared.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None
