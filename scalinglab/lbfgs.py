"""L-BFGS for many independent problems at once, one array operation per step for all of them.

The Chinchilla fit starts from Hoffmann et al.'s grid of 4,500 points, and its bootstrap refits
hundreds of resamples: a Python loop over scipy's L-BFGS-B takes minutes. Here each problem keeps
its own memory, its own backtracking line search and its own stopping test, with the tolerances
of scipy's L-BFGS-B, and all of them advance together.
"""
import numpy as np


def two_loop(g, S, Y, rho, count):
    """The L-BFGS direction -H g of each problem from its stored pairs (s, y), newest at (count - 1) % memory."""
    rows, memory = np.arange(len(g)), S.shape[1]
    stored = np.minimum(count, memory)
    q, alphas = -g.copy(), np.zeros((len(g), memory))
    for i in range(memory):
        slot = (count - 1 - i) % memory
        alphas[:, i] = np.where(i < stored, rho[rows, slot] * np.einsum("kp,kp->k", S[rows, slot], q), 0.0)
        q -= alphas[:, i, None] * Y[rows, slot]
    newest = (count - 1) % memory
    sy, yy = np.einsum("kp,kp->k", S[rows, newest], Y[rows, newest]), np.einsum("kp,kp->k", *[Y[rows, newest]] * 2)
    r = np.where(stored > 0, sy / np.where(yy > 0, yy, 1.0), 1.0)[:, None] * q  # the usual initial scaling
    for i in reversed(range(memory)):
        slot = (count - 1 - i) % memory
        beta = rho[rows, slot] * np.einsum("kp,kp->k", Y[rows, slot], r)
        r += np.where(i < stored, alphas[:, i] - beta, 0.0)[:, None] * S[rows, slot]
    return r


def minimize(fun, x0, memory=10, max_iter=1000, gtol=1e-5, ftol=2.2e-9, max_halvings=50):
    """Minimise K independent functions, problem k from x0[k].

    fun(x, rows) returns the values (k,) and gradients (k, p) of problems `rows` at x (k, p).
    A problem stops when its largest gradient component is at most gtol, or when a step lowers its
    value by at most ftol * max(|f|, 1) (scipy's L-BFGS-B defaults: both are absolute in f, so
    scaling f down stops it earlier), or when its line search finds no lower point.
    Returns x (K, p), f (K,), and the iterations each problem took (K,).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # far starts overflow; such points fail the line search
        return _minimize(fun, np.array(x0, dtype=float), memory, max_iter, gtol, ftol, max_halvings)


def _minimize(fun, x, memory, max_iter, gtol, ftol, max_halvings):
    K, p = x.shape
    f, g = fun(x, np.arange(K))
    S, Y, rho = np.zeros((K, memory, p)), np.zeros((K, memory, p)), np.zeros((K, memory))
    count, iterations = np.zeros(K, dtype=int), np.zeros(K, dtype=int)
    active = np.isfinite(f) & (np.abs(g).max(axis=1) > gtol)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        d = two_loop(g[idx], S[idx], Y[idx], rho[idx], count[idx])
        slope = np.einsum("kp,kp->k", d, g[idx])
        uphill = ~(slope < 0)  # a stale memory: forget it and go down the gradient
        count[idx[uphill]] = 0
        d[uphill], slope[uphill] = -g[idx[uphill]], -np.einsum("kp,kp->k", g[idx[uphill]], g[idx[uphill]])
        # the first step of a fresh memory has unit length, as in scipy; later ones try the full step
        t = np.where(count[idx] == 0, 1 / np.maximum(np.linalg.norm(d, axis=1), 1.0), 1.0)
        found = np.zeros(len(idx), dtype=bool)
        f_new, g_new = np.empty(len(idx)), np.empty((len(idx), p))
        for _ in range(max_halvings):
            j = np.flatnonzero(~found)
            if not len(j):
                break
            fj, gj = fun(x[idx[j]] + t[j, None] * d[j], idx[j])
            armijo = np.isfinite(fj) & (fj <= f[idx[j]] + 1e-4 * t[j] * slope[j])
            found[j[armijo]] = True
            f_new[j[armijo]], g_new[j[armijo]] = fj[armijo], gj[armijo]
            t[j[~armijo]] *= 0.5
        active[idx[~found]] = False
        k, step = idx[found], t[found, None] * d[found]
        y = g_new[found] - g[k]
        sy = np.einsum("kp,kp->k", step, y)
        f_old = f[k]
        x[k] += step
        f[k], g[k] = f_new[found], g_new[found]
        iterations[k] += 1
        curved = sy > 1e-10 * np.einsum("kp,kp->k", y, y)  # keep only pairs that keep H positive definite
        slot = count[k[curved]] % memory
        S[k[curved], slot], Y[k[curved], slot], rho[k[curved], slot] = step[curved], y[curved], 1 / sy[curved]
        count[k[curved]] += 1
        done = ((np.abs(g[k]).max(axis=1) <= gtol)
                | (f_old - f[k] <= ftol * np.maximum(np.maximum(np.abs(f_old), np.abs(f[k])), 1.0)))
        active[k[done]] = False
    return x, f, iterations
