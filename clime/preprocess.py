"""Everything the annotation app shows, prepared ahead: ``ui_data/<task>/``.

* vocabulary of each language: the words that occur in that language's
  documents *and* are among the first ``max_rows`` rows of its embedding
  matrix (embedding files are sorted by frequency);
* keywords: the first ``max_keywords`` words of the ranking that are in the
  source vocabulary, in rank order;
* neighbours of each keyword: the ``k`` nearest source words (the keyword
  itself excluded by its row, so another word with the very same vector still
  shows) and the ``k`` nearest target words, by exact cosine over the two
  restricted vocabularies, or by CSLS (k=10, penalties against the restricted
  vocabularies);
* concordances: for every vocabulary word, up to ``contexts`` windows of
  ``window`` tokens on each side, from different documents, found in one pass
  over each document file; tokens are stored as data (never HTML);
* autocomplete vocabularies ``[[word, frequency], ...]`` sorted by word.

The task directory is written into a temporary directory that replaces
``out_dir`` whole at the end, so a second run replaces the task completely and
a failure leaves the old task (or nothing) behind.
"""

import logging
import math
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import cli
from .embeddings import check_same_dim, load_embeddings
from .errors import ClimeError
from .fileio import atomic_dir, write_json, require_file
from .text import read_docs

log = logging.getLogger(__name__)

FORMAT = 1
TASK_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
RESERVED_TASKS = {"api", "static"}  # URL prefixes of the app (clime.webapp.taskdata)
CSLS_K = 10
SIM_DIGITS = 4


# ---------------------------------------------------------------- inputs

def check_task_name(name):
    """Task names become folder names and URLs: letters, digits, '-' and '_' (1-64)."""
    if not isinstance(name, str) or not TASK_RE.fullmatch(name):
        raise ClimeError(f"bad task name {name!r}: use 1 to 64 letters, digits, '-' or '_'")
    if name in RESERVED_TASKS:
        raise ClimeError(f"bad task name {name!r}: reserved by the app ({', '.join(sorted(RESERVED_TASKS))})")
    return name


def read_ranking(path):
    """Read a word ranking, best first: ``word<TAB>score`` lines (extra tab fields
    are ignored), ``word score`` or a bare word per line.

    Returns ``[(word, score or None), ...]`` with repeated words dropped (the
    first one wins).  Blank lines are skipped.
    """
    path = Path(path)
    require_file(path, "a word ranking")
    out, seen = [], set()
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise ClimeError(f"invalid UTF-8 ({err.reason})", path, lineno) from None
            if not line.strip():
                continue
            if "\t" in line:
                parts = line.split("\t")
                word, score_txt = parts[0].strip(), parts[1].strip()
            else:
                parts = line.split()
                if len(parts) > 2:
                    raise ClimeError(f"expected 'word<TAB>score' or a word, found {len(parts)} fields", path, lineno)
                word, score_txt = parts[0], (parts[1] if len(parts) == 2 else "")
            if not word:
                raise ClimeError("empty word", path, lineno)
            score = None
            if score_txt:
                try:
                    score = float(score_txt)
                except ValueError:
                    raise ClimeError(f"score {score_txt!r} is not a number", path, lineno) from None
                if not math.isfinite(score):
                    raise ClimeError(f"score {score_txt!r} is not finite", path, lineno)
            if word in seen:
                continue
            seen.add(word)
            out.append((word, score))
    if not out:
        raise ClimeError("no words (empty ranking)", path)
    return out


def read_categories(path):
    """One category name a line (label order); blank lines ignored; at least one."""
    path = Path(path)
    require_file(path, "a categories file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ClimeError(f"invalid UTF-8 ({err.reason})", path) from None
    cats = [c.strip() for c in text.splitlines() if c.strip()]
    if not cats:
        raise ClimeError("no categories (empty file): write one category name a line", path)
    if len(set(cats)) != len(cats):
        dup = next(c for c in cats if cats.count(c) > 1)
        raise ClimeError(f"category {dup!r} is listed twice", path)
    return cats


# ---------------------------------------------------------------- documents

def scan_docs(docs, allowed, contexts=5, window=10):
    """One pass over ``docs``: token frequencies and concordances of the ``allowed`` words.

    Returns ``(freq, conc)``: ``freq`` a Counter of the allowed words that occur,
    ``conc`` word -> list of ``{"doc": id, "tokens": [...], "pos": i}`` with at
    most ``contexts`` windows, each from a different document (the first
    occurrence in each document, documents in file order); a window holds up to
    ``window`` tokens on each side, cut at the document edges, and
    ``tokens[pos]`` is the word.
    """
    freq = Counter()
    conc = {}
    full = set()  # words that already have all their windows
    for doc in docs:
        text = doc["text"]
        freq.update(text)
        if contexts <= 0:
            continue
        taken = set()
        for i, tok in enumerate(text):
            if tok in taken or tok in full or tok not in allowed:
                continue
            taken.add(tok)
            start = max(0, i - window)
            lst = conc.setdefault(tok, [])
            lst.append({"doc": doc["id"], "tokens": list(text[start:i + window + 1]), "pos": i - start})
            if len(lst) >= contexts:
                full.add(tok)
    freq = Counter({w: c for w, c in freq.items() if w in allowed})
    return freq, conc


def restricted_vocab(emb, freq, max_rows):
    """Rows (in embedding order) of the words among the first ``max_rows`` rows that occur in the documents."""
    rows = [i for i, w in enumerate(emb.words[:max_rows]) if freq.get(w, 0) > 0]
    return np.asarray(rows, dtype=np.int64)


def vocab_list(words, freq):
    """``[[word, frequency], ...]`` sorted by word (code point order, as Python's bisect expects)."""
    return [[w, int(freq[w])] for w in sorted(words)]


# ---------------------------------------------------------------- neighbours

class NeighbourSearch:
    """Neighbours in the restricted source (S) and target (T) vocabularies.

    Vectors are normalised once; CSLS penalties, when asked for, are computed
    once against the restricted vocabularies (monolingual ones without the word
    itself).
    """

    def __init__(self, S, T, csls=False, device="cpu", csls_k=CSLS_K, progress=False):
        # torch is imported here, not at module level, so that bad inputs fail fast
        from .neighbors import mean_topk_sim, resolve_device, unit_rows

        self.device = resolve_device(device)
        self.S = unit_rows(S, self.device)
        self.T = unit_rows(T, self.device)
        self.csls = csls
        self.progress = progress
        if csls:
            kw = dict(device=self.device, assume_unit=True, progress=progress)
            self.r_ss = mean_topk_sim(self.S, self.S, csls_k, exclude_self=True, **kw)  # S word -> S
            self.r_st = mean_topk_sim(self.S, self.T, csls_k, **kw)  # S word -> T
            self.r_ts = mean_topk_sim(self.T, self.S, csls_k, **kw)  # T word -> S

    def query(self, rows, k, progress=None):
        """Source neighbours (row excluded) and target neighbours of source rows ``rows``.

        Returns ``(src_idx, src_cos, src_score, tgt_idx, tgt_cos, tgt_score)``;
        ``*_cos`` are cosines, ``*_score`` the ranking scores (= cosines, or CSLS).
        """
        import torch

        from .neighbors import topk

        rows = np.asarray(rows, dtype=np.int64)
        Q = self.S[torch.as_tensor(rows, device=self.device)]
        kw = dict(device=self.device, assume_unit=True, progress=self.progress if progress is None else progress)
        if self.csls:
            si, ss = topk(Q, self.S, k, exclude=rows, method="csls", base_penalty=self.r_ss,
                          query_penalty=self.r_ss[rows], **kw)
            ti, ts = topk(Q, self.T, k, method="csls", base_penalty=self.r_ts, query_penalty=self.r_st[rows], **kw)
            sc = self._cos(Q, self.S, si)
            tc = self._cos(Q, self.T, ti)
        else:
            si, ss = topk(Q, self.S, k, exclude=rows, **kw)
            ti, ts = topk(Q, self.T, k, **kw)
            sc, tc = ss, ts
        return si, sc, ss, ti, tc, ts

    @staticmethod
    def _cos(Q, B, idx):
        if idx.size == 0:
            return np.zeros(idx.shape, dtype=np.float32)
        import torch

        flat = torch.as_tensor(np.asarray(idx).reshape(-1), device=B.device)
        sel = B[flat].reshape(idx.shape[0], idx.shape[1], -1)
        return (sel * Q[:, None, :]).sum(-1).cpu().numpy()


def _entries(words, idx, cos, score, csls):
    out = []
    for j in range(idx.shape[0]):
        e = {"word": words[idx[j]], "sim": round(float(cos[j]), SIM_DIGITS)}
        if csls:
            e["csls"] = round(float(score[j]), SIM_DIGITS)
        out.append(e)
    return out


# ---------------------------------------------------------------- the task

def prepare_task(out_dir, task, src_emb, tgt_emb, rank, src_doc, tgt_doc, categories, k=5, max_keywords=50,
                 src_f=20000, tgt_f=20000, src_lang="ENGLISH", tgt_lang="FRENCH", csls=False, contexts=5,
                 window=10, all_neighbours=False, device="auto", args=None, progress=True):
    """Build ``out_dir`` (replacing it whole). Returns a summary dict.

    Every input is read and checked before anything is written.
    """
    check_task_name(task)
    for name, val, low in (("-k", k, 1), ("--max", max_keywords, 1), ("--src-f", src_f, 1),
                           ("--tgt-f", tgt_f, 1), ("--contexts", contexts, 0), ("--window", window, 0)):
        if val < low:
            raise ClimeError(f"{name} must be at least {low}, got {val}")
    cats = read_categories(categories)
    ranking = read_ranking(rank)
    S_emb = load_embeddings(src_emb)
    T_emb = load_embeddings(tgt_emb)
    check_same_dim(S_emb, T_emb)
    s_docs = read_docs(src_doc, labeled=False)
    t_docs = read_docs(tgt_doc, labeled=False)

    s_allowed = set(S_emb.words[:src_f])
    t_allowed = set(T_emb.words[:tgt_f])
    s_freq, s_conc = scan_docs(s_docs, s_allowed, contexts, window)
    t_freq, t_conc = scan_docs(t_docs, t_allowed, contexts, window)
    s_rows = restricted_vocab(S_emb, s_freq, src_f)
    t_rows = restricted_vocab(T_emb, t_freq, tgt_f)
    if len(s_rows) == 0:
        raise ClimeError(f"no word of the documents is among the first {src_f} rows of the source embeddings "
                         f"({src_emb})", src_doc)
    if len(t_rows) == 0:
        raise ClimeError(f"no word of the documents is among the first {tgt_f} rows of the target embeddings "
                         f"({tgt_emb})", tgt_doc)
    s_words = [S_emb.words[i] for i in s_rows]
    t_words = [T_emb.words[i] for i in t_rows]
    s_pos = {w: j for j, w in enumerate(s_words)}
    log.info("vocabulary: %d source words (of the first %d rows), %d target words (of the first %d rows)",
             len(s_words), src_f, len(t_words), tgt_f)

    keywords = []
    for rank_no, (w, score) in enumerate(ranking, 1):
        if w in s_pos:
            keywords.append((w, 1.0 / rank_no if score is None else score))
            if len(keywords) >= max_keywords:
                break
    if not keywords:
        raise ClimeError(f"none of the {len(ranking)} ranked words is in the source vocabulary "
                         f"(words of {src_doc} among the first {src_f} rows of {src_emb})", rank)
    if len(keywords) < max_keywords:
        log.warning("only %d ranked words are in the source vocabulary (--max %d)", len(keywords), max_keywords)

    log.info("neighbours of %d keywords (%s, k=%d)", len(keywords), "CSLS" if csls else "cosine", k)
    S = S_emb.vectors[s_rows]
    T = T_emb.vectors[t_rows]
    search = NeighbourSearch(S, T, csls=csls, device=device, progress=progress)
    kw_rows = [s_pos[w] for w, _ in keywords]
    si, sc, ss, ti, tc, ts = search.query(kw_rows, k)
    kw_entries = []
    for n, (w, score) in enumerate(keywords):
        kw_entries.append({"word": w, "score": float(score),
                           "src": _entries(s_words, si[n], sc[n], ss[n], csls),
                           "tgt": _entries(t_words, ti[n], tc[n], ts[n], csls)})

    neighbors_all = None
    if all_neighbours:
        log.info("neighbours of all %d source words (--all)", len(s_words))
        neighbors_all = {}
        step = 4096
        for s in tqdm(range(0, len(s_words), step), disable=cli.bar_off(progress), leave=False, unit="block",
                      desc="all neighbours"):
            rows = np.arange(s, min(s + step, len(s_words)))
            a_si, a_sc, a_ss, a_ti, a_tc, a_ts = search.query(rows, k, progress=False)
            for n, r in enumerate(rows):
                neighbors_all[s_words[r]] = {"src": _entries(s_words, a_si[n], a_sc[n], a_ss[n], csls),
                                             "tgt": _entries(t_words, a_ti[n], a_tc[n], a_ts[n], csls)}

    setup = {
        "format": FORMAT,
        "task": task,
        "src_lang": src_lang,
        "tgt_lang": tgt_lang,
        "categories": cats,
        "k": int(k),
        "method": "csls" if csls else "cosine",
        "keywords": kw_entries,
        "src_emb": str(src_emb),
        "tgt_emb": str(tgt_emb),
        "src_vocab_size": len(s_words),
        "tgt_vocab_size": len(t_words),
        "args": _jsonable(args or {}),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "setup.json", setup, indent=1)
        write_json(tmp / "concordance_src.json", {w: s_conc.get(w, []) for w in sorted(s_words)})
        write_json(tmp / "concordance_tgt.json", {w: t_conc.get(w, []) for w in sorted(t_words)})
        write_json(tmp / "vocab_src.json", vocab_list(s_words, s_freq))
        write_json(tmp / "vocab_tgt.json", vocab_list(t_words, t_freq))
        if neighbors_all is not None:
            write_json(tmp / "neighbors_all.json", neighbors_all)
    return {"out_dir": str(out_dir), "keywords": len(keywords), "src_vocab": len(s_words),
            "tgt_vocab": len(t_words), "ranked": len(ranking)}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)
