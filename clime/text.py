"""Tokenisation and the JSON-lines document format.

A document file has one JSON object a line: ``{"id": int, "text": [tokens],
"label": int}`` (``label`` absent in unlabelled files).  ``text`` may also be a
raw string, which is tokenised with :func:`tokenize`.
"""

import json
import re
from pathlib import Path

from .errors import ClimeError
from .fileio import atomic_open, parse_json, require_file

# A run of letters/digits, keeping a French-style elision apostrophe on the
# first part (l'école -> l' école), or a single punctuation mark.
_TOKEN = re.compile(r"[^\W_]+(?:['’](?=[^\W\d_]))?|[^\w\s]|_+", re.UNICODE)


def tokenize(text, lower=True):
    """Split a raw string into word and punctuation tokens (lower-cased by default)."""
    if lower:
        text = text.lower()
    return [t.replace("’", "'") for t in _TOKEN.findall(text)]


def read_docs(path, labeled=True, max_lines=None):
    """Read a JSON-lines document file.

    Returns a list of dicts with ``id``, ``text`` (list of tokens) and, when
    ``labeled``, ``label`` (int or str).  Any malformed line is a ClimeError
    naming the file and line.
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
                text = tokenize(text)
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
