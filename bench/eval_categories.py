"""IPTC categories: held-out accuracy (full articles and short snippets) and unseen corpora.

The split (also read by training/train_categories.py, which never reads the held-out part):

* BBC News (2,225 articles, 5 classes mapped to IPTC): 25 % held out by a fixed hash of
  the article text (so BBC's exact duplicates fall on the same side).
* Reuters-21578 articles whose topics are all economic: bench/eval_common's 30 % split by
  ``newid``; the held-out part must come out "economy, business and finance".
* CoNLL-2003 ``eng.train`` documents with a sport slug ("SOCCER - ..."), and those labelled
  world / business by hand in ``training/conll_train_topics.tsv`` (Reuters news of 1996):
  25 % held out by a hash of the headline.

Unseen corpora (never trained on): English feed items of ``../shared/data/feeds`` with the
publisher's own category tags (Reuters ``worldNews``; Guardian, mapped below), title plus
description, i.e. short texts like a 4-class news benchmark's; and the sport slugs of
CoNLL-2003 ``eng.testa``.

Every figure is given for the shipped model (lexicon + classifier) and for the lexicon
alone (the previous behaviour), as IPTC top-level accuracy and mapped to the four broad
classes world / sport / business / sci-tech (``streams.enrich.categories.BROAD_CLASS``;
articles whose gold class is arts have no counterpart there and are left out of the 4-class
figures; an arts prediction for the others counts as wrong). "short" is the title plus the
first sentence of the body.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eval_common import REPO, held_out, run_alone

from streams.enrich.categories import BROAD_CLASS, CategoryModel, categorize, load_categories
from streams.tokens import tokenize

ECONOMY = "economy, business and finance"
SPORT = "sport"
BBC_TO_IPTC = {
    "business": ECONOMY,
    "entertainment": "arts, culture, entertainment and media",
    "politics": "politics",
    "sport": SPORT,
    "tech": "science and technology",
}
REUTERS_ECONOMY = frozenset(
    {
        "earn",
        "acq",
        "money-fx",
        "interest",
        "trade",
        "crude",
        "grain",
        "ship",
        "money-supply",
        "gnp",
        "cpi",
        "bop",
        "reserves",
        "jobs",
        "ipi",
    }
)
# RCV1 sport desk slugs at the start of a CoNLL-2003 headline ("SOCCER - JAPAN GET ...").
SPORT_SLUGS = frozenset(
    {
        "SOCCER",
        "CRICKET",
        "BASEBALL",
        "TENNIS",
        "CYCLING",
        "GOLF",
        "ATHLETICS",
        "RUGBY UNION",
        "RALLYING",
        "RUGBY LEAGUE",
        "MOTOR RACING",
        "BASKETBALL",
        "HORSE RACING",
        "BADMINTON",
        "MOTORCYCLING",
        "SQUASH",
        "MOTOCROSS",
        "BOXING",
        "SWIMMING",
        "ROWING",
        "HOCKEY",
        "ICE HOCKEY",
        "NFL",
        "AMERICAN FOOTBALL",
        "NHL",
    }
)
# Guardian tags, checked in this order; the first tag found gives the broad class. Items
# with none of them (Culture, Life and style, ... alone) have no 4-class counterpart.
GUARDIAN_TAGS = (
    ("Sport", "sport"),
    ("Business", "business"),
    ("Technology", "sci/tech"),
    ("Science", "sci/tech"),
    ("World news", "world"),
    ("US news", "world"),
    ("US politics", "world"),
    ("UK news", "world"),
    ("Politics", "world"),
)
FEED_BROAD_TO_IPTC = {
    "world": "politics",
    "sport": SPORT,
    "business": ECONOMY,
    "sci/tech": "science and technology",
}
CONLL_LABELS = REPO / "training" / "conll_train_topics.tsv"
BBC_HELD_OUT_PERCENT = 25
CONLL_HELD_OUT_PERCENT = 25
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])")
_DATELINE = re.compile(r"^[A-Z][A-Za-z .,'-]* \d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Article:
    key: str
    title: str
    body: str
    gold: str  # IPTC top-level label; for feed items the broad class's stand-in

    @property
    def broad(self) -> str:
        return BROAD_CLASS[self.gold]


def first_sentences(text: str, count: int) -> str:
    """The first ``count`` sentences of ``text``, whitespace collapsed."""
    flat = " ".join(text.split())
    return " ".join(_SENTENCE_END.split(flat)[:count])


def short(article: Article, sentences: int = 1) -> Article:
    """The article as a short news item: title plus the first sentence(s) of its body."""
    return replace(article, body=first_sentences(article.body, sentences))


def bbc_is_held_out(article: Article) -> bool:
    return held_out(f"bbc:{article.key}", percent=BBC_HELD_OUT_PERCENT)


def conll_is_held_out(article: Article) -> bool:
    return held_out(f"conll:{article.key}", percent=CONLL_HELD_OUT_PERCENT)


def reuters_is_held_out(article: Article) -> bool:
    return held_out(article.key)  # bench/eval_trade.py's split of the same file


def read_bbc(data: Path) -> list[Article]:
    with (data / "bbc" / "bbc_news.csv").open(encoding="utf-8", newline="") as fh:
        return [
            Article(
                key=hashlib.sha256(row["text"].encode()).hexdigest()[:16],
                title=row["title"],
                body=row["text"],
                gold=BBC_TO_IPTC[row["category"]],
            )
            for row in csv.DictReader(fh)
        ]


def read_reuters_economy(data: Path) -> list[Article]:
    """Reuters-21578 articles whose topics are all economic (labelled economy)."""
    found = []
    with (data / "reuters21578" / "modapte_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            article = json.loads(line)
            topics = set(article.get("topics", []))
            if topics and topics <= REUTERS_ECONOMY:
                found.append(
                    Article(
                        key=str(article["newid"]),
                        title=(article.get("title") or "").capitalize(),
                        body=article["text"],
                        gold=ECONOMY,
                    )
                )
    return found


def read_conll_documents(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(headline, other lines) of each CoNLL-2003 document, tokens joined by spaces."""
    lines: list[str] = []
    words: list[str] = []
    for raw in [*path.read_text(encoding="utf-8").splitlines(), "-DOCSTART-"]:
        if raw.startswith("-DOCSTART-") or not raw.strip():
            if words:
                lines.append(" ".join(words))
                words = []
            if raw.startswith("-DOCSTART-") and lines:
                yield lines[0], [x for x in lines[1:] if not _DATELINE.match(x)]
                lines = []
            continue
        words.append(raw.split(" ", 1)[0])


def conll_slug(headline: str) -> str:
    return headline.split(" - ", 1)[0].strip().upper() if " - " in headline else ""


def read_conll_sport(data: Path, split: str = "eng.train") -> list[Article]:
    """CoNLL-2003 documents whose headline carries a sport desk slug (labelled sport)."""
    return [
        Article(key=headline, title=headline, body="\n".join(rest), gold=SPORT)
        for headline, rest in read_conll_documents(data / "conll2003" / split)
        if conll_slug(headline) in SPORT_SLUGS and rest
    ]


def read_conll_labelled(data: Path) -> list[Article]:
    """CoNLL-2003 eng.train world and business news, labelled by hand (training/...tsv)."""
    labels = {}
    for line in CONLL_LABELS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            number, broad = line.split("\t")
            labels[int(number)] = FEED_BROAD_TO_IPTC[broad]
    documents = read_conll_documents(data / "conll2003" / "eng.train")
    return [
        Article(key=headline, title=headline, body="\n".join(rest), gold=labels[i])
        for i, (headline, rest) in enumerate(documents)
        if i in labels and rest
    ]


def read_conll_other(data: Path, split: str = "eng.testa") -> list[Article]:
    """CoNLL-2003 documents without a sport slug: not sport (gold is unknown otherwise)."""
    return [
        Article(key=headline, title=headline, body="\n".join(rest), gold="politics")
        for headline, rest in read_conll_documents(data / "conll2003" / split)
        if not conll_slug(headline) and len(rest) >= 2
    ]


def read_feeds(data: Path) -> list[Article]:
    """English feed items with the publisher's category mapped to a broad class."""
    found = []
    for name in ("reuters.rss.xml", "guardian.rss.xml"):
        text = (data / "feeds" / name).read_text(encoding="utf-8")
        for item in re.findall(r"<item>(.*?)</item>", text, re.S):
            tags = {
                html.unescape(t).strip()
                for t in re.findall(r"<category[^>]*>(.*?)</category>", item, re.S)
            }
            broad = "world" if "worldNews" in tags else _guardian_class(tags)
            if broad is None:
                continue
            title = _plain(_first(r"<title>(.*?)</title>", item))
            found.append(
                Article(
                    key=f"{name}:{title}",
                    title=title,
                    body=_plain(_first(r"<description>(.*?)</description>", item)),
                    gold=FEED_BROAD_TO_IPTC[broad],
                )
            )
    return found


def _guardian_class(tags: set[str]) -> str | None:
    return next((broad for tag, broad in GUARDIAN_TAGS if tag in tags), None)


def _first(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.S)
    return match.group(1) if match else ""


def _plain(fragment: str) -> str:
    """Feed text as a reader sees it: CDATA, tags and entities removed."""
    fragment = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", fragment, flags=re.S)
    fragment = html.unescape(fragment)  # descriptions are escaped HTML
    text = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
    return " ".join(text.split())


def best_label(model: CategoryModel, article: Article) -> str:
    found = categorize(model, title=tokenize(article.title), body=tokenize(article.body))
    return found[0].label if found else "(none)"


def score(model: CategoryModel, articles: Sequence[Article]) -> dict[str, Any]:
    """IPTC and broad (4-class) accuracy of the best label, and the main confusions."""
    predicted = [best_label(model, a) for a in articles]
    four = [(a, p) for a, p in zip(articles, predicted, strict=True) if a.broad != "arts"]
    confusions: Counter[str] = Counter(
        f"{a.broad} -> {BROAD_CLASS.get(p, p)}" for a, p in four if BROAD_CLASS.get(p) != a.broad
    )
    per_class: Counter[str] = Counter(a.broad for a, _ in four)
    right: Counter[str] = Counter(a.broad for a, p in four if BROAD_CLASS.get(p) == a.broad)
    return {
        "articles": len(articles),
        "iptc_accuracy": _ratio(
            sum(p == a.gold for a, p in zip(articles, predicted, strict=True)), len(articles)
        ),
        "four_class_articles": len(four),
        "four_class_accuracy": _ratio(sum(right.values()), len(four)),
        "four_class_per_class": {k: _ratio(right[k], n) for k, n in sorted(per_class.items())},
        "top_confusions": dict(confusions.most_common(4)),
    }


def not_sport(model: CategoryModel, articles: Sequence[Article]) -> dict[str, Any]:
    wrong = sum(best_label(model, a) == SPORT for a in articles)
    return {
        "articles": len(articles),
        "not_called_sport": _ratio(len(articles) - wrong, len(articles)),
    }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def evaluate_model(data: Path, model: CategoryModel) -> dict[str, Any]:
    bbc = [a for a in read_bbc(data) if bbc_is_held_out(a)]
    reuters = [a for a in read_reuters_economy(data) if reuters_is_held_out(a)]
    conll = [a for a in read_conll_sport(data) if conll_is_held_out(a)]
    news = [a for a in read_conll_labelled(data) if conll_is_held_out(a)]
    feeds = read_feeds(data)
    return {
        "bbc_held_out": score(model, bbc),
        "bbc_held_out_short": score(model, [short(a) for a in bbc]),
        "reuters_economy_held_out": score(model, reuters),
        "reuters_economy_held_out_short": score(model, [short(a) for a in reuters]),
        "conll_sport_held_out_short": score(model, [short(a, 2) for a in conll]),
        "conll_world_business_held_out": score(model, news),
        "conll_world_business_held_out_short": score(model, [short(a, 2) for a in news]),
        "feeds_unseen": score(model, feeds),
        "conll_testa_sport_unseen_short": score(
            model, [short(a, 2) for a in read_conll_sport(data, "eng.testa")]
        ),
        "conll_testa_other_unseen_short": not_sport(
            model, [short(a, 2) for a in read_conll_other(data, "eng.testa")]
        ),
    }


def evaluate(data: Path) -> dict[str, Any]:
    return {
        "model": evaluate_model(data, load_categories()),
        "lexicon_alone": evaluate_model(data, load_categories(classifier=None)),
    }


def report(results: dict[str, Any]) -> None:
    model, lexicon = results["model"], results["lexicon_alone"]
    print("IPTC categories: lexicon + classifier (lexicon alone), best label")
    for name, figures in model.items():
        before = lexicon[name]
        if "not_called_sport" in figures:
            print(
                f"  {name} ({figures['articles']}): not called sport "
                f"{figures['not_called_sport']:.3f} ({before['not_called_sport']:.3f})"
            )
            continue
        print(
            f"  {name} ({figures['articles']}): IPTC {figures['iptc_accuracy']:.3f} "
            f"({before['iptc_accuracy']:.3f}); 4-class {figures['four_class_accuracy']:.3f} "
            f"({before['four_class_accuracy']:.3f}) on {figures['four_class_articles']}"
        )
        print(
            "    per class: "
            + ", ".join(f"{k} {v:.3f}" for k, v in figures["four_class_per_class"].items())
            + f"; confusions {figures['top_confusions']}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    run_alone(__doc__, evaluate, report, argv)


if __name__ == "__main__":
    main()
