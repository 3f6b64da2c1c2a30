"""Self-checks of Lab 3, batch size and learning rate.

Each case calls the student's function on small inputs and compares the result with a known truth,
a property, or a value stored here that the instructor's answer implementation computed
(tests/grading/test_cases.py recomputes every stored value). Hidden cases for grading:
tests/grading/lab03_hidden.py.
"""
import math

import numpy as np

from scalinglab.checks import Case, Question, finite_float, make_check, params, relative_error, rng, written_answer
from scalinglab.checks.lab01 import data


# ---------------------------------------------------------------- q1: the two-batch noise-scale estimator

def call_noise(fn, grad_sq_small, grad_sq_big, b_small, b_big, lists=False):
    small, big = (v if lists or np.isscalar(v) else np.array(v) for v in (grad_sq_small, grad_sq_big))
    result = fn(small, big, b_small, b_big)
    values = params(result, ("grad_sq", "trace", "b_simple"))
    return {**values, "b_simple": "inf" if values["b_simple"] == math.inf else values["b_simple"]}


def estimate(output):
    """(|G|^2, tr Sigma, B_simple) of one output, checked to be finite numbers (B_simple may be 'inf')."""
    grad_sq, trace = (finite_float(output[k], k) for k in ("grad_sq", "trace"))
    b_simple = output["b_simple"]
    return grad_sq, trace, b_simple if b_simple == "inf" else finite_float(b_simple, "b_simple")


def fluctuating(seed, steps, grad_sq, trace, b_small, b_big, spread):
    """|G_B|^2 at two batch sizes over `steps` steps whose true |G|^2 and tr Sigma wander by `spread`."""
    g = grad_sq * np.exp(spread * rng(seed).standard_normal(steps))
    t = trace * np.exp(spread * rng(seed + 1).standard_normal(steps))
    return data(grad_sq_small=g + t / b_small, grad_sq_big=g + t / b_big)


EXACT1 = {"grad_sq_small": 2.0 + 30.0 / 8, "grad_sq_big": 2.0 + 30.0 / 128, "b_small": 8, "b_big": 128}
STEPS1 = {**fluctuating(11, 50, 0.5, 400.0, 256, 2048, 0.8), "b_small": 256, "b_big": 2048}
STEPS1_RESULT = (0.5629022813540844, 503.6089325503002, 894.6649342739354)
NOISY1 = {"grad_sq_small": [0.9, 1.1], "grad_sq_big": [0.10, 0.12], "b_small": 512, "b_big": 4096}
NOISY1_RESULT = (-0.017142857142857144, 520.7771428571428, "inf")


def q1_exact(outputs):
    got = estimate(outputs[0])
    assert got[2] != "inf" and np.allclose(got, (2.0, 30.0, 15.0), rtol=1e-9), (
        f"with |G_B|^2 = 2 + 30 / B exactly, |G|^2 = 2, tr Sigma = 30 and B_simple = 15, got {got}: solve "
        f"|G_small|^2 = |G|^2 + tr / b_small and |G_big|^2 = |G|^2 + tr / b_big for the two unknowns")


def noise_is(want, what, hint):
    def verdict(outputs):
        got = estimate(outputs[0])
        for name, g, w in zip(("grad_sq", "trace", "b_simple"), got, want):
            ok = g == w if "inf" in (g, w) else relative_error(g, w) < 1e-6
            assert ok, f"{what}: {name} should be {w:.6g}, got {g}: {hint}" if w != "inf" else (
                f"{what}: {name} should be inf, got {g}: {hint}")
    return verdict


# ---------------------------------------------------------------- q2: steps to reach a target loss

def call_steps(fn, steps, loss, targets, lists=False):
    if not lists:
        steps, loss, targets = np.array(steps), np.array([np.nan if v is None else v for v in loss]), np.array(targets)
    result = list(fn(steps, loss, targets))
    assert len(result) == len(targets), "return one step (or None) per target"
    return [None if v is None or math.isnan(float(v)) else float(v) for v in result]


def reached_of(output):
    assert isinstance(output, list) and all(v is None or isinstance(v, (int, float)) for v in output), (
        "return a list with one step (or None) per target")
    return [None if v is None else float(v) for v in output]


def reached_is(want, what, hint):
    def verdict(outputs):
        got = reached_of(outputs[0])
        assert got == want, f"{what}: expected {want}, got {got}: {hint}"
    return verdict


CURVE2 = {"steps": [10, 20, 30, 40, 50, 60], "loss": [4.0, 3.2, 2.9, 2.7, 2.6, 2.55], "targets": [3.0, 2.7, 2.6]}
CURVE2_RESULT = [30.0, 40.0, 50.0]
BUMPY2 = {"steps": [5, 10, 15, 20, 25, 30, 35], "loss": [3.5, 2.95, 3.05, 2.98, 2.80, 2.85, 2.70],
          "targets": [3.0, 2.9, 2.75, 2.5]}
BUMPY2_RESULT = [10.0, 25.0, 35.0, None]


# ---------------------------------------------------------------- q3: fit the steps-tokens trade-off

def call_tradeoff(fn, batch, steps, lists=False):
    args = (batch, steps) if lists else (np.array(batch, dtype=float), np.array(steps, dtype=float))
    return params(fn(*args), ("S_min", "E_min", "B_crit"))


def tradeoff_steps(batch, S_min, E_min, noise=0.0, seed=0):
    """Steps to a target at each batch size on the curve (S / S_min - 1)(E / E_min - 1) = 1, i.e.
    S = S_min + E_min / B, times lognormal noise of the given size if any."""
    B = np.asarray(batch, dtype=float)
    S = S_min + E_min / B
    return data(batch=B, steps=S * np.exp(noise * rng(seed).standard_normal(len(B))) if noise else S)


B3 = 512 * 2.0 ** np.arange(7)
EXACT3 = tradeoff_steps(B3, 120.0, 6e5)
NOISY3 = tradeoff_steps(B3, 300.0, 2e6, noise=0.05, seed=31)
NOISY3_RESULT = {"S_min": 311.0907820755165, "E_min": 1975825.8933718638, "B_crit": 6351.283957016242}


def q3_exact(outputs):
    got = outputs[0]
    assert all(relative_error(got[n], v) < 1e-6 for n, v in (("S_min", 120.0), ("E_min", 6e5), ("B_crit", 5000.0))), (
        f"steps on the exact curve S = 120 + 6e5 / B give S_min = 120, E_min = 6e5 and B_crit = E_min / S_min = "
        f"5000, got {got}: S is linear in 1 / B")


def q3_noisy(outputs):
    got, want = outputs[0], NOISY3_RESULT
    assert all(relative_error(finite_float(got[n], n), want[n]) < 1e-6 for n in want), (
        f"noisy steps: expected S_min = {want['S_min']:.5g}, E_min = {want['E_min']:.5g}, B_crit = "
        f"{want['B_crit']:.5g}, got {got['S_min']:.5g}, {got['E_min']:.5g}, {got['B_crit']:.5g}: weight each "
        f"batch size's equation by 1 / S (divide its row by its S), so that each counts by its relative error")


# ---------------------------------------------------------------- q4: the optimal learning rate of a grid

def call_optimum(fn, lr, loss, lists=False):
    if not lists:
        lr, loss = np.array(lr, dtype=float), np.array([np.nan if v is None else v for v in loss], dtype=float)
    value = fn(lr, loss)
    return None if value is None or math.isnan(float(value)) else float(value)


def optimum_of(output):
    return None if output is None else finite_float(output, "the optimal learning rate")


GRID4 = [1e-3 * 2 ** k for k in range(7)]
EXACT4 = {"lr": GRID4, "loss": [2.5 + 0.04 * (math.log2(x / 6e-3)) ** 2 for x in GRID4]}
DIVERGED4 = {"lr": GRID4, "loss": [2.61, 2.52, 2.47, 2.455, 2.49, float("nan"), float("nan")]}
DIVERGED4_RESULT = 0.006964404506368953
EDGE4 = {"lr": GRID4, "loss": [2.40, 2.42, 2.47, 2.55, 2.70, 2.90, 3.3]}


def q4_exact(outputs):
    got = optimum_of(outputs[0])
    assert got is not None and relative_error(got, 6e-3) < 1e-6, (
        f"the losses lie on a parabola in log lr with its lowest point at lr = 0.006, got {got}: fit "
        f"loss = a x^2 + b x + c with x = log(lr) through three points and return exp(-b / (2a))")


def q4_diverged(outputs):
    got = optimum_of(outputs[0])
    assert got is not None and relative_error(got, DIVERGED4_RESULT) < 1e-6, (
        f"two runs diverged (nan): expected {DIVERGED4_RESULT:.6g}, got {got}: leave out the runs whose loss is "
        f"nan or None, then fit the best remaining run and its neighbours on either side")


def q4_edge(outputs):
    got = optimum_of(outputs[0])
    assert got is None, (f"the lowest learning rate of the grid is the best run, so the grid does not bracket the "
                         f"optimum: return None (or nan), got {got}")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("the two-batch noise-scale estimator", "noise_scale", call=call_noise, cases=(
        Case("exact expectations", (EXACT1,), q1_exact),
        Case("averages over steps, then the ratio", (STEPS1,), noise_is(
            STEPS1_RESULT, "50 steps", "average |G_small|^2 and |G_big|^2 over the steps first, then solve and "
            "divide: a mean of per-step ratios is biased")),
        Case("lists and a noise-dominated estimate", ({**NOISY1, "lists": True},), noise_is(
            NOISY1_RESULT, "|G|^2 estimated <= 0", "accept lists; when the estimate of |G|^2 is not positive, "
            "B_simple is float('inf')")),
    )),
    "q2": Question("steps to a target loss", "steps_to_target", call=call_steps, cases=(
        Case("a falling curve", (CURVE2,), reached_is(CURVE2_RESULT, "a falling curve", "the first logged step "
                                                                                        "whose loss is at or below the target")),
        Case("a bumpy curve and a target never reached", (BUMPY2,), reached_is(
            BUMPY2_RESULT, "a bumpy curve", "the first crossing counts even if the loss rises again; None (or nan) "
            "for a target the run never reaches")),
    )),
    "q3": Question("fit the steps-tokens trade-off", "fit_batch_tradeoff", call=call_tradeoff, cases=(
        Case("exact trade-off", (EXACT3,), q3_exact),
        Case("noisy steps", (NOISY3,), q3_noisy),
    )),
    "q4": Question("the optimal learning rate of a grid", "lr_optimum", call=call_optimum, cases=(
        Case("an exact parabola", (EXACT4,), q4_exact),
        Case("diverged runs", (DIVERGED4,), q4_diverged),
        Case("the best run at the edge", (EDGE4,), q4_edge),
    )),
    "q5": Question("the next model's batch (written)", "q5", cases=written_answer(
        min_words=50, must_mention=[("critical", "B_crit"), ("loss", "target"), ("steps", "time", "parallel"),
                                    ("tokens", "data", "compute")])),
}

check = make_check(QUESTIONS)
