"""Self-checks of Lab 1, data scaling.

Each case calls the student's function on small seeded inputs (well under a second each) and
compares the result with a known truth, a property, or a value stored here that the instructor's
reference implementation computed (tests/grading/test_cases.py recomputes every stored value).
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

def call_fit(fn, D, L, n_boot, seed):
    result = fn(np.array(D), np.array(L), n_boot=n_boot, seed=seed)
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


D1 = np.logspace(4, 7, 7)
BEST1 = data(D=noisy_law(1)[0], L=noisy_law(1)[1])
BEST1_RSS = 0.00036598442425760043  # the least squared log residuals of E + B D^-beta on BEST1
INTERVALS1 = data(D=noisy_law(2, noise=0.02)[0], L=noisy_law(2, noise=0.02)[1])
INTERVALS1_BETA = (0.09957278409411183, 0.6092870508303563)  # the 95% percentile-bootstrap interval of beta, 40 resamples, seed 3


def q1_exact_data(outputs):
    p, intervals = fitted(outputs[0])
    ok = abs(p["E"] - 1.5) < 1e-3 and relative_error(p["B"], 300.0) < 1e-2 and abs(p["beta"] - 0.4) < 1e-3
    assert ok, (f"on exact data L = 1.5 + 300 D^-0.4 the fit returned {p}: fit the saturating power law "
                f"E + B D^-beta in log space (scalinglab.fit.fit_saturating_power_law does it)")
    for name, (low, high) in intervals.items():
        assert high - low < 1e-2 * max(1.0, abs(p[name])), (
            f"on noise-free data every resample gives the same fit, so the interval of {name} should have "
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
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.3 * width and abs(high - ref_high) < 0.3 * width, (
        f"95% interval of beta ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): "
        f"resample the (D, L) pairs with replacement, refit, and take the 2.5% and 97.5% quantiles "
        f"(or pass n_boot and seed to scalinglab.fit.fit_saturating_power_law)")
    assert first == again, "the same seed gave two different intervals: seed the bootstrap with `seed`"


# ---------------------------------------------------------------- q2: paired bootstrap of a slope difference

def call_difference(fn, D, loss_a, loss_b, n_boot, seed, lists=False):
    args = (D, loss_a, loss_b) if lists else (np.array(D), np.array(loss_a), np.array(loss_b))
    result = fn(*args, n_boot=n_boot, seed=seed)
    assert isinstance(result, tuple) and len(result) == 2 and np.shape(result[1]) == (2,), (
        "return a tuple (difference, (low, high))")
    return [result[0], result[1][0], result[1][1]]


def difference_and_interval(output):
    difference, low, high = (finite_float(v, "the difference and each end of its interval") for v in output)
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return difference, (low, high)


D2 = np.logspace(5, 7, 6)
D2_PAIRED = np.logspace(4, 7, 8)
LOSS2_PAIRED = 2.0 * D2_PAIRED ** -0.1 * np.exp(0.05 * rng(4).standard_normal(8))
D2_REFERENCE = np.logspace(4, 7, 9)
REFERENCE2 = data(D=D2_REFERENCE, loss_a=2.0 * D2_REFERENCE ** -0.1 * np.exp(0.03 * rng(5).standard_normal(9)),
                  loss_b=2.5 * D2_REFERENCE ** -0.06 * np.exp(0.03 * rng(6).standard_normal(9)))
REFERENCE2_RESULT = (0.03832731761553317, (0.02619313615549866, 0.06126763025127618))  # (difference, (low, high)) of the paired percentile bootstrap, 400 resamples, seed 2


def q2_exact_data(outputs):
    difference, (low, high) = difference_and_interval(outputs[0])
    assert abs(difference - 0.07) < 1e-9, (
        f"with L_a = 3 D^-0.12 and L_b = 4 D^-0.05 the exponents differ by 0.07, got {difference:.6g}: "
        f"fit log L against log D for each and subtract alpha_b from alpha_a")
    assert abs(low - 0.07) < 1e-9 and abs(high - 0.07) < 1e-9, (
        f"on exact data every resample gives 0.07, got the interval ({low:.6g}, {high:.6g})")


def q2_paired(outputs):
    difference, (low, high) = difference_and_interval(outputs[0])
    assert abs(difference) < 1e-9 and high - low < 1e-9, (
        f"when the second loss is the first times a constant, every paired resample gives the same two "
        f"exponents and the difference is exactly 0, got {difference:.3g} in ({low:.3g}, {high:.3g}): resample "
        f"run indices once per bootstrap draw and use them for both losses")


def q2_matches_reference(outputs):
    first, again = (difference_and_interval(o) for o in outputs)
    assert first == again, "the same seed gave two different answers: use rng = np.random.default_rng(seed)"
    (difference, (low, high)), (ref_difference, (ref_low, ref_high)) = first, REFERENCE2_RESULT
    assert abs(difference - ref_difference) < 1e-9, (
        f"the difference of the fitted exponents should be {ref_difference:.6g}, got {difference:.6g}")
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, (
        f"95% interval ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): take the "
        f"2.5% and 97.5% quantiles of the differences over the resamples")


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


DEFAULT4_RATE = 0.5184765047428607  # the entropy rate of synthetic.Params(), nats per byte
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
    "q1": Question("fit the data law with bootstrap intervals", "fit_data_law", call=call_fit, cases=(
        Case("recovers an exact law", ({**data(D=D1, L=1.5 + 300.0 * D1 ** -0.4), "n_boot": 15, "seed": 0},),
             q1_exact_data),
        Case("is the best fit in log space", ({**BEST1, "n_boot": 5, "seed": 0},), q1_best_fit),
        Case("seeded percentile-bootstrap intervals", ({**INTERVALS1, "n_boot": 40, "seed": 3},
                                                       {**INTERVALS1, "n_boot": 10, "seed": 4},
                                                       {**INTERVALS1, "n_boot": 10, "seed": 4}), q1_intervals),
    )),
    "q2": Question("difference of two exponents, paired bootstrap", "slope_difference", call=call_difference, cases=(
        Case("exact exponents", ({**data(D=D2, loss_a=3.0 * D2 ** -0.12, loss_b=4.0 * D2 ** -0.05),
                                  "n_boot": 100, "seed": 0},), q2_exact_data),
        Case("resamples runs in pairs", ({**data(D=D2_PAIRED, loss_a=LOSS2_PAIRED, loss_b=1.3 * LOSS2_PAIRED),
                                          "n_boot": 200, "seed": 1},), q2_paired, points=2),
        Case("agrees with the percentile bootstrap", ({**REFERENCE2, "n_boot": 400, "seed": 2},) * 2,
             q2_matches_reference),
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
