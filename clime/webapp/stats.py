"""Per-user progress, time spent and agreement between annotators of a task.

Time spent is derived from the event log: the gap between two consecutive events
of an annotator counts for the keyword of the earlier one, capped at ``IDLE_CAP``
seconds (a break, or a tab left open, is not work).
"""

from collections import Counter, defaultdict
from datetime import datetime, timezone
from itertools import combinations

from sqlalchemy import select

from .db import Event, Judgement, KeywordState, find_annotators

IDLE_CAP = 300.0


def time_per_keyword(events, idle_cap=IDLE_CAP):
    """{keyword: seconds} from events (objects with .ts and .keyword), in any order."""
    evs = sorted(events, key=lambda e: e.ts)
    out = defaultdict(float)
    for a, b in zip(evs, evs[1:]):
        if a.keyword is not None and a.action != "finish":
            out[a.keyword] += min(max(b.ts - a.ts, 0.0), idle_cap)
    return dict(out)


def user_summary(s, ann):
    states = list(s.scalars(select(KeywordState).where(KeywordState.annotator_id == ann.id)))
    js = list(s.scalars(select(Judgement).where(Judgement.annotator_id == ann.id)))
    events = list(s.scalars(select(Event).where(Event.annotator_id == ann.id)))
    per_kw = time_per_keyword(events)
    seconds = sum(per_kw.values())
    return {
        "user": ann.user,
        "keywords_opened": len(states),
        "keywords_done": sum(1 for k in states if k.done),
        "keywords_judged": len({j.keyword for j in js if j.mark}),
        "judgements": sum(1 for j in js if j.mark),
        "similar": sum(1 for j in js if j.mark == "pos"),
        "not_similar": sum(1 for j in js if j.mark == "neg"),
        "added": sum(1 for j in js if j.added),
        "actions": len(events),
        "seconds": round(seconds, 1),
        "minutes": round(seconds / 60.0, 1),
        "finished": ann.finished is not None,
        "keywords_skipped": sum(1 for k in states if k.skipped),
        "comments": sum(1 for k in states if (k.comment or "").strip()),
        "mean_seconds_per_keyword": round(seconds / len(per_kw), 1) if per_kw else None,
        "last_activity": datetime.fromtimestamp(ann.last_seen, timezone.utc).isoformat(timespec="seconds"),
        "seconds_per_keyword": {k: round(v, 1) for k, v in per_kw.items()},
    }


def cohen_kappa(pairs):
    """Cohen's kappa of [(label_a, label_b)]; None when undefined (no items, or one label only)."""
    n = len(pairs)
    if n == 0:
        return None
    labels = sorted({x for p in pairs for x in p})
    po = sum(1 for a, b in pairs if a == b) / n
    pe = sum((sum(1 for a, _ in pairs if a == lab) / n) * (sum(1 for _, b in pairs if b == lab) / n)
             for lab in labels)
    if pe >= 1.0:
        return None
    return (po - pe) / (1.0 - pe)


def krippendorff_alpha(units):
    """Krippendorff's alpha for nominal labels.

    ``units``: an iterable of label lists, one list per item (the labels the annotators
    gave it; any number of annotators, missing ones simply absent).  Items with fewer
    than two labels cannot be paired and are left out.  Returns (alpha, items used);
    alpha is None when undefined (no pairable item, or a single label value overall).
    From the coincidence matrix: alpha = 1 - (n - 1) * D / E, where D is the number of
    coincidences between different labels and E = sum over c != k of n_c * n_k.
    """
    o = Counter()
    used = 0
    for labels in units:
        m = len(labels)
        if m < 2:
            continue
        used += 1
        counts = Counter(labels)
        for c in counts:
            for k in counts:
                pairs = counts[c] * (counts[k] - (1 if c == k else 0))
                o[(c, k)] += pairs / (m - 1)
    n_c = Counter()
    for (c, _k), v in o.items():
        n_c[c] += v
    n = sum(n_c.values())
    disagree = sum(v for (c, k), v in o.items() if c != k)
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k)
    if used == 0 or expected == 0:
        return None, used
    return 1.0 - (n - 1) * disagree / expected, used


def agreement(marks_by_user):
    """Agreement of every pair of users on the items both marked, and of all users at once.

    ``marks_by_user``: {user: {item: "pos"|"neg"}}.  Returns {"pairs": [...], "overall": {...},
    "alpha": {...}}: per pair and pooled over pairs, the number of common items, the share on
    which the two agree and Cohen's kappa; Krippendorff's alpha over every item that at
    least two users marked.
    """
    pairs_out = []
    pooled = []
    for u, v in combinations(sorted(marks_by_user), 2):
        mu, mv = marks_by_user[u], marks_by_user[v]
        common = sorted(set(mu) & set(mv))
        items = [(mu[i], mv[i]) for i in common]
        pooled.extend(items)
        pairs_out.append({"users": [u, v], "common": len(items),
                          "agreement": (sum(a == b for a, b in items) / len(items)) if items else None,
                          "kappa": cohen_kappa(items)})
    overall = {"common": len(pooled),
               "agreement": (sum(a == b for a, b in pooled) / len(pooled)) if pooled else None,
               "kappa": cohen_kappa(pooled)}
    units = defaultdict(list)
    for marks in marks_by_user.values():
        for item, mark in marks.items():
            units[item].append(mark)
    alpha, items = krippendorff_alpha(units[k] for k in sorted(units, key=repr))
    return {"pairs": pairs_out, "overall": overall,
            "alpha": {"alpha": alpha, "items": items, "annotators": len(marks_by_user)}}


def task_stats(s, task_name):
    anns = find_annotators(s, task=task_name)
    users = [user_summary(s, a) for a in anns]
    marks = {}
    for a in anns:
        marks[a.user] = {(j.keyword, j.lang, j.word): j.mark
                         for j in s.scalars(select(Judgement).where(Judgement.annotator_id == a.id))
                         if j.mark in ("pos", "neg")}
    return {"task": task_name, "users": users, "agreement": agreement(marks)}


def _fmt(x, spec=".2f"):
    return "n/a" if x is None else format(x, spec)


def format_stats(st):
    lines = [f"task {st['task']}: {len(st['users'])} user(s)"]
    if st["users"]:
        w = max(4, *(len(u["user"]) for u in st["users"]))
        lines.append(f"{'user':<{w}}  {'done':>5} {'skipped':>7} {'opened':>6} {'judged':>6} {'judgements':>10} "
                     f"{'similar':>7} {'not':>5} {'added':>5} {'minutes':>7} {'s/keyword':>9}  finished  last activity")
        for u in st["users"]:
            lines.append(f"{u['user']:<{w}}  {u['keywords_done']:>5} {u['keywords_skipped']:>7} {u['keywords_opened']:>6} "
                         f"{u['keywords_judged']:>6} {u['judgements']:>10} {u['similar']:>7} "
                         f"{u['not_similar']:>5} {u['added']:>5} {u['minutes']:>7.1f} "
                         f"{_fmt(u['mean_seconds_per_keyword'], '.1f'):>9}  "
                         f"{'yes' if u['finished'] else 'no':<8}  {u['last_activity']}")
    ag = st["agreement"]
    if ag["pairs"]:
        lines.append("agreement on words both users marked:")
        for p in ag["pairs"]:
            lines.append(f"  {p['users'][0]} / {p['users'][1]}: {p['common']} common, "
                         f"agreement {_fmt(p['agreement'])}, kappa {_fmt(p['kappa'])}")
        o = ag["overall"]
        lines.append(f"  all pairs: {o['common']} common, agreement {_fmt(o['agreement'])}, "
                     f"kappa {_fmt(o['kappa'])}")
        al = ag["alpha"]
        lines.append(f"  all annotators: Krippendorff's alpha {_fmt(al['alpha'], '.3f')} "
                     f"on {al['items']} word(s) marked by at least two")
    return "\n".join(lines)
