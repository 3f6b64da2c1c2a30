"""Self-checks of Lab 0, power laws from first principles.

Each case runs the student's function on small seeded inputs (well under a second) and compares
the result with a known truth or with the reference implementation in scalinglab.fit. Hidden
cases for grading: tests/grading/lab00_hidden.py.
"""
import numpy as np

from scalinglab import fit as reference
from scalinglab.checks import (Case, Question, finite_float, log_rss, make_check, params, relative_error, rng,
                               written_answer)


# ---------------------------------------------------------------- q1: the error of the sample mean

def q1_matches_theory(mse_of_sample_mean):
    mse = finite_float(mse_of_sample_mean(10, 2.0, 20_000, rng(0)), "the mean squared error")
    assert relative_error(mse, 0.4) < 0.05, (
        f"with n=10 and sigma=2 the squared error of the mean should be close to sigma^2/n = 0.4, got "
        f"{mse:.4g}: draw trials x n values with standard deviation sigma, average each row, and "
        f"average the squares of those means")


def q1_falls_as_one_over_n(mse_of_sample_mean):
    small = finite_float(mse_of_sample_mean(4, 1.0, 20_000, rng(1)), "the mean squared error")
    large = finite_float(mse_of_sample_mean(64, 1.0, 20_000, rng(2)), "the mean squared error")
    ratio = small / large
    assert relative_error(ratio, 16) < 0.1, (
        f"16 times more data should cut the squared error 16-fold, but n=4 -> n=64 cut it by "
        f"{ratio:.3g}: is each sample mean taken over n values?")


def q1_is_a_simulation(mse_of_sample_mean):
    first = mse_of_sample_mean(8, 1.0, 2_000, rng(3))
    again = mse_of_sample_mean(8, 1.0, 2_000, rng(3))
    other = mse_of_sample_mean(8, 1.0, 2_000, rng(4))
    assert first == again, "the same seed gave two different answers: draw every random number from rng"
    assert first != other, ("two different seeds gave the same answer: simulate with rng.normal "
                            "rather than returning the formula sigma^2/n")


# ---------------------------------------------------------------- q2: pure power law

def q2_exact_data(fit_power_law):
    x = np.array([10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000], dtype=float)
    p = params(fit_power_law(x, 3.0 * x ** -0.5))
    assert abs(p["alpha"] - 0.5) < 1e-8 and relative_error(p["A"], 3.0) < 1e-6, (
        f"on exact data y = 3 x^-0.5 the fit should return A = 3, alpha = 0.5, got A = {p['A']:.6g}, "
        f"alpha = {p['alpha']:.6g}: alpha is minus the slope of log y against log x, A = exp(intercept)")


def q2_log_space_least_squares(fit_power_law):
    x = np.logspace(1, 6, 15)
    y = 2.0 * x ** -0.3 * np.exp(0.2 * rng(5).standard_normal(15))
    p, ref = params(fit_power_law(x, y)), reference.fit_power_law(x, y, n_boot=0).params
    for name in ("A", "alpha"):
        assert relative_error(p[name], ref[name]) < 1e-6, (
            f"on noisy data {name} = {p[name]:.6g}, but least squares on log y against log x gives "
            f"{ref[name]:.6g}: fit a straight line to (log x, log y), so every decade of x weighs the same")


def q2_units_of_x(fit_power_law):
    x = np.logspace(0, 4, 12)
    y = 5.0 * x ** -0.7 * np.exp(0.1 * rng(6).standard_normal(12))
    in_units, in_thousands = params(fit_power_law(x, y)), params(fit_power_law(1000 * x, y))
    assert abs(in_units["alpha"] - in_thousands["alpha"]) < 1e-9, (
        "measuring x in other units (x -> 1000 x) changed alpha: the exponent must not depend on units")
    assert relative_error(in_thousands["A"], in_units["A"] * 1000 ** in_units["alpha"]) < 1e-6, (
        "with x -> 1000 x the prefactor should become A * 1000^alpha, and it did not")


# ---------------------------------------------------------------- q3: box averaging in d dimensions

def zero(x):
    return np.zeros(len(x))


def cosine(x):
    return np.cos(np.pi * x[:, 0])


def linear(x):
    return x.sum(axis=1)


def within_box_variance(g, k, points=200_000):
    """The squared bias of box averaging g on [0, 1] with k boxes, by the midpoint rule."""
    t = (np.arange(points) + 0.5) / points
    values = g(t).reshape(k, -1)
    return float(np.mean((values - values.mean(axis=1, keepdims=True)) ** 2))


def q3_variance_only(box_regression_error):
    # f = 0: the error is the variance of the box means, about sigma^2 * (number of boxes) / n
    errors = [finite_float(box_regression_error(zero, 90_000, 2, 30, 1.0, rng(s)), "the error") for s in range(4)]
    expected = 900 / 90_000
    assert relative_error(np.mean(errors), expected) < 0.15, (
        f"with f = 0, sigma = 1, n = 90000 and 30 x 30 boxes the error should be about "
        f"sigma^2 * boxes / n = {expected:.3g}, got {np.mean(errors):.3g}: each box predicts the mean "
        f"of the labels inside it, and the error is measured against f, not against noisy labels")


def q3_bias_only(box_regression_error):
    # sigma = 0 and plenty of data: the error is the squared bias, the variation of f inside a box
    error = finite_float(box_regression_error(lambda x: cosine(x), 100_000, 1, 10, 0.0, rng(7)), "the error")
    expected = within_box_variance(lambda t: np.cos(np.pi * t), 10)
    assert relative_error(error, expected) < 0.05, (
        f"with no noise, f(x) = cos(pi x) and 10 boxes the error should be the squared bias "
        f"{expected:.4g}, got {error:.4g}: cut [0, 1] into k boxes of side 1/k and predict each "
        f"box's mean label on test points drawn with rng.random((n_test, d))")


def q3_all_dimensions(box_regression_error):
    # f = x1 + x2 + x3: a box of side h leaves a squared bias of 3 h^2 / 12 if all three axes are cut
    error = finite_float(box_regression_error(linear, 200_000, 3, 4, 0.0, rng(8)), "the error")
    expected = 3 * (1 / 4) ** 2 / 12
    assert relative_error(error, expected) < 0.05, (
        f"in d = 3 with k = 4 boxes per dimension and f = x1 + x2 + x3 the error should be "
        f"3 h^2 / 12 = {expected:.4g}, got {error:.4g}: number the k**d boxes using every coordinate")


# ---------------------------------------------------------------- q4: saturating power law

def q4_exact_data(fit_saturating_power_law):
    x = np.logspace(1, 5, 12)
    p = params(fit_saturating_power_law(x, 0.5 + 20.0 * x ** -0.6))
    ok = abs(p["E"] - 0.5) < 1e-3 and relative_error(p["B"], 20.0) < 1e-3 and abs(p["beta"] - 0.6) < 1e-3
    assert ok, (f"on exact data y = 0.5 + 20 x^-0.6 the fit returned E = {p['E']:.4g}, B = {p['B']:.4g}, "
                f"beta = {p['beta']:.4g}: minimise the squared residuals of log y, starting from several "
                f"floors E")


def q4_log_space_best_fit(fit_saturating_power_law):
    x = np.logspace(2, 6, 16)
    y = (0.2 + 3.0 * x ** -0.4) * np.exp(0.03 * rng(9).standard_normal(16))
    p = params(fit_saturating_power_law(x, y))
    assert 0 <= p["E"] <= y.min() * (1 + 1e-9), f"E = {p['E']:.4g} should lie between 0 and min(y) = {y.min():.4g}"
    ref = reference.fit_saturating_power_law(x, y, n_boot=0).params
    assert log_rss(x, y, p) <= 1.01 * log_rss(x, y, ref), (
        f"on noisy data your fit leaves squared log residuals {log_rss(x, y, p):.4g}, the best fit "
        f"{log_rss(x, y, ref):.4g}: fit log y (not y), and try several starting values of E")


def q4_no_floor(fit_saturating_power_law):
    x = np.logspace(0, 4, 10)
    y = 5.0 * x ** -0.4
    p = params(fit_saturating_power_law(x, y))
    assert p["E"] < 0.01 * y.min() and abs(p["beta"] - 0.4) < 0.01, (
        f"data with no floor, y = 5 x^-0.4, should give E = 0 and beta = 0.4, got E = {p['E']:.4g}, "
        f"beta = {p['beta']:.4g}: allow E = 0 (bounds 0 <= E <= min y)")


# ---------------------------------------------------------------- q5: bootstrap intervals

def power_params(x, y):
    return reference.fit_power_law(x, y, n_boot=0).params


def noisy_power_data(seed, points=10):
    x = np.logspace(1, 5, points)
    return x, 2.0 * x ** -0.3 * np.exp(0.1 * rng(seed).standard_normal(points))


def interval(bootstrap_ci, *args, **kwargs):
    low, high = (finite_float(v, "each end of the interval") for v in bootstrap_ci(*args, **kwargs))
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return low, high


def q5_matches_reference(bootstrap_ci):
    x, y = noisy_power_data(10)
    low, high = interval(bootstrap_ci, power_params, x, y, "alpha", n_boot=400, level=0.95, seed=0)
    ref_low, ref_high = reference.bootstrap_intervals("power", x, y, n_boot=400, level=0.95, seed=0)["alpha"]
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, (
        f"95% interval of alpha ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): "
        f"resample the (x, y) pairs with replacement, refit, and take the 2.5% and 97.5% quantiles")


def q5_levels_and_seed(bootstrap_ci):
    x, y = noisy_power_data(11)
    estimate = power_params(x, y)["alpha"]
    wide = interval(bootstrap_ci, power_params, x, y, "alpha", n_boot=300, level=0.95, seed=1)
    again = interval(bootstrap_ci, power_params, x, y, "alpha", n_boot=300, level=0.95, seed=1)
    narrow = interval(bootstrap_ci, power_params, x, y, "alpha", n_boot=300, level=0.5, seed=1)
    assert wide == again, "the same seed gave two different intervals: use rng = np.random.default_rng(seed)"
    assert wide[0] < estimate < wide[1], f"the 95% interval {wide} should contain the estimate {estimate:.4g}"
    assert wide[0] < narrow[0] < narrow[1] < wide[1], (
        f"the 50% interval {narrow} should lie strictly inside the 95% interval {wide}: the quantiles "
        f"are (1 - level)/2 and 1 - (1 - level)/2")


def q5_exact_data(bootstrap_ci):
    x = np.logspace(1, 5, 10)
    low, high = interval(bootstrap_ci, power_params, x, 2.0 * x ** -0.3, "alpha", n_boot=100, level=0.95, seed=2)
    assert high - low < 1e-9 and abs(low - 0.3) < 1e-9, (
        f"on noise-free data every resample gives alpha = 0.3, so the interval should be (0.3, 0.3), "
        f"got ({low:.6g}, {high:.6g})")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("the error of the sample mean", "mse_of_sample_mean", cases=(
        Case("close to sigma^2/n", q1_matches_theory),
        Case("falls as 1/n", q1_falls_as_one_over_n),
        Case("is a seeded simulation", q1_is_a_simulation),
    )),
    "q2": Question("fit a power law", "fit_power_law", cases=(
        Case("recovers an exact power law", q2_exact_data),
        Case("is least squares in log space", q2_log_space_least_squares),
        Case("does not depend on the units of x", q2_units_of_x),
    )),
    "q3": Question("box averaging in d dimensions", "box_regression_error", cases=(
        Case("variance term sigma^2 m / n", q3_variance_only),
        Case("bias term with no noise", q3_bias_only),
        Case("cuts every dimension", q3_all_dimensions),
    )),
    "q4": Question("fit a saturating power law", "fit_saturating_power_law", cases=(
        Case("recovers E, B, beta from exact data", q4_exact_data),
        Case("is the best fit in log space", q4_log_space_best_fit),
        Case("finds E = 0 when there is no floor", q4_no_floor),
    )),
    "q5": Question("bootstrap confidence interval", "bootstrap_ci", cases=(
        Case("agrees with the percentile bootstrap", q5_matches_reference),
        Case("is seeded and widens with the level", q5_levels_and_seed),
        Case("has zero width on exact data", q5_exact_data),
    )),
    "q6": Question("why language learns slowly (written)", "q6", written=True, cases=written_answer(
        min_words=40, must_mention=[("dimension",), ("extrapolation", "extrapolate", "extrapolating")])),
}

check = make_check(QUESTIONS)
