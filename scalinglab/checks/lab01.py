"""Self-checks of Lab 1, data scaling.

Each case runs the student's function on small seeded inputs (well under a second each) and
compares the result with a known truth or with the reference implementation in scalinglab.
Hidden cases for grading: tests/grading/lab01_hidden.py.
"""
import math

import numpy as np

from scalinglab import fit as reference
from scalinglab import synthetic
from scalinglab.checks import (Case, Question, finite_float, log_rss, make_check, relative_error, rng,
                               written_answer)


# ---------------------------------------------------------------- reference implementations

def effective_data_reference(unique, epochs, r_star=15.4):
    unique, epochs = np.asarray(unique, dtype=float), np.asarray(epochs, dtype=float)
    return unique + unique * r_star * (1 - np.exp(-(epochs - 1) / r_star))


def slope_difference_reference(D, loss_a, loss_b, n_boot=1000, level=0.95, seed=0):
    D, loss_a, loss_b = (np.asarray(v, dtype=float) for v in (D, loss_a, loss_b))

    def exponent(i, loss):
        return -np.polyfit(np.log(D[i]), np.log(loss[i]), 1)[0]

    everything = np.arange(len(D))
    difference = exponent(everything, loss_a) - exponent(everything, loss_b)
    generator, samples = np.random.default_rng(seed), []
    for _ in range(n_boot):
        i = generator.integers(0, len(D), len(D))
        if len(np.unique(D[i])) >= 3:
            samples.append(exponent(i, loss_a) - exponent(i, loss_b))
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail])
    return float(difference), (float(low), float(high))


# ---------------------------------------------------------------- q3: effective data under repetition

def effective(effective_data, unique, epochs, **kwargs):
    return finite_float(effective_data(unique, epochs, **kwargs), "D'")


def q3_one_epoch_is_unique(effective_data):
    for unique in (1_000.0, 3.5e6, 2e9):
        value = effective(effective_data, unique, 1)
        assert relative_error(value, unique) < 1e-9, (
            f"one epoch of U = {unique:.3g} tokens repeats nothing, so D' should be U, got {value:.6g}: "
            f"the number of repetitions is R = epochs - 1")


def q3_matches_formula(effective_data):
    for unique, epochs in ((1e6, 4), (2.5e5, 16), (1e8, 2.5), (3e7, 60)):
        value, target = effective(effective_data, unique, epochs), float(effective_data_reference(unique, epochs))
        assert relative_error(value, target) < 1e-9, (
            f"U = {unique:.3g}, {epochs} epochs: D' should be U + U R* (1 - exp(-R/R*)) = {target:.6g} "
            f"with R = epochs - 1 and R* = 15.4, got {value:.6g}")


def q3_limits(effective_data):
    unique = 1e6
    few = effective(effective_data, unique, 1.01)
    assert relative_error(few, unique * 1.01) < 1e-3, (
        f"a few repetitions are worth almost as much as new data: 1.01 epochs of U = 1e6 should give "
        f"D' close to 1.01e6, got {few:.6g}")
    many = effective(effective_data, unique, 1e4)
    assert relative_error(many, unique * (1 + 15.4)) < 1e-6, (
        f"endless repetition saturates at D' = U (1 + R*) = {unique * 16.4:.6g}, got {many:.6g}")
    other = effective(effective_data, unique, 5, r_star=3.0)
    assert relative_error(other, float(effective_data_reference(unique, 5, 3.0))) < 1e-9, (
        f"with r_star = 3 and 5 epochs D' should be {float(effective_data_reference(unique, 5, 3.0)):.6g}, "
        f"got {other:.6g}: use the argument r_star, not the constant 15.4")


def q3_arrays(effective_data):
    unique, epochs = np.array([1e5, 2e5, 4e5]), np.array([16.0, 8.0, 1.0])
    value = np.asarray(effective_data(unique, epochs), dtype=float)
    assert value.shape == (3,), f"arrays in should give an array of 3 values out, got shape {value.shape}"
    assert np.allclose(value, effective_data_reference(unique, epochs), rtol=1e-9), (
        "with arrays of U and epochs, D' should be computed elementwise (use np.exp, not math.exp)")


# ---------------------------------------------------------------- q1: fit the data law with intervals

def fitted(fit_data_law, D, L, **kwargs):
    result = fit_data_law(D, L, **kwargs)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (params, intervals)"
    params, intervals = result
    for name in ("E", "B", "beta"):
        finite_float(params[name], f"params[{name!r}]")
        low, high = (finite_float(v, f"each end of intervals[{name!r}]") for v in intervals[name])
        assert low <= high, f"intervals[{name!r}] = ({low:.4g}, {high:.4g}) should be (low, high)"
    return params, intervals


def noisy_law(seed, points=8, E=1.2, B=40.0, beta=0.35, noise=0.01, start=4, stop=7):
    D = np.logspace(start, stop, points)
    return D, (E + B * D ** -beta) * np.exp(noise * rng(seed).standard_normal(points))


def q1_exact_data(fit_data_law):
    D = np.logspace(4, 7, 7)
    params, intervals = fitted(fit_data_law, D, 1.5 + 300.0 * D ** -0.4, n_boot=15, seed=0)
    ok = abs(params["E"] - 1.5) < 1e-3 and relative_error(params["B"], 300.0) < 1e-2 and abs(params["beta"] - 0.4) < 1e-3
    assert ok, (f"on exact data L = 1.5 + 300 D^-0.4 the fit returned {params}: fit the saturating power law "
                f"E + B D^-beta in log space (scalinglab.fit.fit_saturating_power_law does it)")
    for name, (low, high) in intervals.items():
        assert high - low < 1e-2 * max(1.0, abs(params[name])), (
            f"on noise-free data every resample gives the same fit, so the interval of {name} should have "
            f"(almost) zero width, got ({low:.4g}, {high:.4g})")


def q1_best_fit(fit_data_law):
    D, L = noisy_law(1)
    params, _ = fitted(fit_data_law, D, L, n_boot=5, seed=0)
    assert 0 <= params["E"] <= L.min() * (1 + 1e-9), f"E = {params['E']:.4g} should lie between 0 and min L = {L.min():.4g}"
    best = reference.fit_saturating_power_law(D, L, n_boot=0).params
    assert log_rss(D, L, params) <= 1.01 * log_rss(D, L, best), (
        f"your fit leaves squared log residuals {log_rss(D, L, params):.4g}, the best fit {log_rss(D, L, best):.4g}: "
        f"fit log L, with several starting values of E")


def q1_intervals(fit_data_law):
    D, L = noisy_law(2, noise=0.02)
    _, intervals = fitted(fit_data_law, D, L, n_boot=40, seed=3)
    ref = reference.fit_saturating_power_law(D, L, n_boot=40, seed=3).intervals
    low, high = intervals["beta"]
    ref_low, ref_high = ref["beta"]
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.3 * width and abs(high - ref_high) < 0.3 * width, (
        f"95% interval of beta ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): "
        f"resample the (D, L) pairs with replacement, refit, and take the 2.5% and 97.5% quantiles "
        f"(or pass n_boot and seed to scalinglab.fit.fit_saturating_power_law)")
    first = fitted(fit_data_law, D, L, n_boot=10, seed=4)[1]
    again = fitted(fit_data_law, D, L, n_boot=10, seed=4)[1]
    assert first == again, "the same seed gave two different intervals: seed the bootstrap with `seed`"


# ---------------------------------------------------------------- q2: paired bootstrap of a slope difference

def difference_and_interval(slope_difference, *args, **kwargs):
    result = slope_difference(*args, **kwargs)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (difference, (low, high))"
    difference = finite_float(result[0], "the difference")
    low, high = (finite_float(v, "each end of the interval") for v in result[1])
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return difference, (low, high)


def q2_exact_data(slope_difference):
    D = np.logspace(5, 7, 6)
    difference, (low, high) = difference_and_interval(slope_difference, D, 3.0 * D ** -0.12, 4.0 * D ** -0.05,
                                                      n_boot=100, seed=0)
    assert abs(difference - 0.07) < 1e-9, (
        f"with L_a = 3 D^-0.12 and L_b = 4 D^-0.05 the exponents differ by 0.07, got {difference:.6g}: "
        f"fit log L against log D for each and subtract alpha_b from alpha_a")
    assert abs(low - 0.07) < 1e-9 and abs(high - 0.07) < 1e-9, (
        f"on exact data every resample gives 0.07, got the interval ({low:.6g}, {high:.6g})")


def q2_paired(slope_difference):
    D = np.logspace(4, 7, 8)
    loss_a = 2.0 * D ** -0.1 * np.exp(0.05 * rng(4).standard_normal(8))
    loss_b = 1.3 * loss_a                         # the same runs scored on a second corpus: same noise
    difference, (low, high) = difference_and_interval(slope_difference, D, loss_a, loss_b, n_boot=200, seed=1)
    assert abs(difference) < 1e-9 and high - low < 1e-9, (
        f"when the second loss is the first times a constant, every paired resample gives the same two "
        f"exponents and the difference is exactly 0, got {difference:.3g} in ({low:.3g}, {high:.3g}): resample "
        f"run indices once per bootstrap draw and use them for both losses")


def q2_matches_reference(slope_difference):
    D = np.logspace(4, 7, 9)
    loss_a = 2.0 * D ** -0.1 * np.exp(0.03 * rng(5).standard_normal(9))
    loss_b = 2.5 * D ** -0.06 * np.exp(0.03 * rng(6).standard_normal(9))
    first = difference_and_interval(slope_difference, D, loss_a, loss_b, n_boot=400, seed=2)
    again = difference_and_interval(slope_difference, D, loss_a, loss_b, n_boot=400, seed=2)
    assert first == again, "the same seed gave two different answers: use rng = np.random.default_rng(seed)"
    difference, (low, high) = first
    ref_difference, (ref_low, ref_high) = slope_difference_reference(D, loss_a, loss_b, n_boot=400, seed=2)
    assert abs(difference - ref_difference) < 1e-9, (
        f"the difference of the fitted exponents should be {ref_difference:.6g}, got {difference:.6g}")
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, (
        f"95% interval ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): take the "
        f"2.5% and 97.5% quantiles of the differences over the resamples")


# ---------------------------------------------------------------- q4: entropy rate of the synthetic source

def rate(synthetic_entropy_rate, p):
    return finite_float(synthetic_entropy_rate(p), "the entropy rate")


def q4_default_source(synthetic_entropy_rate):
    from scalinglab.data import entropy_rate
    value, target = rate(synthetic_entropy_rate, synthetic.Params()), entropy_rate("synthetic")
    assert relative_error(value, target) < 1e-9, (
        f"the default source has entropy rate {target:.6f} nats/byte, got {value:.6f}: H(key) + "
        f"noise_len * ln 10 nats per record, divided by the record's length in bytes")


def q4_uniform_keys(synthetic_entropy_rate):
    p = synthetic.Params(n_keys=1_000, zipf=1e-12, key_len=3, value_len=2, noise_len=1)
    target = (math.log(1_000) + math.log(10)) / p.record_len
    value = rate(synthetic_entropy_rate, p)
    assert relative_error(value, target) < 1e-6, (
        f"with (almost) uniform keys over K = 1000 the key entropy is ln 1000, so the rate should be "
        f"(ln 1000 + ln 10) / {p.record_len} = {target:.6f}, got {value:.6f}: use the Params you are given")


def q4_other_params(synthetic_entropy_rate):
    for p in (synthetic.Params(n_keys=5_000, zipf=1.2, key_len=3, value_len=4, noise_len=3),
              synthetic.Params(n_keys=200, zipf=2.0, noise_len=0)):
        value, target = rate(synthetic_entropy_rate, p), synthetic.entropy_rate(p)
        assert relative_error(value, target) < 1e-9, (
            f"{p}: expected {target:.6f} nats/byte, got {value:.6f}: the Zipf probabilities are "
            f"k^-zipf / sum_j j^-zipf for k = 1..n_keys, and a record has record_len bytes")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("fit the data law with bootstrap intervals", "fit_data_law", cases=(
        Case("recovers an exact law", q1_exact_data),
        Case("is the best fit in log space", q1_best_fit),
        Case("seeded percentile-bootstrap intervals", q1_intervals),
    )),
    "q2": Question("difference of two exponents, paired bootstrap", "slope_difference", cases=(
        Case("exact exponents", q2_exact_data),
        Case("resamples runs in pairs", q2_paired, points=2),
        Case("agrees with the percentile bootstrap", q2_matches_reference),
    )),
    "q3": Question("effective data under repetition", "effective_data", cases=(
        Case("one epoch gives U", q3_one_epoch_is_unique),
        Case("the Muennighoff et al. formula", q3_matches_formula),
        Case("few and endless repetitions", q3_limits),
        Case("works elementwise on arrays", q3_arrays),
    )),
    "q4": Question("entropy rate of the synthetic source", "synthetic_entropy_rate", cases=(
        Case("the default source", q4_default_source),
        Case("uniform keys", q4_uniform_keys),
        Case("other parameters", q4_other_params),
    )),
    "q5": Question("more data or a bigger model? (written)", "q5", written=True, cases=written_answer(
        min_words=40, must_mention=[("exponent", "slope", "beta", "β"), ("model",), ("data", "token")])),
}

check = make_check(QUESTIONS)
