"""Train the classifier of watch topic ``trade`` (streams/data/topic_models/trade.json).

    .venv/bin/python training/train_topics.py [--data ../shared/data] [--out DIR]

Data: the Reuters-21578 ModApte training split (``reuters21578/modapte_train.jsonl``), its
development part ONLY (the split of bench/eval_trade.py, imported from bench/eval_common.py:
``held_out(newid)`` articles are never read here). Label: Reuters topic ``trade``.

Model: sublinear tf-idf of word 1-2 grams (the tokenisation of streams.enrich.topic_model,
so training and scoring cannot drift) + logistic regression, pruned to the K terms with the
largest |coefficient| and refit on exactly those terms, so the exported file scores what
was cross-validated. Chosen by 5-fold stratified cross-validation on the development part:
C, class weighting, K, and the weight w of the classifier in the topic's final score
``lexicon ** (1 - w) * probability ** w`` (streams.enrich.topics.combine; match at 0.5),
all maximising out-of-fold F1. w is kept <= 0.5 so that the topic's terms keep a veto
(one passing mention of "trade" in a football story never matches, however sure the
classifier, which has seen only Reuters economic news, is).
The model is English (Reuters) and its file says so (``languages: ["en"]``): the watch
topics score articles in other languages by their terms alone. The cross-validation does
the same for the few development articles whose detected language is not English (tables
of figures), so the chosen ``w`` is the one that scores the enricher's decisions.
Deterministic: fixed fold seed, liblinear with a fixed random_state.

scikit-learn is needed here only (``pip install -e '.[dev]'``); scoring is pure Python.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from eval_common import DEFAULT_DATA, held_out  # noqa: E402
from export_check import check_export  # noqa: E402

from streams.enrich import lexicon_scores, parse_taxonomy  # noqa: E402
from streams.enrich.language import detect_language  # noqa: E402
from streams.enrich.topic_model import FORMAT, TOKENIZER, features, parse_model  # noqa: E402
from streams.enrich.topics import combine, model_text  # noqa: E402
from streams.tokens import tokenize  # noqa: E402

LABEL = "trade"
LANGUAGES = ("en",)  # of the training texts: Reuters-21578 is English news
NGRAM_MAX = 2
MIN_DF = 2
SEED = 0
FOLDS = 5
GRID_C = (1.0, 3.0, 10.0, 30.0, 100.0)
GRID_CLASS_WEIGHT = ("balanced", None)
GRID_TERMS = (1000, 3000, 10000)
GRID_MODEL_WEIGHT = tuple(round(0.05 * i, 2) for i in range(11))  # 0 .. 0.5
TAXONOMY = REPO / "streams" / "data" / "watch_topics.yaml"


def read_development(data: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Texts (as the enricher gives them to a classifier), gold labels, lexicon scores, and
    whether the enricher would ask the classifier (the article's detected language is
    one of ``LANGUAGES``, as ``streams.enrich.topics.match_topics`` decides)."""
    spec = yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))
    for topic in spec["topics"].values():  # the lexicon alone: no model is loaded here
        topic.pop("model", None)
        topic.pop("model_weight", None)
    taxonomy = parse_taxonomy(spec, source=str(TAXONOMY))
    texts, gold, lexicon, asks = [], [], [], []
    with (data / "reuters21578" / "modapte_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            if held_out(str(article["newid"])):
                continue
            title, body = tokenize(article.get("title") or ""), tokenize(article["text"])
            texts.append(model_text(title, body))
            gold.append(LABEL in article.get("topics", []))
            lexicon.append(lexicon_scores(taxonomy, title=title, body=body)[LABEL])
            language = detect_language(body.text if body.text.strip() else title.text)
            asks.append(language is None or language in LANGUAGES)
    return texts, np.array(gold), np.array(lexicon), np.array(asks)


def f1(predicted: np.ndarray, gold: np.ndarray) -> float:
    tp = int(np.sum(predicted & gold))
    fp, fn = int(np.sum(predicted & ~gold)), int(np.sum(~predicted & gold))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def fit(
    counts: sparse.csr_matrix, y: np.ndarray, *, c: float, class_weight: str | None, terms: int
) -> tuple[np.ndarray, TfidfTransformer, LogisticRegression]:
    """Fit, keep the ``terms`` columns with the largest |coefficient|, refit on them."""
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    columns = np.flatnonzero(df >= MIN_DF)
    tfidf, model = _fit(counts[:, columns], y, c=c, class_weight=class_weight)
    order = np.argsort(-np.abs(model.coef_[0]), kind="stable")[:terms]
    kept = np.sort(columns[order])
    tfidf, model = _fit(counts[:, kept], y, c=c, class_weight=class_weight)
    return kept, tfidf, model


def _fit(
    counts: sparse.csr_matrix, y: np.ndarray, *, c: float, class_weight: str | None
) -> tuple[TfidfTransformer, LogisticRegression]:
    tfidf = TfidfTransformer(sublinear_tf=True, smooth_idf=True, norm="l2").fit(counts)
    model = LogisticRegression(
        C=c, class_weight=class_weight, solver="liblinear", random_state=SEED, max_iter=1000
    )
    model.fit(tfidf.transform(counts), y)
    return tfidf, model


def cross_validate(
    counts: sparse.csr_matrix, gold: np.ndarray, lexicon: np.ndarray, asks: np.ndarray
) -> list[dict[str, Any]]:
    """Out-of-fold F1 of every (C, class weight, K, model weight), best first."""
    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(counts, gold))
    results = []
    for c, class_weight, terms in itertools.product(GRID_C, GRID_CLASS_WEIGHT, GRID_TERMS):
        probability = np.zeros(len(gold))
        for train, test in folds:
            kept, tfidf, model = fit(
                counts[train], gold[train], c=c, class_weight=class_weight, terms=terms
            )
            x = tfidf.transform(counts[test][:, kept])
            probability[test] = model.predict_proba(x)[:, 1]
        for weight in GRID_MODEL_WEIGHT:
            score = np.array(
                [
                    combine(x, q, weight) if ask else x
                    for x, q, ask in zip(lexicon, probability, asks, strict=True)
                ]
            )
            results.append(
                {
                    "C": c,
                    "class_weight": class_weight,
                    "terms": terms,
                    "model_weight": weight,
                    "f1": round(f1(score >= 0.5, gold), 4),
                    "classifier_alone_f1": round(f1(probability >= 0.5, gold), 4),
                }
            )
    results.sort(key=lambda r: -r["f1"])
    return results


def export(
    vocabulary: Sequence[str],
    kept: np.ndarray,
    tfidf: TfidfTransformer,
    model: LogisticRegression,
    metrics: dict[str, Any],
) -> dict[str, Any]:
    idf, coef = tfidf.idf_, model.coef_[0]
    return {
        "format": FORMAT,
        "label": LABEL,
        "features": {
            "tokenizer": TOKENIZER,
            "ngram_max": NGRAM_MAX,
            "sublinear_tf": True,
            "norm": "l2",
        },
        "intercept": float(model.intercept_[0]),
        "languages": list(LANGUAGES),
        "terms": {
            vocabulary[column]: [round(float(idf[i]), 6), round(float(coef[i]), 6)]
            for i, column in enumerate(kept)
        },
        "source": (
            "Reuters-21578 ModApte training split, development part of bench/eval_trade.py "
            "(held-out part not used); label: Reuters topic 'trade'"
        ),
        "licence": "trained on Reuters-21578: research use only",
        "trained_by": "training/train_topics.py",
        "metrics": metrics,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "streams" / "data" / "topic_models")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    texts, gold, lexicon, asks = read_development(args.data)
    print(f"development part: {len(texts)} articles, {int(gold.sum())} '{LABEL}'")
    print(f"lexicon alone, development F1 {f1(lexicon >= 0.5, gold):.4f}")
    vectorizer = CountVectorizer(analyzer=lambda text: features(text, ngram_max=NGRAM_MAX))
    counts = vectorizer.fit_transform(texts).tocsr()
    vocabulary = vectorizer.get_feature_names_out().tolist()
    print(f"{int((~asks).sum())} development articles not detected as English: terms alone")
    results = cross_validate(counts, gold, lexicon, asks)
    best = results[0]
    print(f"{FOLDS}-fold cross-validation on the development part, best 5 of {len(results)}:")
    for r in results[:5]:
        print("  " + json.dumps(r))
    alone = max(results, key=lambda r: r["classifier_alone_f1"])
    print(f"classifier alone, best cross-validated F1 {alone['classifier_alone_f1']:.4f}")

    kept, tfidf, model = fit(
        counts, gold, c=best["C"], class_weight=best["class_weight"], terms=best["terms"]
    )
    metrics = {
        "development_articles": len(texts),
        "cv_folds": FOLDS,
        "cv_f1_combined": best["f1"],
        "cv_f1_classifier_alone": best["classifier_alone_f1"],
        "lexicon_alone_development_f1": round(f1(lexicon >= 0.5, gold), 4),
        "chosen": {k: best[k] for k in ("C", "class_weight", "terms", "model_weight")},
    }
    data = export(vocabulary, kept, tfidf, model, metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{LABEL}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")

    # The exported file must score what scikit-learn scores (same tokens, same vocabulary).
    loaded = parse_model(data, source=str(path))
    expected = model.predict_proba(tfidf.transform(counts[:, kept]))[:, 1]
    check_export(expected[:500], [loaded.probability(t) for t in texts[:500]])
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(kept)} terms); set "
        f"model_weight: {best['model_weight']} for topic {LABEL!r} in {TAXONOMY.name}; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
