"""Self-checks of Lab 1, data scaling.

Each case calls the student's function on small seeded inputs (well under a second each) and
compares the result with a known truth, a property, or a value stored here that the instructor's
answer implementation computed (tests/grading/test_cases.py recomputes every stored value).
Hidden cases for grading: tests/grading/lab01_hidden.py.
"""
import math

import numpy as np

from scalinglab import synthetic
from scalinglab.checks import (Case, Question, finite_float, log_rss, make_check, params, relative_error, rng,
                               written_answer)


def data(**columns):
    return {name: np.asarray(values, dtype=float).tolist() for name, values in columns.items()}


# ---------------------------------------------------------------- q1: fit the data law with intervals

def call_fit(fn, D, L, stderr, n_boot, seed):
    result = fn(np.array(D), np.array(L), np.array(stderr), n_boot=n_boot, seed=seed)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (params, intervals)"
    fitted, intervals = params(result[0], ("E", "B", "beta")), result[1]
    assert isinstance(intervals, dict) and all(n in intervals and np.shape(intervals[n]) == (2,)
                                               for n in fitted), "intervals should map E, B and beta to (low, high)"
    return {"params": fitted, "intervals": {n: [intervals[n][0], intervals[n][1]] for n in fitted}}


def fitted(output):
    """(params, intervals) of one output, checked to be finite numbers and ordered intervals."""
    p, intervals = output["params"], {}
    for name in ("E", "B", "beta"):
        finite_float(p[name], f"params[{name!r}]")
        low, high = (finite_float(v, f"each end of intervals[{name!r}]") for v in output["intervals"][name])
        assert low <= high, f"intervals[{name!r}] = ({low:.4g}, {high:.4g}) should be (low, high)"
        intervals[name] = (low, high)
    return p, intervals


def noisy_law(seed, points=8, E=1.2, B=40.0, beta=0.35, noise=0.01, start=4, stop=7):
    D = np.logspace(start, stop, points)
    return D, (E + B * D ** -beta) * np.exp(noise * rng(seed).standard_normal(points))


def width(interval):
    return interval[1] - interval[0]


D1 = np.logspace(4, 7, 7)
EXACT1 = data(D=D1, L=1.5 + 300.0 * D1 ** -0.4, stderr=1e-9 * (1.5 + 300.0 * D1 ** -0.4))
D_BEST1, L_BEST1 = noisy_law(1)
BEST1 = data(D=D_BEST1, L=L_BEST1, stderr=0.01 * L_BEST1)
BEST1_RSS = 0.00036598442425760043  # the least squared log residuals of E + B D^-beta on BEST1
D_INTERVALS1, L_INTERVALS1 = noisy_law(2, points=5, noise=0.02)
INTERVALS1 = data(D=D_INTERVALS1, L=L_INTERVALS1, stderr=0.02 * L_INTERVALS1)
INTERVALS1_BETA = (0.33318066614173075, 0.495861177896991)  # the 95% noise-bootstrap interval of beta, 200 draws, seed 3


def q1_exact_data(outputs):
    p, intervals = fitted(outputs[0])
    ok = abs(p["E"] - 1.5) < 1e-3 and relative_error(p["B"], 300.0) < 1e-2 and abs(p["beta"] - 0.4) < 1e-3
    assert ok, (f"on exact data L = 1.5 + 300 D^-0.4 the fit returned {p}: fit the saturating power law "
                f"E + B D^-beta in log space (scalinglab.fit.fit_saturating_power_law does it)")
    for name, (low, high) in intervals.items():
        assert high - low < 1e-2 * max(1.0, abs(p[name])), (
            f"with standard errors of 1e-9 every draw gives the same fit, so the interval of {name} should have "
            f"(almost) zero width, got ({low:.4g}, {high:.4g})")


def q1_best_fit(outputs):
    p, _ = fitted(outputs[0])
    D, L = np.array(BEST1["D"]), np.array(BEST1["L"])
    assert 0 <= p["E"] <= L.min() * (1 + 1e-9), f"E = {p['E']:.4g} should lie between 0 and min L = {L.min():.4g}"
    assert log_rss(D, L, p) <= 1.01 * BEST1_RSS, (
        f"your fit leaves squared log residuals {log_rss(D, L, p):.4g}, the best fit {BEST1_RSS:.4g}: "
        f"fit log L, with several starting values of E")


def q1_intervals(outputs):
    (_, intervals), (_, first), (_, again) = (fitted(o) for o in outputs)
    (low, high), (ref_low, ref_high) = intervals["beta"], INTERVALS1_BETA
    assert abs(low - ref_low) < 0.3 * width(INTERVALS1_BETA) and abs(high - ref_high) < 0.3 * width(INTERVALS1_BETA), (
        f"95% interval of beta ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): refit the "
        f"fitted losses times exp(normal(0, stderr / L)) n_boot times and take the 2.5% and 97.5% quantiles "
        f"(or pass yerr=stderr, n_boot and seed to scalinglab.fit.fit_saturating_power_law)")
    assert first == again, "the same seed gave two different intervals: seed the bootstrap with `seed`"


def q1_uses_stderr(outputs):
    (_, small), (_, large) = (fitted(o) for o in outputs)
    ratio = width(large["beta"]) / max(width(small["beta"]), 1e-300)
    assert ratio > 2.5, (
        f"four times the standard errors should widen the interval of beta about fourfold, but it widened "
        f"{ratio:.2g} times: draw the noise of each run from its own standard error, stderr / L in log space "
        f"(a bootstrap that resamples the runs ignores the standard errors)")


# ---------------------------------------------------------------- q2: noise bootstrap of a slope difference

def call_difference(fn, D, loss_a, loss_b, stderr_a, stderr_b, n_boot, seed, lists=False):
    args = (D, loss_a, loss_b, stderr_a, stderr_b)
    result = fn(*(args if lists else map(np.array, args)), n_boot=n_boot, seed=seed)
    assert isinstance(result, tuple) and len(result) == 2 and np.shape(result[1]) == (2,), (
        "return a tuple (difference, (low, high))")
    return [result[0], result[1][0], result[1][1]]


def difference_and_interval(output):
    difference, low, high = (finite_float(v, "the difference and each end of its interval") for v in output)
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return difference, (low, high)


def curves(D, loss_a, loss_b, noise_a, noise_b):
    """Two loss curves over the same D with standard errors of the given relative size."""
    loss_a, loss_b = np.asarray(loss_a, dtype=float), np.asarray(loss_b, dtype=float)
    return data(D=D, loss_a=loss_a, loss_b=loss_b, stderr_a=noise_a * loss_a, stderr_b=noise_b * loss_b)


D2 = np.logspace(5, 7, 6)
EXACT2 = curves(D2, 3.0 * D2 ** -0.12, 4.0 * D2 ** -0.05, 1e-9, 1e-9)
D2_STORED = np.logspace(4, 7, 5)
STORED2 = curves(D2_STORED, 2.0 * D2_STORED ** -0.1 * np.exp(0.03 * rng(5).standard_normal(5)),
                 2.5 * D2_STORED ** -0.06 * np.exp(0.03 * rng(6).standard_normal(5)), 0.03, 0.02)
STORED2_RESULT = (0.02677311126801095, (0.013956270394751424, 0.03880395035204961))  # (difference, (low, high)) of the noise bootstrap, 400 draws, seed 2
D2_NOISE = np.logspace(4, 6, 5)
NOISE2 = [curves(D2_NOISE, 2.0 * D2_NOISE ** -0.1, 2.2 * D2_NOISE ** -0.08, noise, 1e-9) for noise in (0.005, 0.02)]


def q2_exact_data(outputs):
    difference, (low, high) = difference_and_interval(outputs[0])
    assert abs(difference - 0.07) < 1e-9, (
        f"with L_a = 3 D^-0.12 and L_b = 4 D^-0.05 the exponents differ by 0.07, got {difference:.6g}: "
        f"fit log L against log D for each and subtract alpha_b from alpha_a")
    assert abs(low - 0.07) < 1e-6 and abs(high - 0.07) < 1e-6, (
        f"with standard errors of 1e-9 every draw gives 0.07, got the interval ({low:.6g}, {high:.6g})")


def q2_matches_stored_value(outputs):
    first, again = (difference_and_interval(o) for o in outputs)
    assert first == again, "the same seed gave two different answers: use rng = np.random.default_rng(seed)"
    (difference, (low, high)), (ref_difference, (ref_low, ref_high)) = first, STORED2_RESULT
    assert abs(difference - ref_difference) < 1e-9, (
        f"the difference of the fitted exponents should be {ref_difference:.6g}, got {difference:.6g}")
    w = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * w and abs(high - ref_high) < 0.25 * w, (
        f"95% interval ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): draw each curve "
        f"around its fitted line with its own standard errors, and take the 2.5% and 97.5% quantiles of the "
        f"differences over the draws")


def q2_uses_stderr(outputs):
    (_, small), (_, large) = (difference_and_interval(o) for o in outputs)
    ratio = width(large) / max(width(small), 1e-300)
    assert ratio > 2.5, (
        f"four times the standard errors of one curve should widen the interval about fourfold, but it widened "
        f"{ratio:.2g} times: draw each loss around its fitted line with noise stderr / loss in log space")


# ---------------------------------------------------------------- q3: effective data under repetition

def call_effective(fn, unique, epochs, r_star=None):
    if isinstance(unique, list):
        unique, epochs = np.array(unique), np.array(epochs)
    return fn(unique, epochs) if r_star is None else fn(unique, epochs, r_star=r_star)


def effective(value):
    return finite_float(value, "D'")


FORMULA3 = ((1e6, 4), (2.5e5, 16), (1e8, 2.5), (3e7, 60))
FORMULA3_VALUES = (3725877.5215088367, 2646394.2783663664, 242926322.02605748, 481981873.9229022)  # U + U R* (1 - exp(-R/R*)) with R = epochs - 1 and R* = 15.4, for FORMULA3
R_STAR3_VALUE = 3209208.58565282 # the same for U = 1e6, 5 epochs and R* = 3
ARRAYS3 = {"unique": [1e5, 2e5, 4e5], "epochs": [16.0, 8.0, 1.0]}
ARRAYS3_VALUES = (1058557.7113465467, 1325011.8296639319, 400000.0)# the same, elementwise for ARRAYS3


def q3_one_epoch_is_unique(outputs):
    for unique, value in zip((1_000.0, 3.5e6, 2e9), map(effective, outputs)):
        assert relative_error(value, unique) < 1e-9, (
            f"one epoch of U = {unique:.3g} tokens repeats nothing, so D' should be U, got {value:.6g}: "
            f"the number of repetitions is R = epochs - 1")


def q3_matches_formula(outputs):
    for (unique, epochs), value, target in zip(FORMULA3, map(effective, outputs), FORMULA3_VALUES):
        assert relative_error(value, target) < 1e-9, (
            f"U = {unique:.3g}, {epochs} epochs: D' should be U + U R* (1 - exp(-R/R*)) = {target:.6g} "
            f"with R = epochs - 1 and R* = 15.4, got {value:.6g}")


def q3_limits(outputs):
    few, many, other = map(effective, outputs)
    assert relative_error(few, 1e6 * 1.01) < 1e-3, (
        f"a few repetitions are worth almost as much as new data: 1.01 epochs of U = 1e6 should give "
        f"D' close to 1.01e6, got {few:.6g}")
    assert relative_error(many, 1e6 * (1 + 15.4)) < 1e-6, (
        f"endless repetition saturates at D' = U (1 + R*) = {1e6 * 16.4:.6g}, got {many:.6g}")
    assert relative_error(other, R_STAR3_VALUE) < 1e-9, (
        f"with r_star = 3 and 5 epochs D' should be {R_STAR3_VALUE:.6g}, got {other:.6g}: use the argument "
        f"r_star, not the constant 15.4")


def q3_arrays(outputs):
    value = np.asarray(outputs[0], dtype=float)
    assert value.shape == (3,), f"arrays in should give an array of 3 values out, got shape {value.shape}"
    assert np.allclose(value, ARRAYS3_VALUES, rtol=1e-9), (
        "with arrays of U and epochs, D' should be computed elementwise (use np.exp, not math.exp)")


# ---------------------------------------------------------------- q4: entropy rate of the synthetic source

def call_rate(fn, **fields):
    return fn(synthetic.Params(**fields))


def rate(value):
    return finite_float(value, "the entropy rate")


DEFAULT4_RATE = 0.5015560994288113  # the entropy rate of synthetic.Params(), nats per byte
UNIFORM4 = {"n_keys": 1_000, "zipf": 1e-12, "key_len": 3, "value_len": 2, "noise_len": 1}
OTHER4 = ({"n_keys": 5_000, "zipf": 1.2, "key_len": 3, "value_len": 4, "noise_len": 3},
          {"n_keys": 200, "zipf": 2.0, "noise_len": 0})
OTHER4_RATES = (0.899043534667258, 0.12305595894893151) # their entropy rates


def q4_default_source(outputs):
    value = rate(outputs[0])
    assert relative_error(value, DEFAULT4_RATE) < 1e-9, (
        f"the default source has entropy rate {DEFAULT4_RATE:.6f} nats/byte, got {value:.6f}: H(key) + "
        f"noise_len * ln 10 nats per record, divided by the record's length in bytes")


def q4_uniform_keys(outputs):
    p = synthetic.Params(**UNIFORM4)
    target = (math.log(1_000) + math.log(10)) / p.record_len
    value = rate(outputs[0])
    assert relative_error(value, target) < 1e-6, (
        f"with (almost) uniform keys over K = 1000 the key entropy is ln 1000, so the rate should be "
        f"(ln 1000 + ln 10) / {p.record_len} = {target:.6f}, got {value:.6f}: use the Params you are given")


def q4_other_params(outputs):
    for fields, value, target in zip(OTHER4, map(rate, outputs), OTHER4_RATES):
        assert relative_error(value, target) < 1e-9, (
            f"{synthetic.Params(**fields)}: expected {target:.6f} nats/byte, got {value:.6f}: the Zipf "
            f"probabilities are k^-zipf / sum_j j^-zipf for k = 1..n_keys, and a record has record_len bytes")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("fit the data law, with a noise bootstrap", "fit_data_law", call=call_fit, cases=(
        Case("recovers an exact law", ({**EXACT1, "n_boot": 15, "seed": 0},), q1_exact_data),
        Case("is the best fit in log space", ({**BEST1, "n_boot": 5, "seed": 0},), q1_best_fit),
        Case("seeded noise-bootstrap intervals", ({**INTERVALS1, "n_boot": 200, "seed": 3},
                                                  {**INTERVALS1, "n_boot": 10, "seed": 4},
                                                  {**INTERVALS1, "n_boot": 10, "seed": 4}), q1_intervals),
        Case("intervals grow with the standard errors", ({**INTERVALS1, "n_boot": 100, "seed": 0},
                                                         {**INTERVALS1, "stderr": (4 * np.array(INTERVALS1["stderr"])).tolist(),
                                                          "n_boot": 100, "seed": 0}), q1_uses_stderr),
    )),
    "q2": Question("difference of two exponents, noise bootstrap", "slope_difference", call=call_difference, cases=(
        Case("exact exponents", ({**EXACT2, "n_boot": 100, "seed": 0},), q2_exact_data),
        Case("agrees with the noise bootstrap", ({**STORED2, "n_boot": 400, "seed": 2},) * 2, q2_matches_stored_value),
        Case("intervals grow with the standard errors", tuple({**curve, "n_boot": 200, "seed": 1} for curve in NOISE2),
             q2_uses_stderr),
    )),
    "q3": Question("effective data under repetition", "effective_data", call=call_effective, cases=(
        Case("one epoch gives U", tuple({"unique": u, "epochs": 1} for u in (1_000.0, 3.5e6, 2e9)),
             q3_one_epoch_is_unique),
        Case("the Muennighoff et al. formula", tuple({"unique": u, "epochs": e} for u, e in FORMULA3),
             q3_matches_formula),
        Case("few and endless repetitions", ({"unique": 1e6, "epochs": 1.01}, {"unique": 1e6, "epochs": 1e4},
                                             {"unique": 1e6, "epochs": 5, "r_star": 3.0}), q3_limits),
        Case("works elementwise on arrays", (ARRAYS3,), q3_arrays),
    )),
    "q4": Question("entropy rate of the synthetic source", "synthetic_entropy_rate", call=call_rate, cases=(
        Case("the default source", ({},), q4_default_source),
        Case("uniform keys", (UNIFORM4,), q4_uniform_keys),
        Case("other parameters", OTHER4, q4_other_params),
    )),
    "q5": Question("more data or a bigger model? (written)", "q5", cases=written_answer(
        min_words=40, must_mention=[("exponent", "slope", "beta", "β"), ("model",), ("data", "token")])),
}

check = make_check(QUESTIONS)
