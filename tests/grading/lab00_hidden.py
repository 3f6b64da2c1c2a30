"""Hidden grading cases of Lab 0: other data, edge cases, units. Students never see these."""
import numpy as np

from scalinglab import fit as reference
from scalinglab.checks import Case
from scalinglab.checks.lab00 import (cosine, finite_float, interval, log_rss, params, power_params, relative_error,
                                     rng, zero)


# ---------------------------------------------------------------- q1

def q1_other_sigma(mse_of_sample_mean):
    mse = finite_float(mse_of_sample_mean(25, 0.5, 20_000, rng(100)), "the mean squared error")
    assert relative_error(mse, 0.25 / 25) < 0.05, f"n=25, sigma=0.5: expected about 0.01, got {mse:.4g}"


def q1_single_value(mse_of_sample_mean):
    mse = finite_float(mse_of_sample_mean(1, 3.0, 20_000, rng(101)), "the mean squared error")
    assert relative_error(mse, 9.0) < 0.05, f"n=1, sigma=3: the error of one draw is sigma^2 = 9, got {mse:.4g}"


# ---------------------------------------------------------------- q2

def q2_unsorted(fit_power_law):
    x = np.logspace(1, 5, 11)
    y = 4.0 * x ** -0.25 * np.exp(0.1 * rng(102).standard_normal(11))
    order = rng(103).permutation(11)
    sorted_fit, shuffled_fit = params(fit_power_law(x, y)), params(fit_power_law(x[order], y[order]))
    assert all(relative_error(shuffled_fit[k], sorted_fit[k]) < 1e-9 for k in ("A", "alpha")), \
        "the order of the points changed the fit"


def q2_token_units(fit_power_law):
    x = np.logspace(9, 12, 7)  # tokens
    p = params(fit_power_law(x, 1e3 * x ** -0.095))
    assert abs(p["alpha"] - 0.095) < 1e-8 and relative_error(p["A"], 1e3) < 1e-5, f"x in 1e9..1e12: got {p}"


def q2_lists_and_rising_data(fit_power_law):
    x = [1.0, 2.0, 4.0, 8.0, 16.0]
    p = params(fit_power_law(x, [0.5 * v ** 0.7 for v in x]))
    assert abs(p["alpha"] + 0.7) < 1e-8 and relative_error(p["A"], 0.5) < 1e-8, \
        f"lists, and y rising as x^0.7 (alpha = -0.7): got {p}"


# ---------------------------------------------------------------- q3

def q3_one_box(box_regression_error):
    error = finite_float(box_regression_error(cosine, 5_000, 1, 1, 1.0, rng(104)), "the error")
    assert relative_error(error, 0.5 + 1 / 5_000) < 0.05, \
        f"one box predicts the overall mean label; the error should be Var f = 0.5, got {error:.4g}"


def q3_empty_boxes(box_regression_error):
    error = box_regression_error(lambda x: np.full(len(x), 3.0), 20, 1, 50, 0.0, rng(105))
    assert abs(error) < 1e-12, (f"f = 3 everywhere, no noise, 50 boxes but 20 points: every prediction "
                                f"should be 3 (empty boxes predict the mean of all labels), error {error:.3g}")


def q3_variance_in_four_dimensions(box_regression_error):
    errors = [finite_float(box_regression_error(zero, 64_000, 4, 5, 2.0, rng(106 + s)), "the error") for s in range(4)]
    expected = 4.0 * 625 / 64_000
    assert relative_error(np.mean(errors), expected) < 0.15, \
        f"d=4, 5 boxes per side, sigma=2: expected about {expected:.3g}, got {np.mean(errors):.3g}"


def q3_seeded(box_regression_error):
    first = box_regression_error(cosine, 1_000, 1, 8, 1.0, rng(110))
    again = box_regression_error(cosine, 1_000, 1, 8, 1.0, rng(110))
    assert first == again, "the same seed gave different errors: draw every random number from rng"


# ---------------------------------------------------------------- q4

def q4_token_units(fit_saturating_power_law):
    x = np.logspace(8, 11, 10)  # tokens: a fit that does not rescale x struggles here
    p = params(fit_saturating_power_law(x, 1.7 + 400.0 * x ** -0.3))
    ok = abs(p["E"] - 1.7) < 0.02 and abs(p["beta"] - 0.3) < 0.02 and relative_error(p["B"], 400.0) < 0.2
    assert ok, f"x in 1e8..1e11 with y = 1.7 + 400 x^-0.3: got {p}"


def q4_unsorted_noisy(fit_saturating_power_law):
    x = np.logspace(1, 6, 14)
    y = (0.8 + 6.0 * x ** -0.5) * np.exp(0.02 * rng(111).standard_normal(14))
    order = rng(112).permutation(14)
    p = params(fit_saturating_power_law(x[order], y[order]))
    ref = reference.fit_saturating_power_law(x, y, n_boot=0).params
    assert log_rss(x, y, p) <= 1.01 * log_rss(x, y, ref), \
        f"shuffled noisy data: squared log residuals {log_rss(x, y, p):.4g} vs best {log_rss(x, y, ref):.4g}"


def q4_floor_dominates(fit_saturating_power_law):
    x = np.logspace(2, 7, 15)
    y = (0.05 + 4.0 * x ** -0.35) * np.exp(0.03 * rng(113).standard_normal(15))
    p = params(fit_saturating_power_law(x, y))
    ref = reference.fit_saturating_power_law(x, y, n_boot=0).params
    assert log_rss(x, y, p) <= 1.01 * log_rss(x, y, ref), \
        f"a curve that flattens: squared log residuals {log_rss(x, y, p):.4g} vs best {log_rss(x, y, ref):.4g}"


# ---------------------------------------------------------------- q5

def q5_interval_of_a_mean(bootstrap_ci):
    x, y = np.arange(1.0, 201.0), rng(114).normal(5.0, 1.0, 200)
    low, high = interval(bootstrap_ci, lambda x, y: {"mean": float(np.mean(y))}, x, y, "mean", n_boot=2_000,
                         level=0.95, seed=3)
    half = 1.96 * y.std() / np.sqrt(200)
    assert abs((low + high) / 2 - y.mean()) < 0.3 * half and relative_error((high - low) / 2, half) < 0.2, \
        f"95% interval of a mean of 200 values: about {y.mean():.3f} +- {half:.3f}, got ({low:.3f}, {high:.3f})"


def q5_other_level(bootstrap_ci):
    x = np.logspace(0, 4, 12)
    y = 3.0 * x ** -0.5 * np.exp(0.15 * rng(115).standard_normal(12))
    low, high = interval(bootstrap_ci, power_params, x, y, "A", n_boot=400, level=0.8, seed=4)
    ref_low, ref_high = reference.bootstrap_intervals("power", x, y, n_boot=400, level=0.8, seed=4)["A"]
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, \
        f"80% interval of A ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})"


def q5_skips_degenerate_resamples(bootstrap_ci):
    x, y = np.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])

    def needs_three_distinct(x, y):
        if len(np.unique(x)) < 3:
            raise ValueError("fewer than 3 distinct x values")
        return {"mean": float(np.mean(y))}
    low, high = interval(bootstrap_ci, needs_three_distinct, x, y, "mean", n_boot=200, level=0.95, seed=5)
    assert 1.0 <= low < high <= 6.0, f"got ({low:.3g}, {high:.3g})"


HIDDEN = {
    "q1": [Case("another sigma", q1_other_sigma), Case("n = 1", q1_single_value)],
    "q2": [Case("unsorted x", q2_unsorted), Case("x in tokens", q2_token_units),
           Case("lists, rising data", q2_lists_and_rising_data)],
    "q3": [Case("one box", q3_one_box), Case("empty boxes", q3_empty_boxes),
           Case("variance in d = 4", q3_variance_in_four_dimensions), Case("seeded", q3_seeded)],
    "q4": [Case("x in tokens", q4_token_units), Case("unsorted noisy data", q4_unsorted_noisy),
           Case("a curve that flattens", q4_floor_dominates)],
    "q5": [Case("interval of a mean", q5_interval_of_a_mean), Case("80% level", q5_other_level),
           Case("skips resamples with < 3 distinct x", q5_skips_degenerate_resamples)],
}
