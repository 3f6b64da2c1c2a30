"""Hidden grading cases of Lab 0: other data, edge cases, units. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import numpy as np

from scalinglab import fit as answer_fit
from scalinglab.checks import Case, finite_float, log_rss, relative_error, rng
from scalinglab.checks.lab00 import bootstrap_call, box_calls, data, interval, mse_calls, q1_is_a_simulation


# ---------------------------------------------------------------- q1

def q1_other_sigma(outputs):
    mse = finite_float(outputs[0], "the mean squared error")
    assert relative_error(mse, 0.25 / 25) < 0.05, f"n=25, sigma=0.5: expected about 0.01, got {mse:.4g}"


def q1_single_value(outputs):
    mse = finite_float(outputs[0], "the mean squared error")
    assert relative_error(mse, 9.0) < 0.05, f"n=1, sigma=3: the error of one draw is sigma^2 = 9, got {mse:.4g}"


def q1_falls_as_one_over_n(outputs):
    small, large = (finite_float(v, "the mean squared error") for v in outputs)
    assert relative_error(small / large, 16) < 0.1, f"n=5 -> n=80 should cut the error 16-fold, got {small / large:.3g}"


# ---------------------------------------------------------------- q2

X_UNSORTED = np.logspace(1, 5, 11)
Y_UNSORTED = 4.0 * X_UNSORTED ** -0.25 * np.exp(0.1 * rng(102).standard_normal(11))
ORDER = rng(103).permutation(11)
X_TOKENS = np.logspace(9, 12, 7)
X_LIST = [1.0, 2.0, 4.0, 8.0, 16.0]
X_NOISY2 = np.logspace(2, 5, 13)
Y_NOISY2 = 0.7 * X_NOISY2 ** -0.45 * np.exp(0.15 * rng(116).standard_normal(13))


def q2_least_squares(outputs):
    p, best = outputs[0], answer_fit.fit_power_law(X_NOISY2, Y_NOISY2, n_boot=0).params
    assert all(relative_error(p[k], best[k]) < 1e-6 for k in ("A", "alpha")), \
        f"noisy data: got {p}, least squares in log space gives {best}"


def q2_unsorted(outputs):
    sorted_fit, shuffled_fit = outputs
    assert all(relative_error(shuffled_fit[k], sorted_fit[k]) < 1e-9 for k in ("A", "alpha")), \
        "the order of the points changed the fit"


def q2_token_units(outputs):
    p = outputs[0]
    assert abs(p["alpha"] - 0.095) < 1e-8 and relative_error(p["A"], 1e3) < 1e-5, f"x in 1e9..1e12: got {p}"


def q2_lists_and_rising_data(outputs):
    p = outputs[0]
    assert abs(p["alpha"] + 0.7) < 1e-8 and relative_error(p["A"], 0.5) < 1e-8, \
        f"lists, and y rising as x^0.7 (alpha = -0.7): got {p}"


# ---------------------------------------------------------------- q3

def q3_one_box(outputs):
    error = finite_float(outputs[0], "the error")
    assert relative_error(error, 0.5 + 1 / 5_000) < 0.05, \
        f"one box predicts the overall mean label; the error should be Var f = 0.5, got {error:.4g}"


def q3_empty_boxes(outputs):
    error = finite_float(outputs[0], "the error")
    assert abs(error) < 1e-12, (f"f = 3 everywhere, no noise, 50 boxes but 20 points: every prediction "
                                f"should be 3 (empty boxes predict the mean of all labels), error {error:.3g}")


def q3_variance_in_four_dimensions(outputs):
    errors = [finite_float(v, "the error") for v in outputs]
    expected = 4.0 * 625 / 64_000
    assert relative_error(np.mean(errors), expected) < 0.15, \
        f"d=4, 5 boxes per side, sigma=2: expected about {expected:.3g}, got {np.mean(errors):.3g}"


def q3_seeded(outputs):
    first, again = (finite_float(v, "the error") for v in outputs)
    assert first == again, "the same seed gave different errors: draw every random number from rng"


# ---------------------------------------------------------------- q4

X_FLOOR = np.logspace(8, 11, 10)
X_NOISY = np.logspace(1, 6, 14)
Y_NOISY = (0.8 + 6.0 * X_NOISY ** -0.5) * np.exp(0.02 * rng(111).standard_normal(14))
ORDER_NOISY = rng(112).permutation(14)
X_FLAT = np.logspace(2, 7, 15)
Y_FLAT = (0.05 + 4.0 * X_FLAT ** -0.35) * np.exp(0.03 * rng(113).standard_normal(15))


def q4_token_units(outputs):
    p = outputs[0]
    ok = abs(p["E"] - 1.7) < 0.02 and abs(p["beta"] - 0.3) < 0.02 and relative_error(p["B"], 400.0) < 0.2
    assert ok, f"x in 1e8..1e11 with y = 1.7 + 400 x^-0.3: got {p}"


def best_fit_verdict(x, y, what):
    best = log_rss(x, y, answer_fit.fit_saturating_power_law(x, y, n_boot=0).params)

    def verdict(outputs):
        p = outputs[0]
        assert log_rss(x, y, p) <= 1.01 * best, \
            f"{what}: squared log residuals {log_rss(x, y, p):.4g} vs best {best:.4g}"
    return verdict


# ---------------------------------------------------------------- q5

Y_MEAN = rng(114).normal(5.0, 1.0, 200)
X_LEVEL = np.logspace(0, 4, 12)
Y_LEVEL = 3.0 * X_LEVEL ** -0.5 * np.exp(0.15 * rng(115).standard_normal(12))


def q5_interval_of_a_mean(outputs):
    low, high = interval(outputs[0])
    half = 1.96 * Y_MEAN.std() / np.sqrt(200)
    assert abs((low + high) / 2 - Y_MEAN.mean()) < 0.3 * half and relative_error((high - low) / 2, half) < 0.2, \
        f"95% interval of a mean of 200 values: about {Y_MEAN.mean():.3f} +- {half:.3f}, got ({low:.3f}, {high:.3f})"


def q5_other_level(outputs):
    low, high = interval(outputs[0])
    ref_low, ref_high = answer_fit.bootstrap_intervals("power", X_LEVEL, Y_LEVEL, n_boot=400, level=0.8, seed=4)["A"]
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, \
        f"80% interval of A ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})"


def q5_exact_data(outputs):
    low, high = interval(outputs[0])
    assert high - low < 1e-9 and abs(low - 0.45) < 1e-9, f"noise-free data with alpha = 0.45: got ({low:.6g}, {high:.6g})"


def q5_skips_degenerate_resamples(outputs):
    low, high = interval(outputs[0])
    assert 1.0 <= low < high <= 6.0, f"got ({low:.3g}, {high:.3g})"


HIDDEN = {
    "q1": [Case("another sigma", mse_calls((25, 0.5, 20_000, 100)), q1_other_sigma),
           Case("n = 1", mse_calls((1, 3.0, 20_000, 101)), q1_single_value),
           Case("falls as 1/n", mse_calls((5, 2.0, 20_000, 120), (80, 2.0, 20_000, 121)), q1_falls_as_one_over_n),
           Case("is a seeded simulation", mse_calls((6, 1.5, 3_000, 122), (6, 1.5, 3_000, 122), (6, 1.5, 3_000, 123)),
                q1_is_a_simulation)],
    "q2": [Case("unsorted x", (data(X_UNSORTED, Y_UNSORTED), data(X_UNSORTED[ORDER], Y_UNSORTED[ORDER])),
                q2_unsorted),
           Case("x in tokens", (data(X_TOKENS, 1e3 * X_TOKENS ** -0.095),), q2_token_units),
           Case("lists, rising data", ({"x": X_LIST, "y": [0.5 * v ** 0.7 for v in X_LIST], "lists": True},),
                q2_lists_and_rising_data),
           Case("least squares in log space", (data(X_NOISY2, Y_NOISY2),), q2_least_squares)],
    "q3": [Case("one box", box_calls(("cosine", 5_000, 1, 1, 1.0, 104)), q3_one_box),
           Case("empty boxes", box_calls(("three", 20, 1, 50, 0.0, 105)), q3_empty_boxes),
           Case("variance in d = 4", box_calls(*(("zero", 64_000, 4, 5, 2.0, 106 + s) for s in range(4))),
                q3_variance_in_four_dimensions),
           Case("seeded", box_calls(("cosine", 1_000, 1, 8, 1.0, 110), ("cosine", 1_000, 1, 8, 1.0, 110)), q3_seeded)],
    "q4": [Case("x in tokens", (data(X_FLOOR, 1.7 + 400.0 * X_FLOOR ** -0.3),), q4_token_units),
           Case("unsorted noisy data", (data(X_NOISY[ORDER_NOISY], Y_NOISY[ORDER_NOISY]),),
                best_fit_verdict(X_NOISY, Y_NOISY, "shuffled noisy data")),
           Case("a curve that flattens", (data(X_FLAT, Y_FLAT),), best_fit_verdict(X_FLAT, Y_FLAT, "a curve that flattens"))],
    "q5": [Case("interval of a mean", (bootstrap_call(data(np.arange(1.0, 201.0), Y_MEAN), name="mean", fit="mean",
                                                      n_boot=2_000, level=0.95, seed=3),), q5_interval_of_a_mean),
           Case("80% level", (bootstrap_call(data(X_LEVEL, Y_LEVEL), name="A", n_boot=400, level=0.8, seed=4),),
                q5_other_level),
           Case("skips resamples with < 3 distinct x",
                (bootstrap_call(data([1.0, 1.0, 2.0, 2.0, 3.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), name="mean",
                                fit="mean_of_three_distinct", n_boot=200, level=0.95, seed=5),),
                q5_skips_degenerate_resamples),
           Case("zero width on exact data", (bootstrap_call(data(np.logspace(0, 3, 8), 5.0 * np.logspace(0, 3, 8) ** -0.45),
                                                            n_boot=100, level=0.9, seed=6),), q5_exact_data)],
}
