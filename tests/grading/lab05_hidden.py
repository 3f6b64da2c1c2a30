"""Hidden grading cases of Lab 5, and the instructor's answer implementations. Students never see these.

Only each case's calls (plain data) enter the sandbox; the verdicts run in the grader.
"""
import numpy as np

from scalinglab.checks import answer_case, relative_error
from scalinglab.checks.lab05 import LAYERS, close, coord_data, factors_of, optima_of, slopes_of, transfer_of


# ---------------------------------------------------------------- answer implementations

def mup_factors_answer(m):
    m = float(m)
    return {"hidden_init_std": m ** -0.5, "hidden_lr": 1 / m, "output_mult": 1 / m, "embedding_init_std": 1.0,
            "embedding_lr": 1.0}


def coord_slopes_answer(widths, checks, step=-1):
    x = np.log(np.asarray(widths, dtype=float))
    return {layer: float(np.polyfit(x, np.log([c[layer][step] for c in checks]), 1)[0]) for layer in LAYERS}


def seed_means(losses):
    """Mean over seeds of [seed][lr] losses; nan where any seed diverged (None or nan)."""
    return np.array([[np.nan if v is None else v for v in seed] for seed in losses], dtype=float).mean(axis=0)


def best_rate(lrs, losses):
    mean = seed_means(losses)
    return None if np.all(np.isnan(mean)) else float(np.asarray(lrs, dtype=float)[np.nanargmin(mean)])


def lr_optima_answer(lrs, losses):
    return [best_rate(lrs, width) for width in losses]


def transfer_gap_answer(lrs, small, wide):
    lr = best_rate(lrs, small)
    mean = seed_means(wide)
    loss = float(mean[list(np.asarray(lrs, dtype=float)).index(lr)])
    best = float(np.nanmin(mean))
    return {"lr": lr, "loss": None if np.isnan(loss) else loss, "best": best,
            "gap": None if np.isnan(loss) else (loss - best) / best}


# ---------------------------------------------------------------- cases: the answer computes what is expected

def same_factors(output, want, what):
    got = factors_of(output)
    assert all(relative_error(got[k], want[k]) < 1e-9 for k in want), f"{what}: expected {want}, got {got}"


def same_slopes(output, want, what):
    got = slopes_of(output)
    assert all(abs(got[k] - want[k]) < 1e-6 for k in LAYERS), f"{what}: expected {want}, got {got}"


def same_optima(output, want, what):
    got = optima_of(output, len(want))
    assert all(close(g, w) for g, w in zip(got, want)), f"{what}: expected {want}, got {got}"


def same_transfer(output, want, what):
    got = transfer_of(output)
    assert all(close(got[k], want[k]) for k in ("lr", "loss", "best")) and (
        got["gap"] is None if want["gap"] is None else got["gap"] is not None and abs(got["gap"] - want["gap"]) < 1e-9), (
        f"{what}: expected {want}, got {got}")


SLOPES_H2 = {"embedding": 0.05, "attention": 2.0, "mlp": -0.5, "logits": 0.8}
UNSORTED_H2 = coord_data([256, 32, 128, 64], SLOPES_H2, steps=5, noise=0.05, seed=52)
THREE_H2 = {**coord_data([24, 96, 384], SLOPES_H2, steps=3), "step": 1}
EARLIER_H2 = {**coord_data([8, 16, 32, 64, 128], SLOPES_H2, steps=6, noise=0.2, seed=53), "step": -2}

UNSORTED_H3 = {"lrs": [4e-3, 1e-3, 1.6e-2, 2e-3, 8e-3],
               "losses": [[[2.3, 2.6, 2.5, 2.45, 2.2]], [[2.25, 2.5, 2.4, 2.4, 2.3]], [[2.4, 2.45, 2.6, 2.42, 2.5]]]}
MEAN_H3 = {"lrs": [1e-3, 3e-3, 1e-2], "lists": True,
           "losses": [[[2.0, 2.2, 2.6], [2.6, 2.1, 2.3], [2.5, 2.3, 2.0]], [[2.1, 2.0, 2.2], [2.2, 2.25, 2.1]]]}
NAN_H3 = {"lrs": [1e-3, 3e-3, 1e-2, 3e-2],
          "losses": [[[2.4, 2.3, 2.1, float("nan")], [2.4, 2.3, 2.2, 2.0]], [[float("nan")] * 4, [2.1, 2.0, 2.2, 2.3]]]}

LRS_H4 = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
SHIFT_H4 = {"lrs": LRS_H4, "small": [[2.5, 2.3, 2.2, 2.1, 2.4], [2.5, 2.32, 2.25, 2.15, 2.3], [2.6, 2.3, 2.2, 2.2, 2.5]],
            "wide": [[2.1, 1.95, 1.9, 2.2, 2.9], [2.1, 1.96, 1.92, 2.3, 3.1], [2.2, 1.97, 1.9, 2.25, 3.0]]}
NAN_H4 = {"lrs": LRS_H4, "small": [[2.5, 2.3, 2.2, 2.25, 2.4]],
          "wide": [[2.0, 1.9, float("nan"), float("nan"), float("nan")]]}
EXACT_H4 = {"lrs": LRS_H4[:3], "lists": True, "small": [[2.2, 2.1, 2.3], [2.3, 2.0, 2.2]],
            "wide": [[1.8, 1.7, 1.75], [1.85, 1.6, 1.7]]}

HIDDEN = {
    "q1": [answer_case("eight times wider", mup_factors_answer, {"m": 8.0}, same_factors),
           answer_case("three times wider, a plain number", mup_factors_answer, {"m": 3, "lists": True}, same_factors),
           answer_case("a quarter of the base", mup_factors_answer, {"m": 0.25}, same_factors)],
    "q2": [answer_case("unsorted widths, noise", coord_slopes_answer, UNSORTED_H2, same_slopes),
           answer_case("three widths at step 1", coord_slopes_answer, THREE_H2, same_slopes),
           answer_case("the step before last, lists", coord_slopes_answer, {**EARLIER_H2, "lists": True}, same_slopes)],
    "q3": [answer_case("unsorted rates, three widths", lr_optima_answer, UNSORTED_H3, same_optima),
           answer_case("seed means, lists", lr_optima_answer, MEAN_H3, same_optima),
           answer_case("nan for diverged runs", lr_optima_answer, NAN_H3, same_optima)],
    "q4": [answer_case("the optimum shifts", transfer_gap_answer, SHIFT_H4, same_transfer),
           answer_case("nan at the wide width", transfer_gap_answer, NAN_H4, same_transfer),
           answer_case("two seeds, lists", transfer_gap_answer, EXACT_H4, same_transfer)],
}
