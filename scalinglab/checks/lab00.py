"""Self-checks of Lab 0, power laws from first principles.

Each case calls the student's function on small seeded inputs (well under a second) and compares
the result with a known truth, a property, or a value stored here that the instructor's answer
implementation computed (tests/grading/test_cases.py recomputes every stored value). Hidden cases
for grading: tests/grading/lab00_hidden.py.
"""
import numpy as np

from scalinglab.checks import (Case, Question, finite_float, log_rss, make_check, params, relative_error, rng,
                               written_answer)
from scalinglab.fit import fit_power_law

# ---------------------------------------------------------------- functions a case passes in, by name

F = {  # q3: the true function f of box regression
    "zero": lambda x: np.zeros(len(x)),
    "cosine": lambda x: np.cos(np.pi * x[:, 0]),
    "linear": lambda x: x.sum(axis=1),
    "three": lambda x: np.full(len(x), 3.0),
}


def needs_three_distinct(x, y):
    if len(np.unique(x)) < 3:
        raise ValueError("fewer than 3 distinct x values")
    return {"mean": float(np.mean(y))}


FITS = {  # q5: the fit whose parameter bootstrap_ci resamples
    "power": lambda x, y: fit_power_law(x, y, n_boot=0).params,
    "mean": lambda x, y: {"mean": float(np.mean(y))},
    "mean_of_three_distinct": needs_three_distinct,
}


def within_box_variance(g, k, points=200_000):
    """The squared bias of box averaging g on [0, 1] with k boxes, by the midpoint rule."""
    t = (np.arange(points) + 0.5) / points
    values = g(t).reshape(k, -1)
    return float(np.mean((values - values.mean(axis=1, keepdims=True)) ** 2))


# ---------------------------------------------------------------- how each question is called

def call_mse(fn, n, sigma, trials, seed):
    return fn(n, sigma, trials, rng(seed))


def call_fit(names):
    def call(fn, x, y, lists=False):
        x, y = (x, y) if lists else (np.array(x), np.array(y))
        return params(fn(x, y), names)
    return call


def call_box(fn, f, n, d, k, sigma, seed):
    return fn(F[f], n, d, k, sigma, rng(seed))


def call_bootstrap(fn, fit, x, y, name, n_boot, level, seed):
    result = fn(FITS[fit], np.array(x), np.array(y), name, n_boot=n_boot, level=level, seed=seed)
    assert np.shape(result) == (2,), "return the interval as a pair (low, high)"
    return [result[0], result[1]]


def interval(output):
    low, high = (finite_float(v, "each end of the interval") for v in output)
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return low, high


def data(x, y):
    return {"x": np.asarray(x, dtype=float).tolist(), "y": np.asarray(y, dtype=float).tolist()}


# ---------------------------------------------------------------- q1: the error of the sample mean

def q1_matches_theory(outputs):
    mse = finite_float(outputs[0], "the mean squared error")
    assert relative_error(mse, 0.4) < 0.05, (
        f"with n=10 and sigma=2 the squared error of the mean should be close to sigma^2/n = 0.4, got "
        f"{mse:.4g}: draw trials x n values with standard deviation sigma, average each row, and "
        f"average the squares of those means")


def q1_falls_as_one_over_n(outputs):
    small, large = (finite_float(v, "the mean squared error") for v in outputs)
    ratio = small / large
    assert relative_error(ratio, 16) < 0.1, (
        f"16 times more data should cut the squared error 16-fold, but n=4 -> n=64 cut it by "
        f"{ratio:.3g}: is each sample mean taken over n values?")


def q1_is_a_simulation(outputs):
    first, again, other = (finite_float(v, "the mean squared error") for v in outputs)
    assert first == again, "the same seed gave two different answers: draw every random number from rng"
    assert first != other, ("two different seeds gave the same answer: simulate with rng.normal "
                            "rather than returning the formula sigma^2/n")


def mse_calls(*rows):
    return tuple({"n": n, "sigma": sigma, "trials": trials, "seed": seed} for n, sigma, trials, seed in rows)


# ---------------------------------------------------------------- q2: pure power law

X2 = np.array([10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000], dtype=float)
NOISY2 = data(np.logspace(1, 6, 15), 2.0 * np.logspace(1, 6, 15) ** -0.3 * np.exp(0.2 * rng(5).standard_normal(15)))
NOISY2_BEST = {"A": 1.7911610493540517, "alpha": 0.28594877974252564}  # least squares in log space
UNITS2 = data(np.logspace(0, 4, 12), 5.0 * np.logspace(0, 4, 12) ** -0.7 * np.exp(0.1 * rng(6).standard_normal(12)))


def q2_exact_data(outputs):
    p = outputs[0]
    assert abs(p["alpha"] - 0.5) < 1e-8 and relative_error(p["A"], 3.0) < 1e-6, (
        f"on exact data y = 3 x^-0.5 the fit should return A = 3, alpha = 0.5, got A = {p['A']:.6g}, "
        f"alpha = {p['alpha']:.6g}: alpha is minus the slope of log y against log x, A = exp(intercept)")


def q2_log_space_least_squares(outputs):
    p = outputs[0]
    for name, best in NOISY2_BEST.items():
        assert relative_error(p[name], best) < 1e-6, (
            f"on noisy data {name} = {p[name]:.6g}, but least squares on log y against log x gives "
            f"{best:.6g}: fit a straight line to (log x, log y), so every decade of x weighs the same")


def q2_units_of_x(outputs):
    in_units, in_thousands = outputs
    assert abs(in_units["alpha"] - in_thousands["alpha"]) < 1e-9, (
        "measuring x in other units (x -> 1000 x) changed alpha: the exponent must not depend on units")
    assert relative_error(in_thousands["A"], in_units["A"] * 1000 ** in_units["alpha"]) < 1e-6, (
        "with x -> 1000 x the prefactor should become A * 1000^alpha, and it did not")


# ---------------------------------------------------------------- q3: box averaging in d dimensions

def q3_variance_only(outputs):
    # f = 0: the error is the variance of the box means, about sigma^2 * (number of boxes) / n
    errors = [finite_float(v, "the error") for v in outputs]
    expected = 900 / 90_000
    assert relative_error(np.mean(errors), expected) < 0.15, (
        f"with f = 0, sigma = 1, n = 90000 and 30 x 30 boxes the error should be about "
        f"sigma^2 * boxes / n = {expected:.3g}, got {np.mean(errors):.3g}: each box predicts the mean "
        f"of the labels inside it, and the error is measured against f, not against noisy labels")


def q3_bias_only(outputs):
    # sigma = 0 and plenty of data: the error is the squared bias, the variation of f inside a box
    error = finite_float(outputs[0], "the error")
    expected = within_box_variance(lambda t: np.cos(np.pi * t), 10)
    assert relative_error(error, expected) < 0.05, (
        f"with no noise, f(x) = cos(pi x) and 10 boxes the error should be the squared bias "
        f"{expected:.4g}, got {error:.4g}: cut [0, 1] into k boxes of side 1/k and predict each "
        f"box's mean label on test points drawn with rng.random((n_test, d))")


def q3_all_dimensions(outputs):
    # f = x1 + x2 + x3: a box of side h leaves a squared bias of 3 h^2 / 12 if all three axes are cut
    error = finite_float(outputs[0], "the error")
    expected = 3 * (1 / 4) ** 2 / 12
    assert relative_error(error, expected) < 0.05, (
        f"in d = 3 with k = 4 boxes per dimension and f = x1 + x2 + x3 the error should be "
        f"3 h^2 / 12 = {expected:.4g}, got {error:.4g}: number the k**d boxes using every coordinate")


def box_calls(*rows):
    return tuple({"f": f, "n": n, "d": d, "k": k, "sigma": sigma, "seed": seed} for f, n, d, k, sigma, seed in rows)


# ---------------------------------------------------------------- q4: saturating power law

X4 = np.logspace(1, 5, 12)
NOISY4 = data(np.logspace(2, 6, 16),
              (0.2 + 3.0 * np.logspace(2, 6, 16) ** -0.4) * np.exp(0.03 * rng(9).standard_normal(16)))
NOISY4_BEST_RSS = 0.01610292897866577  # the least squared log residuals of E + B x^-beta on NOISY4
X4_FLOORLESS = np.logspace(0, 4, 10)


def q4_exact_data(outputs):
    p = outputs[0]
    ok = abs(p["E"] - 0.5) < 1e-3 and relative_error(p["B"], 20.0) < 1e-3 and abs(p["beta"] - 0.6) < 1e-3
    assert ok, (f"on exact data y = 0.5 + 20 x^-0.6 the fit returned E = {p['E']:.4g}, B = {p['B']:.4g}, "
                f"beta = {p['beta']:.4g}: minimise the squared residuals of log y, starting from several "
                f"floors E")


def q4_log_space_best_fit(outputs):
    p, x, y = outputs[0], np.array(NOISY4["x"]), np.array(NOISY4["y"])
    assert 0 <= p["E"] <= y.min() * (1 + 1e-9), f"E = {p['E']:.4g} should lie between 0 and min(y) = {y.min():.4g}"
    assert log_rss(x, y, p) <= 1.01 * NOISY4_BEST_RSS, (
        f"on noisy data your fit leaves squared log residuals {log_rss(x, y, p):.4g}, the best fit "
        f"{NOISY4_BEST_RSS:.4g}: fit log y (not y), and try several starting values of E")


def q4_no_floor(outputs):
    p, y_min = outputs[0], 5.0 * X4_FLOORLESS.max() ** -0.4
    assert p["E"] < 0.01 * y_min and abs(p["beta"] - 0.4) < 0.01, (
        f"data with no floor, y = 5 x^-0.4, should give E = 0 and beta = 0.4, got E = {p['E']:.4g}, "
        f"beta = {p['beta']:.4g}: allow E = 0 (bounds 0 <= E <= min y)")


# ---------------------------------------------------------------- q5: bootstrap intervals

def noisy_power_data(seed, points=10):
    x = np.logspace(1, 5, points)
    return data(x, 2.0 * x ** -0.3 * np.exp(0.1 * rng(seed).standard_normal(points)))


BOOT5 = noisy_power_data(10)
BOOT5_REFERENCE = (0.2712371888170664, 0.3003845025295602)  # the percentile bootstrap's 95% interval of alpha
LEVELS5 = noisy_power_data(11)
LEVELS5_ESTIMATE = 0.3145786341737415  # alpha fitted to all of LEVELS5


def bootstrap_call(dataset, name="alpha", fit="power", **kwargs):
    return {"fit": fit, **dataset, "name": name, **kwargs}


def q5_matches_stored_value(outputs):
    low, high = interval(outputs[0])
    ref_low, ref_high = BOOT5_REFERENCE
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, (
        f"95% interval of alpha ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): "
        f"resample the (x, y) pairs with replacement, refit, and take the 2.5% and 97.5% quantiles")


def q5_levels_and_seed(outputs):
    wide, again, narrow = (interval(v) for v in outputs)
    assert wide == again, "the same seed gave two different intervals: use rng = np.random.default_rng(seed)"
    assert wide[0] < LEVELS5_ESTIMATE < wide[1], (
        f"the 95% interval {wide} should contain the estimate {LEVELS5_ESTIMATE:.4g}")
    assert wide[0] < narrow[0] < narrow[1] < wide[1], (
        f"the 50% interval {narrow} should lie strictly inside the 95% interval {wide}: the quantiles "
        f"are (1 - level)/2 and 1 - (1 - level)/2")


def q5_exact_data(outputs):
    low, high = interval(outputs[0])
    assert high - low < 1e-9 and abs(low - 0.3) < 1e-9, (
        f"on noise-free data every resample gives alpha = 0.3, so the interval should be (0.3, 0.3), "
        f"got ({low:.6g}, {high:.6g})")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("the error of the sample mean", "mse_of_sample_mean", call=call_mse, cases=(
        Case("close to sigma^2/n", mse_calls((10, 2.0, 20_000, 0)), q1_matches_theory),
        Case("falls as 1/n", mse_calls((4, 1.0, 20_000, 1), (64, 1.0, 20_000, 2)), q1_falls_as_one_over_n),
        Case("is a seeded simulation", mse_calls((8, 1.0, 2_000, 3), (8, 1.0, 2_000, 3), (8, 1.0, 2_000, 4)),
             q1_is_a_simulation),
    )),
    "q2": Question("fit a power law", "fit_power_law", call=call_fit(("A", "alpha")), cases=(
        Case("recovers an exact power law", (data(X2, 3.0 * X2 ** -0.5),), q2_exact_data),
        Case("is least squares in log space", (NOISY2,), q2_log_space_least_squares),
        Case("does not depend on the units of x",
             (UNITS2, {"x": [1000 * v for v in UNITS2["x"]], "y": UNITS2["y"]}), q2_units_of_x),
    )),
    "q3": Question("box averaging in d dimensions", "box_regression_error", call=call_box, cases=(
        Case("variance term sigma^2 m / n", box_calls(*(("zero", 90_000, 2, 30, 1.0, s) for s in range(4))),
             q3_variance_only),
        Case("bias term with no noise", box_calls(("cosine", 100_000, 1, 10, 0.0, 7)), q3_bias_only),
        Case("cuts every dimension", box_calls(("linear", 200_000, 3, 4, 0.0, 8)), q3_all_dimensions),
    )),
    "q4": Question("fit a saturating power law", "fit_saturating_power_law", call=call_fit(("E", "B", "beta")), cases=(
        Case("recovers E, B, beta from exact data", (data(X4, 0.5 + 20.0 * X4 ** -0.6),), q4_exact_data),
        Case("is the best fit in log space", (NOISY4,), q4_log_space_best_fit),
        Case("finds E = 0 when there is no floor", (data(X4_FLOORLESS, 5.0 * X4_FLOORLESS ** -0.4),), q4_no_floor),
    )),
    "q5": Question("bootstrap confidence interval", "bootstrap_ci", call=call_bootstrap, cases=(
        Case("agrees with the percentile bootstrap", (bootstrap_call(BOOT5, n_boot=400, level=0.95, seed=0),),
             q5_matches_stored_value),
        Case("is seeded and widens with the level",
             tuple(bootstrap_call(LEVELS5, n_boot=300, level=level, seed=1) for level in (0.95, 0.95, 0.5)),
             q5_levels_and_seed),
        Case("has zero width on exact data",
             (bootstrap_call(data(np.logspace(1, 5, 10), 2.0 * np.logspace(1, 5, 10) ** -0.3),
                             n_boot=100, level=0.95, seed=2),), q5_exact_data),
    )),
    "q6": Question("why language learns slowly (written)", "q6", cases=written_answer(
        min_words=40, must_mention=[("dimension",), ("extrapolation", "extrapolate", "extrapolating")])),
}

check = make_check(QUESTIONS)
