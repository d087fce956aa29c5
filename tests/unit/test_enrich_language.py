from __future__ import annotations

import pytest

from streams.enrich.language import detect_language


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The government announced new measures to support small businesses on Monday.", "en"),
        ("Die Regierung hat am Montag neue Maßnahmen zur Unterstützung angekündigt.", "de"),
        ("Le gouvernement a annoncé lundi de nouvelles mesures pour les entreprises.", "fr"),
        ("O governo anunciou na segunda-feira novas medidas para as empresas.", "pt"),
    ],
)
def test_detects_iso_639_1(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_short_text_falls_back_to_the_declared_language() -> None:
    assert detect_language("Ok", declared="it-IT") == "it"
    assert detect_language("Ok", declared="nonsense") is None
    assert detect_language("") is None
