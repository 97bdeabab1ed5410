"""Tokenisation and the JSON-lines document format.

A document file has one JSON object a line: ``{"id": int, "text": [tokens],
"label": int}`` (``label`` absent in unlabelled files).  ``text`` may also be a
raw string, which is tokenised with :func:`tokenize`.

Tokenisation rules (:func:`tokenize`), documented in docs/make_kit.md:

- A token is a run of letters and digits, apostrophes *inside* a word included
  (``o'clock``, Finnish ``show'n``), or one punctuation mark.  Hyphens and
  other marks split words (``covid-19`` -> ``covid - 19``, ``peut-être`` ->
  ``peut - être``): the word vectors the kits use have no hyphenated entries.
  The typographic apostrophe ’ is written as '.
- ``lang="en"``: the clitics ``n't 's 're 've 'll 'd 'm`` are split off
  (``don't`` -> ``do n't``, ``it's`` -> ``it 's``, ``can't`` -> ``can n't``,
  ``won't`` -> ``will n't``), as in the Penn Treebank.
- ``lang="fr"``: the elided words ``l' d' j' qu' n' s' c' m' t' jusqu' lorsqu'
  puisqu' quoiqu'`` are split off the word they lean on (``l'avion`` ->
  ``l' avion``, ``qu'aujourd'hui`` -> ``qu' aujourd'hui``); words that carry an
  apostrophe of their own stay whole (``aujourd'hui``, ``quelqu'un``,
  ``presqu'île``, ``prud'homme``).
- Any other language (``lang=None``, ``"fi"``, ...): only the general rule.
"""

import json
import re
from pathlib import Path

from .errors import ClimeError
from .fileio import atomic_open, parse_json, require_file

# letters/digits with inner apostrophes | one punctuation mark | a run of underscores
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_+", re.UNICODE)

_EN_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_EN_NEGATED = {"ca": "can", "wo": "will", "sha": "shall"}  # can't, won't, shan't
_EN_WHOLE = {"ain't"}

_FR_ELIDED = ("jusqu'", "lorsqu'", "puisqu'", "quoiqu'", "qu'", "l'", "d'", "j'", "n'", "s'", "c'", "m'", "t'")
_FR_WHOLE = {"aujourd'hui", "quelqu'un", "quelqu'une", "presqu'île", "presqu'îles", "prud'homme", "prud'hommes"}

LANGUAGES = ("en", "fr")  # languages with rules of their own; every other code gets the general rule


def _split_en(word):
    low = word.lower()
    if "'" not in word or low in _EN_WHOLE:
        return [word]
    for clitic in _EN_CLITICS:
        if low.endswith(clitic) and len(low) > len(clitic):
            stem = word[: -len(clitic)]
            if clitic == "n't":
                stem = _EN_NEGATED.get(stem.lower(), stem)
            return _split_en(stem) + [word[-len(clitic):]]
    return [word]


def _split_fr(word):
    low = word.lower()
    if "'" not in word or low in _FR_WHOLE:
        return [word]
    for elided in _FR_ELIDED:
        if low.startswith(elided) and len(low) > len(elided):
            return [word[: len(elided)]] + _split_fr(word[len(elided):])
    return [word]


_SPLIT = {"en": _split_en, "fr": _split_fr}


def tokenize(text, lower=True, lang=None):
    """Split a raw string into word and punctuation tokens (lower-cased by default),
    with the rules of ``lang`` (an ISO 639-1 code; see the module docstring)."""
    if lower:
        text = text.lower()
    text = text.replace("’", "'")
    split = _SPLIT.get((lang or "").lower()[:2])
    tokens = _TOKEN.findall(text)
    if split is None:
        return tokens
    return [t for word in tokens for t in split(word)]


def read_docs(path, labeled=True, max_lines=None, lang=None):
    """Read a JSON-lines document file.

    Returns a list of dicts with ``id``, ``text`` (list of tokens) and, when
    ``labeled``, ``label`` (int or str).  Any malformed line is a ClimeError
    naming the file and line.  A raw-string ``text`` is tokenised with the
    rules of ``lang`` (see :func:`tokenize`).
    """
    path = Path(path)
    require_file(path, "a JSON-lines document file")
    docs = []
    seen_ids = set()
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if max_lines is not None and len(docs) >= max_lines:
                break
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ClimeError(f"invalid UTF-8 ({err.reason})", path, lineno) from None
            if not line.strip():
                continue
            obj = parse_json(line, path, lineno)
            if not isinstance(obj, dict):
                raise ClimeError("expected a JSON object", path, lineno)
            if "text" not in obj:
                raise ClimeError("missing field 'text'", path, lineno)
            text = obj["text"]
            if isinstance(text, str):
                text = tokenize(text, lang=lang)
            elif not (isinstance(text, list) and all(isinstance(t, str) for t in text)):
                raise ClimeError("'text' must be a list of strings or a string", path, lineno)
            doc_id = obj.get("id", len(docs))
            if isinstance(doc_id, bool) or not isinstance(doc_id, (int, str)):
                raise ClimeError("'id' must be an integer or a string", path, lineno)
            if doc_id in seen_ids:
                raise ClimeError(f"duplicate id {doc_id!r}", path, lineno)
            seen_ids.add(doc_id)
            doc = {"id": doc_id, "text": text}
            if labeled:
                if "label" not in obj:
                    raise ClimeError("missing field 'label'", path, lineno)
                label = obj["label"]
                if isinstance(label, bool) or not isinstance(label, (int, str)):
                    raise ClimeError(f"'label' must be an integer or a string, found {label!r}", path, lineno)
                doc["label"] = label
            elif "label" in obj:
                doc["label"] = obj["label"]
            docs.append(doc)
    if not docs:
        raise ClimeError("no documents (empty file)", path)
    return docs


def write_docs(path, docs):
    """Write documents as JSON lines (atomically)."""
    with atomic_open(path) as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")


def shared_with(docs, others):
    """Which of ``docs`` are also in ``others``: the same id (compared as text, so ``1`` and ``"1"``
    match) or an identical token list.  In a parallel corpus (SIB-200) an equal id is the same
    sentence in another language.  Returns (sorted indices into ``docs``, count by id, count by text)."""
    ids = {str(d["id"]) for d in others}
    texts = {tuple(d["text"]) for d in others}
    by_id = [i for i, d in enumerate(docs) if str(d["id"]) in ids]
    by_text = [i for i, d in enumerate(docs) if tuple(d["text"]) in texts]
    return sorted(set(by_id) | set(by_text)), len(by_id), len(by_text)
