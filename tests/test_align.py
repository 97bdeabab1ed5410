"""clime.align and align.py: Procrustes, iterative normalisation, P@1 (NN and CSLS)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clime import align as al
from clime.embeddings import Embeddings, load_embeddings, normalize, save_embeddings
from clime.errors import ClimeError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "en-fr"


def _subprocess(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    return subprocess.run([sys.executable, str(ROOT / "align.py"), *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT)


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run(monkeypatch, capsys):
    """align.py's main() in this process (fast: no interpreter and torch start per call)."""
    import importlib

    from clime import cli

    script = importlib.import_module("align")
    monkeypatch.setattr(cli, "setup_logging", lambda *a, **k: None)

    def _run(*args):
        capsys.readouterr()
        try:
            code = script.main([str(a) for a in args])
        except ClimeError as err:
            out = capsys.readouterr()
            return _Result(2, out.out, out.err + f"error: {err}\n")
        out = capsys.readouterr()
        return _Result(code or 0, out.out, out.err)

    return _run


def _rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _synthetic(n=300, d=16, seed=0):
    """A source space and a target space that is an exact rotation of it (target word tN = source word sN)."""
    S = normalize(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32), "center-unit")
    R = _rotation(d, seed + 1)
    T = (S @ R.T).astype(np.float32)  # so that T @ R = S
    return S, T, R


def _write_dict(path, pairs):
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.fixture
def space(tmp_path):
    S, T, R = _synthetic()
    sw = [f"s{i}" for i in range(len(S))]
    tw = [f"t{i}" for i in range(len(T))]
    save_embeddings(tmp_path / "src", S, sw)
    save_embeddings(tmp_path / "tgt", T, tw)
    train = _write_dict(tmp_path / "train.tsv", [(f"s{i}", f"t{i}") for i in range(0, 40)])
    test = _write_dict(tmp_path / "test.tsv", [(f"s{i}", f"t{i}") for i in range(100, 300)])
    return tmp_path, S, T, R, train, test


def test_fit_orthogonal_recovers_rotation():
    S, T, R = _synthetic()
    W = al.fit_orthogonal(T[:40], S[:40])
    np.testing.assert_allclose(W, R, atol=1e-5)
    np.testing.assert_allclose(W @ W.T, np.eye(len(W)), atol=1e-10)
    # weights: a zero weight removes a (corrupted) pair
    Tn = T[:40].copy()
    Tn[0] = -Tn[0]
    W2 = al.fit_orthogonal(Tn, S[:40], weights=np.r_[0.0, np.ones(39)])
    np.testing.assert_allclose(W2, R, atol=1e-5)


def test_iterative_normalize():
    E = np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32) + 3
    N = al.iterative_normalize(E, 5)
    np.testing.assert_allclose(np.linalg.norm(N, axis=1), 1, rtol=1e-5)
    assert np.abs(N.mean(axis=0)).max() < 0.05
    assert E[0, 0] != N[0, 0]  # input untouched, a copy comes back


def test_translation_precision_exact_and_words_or_rows():
    S, T, R = _synthetic()
    src = Embeddings(S, [f"s{i}" for i in range(len(S))])
    tgt = Embeddings((T @ R).astype(np.float32), [f"t{i}" for i in range(len(T))])
    pairs = [(f"s{i}", f"t{i}") for i in range(100, 300)] + [("s1", "missing"), ("nope", "t1")]
    assert al.translation_precision(src, tgt, pairs, "nn") == (1.0, 200)
    assert al.translation_precision(src, tgt, pairs, "csls") == (1.0, 200)
    assert al.translation_precision(src, tgt, [(i, i) for i in range(10)], "nn") == (1.0, 10)
    # a source word is right when its top-1 is ANY of its gold translations
    assert al.translation_precision(src, tgt, [("s5", "t7"), ("s5", "t5")], "nn") == (1.0, 1)
    assert al.translation_precision(src, tgt, [("s5", "t7")], "nn") == (0.0, 1)
    assert al.translation_precision(src, tgt, [("x", "y")], "nn") == (0.0, 0)
    assert float(al.translation_precision(src, tgt, pairs, "nn")) == 1.0
    # unaligned spaces: near chance
    p, n = al.translation_precision(Embeddings(S, src.words), Embeddings(T, tgt.words), pairs, "nn")
    assert n == 200 and p < 0.2
    with pytest.raises(ValueError):
        al.translation_precision(src, tgt, pairs, "bogus")


def test_read_dictionary_and_min_pairs(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("# comment\na\tb\n\nc d\n", encoding="utf-8")
    assert al.read_dictionary(p) == [("a", "b"), ("c", "d")]
    src = Embeddings(np.eye(3, dtype=np.float32), ["a", "c", "e"])
    tgt = Embeddings(np.eye(3, dtype=np.float32), ["b", "d", "f"])
    ids, n_dropped = al.read_dictionary(p, src.index, tgt.index)
    assert ids == [(0, 0), (1, 1)] and n_dropped == 0
    with pytest.raises(ClimeError, match=r"only 2 of the 2 .*at least 10"):
        al.dictionary_pairs(p, src, tgt, min_pairs=10)
    assert al.dictionary_pairs(p, src, tgt, min_pairs=2) == ([(0, 0), (1, 1)], 2)
    p.write_text("a\tb\tc\n")
    with pytest.raises(ClimeError) as err:
        al.read_dictionary(p)
    assert err.value.line == 1
    p.write_bytes(b"a\t\xff\n")
    with pytest.raises(ClimeError, match="UTF-8"):
        al.read_dictionary(p)


@pytest.mark.parametrize("direction", ["tgt2src", "src2tgt"])
def test_align_cli_recovers_rotation(space, direction, run):
    tmp, S, T, R, train, test = space
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", train, "--eval-dict", test,
               "--out-src", tmp / "os", "--out-tgt", tmp / "ot", "--results", tmp / "r.json",
               "--direction", direction, "--save-map", tmp / "W.npy")
    assert res.returncode == 0, res.stderr
    assert "NN 100.0%" in res.stdout and "CSLS(k=10) 100.0%" in res.stdout
    r = json.loads((tmp / "r.json").read_text())
    assert r["p1_nn"] == 1.0 and r["p1_csls"] == 1.0 and r["n_pairs_used"] == 40 and r["n_eval"] == 200
    os_, ot = load_embeddings(tmp / "os"), load_embeddings(tmp / "ot")
    if direction == "tgt2src":
        np.testing.assert_array_equal(os_.vectors, S)  # the source side is an exact copy
        np.testing.assert_allclose(ot.vectors, S, atol=1e-5)
        np.testing.assert_allclose(np.load(tmp / "W.npy"), R, atol=1e-5)
        assert ot.meta["align"]["role"] == "mapped" and os_.meta["align"]["role"] == "reference"
    else:
        np.testing.assert_array_equal(ot.vectors, T)
        np.testing.assert_allclose(os_.vectors, T, atol=1e-5)
    assert ot.words == [f"t{i}" for i in range(len(T))]


def test_align_cli_iter_norm_and_eval_only(space, run):
    tmp, S, T, R, train, test = space
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", train, "--iter-norm", "3",
               "--out-src", tmp / "os", "--out-tgt", tmp / "ot")
    assert res.returncode == 0, res.stderr
    res = run("--src-emb", tmp / "os", "--tgt-emb", tmp / "ot", "--eval-dict", test, "--eval-only",
               "--results", tmp / "e.json")
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp / "e.json").read_text())
    assert r["p1_nn"] == 1.0 and r["n_pairs_used"] == 0 and r["n_eval"] == 200
    # before any alignment: far from perfect
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--eval-dict", test, "--eval-only",
               "--results", tmp / "e0.json")
    assert json.loads((tmp / "e0.json").read_text())["p1_nn"] < 0.2


def test_align_cli_refusals(space, run):
    tmp, S, T, R, train, test = space
    few = _write_dict(tmp / "few.tsv", [("s1", "t1"), ("s2", "t2"), ("s3", "nope"), ("s4", "t4")])
    res = _subprocess("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", few, "--out-src", tmp / "os",
                      "--out-tgt", tmp / "ot")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {few}: only 3 of the 4 training dictionary pairs have both words in the vocabularies "
        "(at least 10 needed; see --min-pairs)"]
    assert not (tmp / "os").exists() and not (tmp / "ot").exists()
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", few, "--out-src", tmp / "os",
               "--out-tgt", tmp / "ot", "--min-pairs", "3")
    assert res.returncode == 0, res.stderr
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", train)
    assert res.returncode == 2 and "--out-src" in res.stderr
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--eval-only")
    assert res.returncode == 2 and "--eval-dict" in res.stderr
    save_embeddings(tmp / "d8", np.eye(8, dtype=np.float32), [f"x{i}" for i in range(8)])
    res = run("--src-emb", tmp / "src", "--tgt-emb", tmp / "d8", "--eval-dict", test, "--eval-only")
    assert res.returncode == 2 and "dimension" in res.stderr


def _real_dirs(tmp_path):
    """Binarize the example (data/) or the shared kit, whichever exists."""
    from clime.vecfile import read_vec

    if (ROOT / "data" / "eng.vec.gz").exists() and (ROOT / "data" / "dict.test.tsv").exists():
        files = (ROOT / "data" / "eng.vec.gz", ROOT / "data" / "fra.vec.gz")
        train, test = ROOT / "data" / "dict.seed.tsv", ROOT / "data" / "dict.test.tsv"
    elif SHARED.exists():
        files = (SHARED / "en.vec.gz", SHARED / "fr.vec.gz")
        train, test = SHARED / "dict.en-fr.train.tsv", SHARED / "dict.en-fr.test.tsv"
    else:
        pytest.skip("neither data/eng.vec.gz nor ../shared/datasets/en-fr is present")
    dirs = []
    for f, name in zip(files, ("en", "fr")):
        words, E, _ = read_vec(f, max_words=20000, progress=False)
        save_embeddings(tmp_path / name, normalize(E, "center-unit"), words)
        dirs.append(tmp_path / name)
    return dirs, train, test


def test_real_example_prints_p_at_1(tmp_path, capsys, run):
    (en, fr), train, test = _real_dirs(tmp_path)
    res = run("--src-emb", en, "--tgt-emb", fr, "--dict", train, "--eval-dict", test, "--out-src", tmp_path / "a",
               "--out-tgt", tmp_path / "b", "--results", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    with capsys.disabled():
        print(f"\n[real en-fr, {r['n_pairs_used']} training pairs] {res.stdout.strip()}")
    n_tgt = len(load_embeddings(fr))
    assert r["n_eval"] > 100
    assert r["p1_nn"] > 10 / n_tgt and r["p1_csls"] > 10 / n_tgt  # far above chance (1 / vocabulary)


def test_fit_orthogonal_underdetermined_is_canonical():
    """Fewer pairs than dimensions: the solution does not depend on the basis LAPACK picks."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 12))
    R = _rotation(12, 3)
    Y = X @ R
    W = al.fit_orthogonal(X, Y)
    np.testing.assert_allclose(X @ W, Y, atol=1e-5)  # the fit is still exact
    np.testing.assert_allclose(W @ W.T, np.eye(12), atol=1e-10)
    Q = _rotation(12, 4)  # same problem in a rotated basis: the same map, rotated
    W2 = al.fit_orthogonal(X @ Q, Y @ Q)
    np.testing.assert_allclose(W2, Q.T @ W @ Q, atol=1e-5)


# ------------------------------------------------------------------ self-learning

def _noisy_rotated(n=400, d=24, seed=0, noise=0.08):
    """A source space and a noisy rotation of it: a few seed pairs fit the map poorly, many fit it well."""
    rng = np.random.default_rng(seed)
    S = normalize(rng.standard_normal((n, d)).astype(np.float32), "center-unit")
    R = _rotation(d, seed + 1)
    T = ((S + noise * rng.standard_normal(S.shape).astype(np.float32)) @ R.T).astype(np.float32)
    return S, T, R


def test_self_learning_recovers_a_rotation_from_a_small_seed():
    S, T, R = _noisy_rotated()
    src = Embeddings(S, [f"s{i}" for i in range(len(S))])
    seed = [(i, i) for i in range(12)]                 # fewer pairs than dimensions: Procrustes is far off
    test = [(i, i) for i in range(100, 400)]

    def p1(Sa, Ta):
        return float(al.translation_precision(src, Embeddings(Ta, [f"t{i}" for i in range(len(T))]), test, "nn"))

    _, T0, _ = al.align(S, T, seed)
    S1, T1, W, hist = al.align(S, T, seed, refine=10, vocab=400, csls_k=5)
    assert p1(S, T0) < 0.5
    assert p1(S1, T1) >= 0.95
    np.testing.assert_array_equal(S1, S)               # tgt2src: the source side is untouched
    assert hist[0]["round"] == 0 and hist[0]["induced"] is None and len(hist) >= 3
    assert all(h["induced"] > 0 for h in hist[1:-1])
    assert hist[-1]["final"] and hist[-1]["round"] > 0 and hist[-1]["heldout_pairs"] == 0   # too few to hold out
    # same inputs, same bytes
    _, T2, W2, hist2 = al.align(S, T, seed, refine=10, vocab=400, csls_k=5)
    assert T2.tobytes() == T1.tobytes() and W2.tobytes() == W.tobytes()
    assert hist2 == [dict(h, seconds=h2["seconds"]) if "seconds" in h else h for h, h2 in zip(hist, hist2)]


def test_self_learning_stops_early_and_keeps_seed_and_forbidden():
    S, T, R = _noisy_rotated(noise=0.02)
    seed = {(i, i): 1.0 for i in range(60)}
    seed[(200, 201)] = 5.0                             # a wrong seed pair, heavily weighted: kept anyway
    forbidden = [(i, i) for i in range(300, 320)]      # right pairs the annotator rejected: never induced
    induced = []
    real = al._fit_pairs

    def spy(S_, T_, weights, direction):
        induced.append(dict(weights))
        return real(S_, T_, weights, direction)

    import clime.align as mod
    mod._fit_pairs, old = spy, mod._fit_pairs
    try:
        _, _, _, hist = al.self_learn(S, T, seed, 20, vocab=400, csls_k=5, forbidden=forbidden, holdout=0)
        n_unguarded = len(induced)
        al.self_learn(S, T, seed, 20, vocab=400, csls_k=5, forbidden=forbidden)       # with the guard
    finally:
        mod._fit_pairs = old
    assert hist[-2].get("converged") and len(hist) < 22     # early stop: the dictionary stopped changing
    assert hist[-1]["final"] and hist[-1]["stopped"] == "converged"
    held = al.split_holdout(seed, seed=0)[1]
    assert held and (200, 201) not in held
    for n, weights in enumerate(induced):
        assert weights[(200, 201)] == 5.0 and all(weights[(i, i)] == 1.0 for i in range(60) if (i, i) not in held)
        assert not set(weights) & set(forbidden)
        # guarded: the held-out pairs only in the output fit (the last)
        assert all(p in weights for p in held) == (n < n_unguarded or n == len(induced) - 1)
    assert len(induced[n_unguarded - 1]) > 300         # most words were induced



def test_csls_mutual_nn_matches_dense():
    import torch

    rng = np.random.default_rng(3)
    A = torch.nn.functional.normalize(torch.as_tensor(rng.standard_normal((70, 8)), dtype=torch.float32), dim=1)
    B = torch.nn.functional.normalize(torch.as_tensor(rng.standard_normal((90, 8)), dtype=torch.float32), dim=1)
    C = (A @ B.T).numpy().astype(np.float64)
    rA = np.sort(C, axis=1)[:, -4:].mean(1)
    rB = np.sort(C, axis=0)[-4:, :].mean(0)
    sc = 2 * C - rA[:, None] - rB[None, :]
    fwd, bwd = sc.argmax(1), sc.argmax(0)
    dense = [(i, fwd[i]) for i in range(70) if bwd[fwd[i]] == i]
    for chunk in (7, 4096):                            # tiny blocks and one block: the same answer
        pa, pb = al.csls_penalties(A, B, 4, chunk=chunk)
        np.testing.assert_allclose(pa.numpy(), rA, atol=1e-5)
        np.testing.assert_allclose(pb.numpy(), rB, atol=1e-5)
        assert [tuple(p) for p in al.csls_mutual_nn(A, B, 4, chunk=chunk)] == dense


def test_align_cli_refine(space, run):
    tmp, S, T, R, train, test = space
    Tn = T + 0.05 * np.random.default_rng(5).standard_normal(T.shape).astype(np.float32)
    save_embeddings(tmp / "tgtn", Tn, [f"t{i}" for i in range(len(T))])
    few = _write_dict(tmp / "few.tsv", [(f"s{i}", f"t{i}") for i in range(7)])
    common = ["--src-emb", tmp / "src", "--tgt-emb", tmp / "tgtn", "--dict", few, "--eval-dict", test,
              "--min-pairs", 5]
    res = run(*common, "--out-src", tmp / "a", "--out-tgt", tmp / "b", "--refine", 0, "--results", tmp / "r0.json")
    assert res.returncode == 0, res.stderr
    r0 = json.loads((tmp / "r0.json").read_text())
    res = run(*common, "--out-src", tmp / "c", "--out-tgt", tmp / "d", "--refine", 8, "--refine-vocab", 300,
              "--csls-k", 5, "--results", tmp / "r.json")
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp / "r.json").read_text())
    assert r0["p1_nn"] < 0.6 and r["p1_nn"] >= 0.95
    fits = [h for h in r["rounds"] if not h.get("converged")]
    assert r["refine"] == 8 and fits[0]["round"] == 0 and r["chosen_round"] > 0 and r["n_heldout_pairs"] == 0
    assert r["stopped"] in ("converged", "patience", "rounds")
    assert fits[0]["p1_nn"] < 0.6
    assert r["n_pairs_final"] > 200
    # --refine 0 is exactly plain Procrustes (the same bytes as align() of before)
    _, T0, _ = al.align(S, Tn, [(i, i) for i in range(7)])
    assert load_embeddings(tmp / "b").vectors.tobytes() == T0.tobytes()
    # same seed, same bytes
    res = run(*common, "--out-src", tmp / "e", "--out-tgt", tmp / "f", "--refine", 8, "--refine-vocab", 300,
              "--csls-k", 5)
    assert (tmp / "f" / "E.npy").read_bytes() == (tmp / "d" / "E.npy").read_bytes()
    # combines with --iter-norm
    res = run(*common, "--out-src", tmp / "g", "--out-tgt", tmp / "h", "--refine", 8, "--refine-vocab", 300,
              "--iter-norm", 2, "--csls-k", 5, "--results", tmp / "ri.json")
    assert res.returncode == 0 and json.loads((tmp / "ri.json").read_text())["p1_nn"] >= 0.95


@pytest.mark.parametrize("bad, what", [(("--refine", "-1"), "--refine: must be an integer >= 0"),
                                       (("--refine-vocab", "0"), "--refine-vocab: must be an integer >= 1"),
                                       (("--holdout", "1"), "--holdout: must be a finite number >= 0 and < 1"),
                                       (("--patience", "0"), "--patience: must be an integer >= 1")])
def test_align_cli_refine_bad_values(space, bad, what):
    tmp, S, T, R, train, test = space
    res = _subprocess("--src-emb", tmp / "src", "--tgt-emb", tmp / "tgt", "--dict", train, "--out-src", tmp / "a",
                      "--out-tgt", tmp / "b", *bad)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and what in lines[0] and "Traceback" not in res.stderr
    assert not (tmp / "a").exists() and not (tmp / "b").exists()


@pytest.mark.parametrize("margin, chunk", [(1, 7), (4, 4096)])
def test_csls_top1_matches_dense(margin, chunk):
    """The pruned search (exact penalties only where they can matter) equals the dense CSLS argmax."""
    import torch

    rng = np.random.default_rng(4)
    S = rng.standard_normal((150, 6)).astype(np.float32)
    B = (S[rng.integers(0, 150, 200)] + 0.7 * rng.standard_normal((200, 6))).astype(np.float32)
    q = np.sort(rng.choice(150, 40, replace=False))
    Sn, Bn = S / np.linalg.norm(S, axis=1, keepdims=True), B / np.linalg.norm(B, axis=1, keepdims=True)
    C = Bn.astype(np.float64) @ Sn.T.astype(np.float64)
    rB = np.sort(C, axis=1)[:, -10:].mean(1)
    dense_csls = (2 * C.T[q] - rB[None, :]).argmax(1)
    dense_nn = C.T[q].argmax(1)
    T = lambda x: torch.as_tensor(x)  # noqa: E731
    nn, cs = al.csls_top1(T(Sn[q]), T(Bn), T(Sn), 10, chunk=chunk, margin=margin)
    assert (nn == dense_nn).all() and (cs == dense_csls).all()


# ------------------------------------------------------------------ exactness of the pruned searches

def _grid_space(n, d, seed, dup=0.3, hubs=3):
    """Vectors on a grid of quarters (every product, penalty and score is exact in float32), with duplicated
    rows (exact ties) and a few hub rows close to many others."""
    import torch

    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, (n, d)).astype(np.float32) / 4
    dups = rng.choice(n, int(dup * n), replace=False)
    X[dups] = X[rng.integers(0, n, len(dups))]
    X[rng.choice(n, hubs, replace=False)] = 0.25               # hubs: near the all-positive corner
    return torch.as_tensor(X)


@pytest.mark.parametrize("fraction", [0.0, 1 / 16, 1.0])     # always dense, the default, always pruned
@pytest.mark.parametrize("chunk", [5, 4096])
def test_pruned_mutual_nn_is_exactly_dense_with_ties_and_hubs(monkeypatch, fraction, chunk):
    import torch

    monkeypatch.setattr(al, "PRUNE_DENSE_FRACTION", fraction)
    for seed, (na, nb) in enumerate([(60, 80), (90, 45), (200, 200)]):
        A, B = _grid_space(na, 8, seed), _grid_space(nb, 8, seed + 10)
        dense = al.dense_mutual_nn(A, B, 4)
        assert np.array_equal(al.csls_mutual_nn(A, B, 4, chunk=chunk), dense)
        C = (A @ B.T).numpy()
        assert len(np.unique(C)) < C.size / 10                   # many exact ties
        rA, rB = al.csls_penalties(A, B, 4, chunk=chunk)
        assert torch.equal(rB, torch.as_tensor(np.sort(C, axis=0)[-4:].mean(0)))
    # random unit vectors (no ties)
    rng = np.random.default_rng(7)
    A = torch.nn.functional.normalize(torch.as_tensor(rng.standard_normal((300, 12)), dtype=torch.float32), dim=1)
    B = torch.nn.functional.normalize(torch.as_tensor(rng.standard_normal((250, 12)), dtype=torch.float32), dim=1)
    assert np.array_equal(al.csls_mutual_nn(A, B, 10, chunk=chunk), al.dense_mutual_nn(A, B, 10))


@pytest.mark.parametrize("fraction", [0.0, 1.0])
@pytest.mark.parametrize("chunk", [6, 4096])
def test_single_pass_top1_is_exactly_dense_with_ties_and_hubs(monkeypatch, fraction, chunk):
    import torch

    monkeypatch.setattr(al, "PRUNE_DENSE_FRACTION", fraction)
    for seed in range(3):
        S, B = _grid_space(150, 8, seed), _grid_space(220, 8, seed + 20)
        q = torch.as_tensor(np.sort(np.random.default_rng(seed).choice(150, 40, replace=False)))
        for margin in (1, 4):
            stats = {}
            nn, cs = al.csls_top1(S[q], B, S, 5, chunk=chunk, margin=margin, stats=stats)
            dnn, dcs = al.dense_csls_top1(S[q], B, S, 5)
            assert np.array_equal(nn, dnn) and np.array_equal(cs, dcs)
            assert 0 < stats["exact_penalties"] <= 220


# ------------------------------------------------------------------ the self-learning guard

def _drifting(n=400, d=24, n_iso=60, seed=0):
    """Only the first ``n_iso`` words are translations (a rotation); the rest of the target space is a noisy
    copy of the source under another rotation (a non-isomorphic pair: most of the vocabulary matches the
    wrong way), so self-learning induces mostly wrong pairs, consistently, and pulls the map away."""
    rng = np.random.default_rng(seed)
    S = normalize(rng.standard_normal((n, d)).astype(np.float32), "center-unit")
    R = _rotation(d, seed + 1)
    q, r = np.linalg.qr(np.eye(d) + 0.3 * rng.standard_normal((d, d)))      # a rotation near the identity
    T = ((S + 0.1 * rng.standard_normal((n, d)).astype(np.float32)) @ (R @ (q * np.sign(np.diag(r)))).T)
    T[:n_iso] = S[:n_iso] @ R.T
    return S, T.astype(np.float32)


def test_guard_never_worse_than_seed_only_and_warns(tmp_path, run, caplog):
    import logging

    S, T = _drifting()
    sw, tw = [f"s{i}" for i in range(len(S))], [f"t{i}" for i in range(len(T))]
    save_embeddings(tmp_path / "src", S, sw)
    save_embeddings(tmp_path / "tgt", T, tw)
    seed = [(i, i) for i in range(60)]
    _write_dict(tmp_path / "seed.tsv", [(sw[i], tw[j]) for i, j in seed])
    held = sorted(al.split_holdout({p: 1.0 for p in seed}, seed=0)[1])
    assert len(held) == 12
    _write_dict(tmp_path / "held.tsv", [(sw[i], tw[j]) for i, j in held])
    common = ["--src-emb", tmp_path / "src", "--tgt-emb", tmp_path / "tgt", "--dict", tmp_path / "seed.tsv",
              "--eval-dict", tmp_path / "held.tsv", "--refine-vocab", 400, "--csls-k", 5]
    p1 = {}
    for name, extra in (("plain", ["--refine", 0]), ("guard", ["--refine", 5]),
                        ("unguarded", ["--refine", 5, "--holdout", 0])):
        with caplog.at_level(logging.WARNING, logger="clime.align"):
            caplog.clear()
            res = run(*common, *extra, "--out-src", tmp_path / f"{name}_s", "--out-tgt", tmp_path / f"{name}_t",
                      "--results", tmp_path / f"{name}.json")
        assert res.returncode == 0, res.stderr
        p1[name] = json.loads((tmp_path / f"{name}.json").read_text())
        warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("warning:")]
        assert bool(warned) == (name == "guard")
        if name == "guard":
            assert "round 0 P@1 NN 100.0%" in warned[0] and "kept the seed-only fit" in warned[0]
    assert p1["unguarded"]["p1_nn"] < p1["plain"]["p1_nn"] == 1.0     # the drift the guard is for
    assert p1["guard"]["p1_nn"] >= p1["plain"]["p1_nn"] and p1["guard"]["p1_csls"] >= p1["plain"]["p1_csls"]
    assert p1["guard"]["chosen_round"] == 0 and p1["guard"]["stopped"] == "patience"
    assert len(p1["guard"]["rounds"]) == 3                             # round 0, then 2 worse rounds (patience 2)
    # round 0 kept: the output is exactly plain Procrustes on the whole seed
    assert (tmp_path / "guard_t" / "E.npy").read_bytes() == (tmp_path / "plain_t" / "E.npy").read_bytes()


def test_split_holdout_is_deterministic_by_source_word():
    pairs = {(i, j): 1.0 for i in range(50) for j in (2 * i, 2 * i + 1)}
    fit, held = al.split_holdout(pairs, 0.2, seed=3)
    assert len(held) == 20 and len({i for i, _ in held}) == 10 and not {i for i, _ in fit} & {i for i, _ in held}
    assert al.split_holdout(dict(reversed(list(pairs.items()))), 0.2, seed=3)[1] == held
    assert al.split_holdout(pairs, 0.2, seed=4)[1] != held
    assert al.split_holdout(pairs, 0.0)[1] == {}
    with pytest.raises(ValueError):
        al.split_holdout(pairs, 1.0)


def test_guard_is_off_for_inputs_already_aligned_on_the_seed(caplog):
    """make_kit.py rotates the target onto the source with the seed pairs: held-out seed pairs are not held out."""
    import logging

    S, T = _drifting()
    seed = [(i, i) for i in range(60)]
    _, T_pre, _ = al.align(S, T, seed)
    with caplog.at_level(logging.WARNING, logger="clime.align"):
        *_, hist = al.self_learn(S, T_pre, seed, 2, vocab=400, csls_k=5)
    assert hist[-1]["heldout_pairs"] == 0 and any("already aligned" in m for m in caplog.messages)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="clime.align"):
        *_, hist = al.self_learn(S, T, seed, 2, vocab=400, csls_k=5)
    assert hist[-1]["heldout_pairs"] == 12 and not any("already aligned" in m for m in caplog.messages)


def test_ties_keep_the_earlier_round_unless_ties_later():
    """A seed large enough that its fit already gets every held-out pair right: every round ties.
    align.py's guard keeps round 0; update.py's re-fit (ties_later) keeps the later rounds."""
    S, T, R = _noisy_rotated(noise=0.02)
    seed = [(i, i) for i in range(120)]
    *_, early = al.self_learn(S, T, seed, 4, vocab=400, csls_k=5, patience=5)
    *_, late = al.self_learn(S, T, seed, 4, vocab=400, csls_k=5, patience=5, ties_later=True)
    fits = [h for h in early if "heldout_nn" in h]
    assert len(fits) >= 2 and len({h["heldout_nn"] for h in fits}) == 1 and fits[0]["heldout_nn"] == 1.0
    assert early[-1]["round"] == 0
    assert late[-1]["round"] == max(h["round"] for h in late if "heldout_nn" in h) > 0
