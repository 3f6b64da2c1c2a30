"""Hidden grading cases of Lab 1: other data, units, orderings, edge cases. Students never see these."""
import math

import numpy as np

from scalinglab import fit as reference
from scalinglab import synthetic
from scalinglab.checks import Case
from scalinglab.checks.lab01 import (difference_and_interval, effective, effective_data_reference, fitted, log_rss,
                                     noisy_law, rate, relative_error, rng, slope_difference_reference)


# ---------------------------------------------------------------- q1: fit_data_law

def q1_token_units(fit_data_law):
    D = np.logspace(8, 11, 6)  # tokens, as in published data laws
    params, _ = fitted(fit_data_law, D, 1.69 + 410.0 * D ** -0.28, n_boot=5, seed=0)
    assert abs(params["E"] - 1.69) < 1e-3 and abs(params["beta"] - 0.28) < 1e-3, f"D in 1e8..1e11: got {params}"


def q1_unsorted(fit_data_law):
    D, L = noisy_law(101, points=9, E=0.8, B=12.0, beta=0.3, noise=0.02, start=3, stop=6)
    order = rng(102).permutation(9)
    params, _ = fitted(fit_data_law, D[order], L[order], n_boot=5, seed=0)
    best = reference.fit_saturating_power_law(D, L, n_boot=0).params
    assert log_rss(D, L, params) <= 1.01 * log_rss(D, L, best), f"shuffled runs: got {params}, best {best}"


def q1_other_seed(fit_data_law):
    D, L = noisy_law(103, points=7, noise=0.03)
    _, intervals = fitted(fit_data_law, D, L, n_boot=25, seed=11)
    ref = reference.fit_saturating_power_law(D, L, n_boot=25, seed=11).intervals
    for name in ("E", "beta"):
        (low, high), (ref_low, ref_high) = intervals[name], ref[name]
        width = max(ref_high - ref_low, 1e-12)
        assert abs(low - ref_low) <= 0.3 * width and abs(high - ref_high) <= 0.3 * width, (
            f"seed 11: interval of {name} ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})")


# ---------------------------------------------------------------- q2: slope_difference

def q2_unsorted_runs(slope_difference):
    D = np.logspace(4, 7, 8)
    loss_a = 2.0 * D ** -0.1 * np.exp(0.04 * rng(104).standard_normal(8))
    loss_b = 2.5 * D ** -0.07 * np.exp(0.04 * rng(105).standard_normal(8))
    order = rng(106).permutation(8)
    difference, _ = difference_and_interval(slope_difference, D[order], loss_a[order], loss_b[order],
                                            n_boot=50, seed=0)
    ref_difference, _ = slope_difference_reference(D, loss_a, loss_b, n_boot=50, seed=0)
    assert abs(difference - ref_difference) < 1e-9, f"shuffled runs: {difference:.6g}, expected {ref_difference:.6g}"


def q2_negative_difference(slope_difference):
    D = [1e3, 1e4, 1e5, 1e6, 1e7]
    difference, (low, high) = difference_and_interval(
        slope_difference, D, [5.0 * d ** -0.02 for d in D], [5.0 * d ** -0.2 for d in D], n_boot=50, seed=1)
    assert abs(difference + 0.18) < 1e-9 and abs(low + 0.18) < 1e-9 and abs(high + 0.18) < 1e-9, \
        f"lists, alpha_a = 0.02 and alpha_b = 0.2: expected -0.18 with zero width, got {difference:.6g} ({low}, {high})"


def q2_other_seed(slope_difference):
    D = np.logspace(4, 6, 6)
    loss_a = 3.0 * D ** -0.15 * np.exp(0.05 * rng(107).standard_normal(6))
    loss_b = 3.0 * D ** -0.10 * np.exp(0.05 * rng(108).standard_normal(6))
    _, (low, high) = difference_and_interval(slope_difference, D, loss_a, loss_b, n_boot=400, seed=9)
    _, (ref_low, ref_high) = slope_difference_reference(D, loss_a, loss_b, n_boot=400, seed=9)
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, \
        f"6 runs, seed 9: ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})"


# ---------------------------------------------------------------- q3: effective_data

def q3_two_epochs(effective_data):
    value = effective(effective_data, 5e9, 2)
    target = 5e9 * (1 + 15.4 * (1 - math.exp(-1 / 15.4)))
    assert relative_error(value, target) < 1e-9, f"U = 5e9, 2 epochs: expected {target:.6g}, got {value:.6g}"


def q3_fractional_epochs(effective_data):
    value = effective(effective_data, 1e6, 1.5, r_star=40.0)
    assert relative_error(value, float(effective_data_reference(1e6, 1.5, 40.0))) < 1e-9, \
        f"1.5 epochs, r_star = 40: got {value:.6g}"


def q3_below_fresh(effective_data):
    epochs = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 64.0])
    budget = 1e6
    value = np.asarray(effective_data(budget / epochs, epochs), dtype=float)
    assert np.all(value <= budget * (1 + 1e-12)) and np.all(np.diff(value) < 0), \
        f"a fixed budget split into more epochs is worth less: got {value}"


# ---------------------------------------------------------------- q4: synthetic_entropy_rate

def q4_steep_zipf(synthetic_entropy_rate):
    p = synthetic.Params(n_keys=10, zipf=3.0, key_len=2, value_len=1, noise_len=4)
    value, target = rate(synthetic_entropy_rate, p), synthetic.entropy_rate(p)
    assert relative_error(value, target) < 1e-9, f"{p}: expected {target:.6f}, got {value:.6f}"


def q4_one_key(synthetic_entropy_rate):
    p = synthetic.Params(n_keys=1, zipf=1.5, key_len=2, value_len=3, noise_len=2)
    value = rate(synthetic_entropy_rate, p)
    target = 2 * math.log(10) / p.record_len
    assert relative_error(value, target) < 1e-9, f"one key: only the digits are random, expected {target:.6f}, got {value:.6f}"


HIDDEN = {
    "q1": [Case("D in tokens", q1_token_units), Case("unsorted runs", q1_unsorted), Case("another seed", q1_other_seed)],
    "q2": [Case("unsorted runs", q2_unsorted_runs), Case("lists, negative difference", q2_negative_difference),
           Case("another seed", q2_other_seed)],
    "q3": [Case("two epochs, large U", q3_two_epochs), Case("fractional epochs", q3_fractional_epochs),
           Case("a fixed budget", q3_below_fresh)],
    "q4": [Case("steep Zipf", q4_steep_zipf), Case("one key", q4_one_key)],
}
