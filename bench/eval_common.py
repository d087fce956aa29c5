"""Helpers shared by the bench/eval_*.py scripts: data paths, splits, scores."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def held_out(key: str, *, percent: int = 30, salt: str = "newsstream-eval") -> bool:
    """A stable pseudo-random split: the same key always falls on the same side."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def bag_f1(predicted: Iterable[str], gold: Iterable[str]) -> tuple[float, float, float]:
    """Bag-of-words precision, recall and F1 (multiset overlap)."""
    p, g = Counter(predicted), Counter(gold)
    overlap = sum((p & g).values())
    precision = overlap / sum(p.values()) if p else 0.0
    recall = overlap / sum(g.values()) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def run_alone(
    doc: str | None,
    evaluate: Callable[[Path], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
    argv: Sequence[str] | None = None,
) -> None:
    """The command line of an eval_*.py run on its own: ``--data``, evaluate, report."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    report(evaluate(parser.parse_args(argv).data))
