"""Hidden grading cases of Lab 3, and the instructor's answer implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import math

import numpy as np

from scalinglab.checks import answer_case, finite_float, relative_error
from scalinglab.checks.lab03 import estimate, fluctuating, optimum_of, reached_of, tradeoff_steps


# ---------------------------------------------------------------- answer implementations

def noise_scale_answer(grad_sq_small, grad_sq_big, b_small, b_big):
    small, big = np.mean(grad_sq_small), np.mean(grad_sq_big)
    grad_sq = (b_big * big - b_small * small) / (b_big - b_small)
    trace = (small - big) / (1 / b_small - 1 / b_big)
    return {"grad_sq": float(grad_sq), "trace": float(trace), "b_simple": float(trace / grad_sq) if grad_sq > 0
            else math.inf}


def steps_to_target_answer(steps, loss, targets):
    loss = np.array([np.nan if v is None else v for v in loss], dtype=float)
    reached = []
    for target in targets:
        hits = np.flatnonzero(loss <= target)  # nan compares False: a diverged log never reaches a target
        reached.append(float(steps[hits[0]]) if len(hits) else None)
    return reached


def fit_batch_tradeoff_answer(batch, steps):
    B, S = np.asarray(batch, dtype=float), np.asarray(steps, dtype=float)
    (S_min, E_min), *_ = np.linalg.lstsq(np.column_stack([1 / S, 1 / (B * S)]), np.ones_like(S), rcond=None)
    return {"S_min": float(S_min), "E_min": float(E_min), "B_crit": float(E_min / S_min)}


def lr_optimum_answer(lr, loss):
    lr, loss = np.asarray(lr, dtype=float), np.array([np.nan if v is None else v for v in loss], dtype=float)
    keep = np.isfinite(loss)
    order = np.argsort(lr[keep])
    x, y = np.log(lr[keep][order]), loss[keep][order]
    best = int(np.argmin(y))
    if best in (0, len(y) - 1):
        return None
    a, b, _ = np.polyfit(x[best - 1:best + 2], y[best - 1:best + 2], 2)
    return float(np.exp(-b / (2 * a)))


# ---------------------------------------------------------------- cases: the answer computes what is expected

def same_noise(output, want, what):
    got = estimate(output)
    want = (want["grad_sq"], want["trace"], "inf" if math.isinf(want["b_simple"]) else want["b_simple"])
    for g, w in zip(got, want):
        assert (g == w) if "inf" in (g, w) else relative_error(g, w) < 1e-6, f"{what}: expected {want}, got {got}"


def same_steps(output, want, what):
    assert reached_of(output) == want, f"{what}: expected {want}, got {output}"


def same_tradeoff(output, want, what):
    assert all(relative_error(finite_float(output[n], n), want[n]) < 1e-6 for n in want), (
        f"{what}: expected {want}, got {output}")


def same_optimum(output, want, what):
    got = optimum_of(output)
    assert (got is None) if want is None else (got is not None and relative_error(got, want) < 1e-6), (
        f"{what}: expected {want}, got {got}")


STEPS_H1 = {**fluctuating(101, 200, 2.0, 3000.0, 1024, 8192, 1.0), "b_small": 1024, "b_big": 8192}
SCALAR_H1 = {"grad_sq_small": 0.9, "grad_sq_big": 0.3, "b_small": 2, "b_big": 32}
NEGATIVE_H1 = {"grad_sq_small": [0.5, 0.7, 0.6], "grad_sq_big": [0.02, 0.05, 0.03], "b_small": 100, "b_big": 1600}

CURVE_H2 = {"steps": [100, 200, 300, 400, 500], "loss": [3.0, 2.8, None, None, None], "targets": [2.9, 2.5]}
ORDER_H2 = {"steps": [2, 4, 6, 8, 10, 12], "loss": [2.9, 2.7, 2.75, 2.6, 2.61, 2.5], "targets": [2.5, 2.8, 2.65, 2.0]}
EXACT_H2 = {"steps": [1, 2, 3], "loss": [2.5, 2.4, 2.3], "targets": [2.4, 2.45]}

UNSORTED_H3 = tradeoff_steps([8192, 1024, 65536, 2048, 16384, 4096], 50.0, 4e5, noise=0.08, seed=301)
FEW_H3 = tradeoff_steps([4096, 16384, 65536], 80.0, 1e6)
BIG_H3 = tradeoff_steps(2.0 ** np.arange(15, 22), 2000.0, 5e9, noise=0.03, seed=303)

GRID_H4 = [3e-4 * 2 ** k for k in range(8)]
UNSORTED_H4 = {"lr": GRID_H4[::-1], "loss": [float("nan"), 2.9, 2.41, 2.33, 2.36, 2.44, 2.58, 2.77]}
NONE_H4 = {"lr": GRID_H4, "loss": [2.77, 2.58, 2.44, 2.36, 2.33, 2.41, None, None]}
HIGH_EDGE_H4 = {"lr": GRID_H4[:5], "loss": [2.9, 2.7, 2.6, 2.55, 2.52]}
SHIFTED_H4 = {"lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "loss": [3.1, 2.83, 2.70, 2.74, 2.95, 3.4]}

HIDDEN = {
    "q1": [answer_case("200 steps", noise_scale_answer, STEPS_H1, same_noise),
           answer_case("scalars", noise_scale_answer, SCALAR_H1, same_noise),
           answer_case("a noise-dominated estimate, lists", noise_scale_answer, {**NEGATIVE_H1, "lists": True},
                       same_noise)],
    "q2": [answer_case("a diverged run", steps_to_target_answer, CURVE_H2, same_steps),
           answer_case("targets in any order", steps_to_target_answer, ORDER_H2, same_steps),
           answer_case("a target met exactly, lists", steps_to_target_answer, {**EXACT_H2, "lists": True}, same_steps)],
    "q3": [answer_case("unsorted batches", fit_batch_tradeoff_answer, UNSORTED_H3, same_tradeoff),
           answer_case("three batches", fit_batch_tradeoff_answer, FEW_H3, same_tradeoff),
           answer_case("large batches, lists", fit_batch_tradeoff_answer, {**BIG_H3, "lists": True}, same_tradeoff)],
    "q4": [answer_case("unsorted, a diverged run", lr_optimum_answer, UNSORTED_H4, same_optimum),
           answer_case("None for diverged runs", lr_optimum_answer, NONE_H4, same_optimum),
           answer_case("best at the high edge", lr_optimum_answer, HIGH_EDGE_H4, same_optimum),
           answer_case("another grid, lists", lr_optimum_answer, {**SHIFTED_H4, "lists": True}, same_optimum)],
}
