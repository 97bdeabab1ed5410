"""A tiny synthetic annotation task (``ui_data/<name>/``) for tests, benchmarks and screenshots.

It follows the ui_data contract and plants hostile "words" and contexts
(``<script>``, ``<img onerror>``) that would set ``window.__xss`` or open an
alert if the app ever let corpus text run as HTML.
"""

from pathlib import Path

from ..fileio import write_json

XSS_SCRIPT = "<script>window.__xss=1;alert(1)</script>"
XSS_IMG = "<img src=x onerror=window.__xss=1;alert(2)>"
XSS_CAT = "<b onmouseover=alert(3)>politics</b>"

KEYWORDS = [
    ("hospital", ["doctor", "nurse", "clinic", XSS_SCRIPT, "football"],
     ["hôpital", "médecin", "infirmière", XSS_IMG, "ballon"]),
    ("match", ["game", "goal", "team", "hospital", "referee"],
     ["match", "but", "équipe", "arbitre", "élection"]),
    ("election", ["vote", "party", "minister", "goal", "candidate"],
     ["élection", "vote", "parti", "ministre", "santé"]),
    (XSS_IMG, ["doctor", XSS_SCRIPT, "team"], ["vote", XSS_IMG, "but"]),
    ("tourism", ["travel", "hotel", "beach", "museum", "vote"],
     ["tourisme", "voyage", "hôtel", "plage", "musée"]),
]

SRC_VOCAB = {
    "doctor": 50, "nurse": 30, "clinic": 12, "football": 40, "game": 60, "goal": 45, "team": 70,
    "hospital": 55, "referee": 8, "vote": 65, "party": 50, "minister": 35, "candidate": 20,
    "travel": 25, "hotel": 22, "beach": 18, "museum": 15, "tourism": 14, "election": 44,
    "health": 90, "healthy": 20, "healthcare": 11, "heal": 3, "medicine": 26, "medical": 33,
    "patient": 28, "patients": 21, XSS_SCRIPT: 1, XSS_IMG: 1,
}
TGT_VOCAB = {
    "hôpital": 40, "médecin": 30, "infirmière": 10, "ballon": 12, "match": 50, "but": 80, "équipe": 60,
    "arbitre": 9, "élection": 35, "vote": 40, "parti": 33, "ministre": 28, "santé": 70, "sain": 9,
    "saine": 5, "sanitaire": 8, "tourisme": 11, "voyage": 20, "hôtel": 15, "plage": 14, "musée": 12,
    "malade": 25, "maladie": 27, "patient": 18, "soins": 22, XSS_IMG: 1, "<b>": 1,
}


def _ctx(doc, tokens, pos):
    return {"doc": doc, "tokens": tokens, "pos": pos}


def _is_hostile(w):
    return w.startswith("<")


def write_demo_task(ui_data, name="demo", categories=None, hostile=True):
    """Write the demo task into ``ui_data/<name>/`` and return that folder.

    ``hostile=False`` leaves the planted HTML out (for screenshots and demos).
    """
    d = Path(ui_data) / name
    d.mkdir(parents=True, exist_ok=True)
    cats = categories if categories is not None else ["health", "sports", XSS_CAT, "travel"]
    setup = {
        "format": 1, "task": name, "src_lang": "ENGLISH", "tgt_lang": "FRENCH", "categories": cats, "k": 5,
        "keywords": [
            {"word": w, "score": round(1.0 - 0.1 * i, 3),
             "src": [{"word": x, "sim": round(0.9 - 0.05 * j, 3)} for j, x in enumerate(src)],
             "tgt": [{"word": x, "sim": round(0.8 - 0.05 * j, 3)} for j, x in enumerate(tgt)]}
            for i, (w, src, tgt) in enumerate(KEYWORDS)
        ],
        "src_emb": "embeds/demo_src", "tgt_emb": "embeds/demo_tgt", "args": {}, "created": "2026-01-01T00:00:00+00:00",
    }
    if not hostile:
        setup["categories"] = [c for c in cats if not _is_hostile(c)] + ([] if categories else ["politics"])
        setup["keywords"] = [k for k in setup["keywords"] if not _is_hostile(k["word"])]
        for k in setup["keywords"]:
            for side in ("src", "tgt"):
                k[side] = [n for n in k[side] if not _is_hostile(n["word"])]
    write_json(d / "setup.json", setup, indent=1)
    conc_src = {
        "hospital": [
            _ctx(1, ["the", "new", "hospital", "opened", "today", XSS_SCRIPT], 2),
            _ctx(2, ["nurses", "at", "the", "hospital", "went", "on", "strike"], 3),
            _ctx(3, [XSS_IMG, "hospital", "beds", "are", "scarce"], 1),
        ],
        "doctor": [_ctx(4, ["see", "a", "doctor", "if", "the", "fever", "lasts"], 2)],
        XSS_SCRIPT: [_ctx(5, ["a", XSS_SCRIPT, "b"], 1)],
        XSS_IMG: [_ctx(6, ["x", XSS_IMG, "y", XSS_SCRIPT], 1)],
        "match": [_ctx(7, ["the", "match", "ended", "in", "a", "draw"], 1)],
        "goal": [_ctx(8, ["a", "late", "goal", "won", "the", "cup"], 2)],
    }
    conc_tgt = {
        "hôpital": [_ctx(11, ["l'", "hôpital", "est", "plein", XSS_IMG], 1),
                    _ctx(12, ["un", "nouvel", "hôpital", "a", "ouvert"], 2)],
        "médecin": [_ctx(13, ["le", "médecin", "de", "famille"], 1)],
        XSS_IMG: [_ctx(14, [XSS_SCRIPT, XSS_IMG], 1)],
        "santé": [_ctx(15, ["la", "santé", "publique"], 1)],
    }
    if not hostile:
        for conc in (conc_src, conc_tgt):
            for w in [w for w in conc if _is_hostile(w)]:
                del conc[w]
            for w, ctxs in conc.items():
                conc[w] = [_ctx(c["doc"], [t for t in c["tokens"] if not _is_hostile(t)],
                                [t for t in c["tokens"] if not _is_hostile(t)].index(w)) for c in ctxs]
    write_json(d / "concordance_src.json", conc_src)
    write_json(d / "concordance_tgt.json", conc_tgt)
    keep = (lambda w: True) if hostile else (lambda w: not _is_hostile(w))
    write_json(d / "vocab_src.json", sorted([w, f] for w, f in SRC_VOCAB.items() if keep(w)))
    write_json(d / "vocab_tgt.json", sorted([w, f] for w, f in TGT_VOCAB.items() if keep(w)))
    return d


DOCUMENTS = [
    (10, ["l'", "hôpital", "a", "ouvert", "un", "nouveau", "service", "."]),
    ("d-11", ["le", "match", "s'", "est", "terminé", "par", "un", "but", XSS_SCRIPT]),
    (12, ["les", "élections", "auront", "lieu", "en", "mai", XSS_IMG]),
    (13, ["la", "plage", "et", "le", "musée", "attirent", "les", "touristes", "."]),
    (14, ["le", "ministre", "de", "la", "santé", "a", "parlé", "."]),
]


def write_demo_documents(task_dir, hostile=True):
    """A ``documents.json`` (as select_docs.py writes it) for the demo task: 5 documents
    (integer and string ids), the task's categories, hostile tokens unless ``hostile`` is False."""
    import json

    d = Path(task_dir)
    setup = json.loads((d / "setup.json").read_text(encoding="utf-8"))
    docs = [{"id": i, "text": [t for t in toks if hostile or not _is_hostile(t)], "entropy": round(1.5 - 0.1 * k, 3),
             "pred": 0} for k, (i, toks) in enumerate(DOCUMENTS)]
    write_json(d / "documents.json", {
        "format": 1, "created": "2026-01-01T00:00:00+00:00", "strategy": "max-entropy", "seed": 0, "sources": {},
        "categories": [{"label": i, "name": c} for i, c in enumerate(setup["categories"])],
        "documents": docs})
    return d / "documents.json"
