from __future__ import annotations

from pathlib import Path

from streams.enrich.dedup import DuplicateIndex, InMemoryDuplicateIndex, fingerprint, hamming

SEED = (Path(__file__).parents[1] / "fixtures" / "seed_article.txt").read_text(encoding="utf-8")


def test_exact_duplicate_ignores_case_spacing_and_punctuation() -> None:
    assert (
        fingerprint(SEED).content_hash
        == fingerprint("  " + SEED.upper().replace(".", " ")).content_hash
    )


def test_syndicated_copy_is_near_and_other_story_is_far() -> None:
    copy = SEED.replace("Morgulov said", "Morgulov stated", 1) + "\nReporting by our staff."
    other = SEED[len(SEED) // 2 :] + SEED[: len(SEED) // 2]
    original, near, far = fingerprint(SEED), fingerprint(copy), fingerprint(other[:1500])
    assert original.simhash is not None and near.simhash is not None and far.simhash is not None
    assert hamming(original.simhash, near.simhash) <= 3
    assert hamming(original.simhash, far.simhash) > 10


def test_first_seen_names_the_first_id_and_is_stable_on_replay() -> None:
    index: DuplicateIndex = InMemoryDuplicateIndex()
    original = fingerprint(SEED)
    copy = fingerprint(SEED + "\nReporting by our staff.")
    assert index.first_seen("a", original) is None
    assert index.first_seen("b", copy) == "a"
    assert index.first_seen("c", original) == "a"
    assert index.first_seen("a", original) is None  # a replay of the original
    assert index.first_seen("b", copy) == "a"


def test_short_texts_only_match_exactly() -> None:
    index = InMemoryDuplicateIndex()
    assert fingerprint("Markets rose.").simhash is None
    assert index.first_seen("a", fingerprint("Markets rose.")) is None
    assert index.first_seen("b", fingerprint("Markets fell.")) is None
    assert index.first_seen("c", fingerprint("markets rose")) == "a"


def test_bands_are_exact_match_keys() -> None:
    bands = fingerprint(SEED).bands()
    assert len(bands) == 4 and len(set(bands)) == 4
    assert all(key.split(":")[0] in {"0", "1", "2", "3"} for key in bands)
