"""Sanctions screening: recall on listed names written the way news writes them, and
false hits on names that are not listed.

Positives: every UN-listed individual with a given name and a family name, written as
news would ("Given Family": first and last name only, title case, no patronymic or
middle names). Negatives: the PER entities of CoNLL-2003 dev (Reuters 1996 news), which
the 2021/2026 lists should almost never contain. Run against OFAC SDN + UN.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval_common import run_alone

from streams.enrich import Screener, load_screener
from streams.messages import Entity


def _positives(un_xml: Path) -> list[tuple[str, str]]:
    names = []
    for node in ET.parse(un_xml).getroot().iter("INDIVIDUAL"):
        parts = [
            (node.findtext(tag) or "").strip()
            for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
        ]
        parts = [p for p in parts if p]
        if len(parts) >= 2:
            news = f"{parts[0].split()[0]} {parts[-1].split()[-1]}".title()
            names.append((news, (node.findtext("REFERENCE_NUMBER") or "").strip()))
    return names


def _conll_persons(path: Path) -> set[str]:
    persons: set[str] = set()
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split()
        tag = cols[-1] if len(cols) >= 4 else "O"
        if tag.endswith("PER") and not (tag.startswith("B-") and current):
            current.append(cols[0])
            continue
        if len(current) >= 2:
            persons.add(" ".join(current))
        current = [cols[0]] if tag.endswith("PER") else []
    return persons


def _hits(screener: Screener, name: str) -> list[str]:
    found = screener.screen([Entity(name=name, label="PERSON", spans=[(0, len(name))], count=1)])
    return [h.entry_id for h in found]


def evaluate(data: Path) -> dict[str, Any]:
    sanctions = data / "sanctions"
    un_xml = sanctions / "un_consolidated" / "UN_consolidated.xml"
    screener = load_screener(ofac_paths=[sanctions / "ofac_sdn" / "sdn.csv"], un_paths=[un_xml])
    assert screener is not None
    positives = _positives(un_xml)
    found = sum(entry in _hits(screener, name) for name, entry in positives)
    negatives = sorted(_conll_persons(data / "conll2003" / "eng.testa"))
    false_hits = {name: _hits(screener, name) for name in negatives}
    false_hits = {k: v for k, v in false_hits.items() if v}
    return {
        "listed_names": len(positives),
        "recall": round(found / len(positives), 4) if positives else 0.0,
        "unlisted_names": len(negatives),
        "names_with_hits": len(false_hits),
        "examples_with_hits": dict(list(false_hits.items())[:10]),
    }


def report(results: dict[str, Any]) -> None:
    print(
        f"screening recall on {results['listed_names']} UN-listed individuals written "
        f"'Given Family': {results['recall']:.3f}"
    )
    print(
        f"screening: {results['names_with_hits']} of {results['unlisted_names']} CoNLL-2003 dev "
        f"person names hit a list entry (to be reviewed: {results['examples_with_hits']})"
    )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()
