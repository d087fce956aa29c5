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


def test_tables_of_names_and_numbers_are_read_by_their_lower_case_words() -> None:
    # Club names and scores alone read as Croatian; the few English words decide.
    results = (
        "SOCCER - CROATIAN LEAGUE RESULTS .\nZAGREB 2024-08-31\n"
        "Results of Croatian first division matches on Saturday :\n"
        "Dinamo Zagreb 3 Hajduk Split 1\nRijeka 0 Osijek 0\nLokomotiva 2 Slaven Belupo 2\n"
        "Istra 1 Varazdin 0\nGorica 1 Sibenik 3\nStandings :\n"
        "Dinamo Zagreb 6 5 1 0 14 4 16\nRijeka 6 4 2 0 9 2 14\nHajduk Split 6 4 1 1 12 6 13"
    )
    assert detect_language(results) == "en"


def test_only_two_letter_codes_are_returned() -> None:
    text = "Leading results at the Grand Prix meeting on Friday : 1. Allen Johnson 13.27 seconds"
    code = detect_language(text)
    assert code is not None and len(code) == 2
