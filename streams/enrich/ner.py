"""Load the spaCy pipeline that finds named entities.

The rest of enrichment relies only on ``doc.ents`` with OntoNotes labels (PERSON, ORG,
GPE, LOC, NORP, EVENT, FAC, MONEY, PERCENT, DATE, ...), so a better model can replace
this one as long as ``load_pipeline`` keeps its signature.
"""

from __future__ import annotations

import spacy
from spacy.language import Language

from streams.errors import ConfigError

# Components of en_core_web_sm that NER does not need: its ``ner`` has its own
# embedding layer, so tagging, parsing and lemmatising would only cost time.
_UNUSED = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter")


def load_pipeline(model: str) -> Language:
    """Load ``model`` (an installed package name or a path) with only its NER running."""
    try:
        nlp = spacy.load(model, exclude=[name for name in _UNUSED if name != "ner"])
    except OSError as exc:
        raise ConfigError(
            f"spaCy model {model!r} is not installed; set NEWSSTREAM_SPACY_MODEL"
        ) from exc
    if "ner" not in nlp.pipe_names:
        raise ConfigError(f"spaCy model {model!r} has no 'ner' component")
    return nlp
