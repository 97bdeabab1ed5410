"""The local objective of the update: accepted words pulled toward their keyword, rejected
ones pushed away, every touched row kept near where it was (``reg``).  The objectives (``dot``,
``cosine``, ``hinge``, ``retrofit``), their loss and hand-written gradient, and the Adam loop
with early stopping.  Called by :func:`clime.update.update` for ``update.py --local``."""

import contextlib
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from . import cli
from .errors import ClimeError
from .neighbors import resolve_device

log = logging.getLogger(__name__)

FIXED_LENGTH = ("cosine", "hinge", "retrofit")   # only the directions of the touched rows are optimised

OBJECTIVES = {
    "dot": "the 2020 paper's objective: sim = dot product (unbounded: vectors may grow without limit "
           "once a keyword has more than about 4*reg^2 judgements)",
    "cosine": "sim = cosine similarity (bounded)",
    "hinge": "margin form: max(0, margin_pos - cos(k,p)) + max(0, cos(k,n) - margin_neg); "
             "pairs that already satisfy their judgement exert no force",
    "retrofit": "retrofitting-style: ||e_k - e_p||^2 pulls accepted words onto the keyword "
                "(Faruqui et al. 2015), max(0, cos(k,n) - margin_neg) repels rejected ones "
                "(as counter-fitting does). cosine, hinge and retrofit keep every row's length and "
                "optimise directions only",
}


@dataclass
class LocalConfig:
    objective: str = "cosine"
    reg: float = 1.0
    iters: int = 10000
    lr: float = 0.001
    tol: float = 1e-6
    check_every: int = 50
    margin_pos: float = 0.7
    margin_neg: float = 0.3
    renorm: bool = False
    device: str = "cpu"
    progress: bool = True


def make_loss(objective, pos_k, pos_w, neg_k, neg_w, X0, reg, margin_pos=0.7, margin_neg=0.3):
    """The loss as a function of the stacked touched rows X: a few vectorised ops."""
    if objective not in OBJECTIVES:
        raise ClimeError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")

    r0 = X0.norm(dim=1, keepdim=True)

    def rows(V):
        # bounded objectives: rows keep their original lengths and only their directions are optimised;
        # with free lengths the cheapest way to change many cosines is to shrink a row through the origin
        return r0 * torch.nn.functional.normalize(V, dim=1, eps=1e-12)

    def cos_pairs(U, a, b):
        return (U[a] * U[b]).sum(1)

    def loss(X):
        if objective in FIXED_LENGTH:
            X = rows(X)
        if objective == "dot":
            fit = (X[neg_k] * X[neg_w]).sum() - (X[pos_k] * X[pos_w]).sum()
        else:
            U = torch.nn.functional.normalize(X, dim=1, eps=1e-12)
            cn = cos_pairs(U, neg_k, neg_w)
            if objective == "cosine":
                fit = cn.sum() - cos_pairs(U, pos_k, pos_w).sum()
            elif objective == "hinge":
                fit = (torch.relu(margin_pos - cos_pairs(U, pos_k, pos_w)).sum()
                       + torch.relu(cn - margin_neg).sum())
            else:  # retrofit
                fit = ((X[pos_k] - X[pos_w]) ** 2).sum() + torch.relu(cn - margin_neg).sum()
        return fit + reg * ((X - X0) ** 2).sum()

    loss.rows = rows if objective in FIXED_LENGTH else (lambda V: V)
    return loss


def make_grad(objective, pos_k, pos_w, neg_k, neg_w, X0, reg, margin_pos=0.7, margin_neg=0.3):
    """The gradient of ``make_loss`` with respect to its argument, written out by hand.

    Autograd plus torch.optim.Adam costs ~50 small tensor operations a step; the
    hand-written gradient needs about ten (a sparse product with the fixed pair
    matrix, or two gathers and two index_adds for the hinge terms).  tests check
    it against autograd on ``make_loss``.
    """
    n, device, dt = X0.shape[0], X0.device, X0.dtype
    K = torch.cat([pos_k, neg_k])
    W = torch.cat([pos_w, neg_w])
    sign = torch.cat([-torch.ones(len(pos_k), device=device, dtype=dt),
                      torch.ones(len(neg_k), device=device, dtype=dt)])

    def sym(rows, cols, vals, diag=None):
        """Sparse symmetric matrix sum_p vals_p (e_r e_c^T + e_c e_r^T) (+ diag)."""
        r, c, v = torch.cat([rows, cols]), torch.cat([cols, rows]), torch.cat([vals, vals])
        if diag is not None:
            ar = torch.arange(n, device=device)
            r, c, v = torch.cat([r, ar]), torch.cat([c, ar]), torch.cat([v, diag])
        A = torch.sparse_coo_tensor(torch.stack([r, c]), v, (n, n), check_invariants=False).coalesce()
        if device.type != "cpu":
            return A
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "sparse CSR support is in beta"
            return A.to_sparse_csr()

    r0 = X0.norm(dim=1, keepdim=True)
    two_reg = 2.0 * reg

    def tangent(G_U, U, norm):
        """Chain rule through U = X / |X| (row-wise)."""
        return (G_U - (G_U * U).sum(1, keepdim=True) * U) / norm

    if objective == "dot":
        A = sym(K, W, sign)

        def grad(X):
            return torch.sparse.mm(A, X).add_(X - X0, alpha=two_reg)

        return grad
    if objective not in FIXED_LENGTH:
        raise ClimeError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")

    def on_sphere(raw):
        """The rows are r0 * V/|V| (see make_loss): chain rule from X to V."""
        def grad(V):
            norm = V.norm(dim=1, keepdim=True).clamp_min(1e-12)
            U = V / norm
            return tangent(raw(r0 * U).mul_(r0), U, norm)
        return grad

    if objective == "cosine":
        A = sym(K, W, sign)

        def grad(V):  # on_sphere(raw cosine gradient), simplified: the projection is idempotent
            norm = V.norm(dim=1, keepdim=True).clamp_min(1e-12)
            U = V / norm
            return tangent(torch.sparse.mm(A, U).add_((r0 * U - X0) * r0, alpha=two_reg), U, norm)

        return grad
    # hinge terms max(0, s * (cos - m)): s = -1, m = margin_pos for accepted, s = +1, m = margin_neg for rejected
    if objective == "hinge":
        hk, hw, hs = K, W, sign
        hm = torch.cat([torch.full((len(pos_k),), float(margin_pos), device=device, dtype=dt),
                        torch.full((len(neg_k),), float(margin_neg), device=device, dtype=dt)])
        L = None
    else:  # retrofit: the hinge on rejected pairs only; a Laplacian pulls accepted pairs together
        hk, hw = neg_k, neg_w
        hs = torch.ones(len(neg_k), device=device, dtype=dt)
        hm = torch.full((len(neg_k),), float(margin_neg), device=device, dtype=dt)
        deg = torch.zeros(n, device=device, dtype=dt)
        ones = torch.ones(len(pos_k), device=device, dtype=dt)
        deg.index_add_(0, pos_k, ones).index_add_(0, pos_w, ones)
        L = sym(pos_k, pos_w, -2.0 * ones, 2.0 * deg)  # gradient of sum ||x_k - x_w||^2 is L X

    def grad(X):
        norm = X.norm(dim=1, keepdim=True).clamp_min(1e-12)
        U = X / norm
        Uk, Uw = U.index_select(0, hk), U.index_select(0, hw)
        c = (Uk * Uw).sum(1)
        a = (hs * ((hs * (c - hm)) > 0)).unsqueeze(1)
        G_U = torch.zeros_like(X).index_add_(0, hk, a * Uw).index_add_(0, hw, a * Uk)
        G = tangent(G_U, U, norm).add_(X - X0, alpha=two_reg)
        if L is not None:
            G.add_(torch.sparse.mm(L, X))
        return G

    return on_sphere(grad)


class _Adam:
    """torch.optim.Adam's update (betas 0.9/0.999, eps 1e-8, bias-corrected) in five in-place ops."""

    def __init__(self, X, lr, betas=(0.9, 0.999), eps=1e-8):
        self.X, self.lr, (self.b1, self.b2), self.eps = X, lr, betas, eps
        self.m = torch.zeros_like(X)
        self.v = torch.zeros_like(X)
        self.buf = torch.empty_like(X)
        self.t = 0

    def step(self, G):
        self.t += 1
        self.m.lerp_(G, 1 - self.b1)
        self.v.mul_(self.b2).addcmul_(G, G, value=1 - self.b2)
        c2 = math.sqrt(1 - self.b2 ** self.t)
        # lr/c1 * m / (sqrt(v)/c2 + eps)  ==  (lr*c2/c1) * m / (sqrt(v) + eps*c2): one pass fewer
        torch.sqrt(self.v, out=self.buf).add_(self.eps * c2)
        self.X.addcdiv_(self.m, self.buf, value=-self.lr * c2 / (1 - self.b1 ** self.t))


@contextlib.contextmanager
def _threads_for(size):
    """One thread for small problems: thread hand-offs cost more than the work."""
    old = torch.get_num_threads()
    if size < 2_000_000 and old > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def optimise(X0, problem, cfg):
    """Adam on the stacked touched rows; early stop when the loss stops improving.

    Returns the new rows (float32 numpy) and a dict with ``iterations`` and the
    first and last loss.  Deterministic: no randomness is involved.
    """
    device = resolve_device(cfg.device)
    x0 = torch.as_tensor(np.ascontiguousarray(X0, dtype=np.float32), device=device)
    ix = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    args = (cfg.objective, ix(problem.pos_k), ix(problem.pos_w), ix(problem.neg_k), ix(problem.neg_w), x0,
            cfg.reg, cfg.margin_pos, cfg.margin_neg)
    loss_fn = make_loss(*args)
    first = last = None
    prev = math.inf
    steps = 0
    check = max(1, cfg.check_every)
    bar = tqdm(total=cfg.iters, desc=f"update ({cfg.objective})", disable=cli.bar_off(cfg.progress), leave=False,
               mininterval=0.5)
    with _threads_for(x0.numel()), torch.no_grad():
        grad_fn = make_grad(*args)
        X = x0.clone()
        opt = _Adam(X, cfg.lr)
        try:
            for step in range(cfg.iters):
                if step == 0 or (step + 1) % check == 0:
                    value = float(loss_fn(X))   # the loss before this step
                    if first is None:
                        first = value
                    bar.update(step - bar.n)
                    bar.set_postfix(loss=f"{value:.4g}", refresh=False)
                    if not math.isfinite(value):
                        log.warning("the loss is no longer finite after %d steps; stopping", step)
                        break
                    if step > 0 and cfg.tol > 0 and prev - value < cfg.tol * max(1.0, abs(prev)):
                        break
                    prev = value
                opt.step(grad_fn(X))
                steps = step + 1
        finally:
            bar.update(steps - bar.n)
            bar.close()
        last = float(loss_fn(X))
        if first is None:
            first = last
        out = loss_fn.rows(X).cpu().numpy().astype(np.float32)
    if cfg.renorm:
        old = np.linalg.norm(X0, axis=1, keepdims=True)
        new = np.linalg.norm(out, axis=1, keepdims=True)
        out = (out * (old / np.maximum(new, 1e-12))).astype(np.float32)
    return out, {"iterations": steps, "loss_first": first, "loss_last": last}


def warn_if_diverged(objective, info):
    """Warn when the local loss ran away (it fell by more than 100x its starting size): the 2020 'dot'
    objective does this, since it rewards growing vectors without limit."""
    first, last = info.get("loss_first"), info.get("loss_last")
    if first is None or last is None or not math.isfinite(first):
        return False
    if not math.isfinite(last) or last < -100 * max(abs(first), 1e-12):
        log.warning("the %r loss went from %.4g to %.4g: the objective is diverging and the refined vectors "
                    "are probably far from the originals", objective, first, last)
        return True
    return False


def local_update(S, T, problem, cfg):
    """Run the local objective; returns new (S, T) copies, only touched rows changed."""
    X0 = np.concatenate([S[problem.src_rows], T[problem.tgt_rows]]).astype(np.float32)
    X, info = optimise(X0, problem, cfg)
    S = np.array(S, dtype=np.float32, copy=True)
    T = np.array(T, dtype=np.float32, copy=True)
    S[problem.src_rows] = X[: problem.n_src]
    T[problem.tgt_rows] = X[problem.n_src:]
    return S, T, info
