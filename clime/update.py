"""Refine cross-lingual embeddings from annotator feedback (stage 6, ``update.py``).

Three steps, each optional except the first:

1. **Judgements.**  Feedback CSVs (``clime.feedback``) are merged into, for
   each keyword, a set of *accepted* and *rejected* words of either language.
   Several annotators vote per (keyword, word, language): the majority wins and
   ties are dropped.
2. **Realign** (``--realign``).  The orthogonal map between the current source
   and target spaces is fitted again on the seed dictionary plus the accepted
   cross-lingual pairs (keyword, accepted target word), with the rejected pairs
   taken out of the seed, by the self-learning of ``align.py --refine``
   (``clime.align.self_learn``: the seed and accepted pairs stay fixed in every
   round, rejected pairs are never induced; ``refine=0`` is one Procrustes fit),
   and applied to the whole target space.  Source rows never change in this step.
3. **Local objective.**  Only the *touched* rows (keywords and judged words,
   both languages stacked in one parameter tensor) move, by Adam on

       sum_k [ sum_{n in N_k} sim(e_k, e_n) - sum_{p in P_k} sim(e_k, e_p) ]
           + reg * sum_w ||e_w - e_w_orig||^2

   with ``sim`` chosen by ``objective`` (see OBJECTIVES).  Every other row is
   left bit-identical unless ``propagate`` moves untouched words by the
   displacement of their nearest touched words.

The local objective itself is :mod:`clime.local_objective`.  The functions work on numpy arrays so that scripts and experiments can call
them in-process; ``update.py`` is the command-line wrapper.
"""

import logging
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import numpy as np

from .align import DEFAULT_REFINE, fit_orthogonal, read_dictionary, self_learn
from .errors import ClimeError
from .feedback import by_annotator, is_skipped, read_feedback
from .local_objective import OBJECTIVES, LocalConfig, local_update, warn_if_diverged  # noqa: F401 (OBJECTIVES: update.py's choices)
from .neighbors import topk

log = logging.getLogger(__name__)

SRC, TGT = 1, 2
LANG_NAME = {SRC: "source", TGT: "target"}
# ------------------------------------------------------------------ judgements

@dataclass
class Judgements:
    """Merged feedback: per keyword, accepted and rejected (word, lang) pairs."""

    keywords: list = field(default_factory=list)            # in order of first appearance
    accepted: dict = field(default_factory=dict)            # keyword -> [(word, lang)]
    rejected: dict = field(default_factory=dict)            # keyword -> [(word, lang)]
    where: dict = field(default_factory=dict)               # (keyword, word, lang) or keyword -> (path, line)
    files: list = field(default_factory=list)
    ties: int = 0                                           # (keyword, word, lang) dropped as ties
    n_rows: int = 0

    def n_judgements(self):
        return sum(len(self.accepted[k]) + len(self.rejected[k]) for k in self.keywords)


def row_votes(row):
    """{(word, lang): +1 accepted / -1 rejected} for one feedback row.

    Rejected = ``neg``; accepted = ``pos`` plus added ``new`` words, unless the
    same word is also in ``neg`` (a rejection wins inside one row).  The keyword
    itself (judged in the source language) is ignored.
    """
    votes = {}
    for lang, pos, neg, new in ((SRC, row.pos1, row.neg1, row.new1), (TGT, row.pos2, row.neg2, row.new2)):
        # in the order of the cell (a set's order would depend on PYTHONHASHSEED, and so would the result)
        rejected = list(dict.fromkeys(w.strip() for w in neg if w.strip()))
        rejected_set = set(rejected)
        for w in list(pos) + list(new):
            w = w.strip()
            if w and w not in rejected_set:
                votes[(w, lang)] = 1
        for w in rejected:
            votes[(w, lang)] = -1
    votes.pop((row.keyword, SRC), None)
    return votes


def merge_feedback(files, n_keywords=None):
    """Merge feedback from several annotators.

    files: list of ``(path, [FeedbackRow])``.  Inside one file the last row of a
    keyword wins (an annotator who revisits a keyword corrects themselves);
    ``n_keywords`` keeps the first K distinct keywords of each file.  Across
    files each (keyword, word, language) is decided by majority; ties are dropped.
    """
    tally = OrderedDict()     # keyword -> OrderedDict((word, lang) -> sum of votes)
    j = Judgements(files=[str(p) for p, _ in files])
    for path, rows in files:
        per_kw = OrderedDict()
        for row in rows:
            if row.keyword not in per_kw and n_keywords is not None and len(per_kw) >= n_keywords:
                continue
            per_kw[row.keyword] = row          # last row of a keyword wins
        j.n_rows += len(per_kw)
        for kw, row in per_kw.items():
            j.where.setdefault(kw, (str(path), row.line))
            t = tally.setdefault(kw, OrderedDict())
            for key, v in row_votes(row).items():
                t[key] = t.get(key, 0) + v
                j.where.setdefault((kw,) + key, (str(path), row.line))
    for kw, t in tally.items():
        j.keywords.append(kw)
        j.accepted[kw] = [key for key, v in t.items() if v > 0]
        j.rejected[kw] = [key for key, v in t.items() if v < 0]
        j.ties += sum(1 for v in t.values() if v == 0)
    return j


def load_feedback(paths, n_keywords=None):
    """Read and merge feedback CSVs; a file without any row is an error.

    A merged export (a ``user`` column) counts as one voter per annotator in it; rows of
    skipped keywords carry no judgement and are left out.
    """
    files = []
    for p in paths:
        rows = read_feedback(p)
        if not rows:
            raise ClimeError("no usable row: the file holds only its header", p, 1)
        groups = by_annotator(p, rows)
        if len(groups) > 1 or groups[0][0] is not None:
            log.info("%s: a merged file of %d annotator(s), each one voter", p, len(groups))
        for _user, group in groups:
            files.append((p, [r for r in group if not is_skipped(r)]))
    j = merge_feedback(files, n_keywords)
    if j.ties:
        log.info("%d judgement(s) dropped: the annotators were split evenly", j.ties)
    return j


# ------------------------------------------------------------------ resolution

@dataclass
class Problem:
    """The judgements as row indices of the stacked touched rows."""

    src_rows: np.ndarray        # touched source rows (vocabulary indices), sorted
    tgt_rows: np.ndarray        # touched target rows, sorted
    pos_k: np.ndarray           # accepted pairs: keyword position in the stacked tensor
    pos_w: np.ndarray           #   ... and judged word position
    neg_k: np.ndarray
    neg_w: np.ndarray
    cross_accepted: list        # (src row, tgt row): keyword and accepted target word
    cross_rejected: list        # (src row, tgt row): keyword and rejected target word
    keywords_used: list
    missing: list               # (keyword, word, lang) skipped: not in the vocabulary
    missing_keywords: list

    @property
    def n_src(self):
        return len(self.src_rows)

    @property
    def n_pairs(self):
        return len(self.pos_k) + len(self.neg_k)


def resolve(judgements, src_index, tgt_index, strict=False):
    """Map judged words to rows; report (or with ``strict`` refuse) missing words."""
    j = judgements
    missing, missing_kw = [], []
    pairs = []                  # (keyword row, word row, lang, label)
    for kw in j.keywords:
        judged = [(w, lang, 1) for w, lang in j.accepted[kw]] + [(w, lang, -1) for w, lang in j.rejected[kw]]
        if not judged:
            continue
        if kw not in src_index:
            path, line = j.where[kw]
            if strict:
                raise ClimeError(f"keyword {kw!r} is not in the source vocabulary", path, line)
            log.warning("%s:%s: keyword %r is not in the source vocabulary; its row is skipped", path, line, kw)
            missing_kw.append(kw)
            continue
        ki = src_index[kw]
        for w, lang, label in judged:
            index = src_index if lang == SRC else tgt_index
            if w not in index:
                path, line = j.where[(kw, w, lang)]
                if strict:
                    raise ClimeError(f"keyword {kw!r}: {LANG_NAME[lang]} word {w!r} is not in the vocabulary",
                                     path, line)
                missing.append((kw, w, lang))
                continue
            pairs.append((ki, index[w], lang, label))
    if missing:
        shown = ", ".join(f"{w!r} ({LANG_NAME[lang]}, keyword {kw!r})" for kw, w, lang in missing[:10])
        log.warning("%d judged word(s) not in the vocabulary, skipped: %s%s", len(missing), shown,
                    " ..." if len(missing) > 10 else "")
    if not pairs:
        where = j.files[0] if len(j.files) == 1 else ", ".join(j.files)
        raise ClimeError(f"no usable row: none of the {j.n_rows} feedback row(s) has a keyword in the source "
                         f"vocabulary with a judged word in the vocabularies", where)
    src_rows = sorted({p[0] for p in pairs} | {p[1] for p in pairs if p[2] == SRC})
    tgt_rows = sorted({p[1] for p in pairs if p[2] == TGT})
    s_pos = {r: i for i, r in enumerate(src_rows)}
    t_pos = {r: len(src_rows) + i for i, r in enumerate(tgt_rows)}
    pos_k, pos_w, neg_k, neg_w = [], [], [], []
    cross_acc, cross_rej = [], []
    for ki, wi, lang, label in pairs:
        k = s_pos[ki]
        w = s_pos[wi] if lang == SRC else t_pos[wi]
        (pos_k if label > 0 else neg_k).append(k)
        (pos_w if label > 0 else neg_w).append(w)
        if lang == TGT:
            (cross_acc if label > 0 else cross_rej).append((ki, wi))
    used = [kw for kw in j.keywords if kw in src_index and kw not in missing_kw
            and (j.accepted[kw] or j.rejected[kw])]
    as_idx = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return Problem(as_idx(src_rows), as_idx(tgt_rows), as_idx(pos_k), as_idx(pos_w), as_idx(neg_k),
                   as_idx(neg_w), cross_acc, cross_rej, used, missing, missing_kw)


# ------------------------------------------------------------------ propagation

@dataclass
class PropagateConfig:
    k: int = 10
    threshold: float = 0.5
    temperature: float = 0.1
    device: str = "cpu"


def propagate(E_before, E_after, touched, cfg):
    """Move untouched rows by the displacement of their nearest touched rows.

    For an untouched word u, take its ``k`` nearest touched rows t_j (cosine in
    the space before the local update) with cos(u, t_j) >= threshold; then
        delta_u = g_u * sum_j softmax_j(cos_j / temperature) * delta_j,
        g_u = (max_j cos_j - threshold) / (1 - threshold),
    so that a word identical to a touched word moves with it and a word at the
    threshold does not move.  Rows without a neighbour above the threshold and
    the touched rows themselves are unchanged.
    """
    E_after = np.array(E_after, dtype=np.float32, copy=True)
    touched = np.asarray(touched, dtype=np.int64)
    if len(touched) == 0:
        return E_after, 0
    mask = np.ones(len(E_before), dtype=bool)
    mask[touched] = False
    untouched = np.flatnonzero(mask)
    if len(untouched) == 0:
        return E_after, 0
    delta = (E_after[touched] - np.asarray(E_before[touched], dtype=np.float32)).astype(np.float64)
    k = min(cfg.k, len(touched))
    moved = 0
    for s in range(0, len(untouched), 65536):
        rows = untouched[s:s + 65536]
        idx, sims = topk(E_before[rows], E_before[touched], k, device=cfg.device)
        sims = sims.astype(np.float64)
        ok = sims >= cfg.threshold
        logits = np.where(ok, sims / cfg.temperature, -np.inf)
        has = ok.any(1)
        if not has.any():
            continue
        logits, idx, sims, rows_h = logits[has], idx[has], sims[has], rows[has]
        w = np.exp(logits - logits.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        gate = np.clip((sims.max(1) - cfg.threshold) / max(1e-12, 1.0 - cfg.threshold), 0.0, 1.0)
        shift = np.einsum("qk,qkd->qd", w, delta[idx]) * gate[:, None]
        E_after[rows_h] = (E_after[rows_h].astype(np.float64) + shift).astype(np.float32)
        moved += int((gate > 0).sum())
    return E_after, moved


# ------------------------------------------------------------------ realignment

def substitute_seed(src_words, S, tgt_words, T, threshold=0.5, max_words=20000, device="cpu"):
    """A seed dictionary without a dictionary: identical strings plus mutual nearest neighbours.

    Identical strings are pairs (w, w) present in both vocabularies; mutual
    nearest neighbours are (i, j) among the first ``max_words`` rows of each
    vocabulary with j the nearest target of i, i the nearest source of j, and
    cosine >= ``threshold`` (the self-learning seed of unsupervised aligners), for
    words that no identical-string pair already covers.
    """
    tgt_index = {w: i for i, w in enumerate(tgt_words)}
    pairs = {(i, tgt_index[w]) for i, w in enumerate(src_words) if w in tgt_index}
    n_ident = len(pairs)
    ns, nt = min(max_words, len(S)), min(max_words, len(T))
    S_, T_ = np.array(S[:ns], dtype=np.float32), np.array(T[:nt], dtype=np.float32)
    fwd, fs = topk(S_, T_, 1, device=device)
    bwd, _ = topk(T_, S_, 1, device=device)
    n_mnn = 0
    src_used = {i for i, _ in pairs}
    tgt_used = {j for _, j in pairs}
    for i in range(ns):
        j = int(fwd[i, 0])
        if int(bwd[j, 0]) == i and fs[i, 0] >= threshold and i not in src_used and j not in tgt_used:
            pairs.add((i, j))
            n_mnn += 1
    return sorted(pairs), {"identical": n_ident, "mutual_nn": n_mnn}


def realign(S, T, seed_pairs, accepted, rejected, feedback_weight=1.0, refine=0, refine_vocab=20000, csls_k=10,
            device="cpu", progress=False):
    """Refit the orthogonal map target -> source and apply it to the whole target space.

    seed_pairs, accepted, rejected: lists of (source row, target row).  Rejected
    pairs are removed from the seed and never added; accepted pairs get weight
    ``feedback_weight`` (a seed pair weighs 1; a pair in both keeps the larger).
    With ``refine`` > 0 the fit is the self-learning of ``align.py --refine``
    (:func:`clime.align.self_learn`) seeded by these weighted pairs: they stay in
    every round (but for the guard's held-out part, which only the output fit uses),
    no rejected pair is ever induced, and the round is chosen by the held-out guard.
    Returns the rotated target matrix (float32), W, and counts.
    """
    rejected = set(map(tuple, rejected))
    weights = {}
    removed = 0
    for p in map(tuple, seed_pairs):
        if p in rejected:
            removed += 1
            continue
        weights[p] = 1.0
    added = 0
    for p in map(tuple, accepted):
        if p in rejected:
            continue
        if p not in weights:
            added += 1
        weights[p] = max(weights.get(p, 0.0), float(feedback_weight))
    if not weights:
        raise ClimeError("realign: no pair left to fit the map on")
    info = {"pairs": len(weights), "seed_removed_as_rejected": removed, "feedback_added": added,
            "feedback_weight": float(feedback_weight), "refine": int(refine)}
    if refine > 0:
        _, T_new, W, history = self_learn(S, T, weights, refine, vocab=refine_vocab, csls_k=csls_k,
                                          forbidden=rejected, device=device, progress=progress, ties_later=True)
        info.update(rounds=history[:-1], pairs_final=history[-1]["pairs"], chosen_round=history[-1]["round"],
                    heldout_pairs=history[-1]["heldout_pairs"], stopped=history[-1]["stopped"])
        return T_new, W, info
    pairs = np.array(sorted(weights), dtype=np.int64)
    w = np.array([weights[tuple(p)] for p in pairs], dtype=np.float64)
    W = fit_orthogonal(np.asarray(T[pairs[:, 1]]), np.asarray(S[pairs[:, 0]]), w)
    T_new = np.empty(T.shape, dtype=np.float32)
    for s in range(0, len(T), 65536):      # in blocks, so a large vocabulary needs no float64 copy
        T_new[s:s + 65536] = np.asarray(T[s:s + 65536], dtype=np.float64) @ W
    return T_new, W, info


# ------------------------------------------------------------------ the whole update

@dataclass
class UpdateConfig:
    local: LocalConfig = field(default_factory=LocalConfig)
    run_local: bool = False             # as update.py: the re-fit alone (chosen on the dev split)
    realign: bool = True
    seed_dict: str = None
    feedback_weight: float = 1.0
    refine: int = DEFAULT_REFINE        # self-learning rounds of --realign (0 = one Procrustes fit)
    refine_vocab: int = 20000
    csls_k: int = 10
    mnn_threshold: float = 0.5
    mnn_max_words: int = 20000
    propagate: bool = False
    prop: PropagateConfig = field(default_factory=PropagateConfig)

    def mode(self):
        parts = (["realign"] if self.realign else []) + (["local"] if self.run_local else [])
        if self.propagate and self.run_local:
            parts.append("propagate")
        return "+".join(parts) or "none"

    def as_dict(self):
        d = asdict(self)
        d["mode"] = self.mode()
        return d


def update(src, tgt, judgements, cfg, strict=False):
    """The whole update on two Embeddings; returns (new S, new T, report dict)."""
    problem = resolve(judgements, src.index, tgt.index, strict)
    S = np.asarray(src.vectors)
    T = np.asarray(tgt.vectors)
    report = {"keywords": len(problem.keywords_used), "pairs": problem.n_pairs,
              "accepted": int(len(problem.pos_k)), "rejected": int(len(problem.neg_k)),
              "touched_src": int(len(problem.src_rows)), "touched_tgt": int(len(problem.tgt_rows)),
              "missing_words": len(problem.missing), "missing_keywords": len(problem.missing_keywords),
              "ties": judgements.ties, "mode": cfg.mode()}
    log.info("%d keyword(s), %d accepted and %d rejected judgement(s); %d source and %d target row(s) touched",
             report["keywords"], report["accepted"], report["rejected"], report["touched_src"],
             report["touched_tgt"])
    if cfg.realign:
        if cfg.seed_dict:
            seed, dropped = read_dictionary(cfg.seed_dict, src.index, tgt.index)
            log.info("realign: %d seed pair(s) from %s (%d out of vocabulary)", len(seed), cfg.seed_dict, dropped)
            report["seed_source"] = str(cfg.seed_dict)
        else:
            seed, counts = substitute_seed(src.words, S, tgt.words, T, cfg.mnn_threshold, cfg.mnn_max_words,
                                           cfg.local.device)
            log.info("realign: no --seed-dict, so the seed is %d identical string(s) plus %d mutual nearest "
                     "neighbour(s) with cosine >= %g", counts["identical"], counts["mutual_nn"], cfg.mnn_threshold)
            report["seed_source"] = f"substitute: {counts['identical']} identical strings + " \
                                    f"{counts['mutual_nn']} mutual nearest neighbours (cos >= {cfg.mnn_threshold})"
        T, _, rinfo = realign(S, T, seed, problem.cross_accepted, problem.cross_rejected, cfg.feedback_weight,
                              cfg.refine, cfg.refine_vocab, cfg.csls_k, cfg.local.device, cfg.local.progress)
        log.info("realign: fitted on %d pair(s) (%d accepted pair(s) added, %d rejected seed pair(s) removed)%s",
                 rinfo["pairs"], rinfo["feedback_added"], rinfo["seed_removed_as_rejected"],
                 f"; self-learning: {rinfo['pairs_final']} pair(s), round {rinfo['chosen_round']} of "
                 f"{len(rinfo['rounds']) - 1} kept (held-out guard: {rinfo['heldout_pairs']} seed pair(s))"
                 if cfg.refine > 0 else "")
        report["realign"] = rinfo
    if cfg.run_local:
        if cfg.local.objective == "dot":
            log.warning("objective 'dot' (the 2020 paper's) is unbounded: the vectors of judged words can grow "
                        "without limit; prefer a bounded one (the default)")
        S_new, T_new, info = local_update(S, T, problem, cfg.local)
        log.info("local objective %r: %d step(s), loss %.4g -> %.4g", cfg.local.objective, info["iterations"],
                 info["loss_first"], info["loss_last"])
        warn_if_diverged(cfg.local.objective, info)
        report["local"] = info
        if cfg.propagate:
            pc = PropagateConfig(**{**asdict(cfg.prop), "device": cfg.local.device})
            S_new, ms = propagate(S, S_new, problem.src_rows, pc)
            T_new, mt = propagate(T, T_new, problem.tgt_rows, pc)
            log.info("propagate: %d source and %d target untouched row(s) moved", ms, mt)
            report["propagated"] = {"src": ms, "tgt": mt}
        S, T = S_new, T_new
    elif cfg.propagate:
        log.warning("--propagate has no effect with --no-local (there is no local displacement to spread)")
    if S is src.vectors:
        S = np.array(S, dtype=np.float32, copy=True)
    return S, T, report
