from __future__ import annotations

from pathlib import Path

from streams.enrich import DuplicateIndex, InMemoryDuplicateIndex, fingerprint
from streams.enrich.dedup import BANDS

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = (FIXTURES / "seed_article.txt").read_text(encoding="utf-8")
OTHER = (
    "The central bank raised interest rates on Thursday for the third time this year, "
    "saying inflation remained too high. Economists had expected the move after a run of "
    "strong wage data, and markets barely reacted. The governor said further increases "
    "could not be ruled out if prices kept rising at the current pace through the spring."
)


def syndicated(text: str) -> str:
    return (
        "Republished with permission.\n"
        + text.replace("Morgulov said", "Morgulov stated", 1).replace("closer", "tighter", 1)
        + "\nReporting by our staff; editing by the desk."
    )


def test_exact_duplicate_ignores_case_spacing_and_punctuation() -> None:
    variant = "  " + SEED.upper().replace(".", " ")
    assert fingerprint(SEED).content_hash == fingerprint(variant).content_hash


def test_syndicated_copy_is_similar_and_another_story_is_not() -> None:
    original = fingerprint(SEED)
    assert original.similarity(fingerprint(syndicated(SEED))) >= 0.8
    assert original.similarity(fingerprint(OTHER)) < 0.2
    assert set(original.bands()) & set(fingerprint(syndicated(SEED)).bands())


def test_first_seen_names_the_first_id_and_is_stable_on_replay() -> None:
    index: DuplicateIndex = InMemoryDuplicateIndex()
    original, copy = fingerprint(SEED), fingerprint(syndicated(SEED))
    assert index.first_seen("a", original) is None
    assert index.first_seen("b", copy) == "a"
    assert index.first_seen("c", original) == "a"
    assert index.first_seen("a", original) is None  # a replay of the original
    assert index.first_seen("b", copy) == "a"
    assert index.first_seen("d", fingerprint(OTHER)) is None


def test_short_texts_only_match_exactly() -> None:
    index = InMemoryDuplicateIndex()
    assert fingerprint("Markets rose.").signature is None
    assert index.first_seen("a", fingerprint("Markets rose.")) is None
    assert index.first_seen("b", fingerprint("Markets fell.")) is None
    assert index.first_seen("c", fingerprint("markets rose")) == "a"


def test_signatures_are_stable_across_processes() -> None:
    # Stored fingerprints (e.g. in Elasticsearch) must stay comparable after a restart:
    # the hash functions are fixed, so this value may never change.
    fp = fingerprint(SEED)
    assert fp.signature is not None and len(fp.signature) == 128
    assert len(fp.bands()) == BANDS and len(set(fp.bands())) == BANDS
    assert fp.signature[0] == 72512303456186985
    assert fp.bands()[0] == "0:b05ad2b3b855d69a"


def test_a_store_verifies_candidates_from_what_it_kept() -> None:
    original, copy = fingerprint(SEED), fingerprint(syndicated(SEED))
    stored = (original.content_hash, original.encoded())
    assert copy.matches_stored(*stored)
    assert not fingerprint(OTHER).matches_stored(*stored)
    short = fingerprint("Markets rose.")
    assert short.encoded() is None
    assert short.matches_stored(short.content_hash, None)
    assert not short.matches_stored(original.content_hash, original.encoded())
