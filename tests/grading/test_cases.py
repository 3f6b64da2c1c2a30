"""The cases themselves: every value stored in a public check is what the instructor's answer implementation computes,
and a function that only looks up the public answers passes the public checks but scores nothing."""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from scalinglab import fit, synthetic
from scalinglab.checks import collect, judge, log_rss
from scalinglab.checks import lab00, lab01, lab02, lab03, lab04, lab05
from scalinglab.grade import graded_cases

sys.path.insert(0, str(Path(__file__).parent))
lab01_hidden = importlib.import_module("lab01_hidden")
lab02_hidden = importlib.import_module("lab02_hidden")
lab03_hidden = importlib.import_module("lab03_hidden")
lab04_hidden = importlib.import_module("lab04_hidden")
lab05_hidden = importlib.import_module("lab05_hidden")


def test_lab00_stored_values():
    x, y = np.array(lab00.NOISY2["x"]), np.array(lab00.NOISY2["y"])
    assert fit.fit_power_law(x, y, n_boot=0).params == pytest.approx(lab00.NOISY2_BEST, rel=1e-12)
    x, y = np.array(lab00.NOISY4["x"]), np.array(lab00.NOISY4["y"])
    assert log_rss(x, y, fit.fit_saturating_power_law(x, y, n_boot=0).params) == pytest.approx(lab00.NOISY4_BEST_RSS)
    x, y = np.array(lab00.BOOT5["x"]), np.array(lab00.BOOT5["y"])
    assert fit.bootstrap_intervals("power", x, y, n_boot=400, level=0.95, seed=0)["alpha"] == pytest.approx(
        lab00.BOOT5_REFERENCE, rel=1e-12)
    x, y = np.array(lab00.LEVELS5["x"]), np.array(lab00.LEVELS5["y"])
    assert fit.fit_power_law(x, y, n_boot=0).params["alpha"] == pytest.approx(lab00.LEVELS5_ESTIMATE, rel=1e-12)


def test_lab01_stored_values():
    D, L = np.array(lab01.BEST1["D"]), np.array(lab01.BEST1["L"])
    assert log_rss(D, L, fit.fit_saturating_power_law(D, L, n_boot=0).params) == pytest.approx(lab01.BEST1_RSS)
    D, L, stderr = (np.array(lab01.INTERVALS1[k]) for k in ("D", "L", "stderr"))
    assert fit.fit_saturating_power_law(D, L, yerr=stderr, n_boot=200, seed=3).intervals["beta"] == pytest.approx(
        lab01.INTERVALS1_BETA, rel=1e-9)
    r = lab01.STORED2
    difference, interval = lab01_hidden.slope_difference_answer(r["D"], r["loss_a"], r["loss_b"], r["stderr_a"],
                                                                r["stderr_b"], n_boot=400, seed=2)
    assert (difference, *interval) == pytest.approx((lab01.STORED2_RESULT[0], *lab01.STORED2_RESULT[1]), rel=1e-12)
    answer = lab01_hidden.effective_data_answer
    assert [float(answer(u, e)) for u, e in lab01.FORMULA3] == pytest.approx(lab01.FORMULA3_VALUES, rel=1e-12)
    assert float(answer(1e6, 5, 3.0)) == pytest.approx(lab01.R_STAR3_VALUE, rel=1e-12)
    assert answer(lab01.ARRAYS3["unique"], lab01.ARRAYS3["epochs"]).tolist() == pytest.approx(lab01.ARRAYS3_VALUES)
    assert synthetic.entropy_rate(synthetic.Params()) == pytest.approx(lab01.DEFAULT4_RATE, rel=1e-12)
    assert [synthetic.entropy_rate(synthetic.Params(**f)) for f in lab01.OTHER4] == pytest.approx(lab01.OTHER4_RATES)


def test_lab02_stored_values():
    r = lab02.STORED2
    fitted, intervals = lab02_hidden.fit_model_law_answer(r["N"], r["L"], r["stderr"], n_boot=300, seed=4)
    stored = lab02.STORED2_RESULT
    assert (fitted["alpha"], fitted["N_c"], *intervals["alpha"]) == pytest.approx(
        (stored["alpha"], stored["N_c"], *stored["alpha_interval"]), rel=1e-12)
    r = lab02.STORED3
    factor, interval, exponent = lab02_hidden.efficiency_factor_answer(
        r["C_a"], r["L_a"], r["stderr_a"], r["C_b"], r["L_b"], r["stderr_b"], n_boot=400, seed=2)
    assert (factor, *interval, exponent) == pytest.approx(
        (lab02.STORED3_RESULT[0], *lab02.STORED3_RESULT[1], lab02.STORED3_RESULT[2]), rel=1e-12)


def test_lab02_parameter_counts_agree_with_the_library():
    """The formulas the q1 verdicts use are what scalinglab.model.count_params counts."""
    from scalinglab.model import build, count_params, model_config
    for spec in (lab02.GPT1, lab02.LSTM1, lab02_hidden.GPT_OTHER, lab02_hidden.LSTM_OTHER):
        fields = {k: v for k, v in spec.items() if k != "family"}
        counts = count_params(build(model_config(spec["family"], **fields)))
        assert {k: counts[k] for k in ("embedding", "output_head", "non_embedding")} == lab02.expected_counts(spec)


def test_lab03_stored_values():
    noise = lab03_hidden.noise_scale_answer
    assert tuple(noise(**lab03.STEPS1).values()) == pytest.approx(lab03.STEPS1_RESULT, rel=1e-12)
    assert tuple(noise(**lab03.NOISY1).values())[:2] == pytest.approx(lab03.NOISY1_RESULT[:2], rel=1e-12)
    assert noise(**lab03.NOISY1)["b_simple"] == float("inf") and lab03.NOISY1_RESULT[2] == "inf"
    steps = lab03_hidden.steps_to_target_answer
    assert steps(**lab03.CURVE2) == lab03.CURVE2_RESULT and steps(**lab03.BUMPY2) == lab03.BUMPY2_RESULT
    assert lab03_hidden.fit_batch_tradeoff_answer(**lab03.NOISY3) == pytest.approx(lab03.NOISY3_RESULT, rel=1e-12)
    assert lab03_hidden.lr_optimum_answer(**lab03.DIVERGED4) == pytest.approx(lab03.DIVERGED4_RESULT, rel=1e-12)


def test_lab03_answers_agree_with_the_library():
    from scalinglab.noise import noise_scale
    for case in (lab03.EXACT1, lab03.STEPS1, lab03.NOISY1, lab03_hidden.STEPS_H1, lab03_hidden.NEGATIVE_H1):
        assert tuple(lab03_hidden.noise_scale_answer(**case).values()) == pytest.approx(tuple(noise_scale(**case)))


def test_lab04_stored_values():
    assert lab04_hidden.isoflop_vertex_answer(**lab04.NOISY1) == pytest.approx(lab04.NOISY1_RESULT, rel=1e-12)
    assert lab04_hidden.isoflop_vertex_answer(**lab04.UPSIDE1) is None
    N, D = lab04_hidden.optimal_allocation_answer(**lab04.BUDGETS2)
    assert (N.tolist(), D.tolist()) == pytest.approx(lab04.BUDGETS2_RESULT, rel=1e-12)
    for case, stored in ((lab04.SMALL3, lab04.SMALL3_RESULT), (lab04.LARGE3, lab04.LARGE3_RESULT),
                         (lab04.OVERFLOW3, lab04.OVERFLOW3_RESULT)):
        assert lab04_hidden.huber_loss_answer(**case) == pytest.approx(stored, rel=1e-12)
    assert lab04_hidden.envelope_answer(**lab04.ENVELOPE4) == pytest.approx(lab04.ENVELOPE4_RESULT, rel=1e-12)


def test_lab04_answers_agree_with_the_library():
    from scalinglab.fit import ChinchillaFit, huber_objective, isoflop_minimum
    for case in (lab04.EXACT1, lab04.NOISY1, lab04_hidden.UNSORTED_H1):
        assert lab04_hidden.isoflop_vertex_answer(**case) == pytest.approx(isoflop_minimum(case["N"], case["L"]))
    law = ChinchillaFit(**{k: lab04.BUDGETS2[k] for k in ("E", "A", "B", "alpha", "beta")}, objective=0)
    assert law.compute_optimal(np.array(lab04.BUDGETS2["C"]))[0] == pytest.approx(lab04.BUDGETS2_RESULT[0])
    for case in (lab04.SMALL3, lab04.LARGE3, lab04_hidden.MIXED_H3):
        logs = [np.log(np.array(case[k])) for k in ("N", "D", "L")]
        fun = huber_objective(*logs, np.ones(len(logs[0])), 1e-3)
        assert fun(np.array([case["theta"]]), [0])[0][0] == pytest.approx(lab04_hidden.huber_loss_answer(**case))


def test_lab05_stored_values():
    noisy = lab05.NOISY2
    assert lab05_hidden.coord_slopes_answer(noisy["widths"], noisy["checks"], step=noisy["step"]) == pytest.approx(
        lab05.NOISY2_RESULT, rel=1e-12)
    for m, stored in ((1.0, lab05.BASE1), (4.0, lab05.WIDER1), (0.5, lab05.NARROWER1)):
        assert lab05_hidden.mup_factors_answer(m) == pytest.approx(stored, rel=1e-12)


def test_lab05_answers_agree_with_the_library():
    from scalinglab.coord import LAYERS, width_slopes
    from scalinglab.model import GPTConfig, MuParam
    assert LAYERS == lab05.LAYERS
    for case in (lab05.POWER2, lab05.NOISY2, lab05_hidden.UNSORTED_H2):
        step = case.get("step", -1)
        assert lab05_hidden.coord_slopes_answer(case["widths"], case["checks"], step) == pytest.approx(
            width_slopes(case["widths"], case["checks"], step))
    base, wide = (MuParam(GPTConfig(d_model=d, n_head=2, parameterization="mup", base_width=32)) for d in (32, 256))
    factors = lab05_hidden.mup_factors_answer(8)
    assert wide.init_std("hidden") / base.init_std("hidden") == pytest.approx(factors["hidden_init_std"])
    assert wide.init_std("embedding") / base.init_std("embedding") == pytest.approx(factors["embedding_init_std"])
    assert (wide.lr_mult("hidden"), wide.output_mult(), wide.lr_mult("embedding")) == pytest.approx(
        (factors["hidden_lr"], factors["output_mult"], factors["embedding_lr"]))


# the instructor's answer implementations, by lab and question
ANSWERS = {
    1: (lab01, {"q1": lab01_hidden.fit_data_law_answer, "q2": lab01_hidden.slope_difference_answer,
                "q3": lab01_hidden.effective_data_answer, "q4": synthetic.entropy_rate}),
    2: (lab02, {"q1": lab02_hidden.count_params_by_kind_answer, "q2": lab02_hidden.fit_model_law_answer,
                "q3": lab02_hidden.efficiency_factor_answer, "q4": lab02_hidden.aspect_basin_answer}),
    3: (lab03, {"q1": lab03_hidden.noise_scale_answer, "q2": lab03_hidden.steps_to_target_answer,
                "q3": lab03_hidden.fit_batch_tradeoff_answer, "q4": lab03_hidden.lr_optimum_answer}),
    4: (lab04, {"q1": lab04_hidden.isoflop_vertex_answer, "q2": lab04_hidden.optimal_allocation_answer,
                "q3": lab04_hidden.huber_loss_answer, "q4": lab04_hidden.envelope_answer}),
    5: (lab05, {"q1": lab05_hidden.mup_factors_answer, "q2": lab05_hidden.coord_slopes_answer,
                "q3": lab05_hidden.lr_optima_answer, "q4": lab05_hidden.transfer_gap_answer}),
}


@pytest.mark.parametrize("lab", sorted(ANSWERS))
def test_answer_implementations_pass_every_case(lab):
    graded, (module, answers) = graded_cases(lab), ANSWERS[lab]
    for qid, fn in answers.items():
        question = module.QUESTIONS[qid]
        for cases in (question.cases, graded[qid]):
            outcome = judge(qid, question, cases, collect(question, [c.calls for c in cases], fn))
            assert outcome.passed, outcome.messages


@pytest.mark.parametrize("lab", sorted(ANSWERS))
def test_a_lookup_table_of_public_answers_passes_the_checks_and_scores_nothing(lab):
    """Public expected values are public: a function that replays them passes the self-checks, not the grade."""
    graded, (module, answers) = graded_cases(lab), ANSWERS[lab]
    for qid, fn in answers.items():
        question = module.QUESTIONS[qid]
        # the table: the answer implementation's output for every public call; anything else is not in it
        table = {repr(kwargs): collect(question, [[kwargs]], fn)[0][0]["value"]
                 for case in question.cases for kwargs in case.calls}
        public = [[{"value": table[repr(k)]} for k in case.calls] for case in question.cases]
        hidden = [[{"value": table[repr(k)]} if repr(k) in table else {"error": "LookupError"} for k in case.calls]
                  for case in graded[qid]]
        assert judge(qid, question, question.cases, public).passed, qid
        assert judge(qid, question, graded[qid], hidden).points == 0, qid


def test_judge_survives_forged_outputs():
    question, cases = lab00.QUESTIONS["q2"], graded_cases(0)["q2"]
    for forged in (None, [], [[]] * len(cases), [["x"]] * len(cases), [[{"value": {"A": "1", "alpha": []}}]] * len(cases),
                   [[{"error": 3}]] * len(cases), [[{"value": float("nan")}]] * len(cases)):
        outcome = judge("q2", question, cases, forged)
        assert outcome.points == 0 and outcome.max_points == sum(c.points for c in cases)
