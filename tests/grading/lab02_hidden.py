"""Hidden grading cases of Lab 2, and the instructor's answer implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import numpy as np
import torch.nn as nn

from scalinglab.checks import Case, relative_error, rng
from scalinglab.checks.lab01 import data
from scalinglab.checks.lab02 import basin_of, counts_match, factor_of, law, noisy_model_law, parallel
from scalinglab.fit import percentile_interval


# ---------------------------------------------------------------- answer implementations

def count_params_by_kind_answer(model):
    embedding = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    head = {id(p) for p in model.head.parameters()} if hasattr(model, "head") else set()
    counts = dict.fromkeys(("embedding", "output_head", "non_embedding"), 0)
    for p in model.parameters():  # each parameter once, shared or not
        kind = "embedding" if id(p) in embedding else "output_head" if id(p) in head else "non_embedding"
        counts[kind] += p.numel()
    return counts


def fit_model_law_answer(N, L, stderr, n_boot=1000, seed=0):
    N, L, stderr = (np.asarray(v, dtype=float) for v in (N, L, stderr))

    def fit(loss):
        slope, intercept = np.polyfit(np.log(N), np.log(loss), 1)
        return -slope, np.exp(intercept / -slope), np.exp(intercept + slope * np.log(N))

    alpha, N_c, line = fit(L)
    generator = np.random.default_rng(seed)
    draws = [fit(line * np.exp(generator.normal(0.0, stderr / L)))[:2] for _ in range(n_boot)]
    intervals = {name: percentile_interval([d[i] for d in draws]) for i, name in enumerate(("alpha", "N_c"))}
    return {"alpha": float(alpha), "N_c": float(N_c)}, intervals


def efficiency_factor_answer(C_a, L_a, stderr_a, C_b, L_b, stderr_b, n_boot=1000, seed=0):
    C_a, L_a, stderr_a, C_b, L_b, stderr_b = (np.asarray(v, dtype=float)
                                              for v in (C_a, L_a, stderr_a, C_b, L_b, stderr_b))
    x = np.log(np.concatenate([C_a, C_b]))
    X = np.column_stack([x, np.r_[np.ones(len(C_a)), np.zeros(len(C_b))], np.r_[np.zeros(len(C_a)), np.ones(len(C_b))]])

    def fit(loss_a, loss_b):
        (slope, c_a, c_b), *_ = np.linalg.lstsq(X, np.log(np.concatenate([loss_a, loss_b])), rcond=None)
        return -slope, c_a, c_b

    a, c_a, c_b = fit(L_a, L_b)
    line_a, line_b = np.exp(c_a - a * np.log(C_a)), np.exp(c_b - a * np.log(C_b))
    generator, samples = np.random.default_rng(seed), []
    for _ in range(n_boot):
        draw_a = line_a * np.exp(generator.normal(0.0, stderr_a / L_a))
        draw_b = line_b * np.exp(generator.normal(0.0, stderr_b / L_b))
        a_i, c_a_i, c_b_i = fit(draw_a, draw_b)
        samples.append(np.exp((c_b_i - c_a_i) / a_i))
    return float(np.exp((c_b - c_a) / a)), percentile_interval(samples), float(a)


def aspect_basin_answer(aspect, loss, tolerance=0.01):
    aspect, loss = np.asarray(aspect, dtype=float), np.asarray(loss, dtype=float)
    inside = aspect[loss <= (1 + tolerance) * loss.min()]
    return float(inside.min()), float(inside.max())


# ---------------------------------------------------------------- q1

GPT_OTHER = {"family": "gpt", "n_layer": 3, "d_model": 96, "n_head": 4, "context": 64, "vocab_size": 1000}
LSTM_OTHER = {"family": "lstm", "n_layer": 3, "d_model": 40, "vocab_size": 100}
NESTED = {"family": "nested", "vocab_size": 300, "d_model": 24, "context": 32}
TIED_BIAS = {"family": "tied", "vocab_size": 128, "d_model": 16, "d_hidden": 40, "head_bias": True}

# ---------------------------------------------------------------- q2

N_UNSORTED, L_UNSORTED = noisy_model_law(201, points=8, alpha=0.12, N_c=3e9, noise=0.01, start=3, stop=6)
ORDER2 = rng(202).permutation(8)
N_BIG, L_BIG = noisy_model_law(203, points=6, alpha=0.076, N_c=8.8e13, noise=0.004, start=8, stop=11)
N_THREE, L_THREE = noisy_model_law(204, points=3, alpha=0.1, N_c=1e8, noise=0.01, start=4, stop=5.5)


def matches_answer2(output, case, what):
    p, intervals = law(output)
    ref, ref_intervals = fit_model_law_answer(case["N"], case["L"], case["stderr"], case["n_boot"], case["seed"])
    assert abs(p["alpha"] - ref["alpha"]) < 1e-6 and relative_error(p["N_c"], ref["N_c"]) < 1e-4, (
        f"{what}: expected alpha = {ref['alpha']:.5g}, N_c = {ref['N_c']:.5g}, got {p['alpha']:.5g}, {p['N_c']:.5g}")
    (low, high), (ref_low, ref_high) = intervals["alpha"], ref_intervals["alpha"]
    w = ref_high - ref_low
    assert abs(low - ref_low) < 0.3 * w and abs(high - ref_high) < 0.3 * w, (
        f"{what}: the interval of alpha ({low:.4g}, {high:.4g}) should be about ({ref_low:.4g}, {ref_high:.4g})")


def case2(name, N, L, noise, n_boot, seed, points=1, **extra):
    case = {**data(N=N, L=L, stderr=noise * np.asarray(L)), "n_boot": n_boot, "seed": seed}
    return Case(name, ({**case, **extra},), lambda outputs: matches_answer2(outputs[0], case, name), points=points)


# ---------------------------------------------------------------- q3

DIFFERENT3 = parallel(np.logspace(10, 12, 5), np.logspace(11, 12.5, 3), 3.0, 2.7, 0.04, 0.005, 0.003, seed=301)
ORDER3 = rng(302).permutation(5)
UNSORTED3 = {**DIFFERENT3, **{k: np.asarray(DIFFERENT3[k])[ORDER3].tolist() for k in ("C_a", "L_a", "stderr_a")}}
SEED3 = parallel(np.logspace(9, 11, 4), np.logspace(9, 11, 4), 6.0, 6.6, 0.07, 0.01, 0.01, seed=303)


def matches_answer3(output, case, what):
    factor, (low, high), exponent = factor_of(output)
    args = [case[k] for k in ("C_a", "L_a", "stderr_a", "C_b", "L_b", "stderr_b")]
    ref, (ref_low, ref_high), ref_exponent = efficiency_factor_answer(*args, n_boot=case["n_boot"], seed=case["seed"])
    assert relative_error(factor, ref) < 1e-6 and abs(exponent - ref_exponent) < 1e-6, (
        f"{what}: expected factor {ref:.5g} and exponent {ref_exponent:.5g}, got {factor:.5g} and {exponent:.5g}")
    w = np.log(ref_high / ref_low)
    assert abs(np.log(low / ref_low)) < 0.3 * w and abs(np.log(high / ref_high)) < 0.3 * w, (
        f"{what}: the interval ({low:.4g}, {high:.4g}) should be about ({ref_low:.4g}, {ref_high:.4g})")


def case3(name, curves, n_boot, seed, points=1, **extra):
    case = {**curves, "n_boot": n_boot, "seed": seed}
    return Case(name, ({**case, **extra},), lambda outputs: matches_answer3(outputs[0], case, name), points=points)


# ---------------------------------------------------------------- q4

SHAPES4 = {"aspect": [2.0, 128.0, 32.0, 8.0, 16.0, 64.0, 4.0], "loss": [3.10, 3.30, 3.00, 3.04, 2.99, 3.05, 3.02]}


def basin_is(expected, what):
    def verdict(outputs):
        assert basin_of(outputs[0]) == expected, f"{what}: expected {expected}, got {basin_of(outputs[0])}"
    return verdict


HIDDEN = {
    "q1": [Case("another GPT shape", ({"model": GPT_OTHER},), counts_match(GPT_OTHER, "count by module kind")),
           Case("a three-layer LSTM", ({"model": LSTM_OTHER},), counts_match(LSTM_OTHER, "count by module kind")),
           Case("nested embeddings and a biased head", ({"model": NESTED},), counts_match(NESTED, "walk every module")),
           Case("a tied head with a bias", ({"model": TIED_BIAS},), counts_match(TIED_BIAS, "count each parameter "
                                                                                         "once"))],
    "q2": [case2("unsorted runs", N_UNSORTED[ORDER2], L_UNSORTED[ORDER2], 0.01, 300, 7),
           case2("lists", N_UNSORTED.tolist(), L_UNSORTED.tolist(), 0.01, 300, 8, lists=True),
           case2("N in the billions", N_BIG, L_BIG, 0.004, 300, 9),
           case2("three runs", N_THREE, L_THREE, 0.01, 400, 10)],
    "q3": [case3("curves of different lengths", DIFFERENT3, 400, 5),
           case3("unsorted runs", UNSORTED3, 400, 5),
           case3("lists, another seed", SEED3, 400, 11, lists=True)],
    "q4": [Case("unsorted runs", (SHAPES4,), basin_is((16.0, 32.0), "1% of 2.99 admits losses up to 3.0199")),
           Case("lists", ({**SHAPES4, "lists": True},), basin_is((16.0, 32.0), "lists in, the same basin")),
           Case("zero tolerance", ({**SHAPES4, "tolerance": 0.0},), basin_is((16.0, 16.0), "only the best run"))],
}
