"""Hidden grading cases of Lab 4, and the instructor's answer implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import numpy as np

from scalinglab.checks import answer_case, relative_error
from scalinglab.checks.lab04 import allocation_of, envelope_of, loss_of, vertex_of


# ---------------------------------------------------------------- answer implementations

def isoflop_vertex_answer(N, L):
    x, y = np.log(np.asarray(N, dtype=float)), np.asarray(L, dtype=float)
    c2, c1, _ = np.polyfit(x, y, 2)
    return float(np.exp(-c1 / (2 * c2))) if c2 > 0 else None


def optimal_allocation_answer(C, E, A, B, alpha, beta):
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    N = G * (np.asarray(C, dtype=float) / 6) ** (beta / (alpha + beta))
    return N, np.asarray(C, dtype=float) / (6 * N)


def huber_loss_answer(theta, N, D, L, delta=1e-3):
    a, b, e, alpha, beta = theta
    terms = np.stack(np.broadcast_arrays(a - alpha * np.log(N), b - beta * np.log(D), e))
    r = np.log(L) - np.logaddexp.reduce(terms, axis=0)
    return float(np.sum(np.where(np.abs(r) <= delta, 0.5 * r ** 2, delta * (np.abs(r) - 0.5 * delta))))


def loss_envelope_answer(flops, loss, sizes, grid):
    best_loss, best_size = [], []
    for C in grid:
        candidates = [(float(np.interp(np.log(C), np.log(f), l)), n) for f, l, n in zip(flops, loss, sizes)
                      if f[0] <= C <= f[-1]]
        low = min(candidates) if candidates else (None, None)
        best_loss.append(low[0])
        best_size.append(low[1])
    return {"loss": best_loss, "N": best_size}


# ---------------------------------------------------------------- cases: the answer computes what is expected

def same_vertex(output, want, what):
    got = vertex_of(output)
    assert (got is None) if want is None else (got is not None and relative_error(got, want) < 1e-6), (
        f"{what}: expected {want}, got {got}")


def same_allocation(output, want, what):
    N, D = allocation_of(output, len(np.atleast_1d(want[0])))
    assert np.allclose(N, want[0], rtol=1e-6) and np.allclose(D, want[1], rtol=1e-6), (
        f"{what}: expected N_opt {np.atleast_1d(want[0])}, got {N}")


def same_loss(output, want, what):
    assert relative_error(loss_of(output), want) < 1e-6, f"{what}: expected {want:.6g}, got {output}"


def same_envelope(output, want, what):
    got = envelope_of(output, len(want["N"]))
    assert got["N"] == want["N"] and all(
        g is None if w is None else g is not None and relative_error(g, w) < 1e-6
        for g, w in zip(got["loss"], want["loss"])), f"{what}: expected {want}, got {got}"


def envelope_answer(flops, loss, sizes, grid):
    return loss_envelope_answer([np.array(f) for f in flops], [np.array(v) for v in loss], sizes, grid)


UNSORTED_H1 = {"N": [8e4, 1e4, 3e4, 2e5, 5e3], "L": [2.41, 2.47, 2.38, 2.58, 2.60]}
FIVE_H1 = {"N": [2e6, 4e6, 8e6, 1.6e7, 3.2e7], "L": [3.1, 2.95, 2.91, 2.96, 3.12]}
CAP_H1 = {"N": [1e3, 1e4, 1e5, 1e6], "L": [2.45, 2.6, 2.62, 2.5]}

SMALL_H2 = {"C": [3e11, 1e12, 3e12], "E": 0.8, "A": 30.0, "B": 60.0, "alpha": 0.45, "beta": 0.3}
SCALAR_H2 = {"C": 1e19, "E": 2.0, "A": 1000.0, "B": 1000.0, "alpha": 0.3, "beta": 0.3}

THETA_H3 = [5.5, 6.5, 0.7, 0.3, 0.33]
MIXED_H3 = {"theta": THETA_H3, "N": [1e5, 3e5, 1e6, 3e6], "D": [1e8, 3e7, 1e7, 3e6], "L": [2.6, 2.57, 2.61, 2.9]}
DELTA_H3 = {**MIXED_H3, "delta": 0.05}
WIDE_H3 = {"theta": [900.0, 900.0, -1.0, 80.0, 70.0], "N": [1e6, 1e7], "D": [1e9, 1e10], "L": [1.5, 0.9]}

ORDER_H4 = {"flops": [[1e10, 1e11, 1e12], [1e9, 1e10], [1e11, 1e12, 1e13]], "loss": [[3.0, 2.6, 2.3], [3.2, 2.9],
                                                                                      [2.8, 2.5, 2.2]],
            "sizes": [2e4, 5e3, 8e4], "grid": [1e9, 5e9, 1e10, 3e11, 1e12, 1e13, 1e14]}

HIDDEN = {
    "q1": [answer_case("unsorted sizes", isoflop_vertex_answer, UNSORTED_H1, same_vertex),
           answer_case("five large sizes, lists", isoflop_vertex_answer, {**FIVE_H1, "lists": True}, same_vertex),
           answer_case("bending downwards", isoflop_vertex_answer, CAP_H1, same_vertex)],
    "q2": [answer_case("three budgets", optimal_allocation_answer, SMALL_H2, same_allocation),
           answer_case("one budget as a number", optimal_allocation_answer, SCALAR_H2, same_allocation)],
    "q3": [answer_case("mixed residuals", huber_loss_answer, MIXED_H3, same_loss),
           answer_case("another delta", huber_loss_answer, DELTA_H3, same_loss),
           answer_case("two huge terms, lists", huber_loss_answer, {**WIDE_H3, "lists": True}, same_loss)],
    "q4": [answer_case("runs given out of order", envelope_answer, ORDER_H4, same_envelope, points=2)],
}
