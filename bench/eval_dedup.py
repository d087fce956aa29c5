"""Duplicates: syndicated copies found, distinct stories left alone (BBC News texts).

Copies are made the way syndication changes a story: a line of the site's own put
before it, a credit line appended, and three words edited. Every BBC
article and its copy go through one ``InMemoryDuplicateIndex``; a copy is found when
``first_seen`` names its original. Originals flagged as duplicates of another original
are counted separately (the BBC corpus itself contains some re-published stories).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_common import run_alone

from streams.enrich import InMemoryDuplicateIndex, fingerprint


def _copy(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(3):
        words[rng.randrange(len(words))] = rng.choice(["the", "said", "new", "also"])
    return "Our partner site reports.\n" + " ".join(words) + "\nCopyright: syndicated content."


def evaluate(data: Path, *, seed: int = 7) -> dict[str, Any]:
    with (data / "bbc" / "bbc_news.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(seed)
    index = InMemoryDuplicateIndex()
    flagged_originals = exact_originals = 0
    for i, row in enumerate(rows):
        fp = fingerprint(row["text"])
        original = index.first_seen(f"bbc-{i}", fp)
        if original is not None:
            flagged_originals += 1
            j = int(original.split("-")[1])
            exact_originals += fingerprint(rows[j]["text"]).content_hash == fp.content_hash
    found = 0
    eligible = 0
    for i, row in enumerate(rows):
        if len([p for p in row["text"].split("\n") if p.strip()]) < 3:
            continue
        eligible += 1
        answer = index.first_seen(f"copy-{i}", fingerprint(_copy(row["text"], rng)))
        found += answer is not None
    return {
        "articles": len(rows),
        "copies": eligible,
        "copies_found": round(found / eligible, 4) if eligible else 0.0,
        "originals_flagged": flagged_originals,
        "originals_flagged_exact": exact_originals,
    }


def report(results: dict[str, Any]) -> None:
    print(
        f"duplicates: {results['copies_found']:.3f} of {results['copies']} syndicated copies "
        f"found; {results['originals_flagged']} of {results['articles']} BBC originals flagged "
        f"({results['originals_flagged_exact']} of them exact re-publications)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()
