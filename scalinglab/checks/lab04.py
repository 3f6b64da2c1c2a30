"""Self-checks of Lab 4, compute-optimal training.

Each case calls the student's function on small inputs and compares the result with a known truth,
a property, or a value stored here that the instructor's answer implementation computed
(tests/grading/test_cases.py recomputes every stored value). Hidden cases for grading:
tests/grading/lab04_hidden.py.
"""
import math

import numpy as np

from scalinglab.checks import Case, Question, finite_float, make_check, relative_error, rng, written_answer
from scalinglab.checks.lab01 import data


def numbers(output, what, length=None):
    """A list of finite numbers (None allowed where `what` says so), checked."""
    assert isinstance(output, list) and (length is None or len(output) == length), (
        f"return {what}" + (f": {length} of them" if length else ""))
    return [None if v is None else finite_float(v, what) for v in output]


# ---------------------------------------------------------------- q1: the vertex of an isoFLOP parabola

def call_vertex(fn, N, L, lists=False):
    value = fn(N, L) if lists else fn(np.array(N, dtype=float), np.array(L, dtype=float))
    return None if value is None or math.isnan(float(value)) else float(value)


def vertex_of(output):
    return None if output is None else finite_float(output, "the size at the vertex")


def isoflop(N_opt, curvature, sizes, noise=0.0, seed=0):
    """Losses on a parabola in ln N with its minimum at N_opt, plus noise of the given size if any."""
    x = np.log(np.asarray(sizes, dtype=float))
    L = 2.0 + curvature * (x - math.log(N_opt)) ** 2
    return data(N=np.asarray(sizes, dtype=float), L=L + noise * rng(seed).standard_normal(len(x)) if noise else L)


SIZES1 = [3_500, 6_200, 14_000, 25_000, 56_000, 99_000, 220_000]
EXACT1 = isoflop(20_000, 0.05, SIZES1)
NOISY1 = isoflop(30_000, 0.04, SIZES1, noise=0.01, seed=41)
NOISY1_RESULT = 29297.350658123923
UPSIDE1 = {"N": SIZES1[:4], "L": [2.18, 2.26, 2.28, 2.21]}


def vertex_is(want, what, hint):
    def verdict(outputs):
        got = vertex_of(outputs[0])
        assert got is not None and relative_error(got, want) < 1e-6, f"{what}: expected {want:.6g}, got {got}: {hint}"
    return verdict


def q1_upside(outputs):
    got = vertex_of(outputs[0])
    assert got is None, (f"these losses bend downwards (the best size is at an edge of the sweep): the parabola has "
                         f"no minimum, return None (or nan), got {got}")


# ---------------------------------------------------------------- q2: the compute-optimal allocation of a fitted law

def call_allocation(fn, C, E, A, B, alpha, beta, lists=False):
    N, D = fn(C if lists or np.isscalar(C) else np.array(C, dtype=float), E, A, B, alpha, beta)
    return [np.atleast_1d(np.asarray(N, dtype=float)).tolist(), np.atleast_1d(np.asarray(D, dtype=float)).tolist()]


def allocation_of(output, length):
    assert isinstance(output, list) and len(output) == 2, "return (N_opt, D_opt)"
    return (np.array(numbers(output[0], "N_opt", length)), np.array(numbers(output[1], "D_opt", length)))


HOFFMANN2 = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHINCHILLA2 = {"C": 5.76e23, **HOFFMANN2}
BUDGETS2 = {"C": [1e12, 1e15, 1e18, 1e21], "E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37}
BUDGETS2_RESULT = ([69665.39176614354, 2424843.7011351166, 84401548.9738793, 2937765211.776511],
                   [2392388.2783311135, 68732952.39138372, 1974687297.7206483, 56732466569.67554])


def q2_optimal(outputs):
    (N,), (D,) = allocation_of(outputs[0], 1)
    h = HOFFMANN2
    assert relative_error(6 * N * D, 5.76e23) < 1e-6, (
        f"the allocation must spend the budget: 6 N D = {6 * N * D:.4g}, not C = 5.76e23: D_opt = C / (6 N_opt)")
    marginal_N, marginal_D = h["alpha"] * h["A"] * N ** -h["alpha"], h["beta"] * h["B"] * D ** -h["beta"]
    assert relative_error(marginal_N, marginal_D) < 1e-6, (
        f"at the optimum the two terms' elasticities match: alpha A / N^alpha = beta B / D^beta, got "
        f"{marginal_N:.4g} and {marginal_D:.4g}: set the derivative along 6 N D = C to zero")


def q2_budgets(outputs):
    N, D = allocation_of(outputs[0], 4)
    want_N, want_D = BUDGETS2_RESULT
    assert np.allclose(N, want_N, rtol=1e-6) and np.allclose(D, want_D, rtol=1e-6), (
        f"four budgets at once: expected N_opt = {np.round(want_N, -1).tolist()}, got {np.round(N, -1).tolist()}: "
        f"work elementwise on an array of C")


# ---------------------------------------------------------------- q3: the Huber objective of the parametric fit

def call_huber(fn, theta, N, D, L, delta=1e-3, lists=False):
    args = (N, D, L) if lists else tuple(np.array(v, dtype=float) for v in (N, D, L))
    return float(fn(list(theta) if lists else np.array(theta, dtype=float), *args, delta=delta))


def loss_of(output):
    return finite_float(output, "the objective")


def chinchilla_runs(theta, sizes, tokens, noise=0.0, seed=0):
    """Losses of the law theta = (a, b, e, alpha, beta) on a grid of sizes and tokens, times noise if any."""
    a, b, e, alpha, beta = theta
    N, D = (g.ravel() for g in np.meshgrid(np.asarray(sizes, dtype=float), np.asarray(tokens, dtype=float)))
    L = math.exp(e) + math.exp(a) * N ** -alpha + math.exp(b) * D ** -beta
    return data(N=N, D=D, L=L * np.exp(noise * rng(seed).standard_normal(len(N))) if noise else L)


THETA3 = [math.log(406.4), math.log(410.7), math.log(1.69), 0.34, 0.28]
EXACT3 = {"theta": THETA3, **chinchilla_runs(THETA3, [1e7, 1e8, 1e9], [1e9, 1e10, 1e11])}
SMALL3 = {"theta": THETA3, **chinchilla_runs(THETA3, [1e7, 1e8, 1e9], [1e9, 1e10, 1e11], noise=4e-4, seed=43)}
SMALL3_RESULT = 5.804959878177017e-07
LARGE3 = {"theta": [6.0, 7.0, 0.6, 0.3, 0.35], **chinchilla_runs(THETA3, [1e7, 1e9], [1e9, 1e11], noise=0.02,
                                                                 seed=44)}
LARGE3_RESULT = 0.0006839933455525636
# a huge e^a: the sum of exponentials overflows unless it is done in log space
OVERFLOW3 = {"theta": [800.0, 5.0, 0.5, 100.0, 0.3], "N": [1e4, 1e5], "D": [1e6, 1e7], "L": [2.0, 1.9]}
OVERFLOW3_RESULT = 0.0010899525419167722


def loss_is(want, what, hint):
    def verdict(outputs):
        got = loss_of(outputs[0])
        assert relative_error(got, want) < 1e-6, f"{what}: expected {want:.6g}, got {got:.6g}: {hint}"
    return verdict


def q3_exact(outputs):
    got = loss_of(outputs[0])
    assert abs(got) < 1e-20, f"data exactly on the law give a loss of 0, got {got}: residuals are log L - log(prediction)"


# ---------------------------------------------------------------- q4: Approach 1, the envelope of training curves

def call_envelope(fn, flops, loss, sizes, grid, lists=False):
    if not lists:
        flops, loss = [np.array(f, dtype=float) for f in flops], [np.array(v, dtype=float) for v in loss]
        sizes, grid = np.array(sizes, dtype=float), np.array(grid, dtype=float)
    result = fn(flops, loss, sizes, grid)
    assert isinstance(result, dict) and {"loss", "N"} <= set(result), 'return {"loss": [...], "N": [...]}'
    return {k: [None if v is None or math.isnan(float(v)) else float(v) for v in result[k]] for k in ("loss", "N")}


def envelope_of(output, length):
    return {k: numbers(output[k], f"one {k} (or None) per grid point", length) for k in ("loss", "N")}


def curves(sizes, budgets, points=8, seed=0):
    """Training curves of runs of each size to its budget: loss falls with FLOPs, larger models lower late."""
    flops, loss, N = [], [], []
    for n, c in zip(sizes, budgets):
        f = np.geomspace(c / 2 ** (points - 1), c, points)
        flops.append(f)
        loss.append(2.0 + 10 * n ** -0.3 + 30 * (f / (6 * n)) ** -0.3 + 0.003 * rng(seed + len(N)).random(points))
        N.append(float(n))
    return {"flops": [f.tolist() for f in flops], "loss": [v.tolist() for v in loss], "sizes": N}


ENVELOPE4 = {**curves([1e4, 3e4, 1e5], [1e12, 3e12, 1e13]), "grid": [3e10, 1e11, 1e12, 5e12, 2e13]}
ENVELOPE4_RESULT = {"loss": [3.2172369559335143, 3.0225926048408582, 2.727424538510659, 2.5684870721402056, None],
                    "N": [10000.0, 30000.0, 100000.0, 100000.0, None]}


def q4_envelope(outputs):
    got, want = envelope_of(outputs[0], 5), ENVELOPE4_RESULT
    assert got["N"] == want["N"], (
        f"the size whose curve is lowest at each budget: expected {want['N']}, got {got['N']}: compare runs only "
        f"where their curves reach that budget, and None where no run does")
    assert all(g is None if w is None else g is not None and relative_error(g, w) < 1e-6
               for g, w in zip(got["loss"], want["loss"])), (
        f"the lowest loss at each budget: expected {want['loss']}, got {got['loss']}: interpolate each curve "
        f"linearly in log FLOPs (np.interp on np.log of the FLOPs)")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("the vertex of an isoFLOP parabola", "isoflop_vertex", call=call_vertex, cases=(
        Case("an exact parabola", (EXACT1,), vertex_is(20_000, "an exact parabola in ln N",
                                                        "fit L = c2 x^2 + c1 x + c0 with x = ln N; the vertex is at "
                                                        "x = -c1 / (2 c2)")),
        Case("noisy losses", (NOISY1,), vertex_is(NOISY1_RESULT, "noisy losses",
                                                   "fit the parabola by least squares to all the sizes (np.polyfit)")),
        Case("no minimum, lists", ({**UPSIDE1, "lists": True},), q1_upside),
    )),
    "q2": Question("the compute-optimal allocation of a fitted law", "optimal_allocation", call=call_allocation,
                   cases=(
        Case("Chinchilla's budget", (CHINCHILLA2,), q2_optimal),
        Case("several budgets", (BUDGETS2,), q2_budgets),
    )),
    "q3": Question("the Huber objective of the parametric fit", "huber_loss", call=call_huber, cases=(
        Case("data on the law", (EXACT3,), q3_exact),
        Case("small residuals", (SMALL3,), loss_is(SMALL3_RESULT, "residuals below delta",
                                                   "0.5 r^2 where |r| <= delta, summed over runs")),
        Case("large residuals", (LARGE3,), loss_is(LARGE3_RESULT, "residuals above delta",
                                                   "delta (|r| - delta / 2) where |r| > delta")),
        Case("no overflow, lists", ({**OVERFLOW3, "lists": True},), loss_is(
            OVERFLOW3_RESULT, "e^800 in a term", "compute log(e^x1 + e^x2 + e^x3) without forming e^x: "
            "np.logaddexp, or subtract the largest x first")),
    )),
    "q4": Question("the envelope of training curves (Approach 1)", "loss_envelope", call=call_envelope, cases=(
        Case("three runs", (ENVELOPE4,), q4_envelope, points=2),
    )),
    "q5": Question("Kaplan's advice or Chinchilla's, on your runs (written)", "q5", cases=written_answer(
        min_words=60, must_mention=[("tokens per parameter", "tokens/parameter", "D/N"), ("exponent", "C^"),
                                    ("predict", "extrapolat"), ("error", "uncertain", "interval")])),
}

check = make_check(QUESTIONS)
