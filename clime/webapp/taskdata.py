"""The data of one annotation task (``ui_data/<task>/``), loaded once and kept in memory.

``setup.json`` gives the keywords and their neighbours, ``concordance_{src,tgt}.json``
the contexts shown when a word is clicked, ``vocab_{src,tgt}.json`` the words offered
by autocomplete.  All of it is untrusted corpus text: it is only ever handed to
Jinja (autoescaped) or to the browser as JSON (rendered with ``textContent``).
"""

import bisect
import heapq
import json
import re
import threading
from pathlib import Path

from ..errors import ClimeError
from .detok import context_parts, detokenize

TASK_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
USER_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
RESERVED_TASKS = {"api", "static", "owner"}
LANGS = ("src", "tgt")
MAX_WORD_LEN = 100


def valid_task(name):
    return isinstance(name, str) and bool(TASK_RE.fullmatch(name)) and name not in RESERVED_TASKS


def valid_user(name):
    return isinstance(name, str) and bool(USER_RE.fullmatch(name))


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ClimeError(f"cannot read JSON ({err})", path) from None


def _dedupe(words, exclude=()):
    seen = set(exclude)
    out = []
    for w in words:
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


class TaskData:
    """Keywords, neighbours, concordances and vocabularies of one task."""

    def __init__(self, name, directory):
        self.name = name
        self.dir = Path(directory)
        path = self.dir / "setup.json"
        setup = _read_json(path)
        if not isinstance(setup, dict) or not isinstance(setup.get("keywords"), list):
            raise ClimeError("expected an object with a list 'keywords'", path)
        self.src_lang = str(setup.get("src_lang") or "source language")
        self.tgt_lang = str(setup.get("tgt_lang") or "target language")
        cats = setup.get("categories") or []
        self.categories = [str(c) for c in cats] if isinstance(cats, list) else []
        self.keywords = []  # [{"word", "src": [words], "tgt": [words]}] in rank order
        seen = set()
        for i, kw in enumerate(setup["keywords"]):
            if not (isinstance(kw, dict) and isinstance(kw.get("word"), str) and kw["word"]):
                raise ClimeError(f"keyword #{i + 1}: expected an object with a 'word'", path)
            if kw["word"] in seen:
                continue
            seen.add(kw["word"])
            entry = {"word": kw["word"]}
            for side in LANGS:
                lst = kw.get(side, [])
                if not isinstance(lst, list):
                    raise ClimeError(f"keyword {kw['word']!r}: '{side}' is not a list", path)
                words = []
                for n in lst:
                    w = n.get("word") if isinstance(n, dict) else n
                    if not isinstance(w, str) or not w:
                        raise ClimeError(f"keyword {kw['word']!r}: bad {side} neighbour", path)
                    words.append(w)
                entry[side] = _dedupe(words, exclude=(kw["word"],) if side == "src" else ())
            self.keywords.append(entry)
        if not self.keywords:
            raise ClimeError("the task has no keywords", path)
        self.index = {kw["word"]: i for i, kw in enumerate(self.keywords)}
        self.neighbor_sets = [{s: set(kw[s]) for s in LANGS} for kw in self.keywords]
        self._lock = threading.Lock()
        self._concordance = None
        self._vocab = None

    # -- keywords -----------------------------------------------------------
    def __len__(self):
        return len(self.keywords)

    def keyword(self, page):
        """The keyword entry of a 1-based page number, or None."""
        if isinstance(page, int) and not isinstance(page, bool) and 1 <= page <= len(self.keywords):
            return self.keywords[page - 1]
        return None

    def lang_name(self, lang):
        return self.src_lang if lang == "src" else self.tgt_lang

    # -- concordances ---------------------------------------------------------
    def _load_concordance(self):
        with self._lock:
            if self._concordance is not None:
                return self._concordance
            conc = {}
            for side in LANGS:
                path = self.dir / f"concordance_{side}.json"
                lang = self.lang_name(side)
                table = {}
                if path.exists():
                    data = _read_json(path)
                    if not isinstance(data, dict):
                        raise ClimeError("expected an object {word: [contexts]}", path)
                    for word, ctxs in data.items():
                        if not isinstance(ctxs, list):
                            continue
                        clean = []
                        for c in ctxs:
                            if not isinstance(c, dict) or not isinstance(c.get("tokens"), list):
                                continue
                            toks = [str(t) for t in c["tokens"]]
                            pos = c.get("pos")
                            if not isinstance(pos, int) or isinstance(pos, bool) or not 0 <= pos < len(toks):
                                pos = toks.index(word) if word in toks else -1
                            if pos < 0:
                                left, mid, right = detokenize(toks, lang), "", ""
                            else:  # readable text (detok), separators included in left and right
                                left, mid, right = context_parts(toks, pos, lang)
                            doc = c.get("doc")
                            clean.append({"doc": doc if isinstance(doc, (int, str)) else None,
                                          "left": left, "word": mid, "right": right})
                        table[str(word)] = clean
                conc[side] = table
            self._concordance = conc
            return conc

    def contexts(self, lang, word):
        return self._load_concordance()[lang].get(word, [])

    # -- vocabularies ---------------------------------------------------------
    def _load_vocab(self):
        with self._lock:
            if self._vocab is not None:
                return self._vocab
            vocab = {}
            for side in LANGS:
                path = self.dir / f"vocab_{side}.json"
                pairs = []
                if path.exists():
                    data = _read_json(path)
                    if not isinstance(data, list):
                        raise ClimeError("expected a list [[word, frequency], ...]", path)
                    for row in data:
                        if isinstance(row, list) and row and isinstance(row[0], str):
                            freq = row[1] if len(row) > 1 and isinstance(row[1], (int, float)) else 0
                            pairs.append((row[0], freq))
                        elif isinstance(row, str):
                            pairs.append((row, 0))
                pairs.sort()  # the contract says sorted already; be safe, bisect needs it
                words = [w for w, _ in pairs]
                vocab[side] = {"words": words, "freqs": [f for _, f in pairs], "set": set(words)}
            self._vocab = vocab
            return vocab

    def has_vocab(self, lang):
        return bool(self._load_vocab()[lang]["words"])

    def in_vocab(self, lang, word):
        return word in self._load_vocab()[lang]["set"]

    def complete(self, lang, prefix, limit=10, scan=5000):
        """Up to ``limit`` vocabulary words starting with ``prefix``, most frequent first."""
        v = self._load_vocab()[lang]
        words, freqs = v["words"], v["freqs"]
        if not prefix:
            return []
        found = {}
        for p in _dedupe([prefix, prefix.lower()]):
            lo = bisect.bisect_left(words, p)
            hi = min(len(words), lo + scan)
            i = lo
            while i < hi and words[i].startswith(p):
                found[words[i]] = freqs[i]
                i += 1
        best = heapq.nsmallest(limit, found.items(), key=lambda wf: (-wf[1], len(wf[0]), wf[0]))
        return [w for w, _ in best]


class TaskCache:
    """Loads each task once (again only if its setup.json changes) and keeps it."""

    def __init__(self, ui_data):
        self.root = Path(ui_data)
        self._tasks = {}
        self._lock = threading.Lock()

    def task_dir(self, name):
        """The directory of a valid task name, or None (never outside ``root``)."""
        if not valid_task(name):
            return None
        d = self.root / name
        try:
            if d.resolve().parent != self.root.resolve():
                return None
        except OSError:
            return None
        return d if (d / "setup.json").is_file() else None

    def get(self, name):
        """The TaskData of ``name``, or None when there is no such task."""
        d = self.task_dir(name)
        if d is None:
            return None
        try:
            mtime = (d / "setup.json").stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            hit = self._tasks.get(name)
            if hit is not None and hit[0] == mtime:
                return hit[1]
        data = TaskData(name, d)
        with self._lock:
            self._tasks[name] = (mtime, data)
        return data

    def names(self):
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self.task_dir(p.name) is not None)
