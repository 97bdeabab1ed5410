import math

import numpy as np
import pytest
import torch

from clime import neighbors
from clime.neighbors import mean_topk_sim, topk, unit_rows


def angles(*degrees):
    """Unit vectors in the plane at the given angles (degrees)."""
    return np.array([[math.cos(math.radians(a)), math.sin(math.radians(a))] for a in degrees], dtype=np.float32)


def test_exact_cosine_neighbours_known_space():
    base = angles(0, 10, 30, 90, 180)
    idx, sims = topk(angles(3), base, 3)
    assert idx.tolist() == [[0, 1, 2]]  # 3, 7 and 27 degrees away
    np.testing.assert_allclose(sims[0], np.cos(np.radians([3, 7, 27])), rtol=1e-5)
    idx, _ = topk(angles(100), base, 2)
    assert idx.tolist() == [[3, 2]]


def test_vectors_need_not_be_unit_length():
    base = angles(0, 45, 90) * np.array([[10.0], [0.1], [3.0]], dtype=np.float32)
    idx, sims = topk(angles(40) * 7, base, 1)
    assert idx.tolist() == [[1]]
    assert sims[0, 0] == pytest.approx(math.cos(math.radians(5)), rel=1e-5)


def test_exclude_by_identity_keeps_a_duplicate_vector():
    base = angles(0, 50, 90, 0)  # row 3 is an exact duplicate of row 0
    idx, sims = topk(base[[0, 3]], base, 2, exclude=[0, 3])
    assert idx.tolist() == [[3, 1], [0, 1]]
    assert sims[0, 0] == pytest.approx(1.0)
    # None / -1 mean "nothing to exclude"
    idx, _ = topk(base[[0, 1]], base, 1, exclude=[None, -1])
    assert idx.tolist() == [[0], [1]]


def test_k_is_capped_by_the_base_size():
    base = angles(0, 90)
    idx, _ = topk(base, base, 5, exclude=[0, 1])
    assert idx.tolist() == [[1], [0]]
    idx, _ = topk(base, base, 5)
    assert idx.shape == (2, 2)


def test_csls_corrects_hubness():
    # source queries cluster around 0 deg; the target "hub" at 0 deg is everyone's
    # nearest neighbour, while target "a" at 25 deg is close only to the query at 10 deg
    Q = angles(10, 0, -2, 2)
    T = angles(0, 25)
    cos_idx, _ = topk(Q[:1], T, 1)
    assert cos_idx.tolist() == [[0]]  # plain cosine: the hub
    csls_idx, csls_val = topk(Q[:1], T, 2, method="csls", csls_k=3,
                              base_penalty=mean_topk_sim(T, Q, 3), query_penalty=mean_topk_sim(Q[:1], T, 3))
    assert csls_idx.tolist() == [[1, 0]]  # CSLS: the hub is penalised
    # score = 2 cos - r_q - r_b, computed by hand
    cos = Q[:1] @ T.T
    r_b = np.sort(T @ Q.T, axis=1)[:, ::-1][:, :3].mean(1)
    r_q = np.sort(cos, axis=1)[:, ::-1][:, :2].mean(1)  # only 2 targets: k capped at 2
    expected = 2 * cos - r_q[:, None] - r_b[None, :]
    np.testing.assert_allclose(csls_val[0], expected[0, [1, 0]], rtol=1e-5, atol=1e-6)
    # without explicit penalties the queries themselves are the other side
    idx_default, _ = topk(Q, T, 1, method="csls", csls_k=3)
    assert idx_default[0].tolist() == [1]


def test_mean_topk_sim_exclude_self():
    E = angles(0, 10, 90)
    r = mean_topk_sim(E, E, 1, exclude_self=True)
    np.testing.assert_allclose(r, np.cos(np.radians([10, 10, 80])), rtol=1e-5)
    r = mean_topk_sim(E, E, 1)
    np.testing.assert_allclose(r, [1, 1, 1], rtol=1e-5)


def test_results_do_not_depend_on_chunking(monkeypatch):
    rng = np.random.default_rng(0)
    B = rng.standard_normal((100, 16)).astype(np.float32)
    B[7] = B[3]  # a duplicate
    Q = B[:20]
    ref_i, ref_v = topk(Q, B, 5, exclude=np.arange(20))
    ref_c = topk(Q, B, 5, method="csls")
    ref_r = mean_topk_sim(B, B, 4, exclude_self=True)
    monkeypatch.setattr(neighbors, "MAX_BLOCK_BYTES", 4 * 100 * 6)  # 6 rows a block
    i, v = topk(Q, B, 5, exclude=np.arange(20), chunk=7)
    assert (i == ref_i).all()
    np.testing.assert_allclose(v, ref_v, rtol=1e-6)
    c = topk(Q, B, 5, method="csls", chunk=4)
    assert (c[0] == ref_c[0]).all()
    np.testing.assert_allclose(mean_topk_sim(B, B, 4, exclude_self=True, chunk=5), ref_r, rtol=1e-6)
    assert 7 in i[3] and 3 not in i[3]


def test_equal_scores_listed_by_lower_index():
    base = angles(0, 0, 0, 0, 90)
    idx, _ = topk(angles(0), base, 4)
    assert idx.tolist() == [[0, 1, 2, 3]]


def test_accepts_memmap_and_tensors(tmp_path):
    E = angles(0, 30, 60, 90)
    np.save(tmp_path / "E.npy", E)
    mm = np.load(tmp_path / "E.npy", mmap_mode="r")
    idx, _ = topk(mm[:1], mm, 1, exclude=[0])
    assert idx.tolist() == [[1]]
    U = unit_rows(E)
    idx2, _ = topk(U[:1], U, 1, exclude=[0], assume_unit=True)
    assert idx2.tolist() == [[1]]
    assert isinstance(U, torch.Tensor)


def test_bad_method():
    with pytest.raises(ValueError):
        topk(angles(0), angles(0, 1), 1, method="dot")
