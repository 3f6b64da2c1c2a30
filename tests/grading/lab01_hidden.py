"""Hidden grading cases of Lab 1, and the instructor's reference implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import math

import numpy as np

from scalinglab import fit as reference
from scalinglab import synthetic
from scalinglab.checks import Case, log_rss, relative_error, rng
from scalinglab.checks.lab01 import data, difference_and_interval, effective, fitted, noisy_law, q2_paired, rate


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


# ---------------------------------------------------------------- q1: fit_data_law

D_TOKENS = np.logspace(8, 11, 6)
UNSORTED1 = noisy_law(101, points=9, E=0.8, B=12.0, beta=0.3, noise=0.02, start=3, stop=6)
ORDER1 = rng(102).permutation(9)
SEED1 = noisy_law(103, points=7, noise=0.03)


def q1_token_units(outputs):
    p, _ = fitted(outputs[0])
    assert abs(p["E"] - 1.69) < 1e-3 and abs(p["beta"] - 0.28) < 1e-3, f"D in 1e8..1e11: got {p}"


def q1_unsorted(outputs):
    p, _ = fitted(outputs[0])
    D, L = UNSORTED1
    best = reference.fit_saturating_power_law(D, L, n_boot=0).params
    assert log_rss(D, L, p) <= 1.01 * log_rss(D, L, best), f"shuffled runs: got {p}, best {best}"


def q1_other_seed(outputs):
    _, intervals = fitted(outputs[0])
    ref = reference.fit_saturating_power_law(*SEED1, n_boot=25, seed=11).intervals
    for name in ("E", "beta"):
        (low, high), (ref_low, ref_high) = intervals[name], ref[name]
        width = max(ref_high - ref_low, 1e-12)
        assert abs(low - ref_low) <= 0.3 * width and abs(high - ref_high) <= 0.3 * width, (
            f"seed 11: interval of {name} ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})")


# ---------------------------------------------------------------- q2: slope_difference

D_UNSORTED = np.logspace(4, 7, 8)
LOSS_A_UNSORTED = 2.0 * D_UNSORTED ** -0.1 * np.exp(0.04 * rng(104).standard_normal(8))
LOSS_B_UNSORTED = 2.5 * D_UNSORTED ** -0.07 * np.exp(0.04 * rng(105).standard_normal(8))
ORDER2 = rng(106).permutation(8)
D_LIST = [1e3, 1e4, 1e5, 1e6, 1e7]
D_SEED = np.logspace(4, 6, 6)
LOSS_A_SEED = 3.0 * D_SEED ** -0.15 * np.exp(0.05 * rng(107).standard_normal(6))
LOSS_B_SEED = 3.0 * D_SEED ** -0.10 * np.exp(0.05 * rng(108).standard_normal(6))
D_PAIRED = np.logspace(3, 6, 7)
LOSS_PAIRED = 1.5 * D_PAIRED ** -0.08 * np.exp(0.05 * rng(109).standard_normal(7))


def q2_unsorted_runs(outputs):
    difference, _ = difference_and_interval(outputs[0])
    ref_difference, _ = slope_difference_reference(D_UNSORTED, LOSS_A_UNSORTED, LOSS_B_UNSORTED, n_boot=50, seed=0)
    assert abs(difference - ref_difference) < 1e-9, f"shuffled runs: {difference:.6g}, expected {ref_difference:.6g}"


def q2_negative_difference(outputs):
    difference, (low, high) = difference_and_interval(outputs[0])
    assert abs(difference + 0.18) < 1e-9 and abs(low + 0.18) < 1e-9 and abs(high + 0.18) < 1e-9, \
        f"lists, alpha_a = 0.02 and alpha_b = 0.2: expected -0.18 with zero width, got {difference:.6g} ({low}, {high})"


def q2_other_seed(outputs):
    _, (low, high) = difference_and_interval(outputs[0])
    _, (ref_low, ref_high) = slope_difference_reference(D_SEED, LOSS_A_SEED, LOSS_B_SEED, n_boot=400, seed=9)
    width = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * width and abs(high - ref_high) < 0.25 * width, \
        f"6 runs, seed 9: ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})"


# ---------------------------------------------------------------- q3: effective_data

BUDGET_EPOCHS = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 64.0])


def q3_one_epoch(outputs):
    value = effective(outputs[0])
    assert relative_error(value, 7.7e5) < 1e-9, f"one epoch of U = 7.7e5: D' should be U, got {value:.6g}"


def q3_two_epochs(outputs):
    value, target = effective(outputs[0]), 5e9 * (1 + 15.4 * (1 - math.exp(-1 / 15.4)))
    assert relative_error(value, target) < 1e-9, f"U = 5e9, 2 epochs: expected {target:.6g}, got {value:.6g}"


def q3_fractional_epochs(outputs):
    value = effective(outputs[0])
    assert relative_error(value, float(effective_data_reference(1e6, 1.5, 40.0))) < 1e-9, \
        f"1.5 epochs, r_star = 40: got {value:.6g}"


def q3_below_fresh(outputs):
    value = np.asarray(outputs[0], dtype=float)
    assert value.shape == BUDGET_EPOCHS.shape and np.all(value <= 1e6 * (1 + 1e-12)) and np.all(np.diff(value) < 0), \
        f"a fixed budget split into more epochs is worth less: got {value}"


# ---------------------------------------------------------------- q4: synthetic_entropy_rate

STEEP4 = {"n_keys": 10, "zipf": 3.0, "key_len": 2, "value_len": 1, "noise_len": 4}
ONE_KEY4 = {"n_keys": 1, "zipf": 1.5, "key_len": 2, "value_len": 3, "noise_len": 2}
OTHER4 = {"n_keys": 20_000, "zipf": 1.3, "key_len": 4, "value_len": 5, "noise_len": 1}


def q4_other_params(outputs):
    value, target = rate(outputs[0]), synthetic.entropy_rate(synthetic.Params(**OTHER4))
    assert relative_error(value, target) < 1e-9, f"{OTHER4}: expected {target:.6f}, got {value:.6f}"


def q4_steep_zipf(outputs):
    value, target = rate(outputs[0]), synthetic.entropy_rate(synthetic.Params(**STEEP4))
    assert relative_error(value, target) < 1e-9, f"steep Zipf: expected {target:.6f}, got {value:.6f}"


def q4_one_key(outputs):
    value, target = rate(outputs[0]), 2 * math.log(10) / synthetic.Params(**ONE_KEY4).record_len
    assert relative_error(value, target) < 1e-9, f"one key: only the digits are random, expected {target:.6f}, got {value:.6f}"


HIDDEN = {
    "q1": [Case("D in tokens", ({**data(D=D_TOKENS, L=1.69 + 410.0 * D_TOKENS ** -0.28), "n_boot": 5, "seed": 0},),
                q1_token_units),
           Case("unsorted runs", ({**data(D=UNSORTED1[0][ORDER1], L=UNSORTED1[1][ORDER1]), "n_boot": 5, "seed": 0},),
                q1_unsorted),
           Case("another seed", ({**data(D=SEED1[0], L=SEED1[1]), "n_boot": 25, "seed": 11},), q1_other_seed)],
    "q2": [Case("unsorted runs", ({**data(D=D_UNSORTED[ORDER2], loss_a=LOSS_A_UNSORTED[ORDER2],
                                          loss_b=LOSS_B_UNSORTED[ORDER2]), "n_boot": 50, "seed": 0},),
                q2_unsorted_runs),
           Case("lists, negative difference", ({"D": D_LIST, "loss_a": [5.0 * d ** -0.02 for d in D_LIST],
                                                "loss_b": [5.0 * d ** -0.2 for d in D_LIST], "n_boot": 50, "seed": 1,
                                                "lists": True},), q2_negative_difference),
           Case("another seed", ({**data(D=D_SEED, loss_a=LOSS_A_SEED, loss_b=LOSS_B_SEED), "n_boot": 400,
                                  "seed": 9},), q2_other_seed),
           Case("resamples runs in pairs", ({**data(D=D_PAIRED, loss_a=LOSS_PAIRED, loss_b=0.7 * LOSS_PAIRED),
                                             "n_boot": 200, "seed": 5},), q2_paired, points=2)],
    "q3": [Case("one epoch", ({"unique": 7.7e5, "epochs": 1},), q3_one_epoch),
           Case("two epochs, large U", ({"unique": 5e9, "epochs": 2},), q3_two_epochs),
           Case("fractional epochs", ({"unique": 1e6, "epochs": 1.5, "r_star": 40.0},), q3_fractional_epochs),
           Case("a fixed budget", ({"unique": (1e6 / BUDGET_EPOCHS).tolist(), "epochs": BUDGET_EPOCHS.tolist()},),
                q3_below_fresh)],
    "q4": [Case("steep Zipf", (STEEP4,), q4_steep_zipf), Case("one key", (ONE_KEY4,), q4_one_key),
           Case("other parameters", (OTHER4,), q4_other_params)],
}
