"""Tests for clime/update.py and update.py (feedback -> refined embeddings)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from clime import update as up
from clime import local_objective as lo
from clime.embeddings import Embeddings, load_embeddings, save_embeddings
from clime.vecfile import read_vec, write_vec
from clime.errors import ClimeError
from clime.feedback import FeedbackRow, write_feedback

ROOT = Path(__file__).resolve().parents[1]
OBJ = ["dot", "cosine", "hinge", "retrofit"]


def _script():
    spec = importlib.util.spec_from_file_location("update_script", ROOT / "update.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_space(n=80, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    S = unit(rng.standard_normal((n, dim))).astype(np.float32)
    T = unit(S + 0.6 * rng.standard_normal((n, dim))).astype(np.float32)
    src = Embeddings(S, [f"s{i}" for i in range(n)])
    tgt = Embeddings(T, [f"t{i}" for i in range(n)])
    return src, tgt


def rows_for(n_kw=4, per=3):
    """Keyword s{i}: accepts s/t words, rejects others; disjoint word sets."""
    rows = []
    for k in range(n_kw):
        b = 10 + k * 4 * per
        w = list(range(b, b + 4 * per))
        rows.append(FeedbackRow(f"s{k}", "", [f"s{i}" for i in w[:per]], [f"t{i}" for i in w[per:2 * per]],
                                [f"s{i}" for i in w[2 * per:3 * per]], [f"t{i}" for i in w[3 * per:]], [], []))
    return rows


def judgements(rows, path="fb.csv"):
    for i, r in enumerate(rows):
        r.line = i + 2
    return up.merge_feedback([(path, rows)])


def pair_cos(S, T, prob):
    X = unit(np.concatenate([S[prob.src_rows], T[prob.tgt_rows]]))
    return (X[prob.pos_k] * X[prob.pos_w]).sum(1), (X[prob.neg_k] * X[prob.neg_w]).sum(1)


def cfg_for(objective, iters=1500, lr=0.01, reg=1.0, **kw):
    kw.setdefault("run_local", True)  # the local objective alone, unless a test asks for more
    kw.setdefault("realign", False)
    return up.UpdateConfig(local=lo.LocalConfig(objective=objective, iters=iters, lr=lr, reg=reg, tol=0,
                                                progress=False), **kw)


# ------------------------------------------------------------------ objective

@pytest.mark.parametrize("objective", OBJ)
def test_sign_accepted_closer_rejected_farther(objective):
    src, tgt = make_space()
    j = judgements(rows_for())
    c = cfg_for(objective)
    c.local.margin_neg = -0.3        # random synthetic pairs start near cosine 0
    S, T, rep = up.update(src, tgt, j, c)
    prob = up.resolve(j, src.index, tgt.index)
    p0, n0 = pair_cos(src.vectors, tgt.vectors, prob)
    p1, n1 = pair_cos(S, T, prob)
    assert p1.mean() > p0.mean() + 0.05 and n1.mean() < n0.mean() - 0.05
    if objective in ("dot", "cosine"):   # hinge terms leave pairs that satisfy their margin alone
        assert (p1 > p0 - 1e-4).all() and (n1 < n0 + 1e-4).all()
    else:   # the margins are not constraints, but the violations shrink
        assert (np.maximum(0, 0.7 - p1).sum() < np.maximum(0, 0.7 - p0).sum()
                and np.maximum(0, n1 + 0.3).sum() < np.maximum(0, n0 + 0.3).sum())


def test_dot_sign_is_the_papers_not_the_2020_codes():
    """The loss decreases when accepted pairs get closer (the released 2020 code had it reversed)."""
    x0 = torch.eye(3)
    loss = lo.make_loss("dot", torch.tensor([0]), torch.tensor([1]), torch.tensor([0]), torch.tensor([2]), x0, 1.0)
    closer = x0.clone()
    closer[1] = torch.tensor([0.5, 1.0, 0.0])        # accepted word moves towards the keyword
    farther = x0.clone()
    farther[2] = torch.tensor([-0.5, 0.0, 1.0])      # rejected word moves away
    assert loss(closer) < loss(x0) and loss(farther) < loss(x0)


@pytest.mark.parametrize("objective", OBJ)
def test_hand_gradient_matches_autograd(objective):
    rng = np.random.default_rng(1)
    x0 = torch.as_tensor(rng.standard_normal((30, 8)))
    ix = lambda a: torch.as_tensor(a, dtype=torch.int64)  # noqa: E731
    args = (objective, ix([0, 0, 1, 2, 2]), ix([5, 6, 7, 8, 0]), ix([0, 1, 3]), ix([9, 10, 11]), x0, 0.7, 0.4, 0.1)
    X = (x0 + 0.3 * torch.as_tensor(rng.standard_normal((30, 8)))).requires_grad_(True)
    lo.make_loss(*args)(X).backward()
    g = lo.make_grad(*args)(X.detach().clone())
    assert torch.allclose(X.grad, g, atol=1e-10)


def test_bounded_objectives_keep_norms_but_dot_grows():
    src, tgt = make_space(n=200)
    j = judgements(rows_for(n_kw=3, per=4))  # 16 judgements per keyword > 4 * reg^2
    prob = up.resolve(j, src.index, tgt.index)
    n0 = np.linalg.norm(np.concatenate([src.vectors[prob.src_rows], tgt.vectors[prob.tgt_rows]]), axis=1)

    def ratio(cfg):
        S, T, _ = up.update(src, tgt, j, cfg)
        n1 = np.linalg.norm(np.concatenate([S[prob.src_rows], T[prob.tgt_rows]]), axis=1)
        return n1 / n0

    for objective in ("cosine", "hinge", "retrofit"):
        r = ratio(cfg_for(objective, iters=3000))
        assert np.allclose(r, 1, atol=1e-5), (objective, r.min(), r.max())   # lengths kept
    grown = ratio(cfg_for("dot", iters=3000))
    assert grown.max() > 5          # unbounded: the 2020 objective blows the keywords up
    c = cfg_for("dot", iters=3000)
    c.local.renorm = True
    assert np.allclose(ratio(c), 1, atol=1e-5)


def test_dot_objective_warns_and_divergence_is_reported(caplog):
    src, tgt = make_space(n=200)
    j = judgements(rows_for(n_kw=3, per=4))
    with caplog.at_level("WARNING"):
        up.update(src, tgt, j, cfg_for("hinge", iters=200))
    assert "unbounded" not in caplog.text and "diverging" not in caplog.text
    with caplog.at_level("WARNING"):
        up.update(src, tgt, j, cfg_for("dot", iters=3000))
    assert "unbounded" in caplog.text and "diverging" in caplog.text
    assert lo.warn_if_diverged("dot", {"loss_first": -21.9, "loss_last": -849267.0})
    assert not lo.warn_if_diverged("hinge", {"loss_first": 3.0, "loss_last": 0.5})


def test_only_touched_rows_change():
    src, tgt = make_space()
    j = judgements(rows_for())
    S, T, _ = up.update(src, tgt, j, cfg_for("cosine", iters=200))
    prob = up.resolve(j, src.index, tgt.index)
    ms = np.ones(len(S), bool)
    ms[prob.src_rows] = False
    mt = np.ones(len(T), bool)
    mt[prob.tgt_rows] = False
    assert np.array_equal(S[ms], src.vectors[ms]) and np.array_equal(T[mt], tgt.vectors[mt])
    assert not np.array_equal(S[prob.src_rows], src.vectors[prob.src_rows])


def test_early_stopping():
    src, tgt = make_space()
    j = judgements(rows_for())
    c = cfg_for("hinge", iters=10000)
    c.local.tol = 1e-6
    _, _, rep = up.update(src, tgt, j, c)
    assert rep["local"]["iterations"] < 10000


def test_propagate_moves_near_untouched_words_only():
    src, tgt = make_space(n=60)
    S0 = src.vectors.copy()
    S0[50] = unit(S0[10:11] + 0.05)[0]        # s50 is a near copy of the judged word s10
    src = Embeddings(S0, src.words)
    j = judgements(rows_for(n_kw=1, per=2))
    plain, _, _ = up.update(src, tgt, j, cfg_for("cosine", iters=300))
    prop, _, rep = up.update(src, tgt, j, cfg_for("cosine", iters=300, propagate=True))
    prob = up.resolve(j, src.index, tgt.index)
    assert np.array_equal(plain[prob.src_rows], prop[prob.src_rows])
    d_touched = plain[10] - S0[10]
    d50 = prop[50] - S0[50]
    assert np.dot(d50, d_touched) > 0.5 * np.dot(d_touched, d_touched)
    assert rep["propagated"]["src"] >= 1
    far = [i for i in range(60) if i not in set(prob.src_rows) and i != 50
           and (unit(S0[i:i + 1]) @ unit(S0[prob.src_rows]).T).max() < 0.5]
    assert far and np.array_equal(prop[far], S0[far])


# ------------------------------------------------------------------ feedback merging

def test_merge_majority_ties_and_added_words():
    a = FeedbackRow("k", "", pos2=["x", "y", "z"], neg2=["w"], new2=["n1", "n2"], line=2)
    a.neg2.append("n2")                      # added, then rejected: counts as rejected
    b = FeedbackRow("k", "", pos2=["x"], neg2=["y", "z"], line=2)
    c = FeedbackRow("k", "", pos2=["x", "z"], neg2=["y"], line=2)
    j = up.merge_feedback([("a.csv", [a]), ("b.csv", [b]), ("c.csv", [c])])
    acc = {w for w, _ in j.accepted["k"]}
    rej = {w for w, _ in j.rejected["k"]}
    assert acc == {"x", "z", "n1"}            # x: 3-0, z: 2-1, n1: added
    assert rej == {"y", "w", "n2"}           # y: 1-2
    two = up.merge_feedback([("a.csv", [a]), ("b.csv", [b])])
    assert ("y", up.TGT) not in two.accepted["k"] + two.rejected["k"] and two.ties == 2  # y and z: 1-1


def test_n_keywords_and_last_row_wins():
    rows = [FeedbackRow("a", pos1=["x"]), FeedbackRow("b", pos1=["y"]), FeedbackRow("a", neg1=["x"]),
            FeedbackRow("c", pos1=["z"])]
    j = up.merge_feedback([("f.csv", rows)], n_keywords=2)
    assert j.keywords == ["a", "b"] and j.rejected["a"] == [("x", up.SRC)] and not j.accepted["a"]


def test_missing_words_skipped_or_strict():
    src, tgt = make_space()
    rows = rows_for(n_kw=2)
    rows[0].pos2.append("typoword")
    rows.append(FeedbackRow("notaword", pos2=["t1"]))
    j = judgements(rows)
    prob = up.resolve(j, src.index, tgt.index)
    assert prob.missing == [("s0", "typoword", up.TGT)] and prob.missing_keywords == ["notaword"]
    with pytest.raises(ClimeError, match=r"fb.csv:2: .*typoword"):
        up.resolve(j, src.index, tgt.index, strict=True)


# ------------------------------------------------------------------ realign

def rotation(dim, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q


def test_realign_recovers_rotation_and_never_adds_rejected_pairs():
    rng = np.random.default_rng(0)
    S = unit(rng.standard_normal((200, 10)))
    T = S @ rotation(10, 1) + 0.01 * rng.standard_normal((200, 10))   # corrupted: rotated away
    seed = [(0, 0), (1, 1), (2, 2), (3, 7), (4, 9)]                     # too few, two of them wrong
    accepted = [(i, i) for i in range(10, 40)]
    rejected = [(3, 7), (4, 9), (50, 60)]
    T_new, W, info = up.realign(S, T, seed, accepted + [(50, 60)], rejected)
    assert np.abs(T_new - S).max() < 0.05
    assert info["seed_removed_as_rejected"] == 2 and info["feedback_added"] == 30 and info["pairs"] == 33
    T_ref, _, _ = up.realign(S, T, seed[:3], accepted, [])
    assert np.allclose(T_new, T_ref)        # the rejected pair (50, 60) was not used
    assert np.allclose(W @ W.T, np.eye(10), atol=1e-10)


def test_realign_self_learning_keeps_feedback_and_never_induces_rejected(monkeypatch):
    import clime.align as al

    rng = np.random.default_rng(1)
    S = unit(rng.standard_normal((300, 12)))
    T = S @ rotation(12, 2) + 0.005 * rng.standard_normal((300, 12))
    seed = [(0, 0), (1, 1), (2, 2), (3, 3)]                           # too few for 12 dimensions
    accepted = [(i, i) for i in range(10, 16)] + [(20, 21)]            # (20, 21): an odd accepted pair
    rejected = [(i, i) for i in range(100, 110)]                       # right pairs, rejected anyway
    fits = []
    real = al._fit_pairs
    monkeypatch.setattr(al, "_fit_pairs", lambda *a: fits.append(dict(a[2])) or real(*a))
    T_new, W, info = up.realign(S, T, seed, accepted, rejected, feedback_weight=3.0, refine=10, refine_vocab=300,
                                csls_k=5)
    assert len(fits) >= 2 and info["refine"] == 10 and info["pairs_final"] > 250
    assert info["heldout_pairs"] == 0                                  # 11 seed words: too few to hold out
    for weights in fits:
        assert all(weights[p] == 1.0 for p in seed) and all(weights[p] == 3.0 for p in accepted)
        assert not set(weights) & set(rejected)
    T0, _, _ = up.realign(S, T, seed, accepted, rejected, feedback_weight=3.0)     # refine=0: one fit
    near = lambda X: float(np.mean(np.argmax(unit(X) @ unit(S).T, axis=1) == np.arange(300)))  # noqa: E731
    assert near(T0) < 0.8 and near(T_new) > 0.9
    T2, _, _ = up.realign(S, T, seed, accepted, rejected, feedback_weight=3.0, refine=10, refine_vocab=300, csls_k=5)
    assert T2.tobytes() == T_new.tobytes()


def test_realign_guard_never_loses_held_out_pairs_when_self_learning_drifts():
    """A target whose bulk matches the source under another rotation: self-learning follows the bulk
    away from the seed.  The held-out guard keeps a round that gets the held-out seed pairs as right as
    the seed-only fit does (the re-fit takes the later round on a tie: it starts from a self-learned
    space in real use), so the seed's translations survive."""
    rng = np.random.default_rng(0)
    S = unit(rng.standard_normal((400, 24)))
    R = rotation(24, 1)
    q, r = np.linalg.qr(np.eye(24) + 0.3 * rng.standard_normal((24, 24)))
    T = (S + 0.1 * rng.standard_normal((400, 24))) @ (R @ (q * np.sign(np.diag(r))))
    T[:60] = S[:60] @ R
    seed = [(i, i) for i in range(60)]
    T0, W0, _ = up.realign(S, T, seed, [], [])
    T1, W1, info = up.realign(S, T, seed, [], [], refine=5, refine_vocab=400, csls_k=5)
    rounds = {h["round"]: h for h in info["rounds"] if "heldout_nn" in h}
    assert info["heldout_pairs"] == 12 and info["stopped"] == "patience"
    chosen = rounds[info["chosen_round"]]
    assert chosen["heldout_nn"] + chosen["heldout_csls"] >= rounds[0]["heldout_nn"] + rounds[0]["heldout_csls"]
    assert all(h["heldout_nn"] + h["heldout_csls"] <= chosen["heldout_nn"] + chosen["heldout_csls"]
               for h in rounds.values())
    near = lambda X: float(np.mean(np.argmax(unit(X[:60]) @ unit(S[:60]).T, axis=1) == np.arange(60)))  # noqa: E731
    assert near(T0) == 1.0 and near(T1) >= 0.95


def write_dir(path, E, words):
    save_embeddings(path, E.astype(np.float32), words)
    return str(path)


def realign_setup(tmp_path, same_strings=False):
    rng = np.random.default_rng(0)
    n, d = 120, 12
    S = unit(rng.standard_normal((n, d))).astype(np.float32)
    T = (S @ rotation(d, 3)).astype(np.float32)
    sw = [f"w{i}" for i in range(n)]
    tw = sw if same_strings else [f"m{i}" for i in range(n)]
    src, tgt = write_dir(tmp_path / "en", S, sw), write_dir(tmp_path / "fr", T, tw)
    (tmp_path / "seed.tsv").write_text("w0\tm0\nw1\tm1\nw2\tm5\n", encoding="utf-8")
    rows = [FeedbackRow(f"w{i}", "", [], [tw[i]], [], [tw[i + 1]], [], []) for i in range(10, 40)]
    rows.append(FeedbackRow("w2", "", [], [], [], ["m5"], [], []))  # rejects a wrong seed pair
    write_feedback(tmp_path / "fb.csv", rows)
    return S, src, tgt


def run_main(*argv):
    return _script().main([str(a) for a in argv] + ["-q"])


def test_realign_from_csv_and_seed_dictionary(tmp_path):
    S, src, tgt = realign_setup(tmp_path)
    out = tmp_path / "out"
    run_main("--feedback", tmp_path / "fb.csv", "--src-emb", src, "--tgt-emb", tgt, "--out-src", out / "en",
             "--out-tgt", out / "fr", "--realign", "--seed-dict", tmp_path / "seed.tsv", "--no-local")
    S1, T1 = load_embeddings(out / "en").vectors, load_embeddings(out / "fr").vectors
    assert np.array_equal(S1, S)                    # source untouched by realign
    assert np.abs(T1 - S).max() < 1e-4             # the whole target space is mapped back
    meta = json.loads((out / "fr" / "meta.json").read_text())["update"]
    assert meta["mode"] == "realign" and meta["report"]["realign"]["seed_removed_as_rejected"] == 1
    run_main("--feedback", tmp_path / "fb.csv", "--src-emb", src, "--tgt-emb", tgt, "--out-src", out / "en2",
             "--out-tgt", out / "fr2", "--realign", "--seed-dict", tmp_path / "seed.tsv", "--iter", "200",
             "--objective", "cosine")
    S2 = load_embeddings(out / "en2").vectors
    touched = set(range(10, 40)) | {2}
    untouched = [i for i in range(len(S)) if i not in touched]
    assert np.array_equal(S2[untouched], S[untouched]) and not np.array_equal(S2[10], S[10])


def test_realign_without_dictionary_uses_identical_strings(tmp_path, caplog):
    S, src, tgt = realign_setup(tmp_path, same_strings=True)
    _, tgt_e = load_embeddings(src), load_embeddings(tgt)
    j = up.load_feedback([tmp_path / "fb.csv"])
    c = cfg_for("cosine", realign=True, run_local=False)
    with caplog.at_level("INFO"):
        _, T1, rep = up.update(load_embeddings(src), tgt_e, j, c)
    assert "identical string" in caplog.text and "substitute" in rep["seed_source"]
    assert np.abs(T1 - S).max() < 1e-4


# ------------------------------------------------------------------ the script

@pytest.fixture
def dirs(tmp_path):
    src, tgt = make_space()
    s = write_dir(tmp_path / "en", src.vectors, src.words)
    t = write_dir(tmp_path / "fr", tgt.vectors, tgt.words)
    write_feedback(tmp_path / "fb.csv", rows_for())
    return tmp_path, s, t


def test_script_outputs_reload_export_and_are_deterministic(dirs):
    tmp, s, t = dirs
    for name in ("a", "b"):
        run_main("--feedback", tmp / "fb.csv", "--src-emb", s, "--tgt-emb", t, "--out-src", tmp / name / "en",
                 "--out-tgt", tmp / name / "fr", "--iter", "300", "--seed", "3")
    for lang in ("en", "fr"):
        assert (tmp / "a" / lang / "E.npy").read_bytes() == (tmp / "b" / lang / "E.npy").read_bytes()
    e = load_embeddings(tmp / "a" / "fr")
    assert e.vectors.dtype == np.float32 and e.words == load_embeddings(t).words
    meta = e.meta["update"]
    assert meta["objective"] == "hinge" and meta["reg"] == 1.0 and meta["seed"] == 3  # the defaults
    assert meta["feedback"] == [str(tmp / "fb.csv")] and meta["iterations"] == 0 and meta["mode"] == "realign"  # the re-fit alone (the dev split)
    write_vec(tmp / "fr.vec", e.words, e.vectors, progress=False)
    words, vecs, _ = read_vec(tmp / "fr.vec", progress=False)
    assert words == e.words and np.allclose(vecs, e.vectors, atol=1e-6)


@pytest.mark.parametrize("content, expect", [
    ("word,timestamp,pos1,pos2,neg1,neg2,new1,new2\n", "wrong header"),
    ("keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2\ns0,,['s1',[],[],[],[],[]\n", "fb.csv:2"),
    ("keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2\n", "no usable row"),
    ("keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2\nzzz,,['s1'],[],[],[],[],[]\n", "no usable row"),
])
def test_bad_feedback_is_an_error_without_output(dirs, content, expect):
    tmp, s, t = dirs
    (tmp / "fb.csv").write_text(content, encoding="utf-8")
    with pytest.raises(ClimeError, match=expect):
        run_main("--feedback", tmp / "fb.csv", "--src-emb", s, "--tgt-emb", t, "--out-src", tmp / "o_en",
                 "--out-tgt", tmp / "o_fr")
    assert not (tmp / "o_en").exists() and not (tmp / "o_fr").exists()


def test_subprocess_exit_2_one_line(dirs):
    tmp, s, t = dirs
    (tmp / "fb.csv").write_text("keyword,timestamp,pos1,pos2,neg1,neg2,new1,new2\n"
                                "s0,,\"['s1', 'typo']\",[],[],[],[],[]\n", encoding="utf-8")
    p = subprocess.run([sys.executable, str(ROOT / "update.py"), "--feedback", str(tmp / "fb.csv"), "--src-emb", s,
                        "--tgt-emb", t, "--out-src", str(tmp / "o_en"), "--out-tgt", str(tmp / "o_fr"), "--strict",
                        "-q"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().count("\n") == 0 and "fb.csv:2" in p.stderr and "typo" in p.stderr
    assert not (tmp / "o_en").exists() and not (tmp / "o_fr").exists()


def test_nothing_to_do_is_refused(dirs):
    tmp, s, t = dirs
    with pytest.raises(ClimeError, match="nothing to do"):
        run_main("--feedback", tmp / "fb.csv", "--src-emb", s, "--tgt-emb", t, "--out-src", tmp / "o_en",
                 "--out-tgt", tmp / "o_fr", "--no-local", "--no-realign")
