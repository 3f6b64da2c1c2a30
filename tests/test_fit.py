import numpy as np
import pytest

from scalinglab.errors import ConfigError
from scalinglab.fit import fit_law, fit_power_law, fit_saturating_power_law

X = np.logspace(6, 9, 8)


def test_power_law_recovers_exact_parameters():
    fit = fit_power_law(X, 3e3 * X ** -0.3, n_boot=0)
    assert fit.params["A"] == pytest.approx(3e3, rel=1e-9) and fit.params["alpha"] == pytest.approx(0.3, rel=1e-9)
    assert fit.rms_log_residual < 1e-9
    assert fit.predict(1e10) == pytest.approx(3e3 * 1e10 ** -0.3)


def test_saturating_law_recovers_exact_parameters():
    y = 1.7 + 400 * X ** -0.35
    fit = fit_saturating_power_law(X, y, n_boot=0)
    assert fit.params["E"] == pytest.approx(1.7, rel=1e-4)
    assert fit.params["B"] == pytest.approx(400, rel=1e-3) and fit.params["beta"] == pytest.approx(0.35, rel=1e-4)


def test_units_of_x_change_B_but_not_beta_or_E():
    # Fitting D in billions is fine as long as predictions use billions too: B absorbs the unit.
    y = 1.7 + 400 * X ** -0.35
    tokens, billions = fit_saturating_power_law(X, y, n_boot=0), fit_saturating_power_law(X / 1e9, y, n_boot=0)
    assert billions.params["beta"] == pytest.approx(tokens.params["beta"], rel=1e-4)
    assert billions.params["E"] == pytest.approx(tokens.params["E"], rel=1e-4)
    assert billions.params["B"] == pytest.approx(tokens.params["B"] * 1e9 ** -0.35, rel=1e-3)
    assert billions.predict(2.0) == pytest.approx(tokens.predict(2e9), rel=1e-6)


def test_bootstrap_intervals_cover_the_truth_on_noisy_data():
    rng = np.random.default_rng(1)
    x = np.repeat(X, 3)
    y = (1.7 + 400 * x ** -0.35) * np.exp(rng.normal(0, 0.01, len(x)))
    fit = fit_saturating_power_law(x, y, n_boot=200)
    (e_lo, e_hi), (b_lo, b_hi) = fit.intervals["E"], fit.intervals["beta"]
    assert e_lo < 1.7 < e_hi and b_lo < 0.35 < b_hi
    assert e_hi - e_lo < 0.5  # and they are informative
    power = fit_power_law(x, 3e3 * x ** -0.3 * np.exp(rng.normal(0, 0.02, len(x))), n_boot=500)
    lo, hi = power.intervals["alpha"]
    assert lo < 0.3 < hi and hi - lo < 0.05
    assert "bootstrap" in str(power) and "x^(−" in power.equation()


def test_pure_power_law_on_saturating_data_is_biased_flat():
    # Ignoring E makes the fitted exponent too small: the curve flattens towards E, not towards 0.
    y = 1.7 + 400 * X ** -0.35
    assert fit_power_law(X, y, n_boot=0).params["alpha"] < 0.5 * 0.35


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    y = 3e3 * X ** -0.3 * np.exp(rng.normal(0, 0.02, len(X)))
    assert fit_power_law(X, y, seed=5).intervals == fit_power_law(X, y, seed=5).intervals
    assert fit_power_law(X, y, seed=5).intervals != fit_power_law(X, y, seed=6).intervals  # the seed is used
    assert fit_power_law(X, y, seed=5, yerr=0.02 * y).intervals != fit_power_law(X, y, seed=6, yerr=0.02 * y).intervals


def test_noise_bootstrap_covers_the_truth_with_four_points():
    # four runs, each with a measured standard error: the case bootstrap degenerates, the noise bootstrap
    # covers the true exponent about as often as it claims
    x, rng, covered = np.logspace(5, 6.5, 4), np.random.default_rng(3), 0
    for _ in range(300):
        truth = 2.0 * x ** -0.15
        yerr = 0.01 * truth
        y = truth + rng.normal(0, yerr)
        low, high = fit_power_law(x, y, n_boot=200, level=0.9, seed=int(rng.integers(1 << 30)), yerr=yerr).intervals["alpha"]
        covered += low <= 0.15 <= high
    assert 0.84 <= covered / 300 <= 0.96, covered / 300


def test_case_bootstrap_that_never_determines_the_law_says_so():
    seed = next(s for s in range(100) if len(np.unique(np.random.default_rng(s).integers(0, 3, 3))) < 3)
    with pytest.raises(ConfigError, match="no bootstrap resample"):
        fit_saturating_power_law([1.0, 2.0, 3.0], [3.0, 2.0, 1.5], n_boot=1, seed=seed)


@pytest.mark.parametrize("kwargs, message", [({"n_boot": 2.5}, "n_boot"), ({"n_boot": -1}, "n_boot"),
                                             ({"level": 95}, "level"), ({"yerr": [0.1, 0.1, -1.0] * 3}, "yerr")])
def test_bad_bootstrap_settings(kwargs, message):
    x = np.logspace(1, 3, 9)
    with pytest.raises(ConfigError, match=message):
        fit_power_law(x, 2.0 * x ** -0.5, **kwargs)


@pytest.mark.parametrize("x, y, message", [
    ([1, 2, 3], [1, 2], "same length"),
    ([1, 2, np.nan], [1, 2, 3], "finite"),
    ([1, -2, 3], [1, 2, 3], "positive"),
    ([1, 2, 3], [1, 0, 3], "positive"),
    ([1, 1, 1], [1, 2, 3], "at least 2 distinct"),
])
def test_bad_inputs(x, y, message):
    with pytest.raises(ConfigError, match=message):
        fit_power_law(x, y)


def test_saturating_needs_three_points_and_known_laws():
    with pytest.raises(ConfigError, match="at least 3 distinct"):
        fit_saturating_power_law([1, 2], [3, 2])
    with pytest.raises(ConfigError, match="unknown law"):
        fit_law("exponential", [1, 2], [2, 1])
