"""Self-checks of Lab 5, muP.

Each case calls the student's function on small inputs and compares the result with a known truth,
a property, or a value stored here that the instructor's answer implementation computed
(tests/grading/test_cases.py recomputes every stored value). Hidden cases for grading:
tests/grading/lab05_hidden.py.
"""
import math

import numpy as np

from scalinglab.checks import Case, Question, finite_float, make_check, relative_error, rng, written_answer

LAYERS = ("embedding", "attention", "mlp", "logits")  # scalinglab.coord.LAYERS (tested), without importing torch


def close(got, want, tol=1e-6):
    return got is None if want is None else got is not None and relative_error(got, want) < tol


def number_or_none(value, what):
    return None if value is None else finite_float(value, what)


# ---------------------------------------------------------------- q1: muP's factors relative to SP at the base width

FACTORS = ("hidden_init_std", "hidden_lr", "output_mult", "embedding_init_std", "embedding_lr")
HINTS1 = {"hidden_init_std": "hidden and residual init variance goes as 1 / fan_in: the std as 1 / sqrt(m)",
          "hidden_lr": "Adam moves every entry by about lr: a hidden matrix's lr goes as 1 / m",
          "output_mult": "the logits are multiplied by 1 / m",
          "embedding_init_std": "the embedding's fan-in (one-hot bytes) does not grow with width: as in SP",
          "embedding_lr": "the embedding's fan-in does not grow with width: as in SP"}


def call_factors(fn, m, lists=False):
    result = fn(m if lists else np.float64(m))
    assert isinstance(result, dict), f"return a dict with the keys {', '.join(FACTORS)}"
    return {k: result[k] for k in FACTORS if k in result}


def factors_of(output):
    missing = [k for k in FACTORS if k not in output]
    assert not missing, f"return a dict with the keys {', '.join(FACTORS)} (missing {', '.join(missing)})"
    return {k: finite_float(output[k], k) for k in FACTORS}


def factors_are(want, what):
    def verdict(outputs):
        got = factors_of(outputs[0])
        for k in FACTORS:
            assert relative_error(got[k], want[k]) < 1e-9, f"{what}: {k} should be {want[k]:.6g}, got {got[k]:.6g}: {HINTS1[k]}"
    return verdict


BASE1 = dict.fromkeys(FACTORS, 1.0)
WIDER1 = {"hidden_init_std": 0.5, "hidden_lr": 0.25, "output_mult": 0.25, "embedding_init_std": 1.0, "embedding_lr": 1.0}
NARROWER1 = {"hidden_init_std": math.sqrt(2), "hidden_lr": 2.0, "output_mult": 2.0, "embedding_init_std": 1.0,
             "embedding_lr": 1.0}


# ---------------------------------------------------------------- q2: the coordinate check's slopes

def call_slopes(fn, widths, checks, step=None, lists=False):
    args = (widths if lists else np.array(widths, dtype=float), checks)
    result = fn(*args) if step is None else fn(*args, step=step)
    assert isinstance(result, dict), f"return a dict with one slope per layer: {', '.join(LAYERS)}"
    return {k: result[k] for k in LAYERS if k in result}


def slopes_of(output):
    missing = [k for k in LAYERS if k not in output]
    assert not missing, f"return a dict with one slope per layer (missing {', '.join(missing)})"
    return {k: finite_float(output[k], f"the slope of {k}") for k in LAYERS}


def coord_data(widths, exponents, steps, noise=0.0, seed=0):
    """Coordinate checks at each width: flat at step 0, then |activation| = c w^k at every later step."""
    noisy = rng(seed)
    checks = []
    for w in widths:
        check = {}
        for i, layer in enumerate(LAYERS):
            values = [0.5 + 0.1 * i] + [(0.5 + 0.1 * i) * (1 + s) * (w / 32) ** exponents[layer] for s in range(1, steps)]
            check[layer] = [float(v * math.exp(noise * noisy.standard_normal())) if noise else float(v) for v in values]
        checks.append(check)
    return {"widths": [float(w) for w in widths], "checks": checks}


EXPONENTS2 = {"embedding": 0.0, "attention": 1.0, "mlp": 0.5, "logits": -0.25}
POWER2 = coord_data([32, 64, 128, 256], EXPONENTS2, steps=4)
NOISY2 = {**coord_data([16, 32, 64, 128, 256], EXPONENTS2, steps=3, noise=0.1, seed=51), "step": 1}
NOISY2_RESULT = {"embedding": 0.021748552151914034, "attention": 1.052476838735034, "mlp": 0.48226099742839684,
                 "logits": -0.2808256547615006}


def slopes_are(want, what, hint):
    def verdict(outputs):
        got = slopes_of(outputs[0])
        for k in LAYERS:
            assert abs(got[k] - want[k]) < 1e-6, f"{what}: the slope of {k} should be {want[k]:.6g}, got {got[k]:.6g}: {hint}"
    return verdict


# ---------------------------------------------------------------- q3: the best learning rate at each width

def as_losses(losses, lists):
    return losses if lists else np.array(losses, dtype=float)  # None -> nan in an array


def call_optima(fn, lrs, losses, lists=False):
    result = fn(lrs if lists else np.array(lrs, dtype=float), as_losses(losses, lists))
    assert isinstance(result, (list, tuple, np.ndarray)), "return a list: one learning rate (or None) per width"
    return [None if v is None or math.isnan(float(v)) else float(v) for v in result]


def optima_of(output, length):
    assert isinstance(output, list) and len(output) == length, f"return one learning rate (or None) per width: {length}"
    return [number_or_none(v, "a learning rate") for v in output]


ONE3 = {"lrs": [1e-3, 2e-3, 4e-3, 8e-3], "losses": [[[2.5, 2.3, 2.2, 2.4]], [[2.4, 2.2, 2.25, 2.6]]]}
# seed by seed the best rate is 4e-3, 2e-3 and 8e-3; on average it is 4e-3
SEEDS3 = {"lrs": [1e-3, 2e-3, 4e-3, 8e-3], "losses": [[[2.50, 2.30, 2.20, 2.40], [2.50, 2.10, 2.25, 2.30],
                                                        [2.50, 2.40, 2.30, 2.20]]]}
# width 1: 8e-3 is best on average but diverged at one seed; width 2: every rate diverged at some seed
DIVERGED3 = {"lrs": [8e-3, 1e-3, 4e-3, 2e-3], "lists": True,
             "losses": [[[1.9, 2.5, 2.2, 2.3], [None, 2.5, 2.25, 2.3]],
                        [[None, 2.4, 2.1, 2.2], [2.0, None, None, None]]]}


def optima_are(want, what, hint):
    def verdict(outputs):
        got = optima_of(outputs[0], len(want))
        assert all(close(g, w) for g, w in zip(got, want)), f"{what}: expected {want}, got {got}: {hint}"
    return verdict


# ---------------------------------------------------------------- q4: the transfer gap

def call_transfer(fn, lrs, small, wide, lists=False):
    result = fn(lrs if lists else np.array(lrs, dtype=float), as_losses(small, lists), as_losses(wide, lists))
    assert isinstance(result, dict), 'return {"lr": ..., "loss": ..., "best": ..., "gap": ...}'
    return {k: None if result.get(k) is None or math.isnan(float(result[k])) else float(result[k])
            for k in ("lr", "loss", "best", "gap")}


def transfer_of(output):
    return {k: number_or_none(output[k], k) for k in ("lr", "loss", "best", "gap")}


LRS4 = [2.5e-3, 5e-3, 1e-2, 2e-2]
GAP4 = {"lrs": LRS4, "small": [[2.40, 2.30, 2.20, 2.25], [2.42, 2.31, 2.21, 2.20]],
        "wide": [[2.00, 2.05, 2.10, 2.40], [2.02, 2.03, 2.12, 2.50]]}
GAP4_RESULT = {"lr": 1e-2, "loss": 2.11, "best": 2.01, "gap": 0.1 / 2.01}
SAME4 = {"lrs": LRS4, "small": [[2.4, 2.3, 2.2, 2.3]], "wide": [[2.2, 2.1, 2.0, 2.2]]}
SAME4_RESULT = {"lr": 1e-2, "loss": 2.0, "best": 2.0, "gap": 0.0}
# the rate tuned at the small width diverged at one seed of the wide one
DIVERGED4 = {"lrs": LRS4, "lists": True, "small": [[2.4, 2.3, 2.25, 2.2], [2.4, 2.3, 2.25, 2.2]],
             "wide": [[2.1, 2.05, 2.3, None], [2.1, 2.07, 2.2, 2.6]]}
DIVERGED4_RESULT = {"lr": 2e-2, "loss": None, "best": 2.06, "gap": None}


def transfer_is(want, what, hint):
    def verdict(outputs):
        got = transfer_of(outputs[0])
        for k in ("lr", "loss", "best"):
            assert close(got[k], want[k]), f"{what}: {k} should be {want[k]}, got {got[k]}: {hint}"
        ok = got["gap"] is None if want["gap"] is None else got["gap"] is not None and abs(got["gap"] - want["gap"]) < 1e-9
        assert ok, f"{what}: gap should be {want['gap']}, got {got['gap']}: (loss - best) / best"
    return verdict


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("muP's factors relative to SP at the base width", "mup_factors", call=call_factors, cases=(
        Case("at the base width", ({"m": 1.0},), factors_are(BASE1, "m = 1 (the base width)")),
        Case("four times wider", ({"m": 4.0},), factors_are(WIDER1, "m = 4")),
        Case("narrower than the base, a plain number", ({"m": 0.5, "lists": True},), factors_are(NARROWER1, "m = 0.5")),
    )),
    "q2": Question("the coordinate check's slopes against width", "coord_slopes", call=call_slopes, cases=(
        Case("power laws in width", (POWER2,), slopes_are(EXPONENTS2, "|activation| = c w^k at the last step",
                                                          "fit log |activation| against log width (np.polyfit, degree 1)")),
        Case("at step 0", ({**POWER2, "step": 0},), slopes_are(dict.fromkeys(LAYERS, 0.0), "step=0 (the initialisation)",
                                                               "use the values at the given step, checks[i][layer][step]")),
        Case("noisy values, lists", ({**NOISY2, "lists": True},), slopes_are(NOISY2_RESULT, "noisy values at step 1",
                                                                             "a least-squares line through all widths")),
    )),
    "q3": Question("the best learning rate at each width", "lr_optima", call=call_optima, cases=(
        Case("one seed", (ONE3,), optima_are([4e-3, 2e-3], "two widths, one seed", "the rate of the lowest loss")),
        Case("several seeds", (SEEDS3,), optima_are([4e-3], "three seeds", "average the losses over seeds first, then "
                                                                            "take the lowest")),
        Case("diverged runs, lists", (DIVERGED3,), optima_are([4e-3, None], "diverged runs (None or nan)",
                                                              "a rate that diverged at any seed has no mean: skip it; "
                                                              "None for a width where every rate diverged somewhere")),
    )),
    "q4": Question("the transfer gap", "transfer_gap", call=call_transfer, cases=(
        Case("a gap", (GAP4,), transfer_is(GAP4_RESULT, "the tuned rate misses the wide optimum",
                                           "tune on the seed-mean loss of the small width, read the wide width's "
                                           "seed-mean loss at that rate, and compare with its best")),
        Case("no gap", (SAME4,), transfer_is(SAME4_RESULT, "the tuned rate is the wide optimum", "the gap is then 0")),
        Case("diverged at the wide width, lists", (DIVERGED4,), transfer_is(
            DIVERGED4_RESULT, "the tuned rate diverged at one seed of the wide width",
            "loss and gap are None when the transferred rate diverged; best skips diverged rates")),
    )),
    "q5": Question("what still needs tuning at 100x the width (written)", "q5", cases=written_answer(
        min_words=60, must_mention=[("depth", "layers"), ("batch",), ("tokens", "training length", "schedule", "steps"),
                                    ("seed", "grid step", "uncertain", "noise", "interval")])),
}

check = make_check(QUESTIONS)
