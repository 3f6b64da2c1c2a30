"""Hidden grading cases of Lab 1, and the instructor's answer implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import math

import numpy as np

from scalinglab import fit as answer_fit
from scalinglab import synthetic
from scalinglab.checks import Case, log_rss, relative_error, rng
from scalinglab.checks.lab01 import curves, data, difference_and_interval, effective, fitted, noisy_law, rate


# ---------------------------------------------------------------- answer implementations

def effective_data_answer(unique, epochs, r_star=15.4):
    unique, epochs = np.asarray(unique, dtype=float), np.asarray(epochs, dtype=float)
    return unique + unique * r_star * (1 - np.exp(-(epochs - 1) / r_star))


def fit_data_law_answer(D, L, stderr, n_boot=300, seed=0):
    fit = answer_fit.fit_saturating_power_law(D, L, yerr=stderr, n_boot=n_boot, seed=seed)
    return fit.params, fit.intervals


def slope_difference_answer(D, loss_a, loss_b, stderr_a, stderr_b, n_boot=1000, level=0.95, seed=0):
    D, loss_a, loss_b, stderr_a, stderr_b = (np.asarray(v, dtype=float) for v in (D, loss_a, loss_b, stderr_a, stderr_b))

    def fit_line(loss):
        slope, intercept = np.polyfit(np.log(D), np.log(loss), 1)
        return -slope, np.exp(intercept + slope * np.log(D))

    (alpha_a, line_a), (alpha_b, line_b) = fit_line(loss_a), fit_line(loss_b)
    generator, samples = np.random.default_rng(seed), []
    for _ in range(n_boot):
        draw_a = line_a * np.exp(generator.normal(0.0, stderr_a / loss_a))
        draw_b = line_b * np.exp(generator.normal(0.0, stderr_b / loss_b))
        samples.append(fit_line(draw_a)[0] - fit_line(draw_b)[0])
    return float(alpha_a - alpha_b), answer_fit.percentile_interval(samples, level)


# ---------------------------------------------------------------- q1: fit_data_law

D_TOKENS = np.logspace(8, 11, 6)
L_TOKENS = 1.69 + 410.0 * D_TOKENS ** -0.28
UNSORTED1 = noisy_law(101, points=9, E=0.8, B=12.0, beta=0.3, noise=0.02, start=3, stop=6)
ORDER1 = rng(102).permutation(9)
SEED1 = noisy_law(103, points=7, noise=0.03)
FOUR1 = noisy_law(104, points=4, E=0.6, B=30.0, beta=0.4, noise=0.01, start=5, stop=6.5)


def q1_token_units(outputs):
    p, _ = fitted(outputs[0])
    assert abs(p["E"] - 1.69) < 1e-3 and abs(p["beta"] - 0.28) < 1e-3, f"D in 1e8..1e11: got {p}"


def q1_unsorted(outputs):
    p, _ = fitted(outputs[0])
    D, L = UNSORTED1
    best = answer_fit.fit_saturating_power_law(D, L, n_boot=0).params
    assert log_rss(D, L, p) <= 1.01 * log_rss(D, L, best), f"shuffled runs: got {p}, best {best}"


def matches_noise_bootstrap(intervals, D, L, stderr, n_boot, seed, what):
    ref = answer_fit.fit_saturating_power_law(D, L, yerr=stderr, n_boot=n_boot, seed=seed).intervals
    for name in ("E", "beta"):
        (low, high), (ref_low, ref_high) = intervals[name], ref[name]
        w = max(ref_high - ref_low, 1e-12)
        assert abs(low - ref_low) <= 0.3 * w and abs(high - ref_high) <= 0.3 * w, (
            f"{what}: interval of {name} ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})")


def q1_other_seed(outputs):
    matches_noise_bootstrap(fitted(outputs[0])[1], *SEED1, 0.03 * SEED1[1], 200, 11, "seed 11")


def q1_four_runs(outputs):
    matches_noise_bootstrap(fitted(outputs[0])[1], *FOUR1, 0.01 * FOUR1[1], 200, 5, "four runs")


# ---------------------------------------------------------------- q2: slope_difference

D_UNSORTED = np.logspace(4, 7, 8)
UNSORTED2 = curves(D_UNSORTED, 2.0 * D_UNSORTED ** -0.1 * np.exp(0.04 * rng(104).standard_normal(8)),
                   2.5 * D_UNSORTED ** -0.07 * np.exp(0.04 * rng(105).standard_normal(8)), 0.04, 0.04)
ORDER2 = rng(106).permutation(8)
D_LIST = [1e3, 1e4, 1e5, 1e6, 1e7]
D_SEED = np.logspace(4, 6, 6)
SEED2 = curves(D_SEED, 3.0 * D_SEED ** -0.15 * np.exp(0.05 * rng(107).standard_normal(6)),
               3.0 * D_SEED ** -0.10 * np.exp(0.05 * rng(108).standard_normal(6)), 0.05, 0.02)
D_ONE_NOISY = np.logspace(3, 6, 4)
ONE_NOISY2 = curves(D_ONE_NOISY, 1.5 * D_ONE_NOISY ** -0.08, 1.7 * D_ONE_NOISY ** -0.05, 1e-9, 0.03)


def answer2(case, n_boot, seed):
    return slope_difference_answer(*(case[k] for k in ("D", "loss_a", "loss_b", "stderr_a", "stderr_b")),
                                   n_boot=n_boot, seed=seed)


def q2_unsorted_runs(outputs):
    difference, _ = difference_and_interval(outputs[0])
    ref_difference, _ = answer2(UNSORTED2, 50, 0)
    assert abs(difference - ref_difference) < 1e-9, f"shuffled runs: {difference:.6g}, expected {ref_difference:.6g}"


def q2_negative_difference(outputs):
    difference, (low, high) = difference_and_interval(outputs[0])
    assert abs(difference + 0.18) < 1e-9 and abs(low + 0.18) < 1e-6 and abs(high + 0.18) < 1e-6, \
        f"lists, alpha_a = 0.02 and alpha_b = 0.2: expected -0.18 with zero width, got {difference:.6g} ({low}, {high})"


def matches_answer2(output, case, n_boot, seed, what):
    _, (low, high) = difference_and_interval(output)
    _, (ref_low, ref_high) = answer2(case, n_boot, seed)
    w = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * w and abs(high - ref_high) < 0.25 * w, \
        f"{what}: ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g})"


def q2_other_seed(outputs):
    matches_answer2(outputs[0], SEED2, 400, 9, "6 runs, seed 9")


def q2_one_noisy_curve(outputs):
    matches_answer2(outputs[0], ONE_NOISY2, 400, 5, "only the second curve is noisy")


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
    assert relative_error(value, float(effective_data_answer(1e6, 1.5, 40.0))) < 1e-9, \
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
    "q1": [Case("D in tokens", ({**data(D=D_TOKENS, L=L_TOKENS, stderr=1e-9 * L_TOKENS), "n_boot": 5, "seed": 0},),
                q1_token_units),
           Case("unsorted runs", ({**data(D=UNSORTED1[0][ORDER1], L=UNSORTED1[1][ORDER1],
                                          stderr=0.02 * UNSORTED1[1][ORDER1]), "n_boot": 5, "seed": 0},), q1_unsorted),
           Case("another seed", ({**data(D=SEED1[0], L=SEED1[1], stderr=0.03 * SEED1[1]), "n_boot": 200, "seed": 11},),
                q1_other_seed),
           Case("four runs", ({**data(D=FOUR1[0], L=FOUR1[1], stderr=0.01 * FOUR1[1]), "n_boot": 200, "seed": 5},),
                q1_four_runs)],
    "q2": [Case("unsorted runs", ({**{k: np.asarray(v)[ORDER2].tolist() for k, v in UNSORTED2.items()},
                                   "n_boot": 50, "seed": 0},), q2_unsorted_runs),
           Case("lists, negative difference", ({"D": D_LIST, "loss_a": [5.0 * d ** -0.02 for d in D_LIST],
                                                "loss_b": [5.0 * d ** -0.2 for d in D_LIST],
                                                "stderr_a": [1e-9] * 5, "stderr_b": [1e-9] * 5,
                                                "n_boot": 50, "seed": 1, "lists": True},), q2_negative_difference),
           Case("another seed", ({**SEED2, "n_boot": 400, "seed": 9},), q2_other_seed),
           Case("one noisy curve", ({**ONE_NOISY2, "n_boot": 400, "seed": 5},), q2_one_noisy_curve, points=2)],
    "q3": [Case("one epoch", ({"unique": 7.7e5, "epochs": 1},), q3_one_epoch),
           Case("two epochs, large U", ({"unique": 5e9, "epochs": 2},), q3_two_epochs),
           Case("fractional epochs", ({"unique": 1e6, "epochs": 1.5, "r_star": 40.0},), q3_fractional_epochs),
           Case("a fixed budget", ({"unique": (1e6 / BUDGET_EPOCHS).tolist(), "epochs": BUDGET_EPOCHS.tolist()},),
                q3_below_fresh)],
    "q4": [Case("steep Zipf", (STEEP4,), q4_steep_zipf), Case("one key", (ONE_KEY4,), q4_one_key),
           Case("other parameters", (OTHER4,), q4_other_params)],
}
