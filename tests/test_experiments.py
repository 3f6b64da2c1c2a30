import dataclasses
import math

import pytest

from scalinglab.errors import ConfigError
from scalinglab.experiments import batch_size_for, coord_models, experiments, lab01, lab02, lab03, lab04, lab05, reference_path
from scalinglab.model import PARAMETERIZATIONS, build, count_params, matrix_params
from scalinglab.profiles import PROFILES
from scalinglab.sweep import read_results
from scalinglab.train import branch_key, plan_budget, run_id


def test_small_runs_get_smaller_batches_not_fewer_steps():
    assert batch_size_for(2 ** 20, 128, max_batch_size=16, min_steps=1024) == 8
    assert batch_size_for(2 ** 23, 128, max_batch_size=16, min_steps=1024) == 16   # capped: more steps instead
    assert batch_size_for(1_000, 128, max_batch_size=16, min_steps=1024) == 1      # never an empty batch


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_every_lab01_run_takes_at_least_min_steps(profile):
    sizes = PROFILES[profile].labs["lab01"]
    for name, configs in lab01(PROFILES[profile]).items():
        for model, train in configs:
            steps = train.tokens // (train.batch_size * model.context)
            assert steps >= sizes["min_steps"], (name, train.tokens, train.batch_size, steps)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_repetition_runs_share_the_batch_and_model_of_their_one_epoch_data_scaling_run(profile):
    runs = lab01(PROFILES[profile])
    one_epoch = [(m, t) for m, t in runs["data_scaling"] if t.tokens == PROFILES[profile].labs["lab01"]["repeat_tokens"]]
    assert len(one_epoch) == 1
    for model, train in runs["repetition"]:
        assert model == one_epoch[0][0] and train.tokens == one_epoch[0][1].tokens
        assert (train.batch_size, train.lr) == (one_epoch[0][1].batch_size, one_epoch[0][1].lr)
        assert train.tokens // train.unique_tokens >= 2


def test_a_repetition_budget_without_its_one_epoch_run_is_a_config_error():
    cpu = PROFILES["cpu"]
    sizes = dict(cpu.labs["lab01"], repeat_tokens=3_000_000)
    with pytest.raises(ConfigError, match="repeat_tokens must be one of the data-scaling sizes"):
        lab01(dataclasses.replace(cpu, labs={"lab01": sizes}))


def test_unknown_lab_is_a_config_error():
    with pytest.raises(ConfigError, match="labs with experiments are"):
        experiments("lab99", PROFILES["cpu"])


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_lab02_measures_what_the_chapter_claims(profile):
    s, runs = PROFILES[profile].labs["lab02"], lab02(PROFILES[profile])
    # L(N): at least 7 sizes over at least 1.5 decades of N, all on one D, and again on D/2
    sizes = [(count_params(build(m))["non_embedding"], t.tokens) for m, t in runs["sizes"]]
    full = sorted(n for n, D in sizes if D == s["size_tokens"])
    assert len(full) >= 7 and math.log10(full[-1] / full[0]) >= 1.5
    assert sorted(n for n, D in sizes if D == s["size_tokens"] // 2) == full
    # aspect: depth 1 to at least 8 at N within 5%
    depths = [m.n_layer for m, _ in runs["aspect"]]
    assert min(depths) == 1 and max(depths) >= 8
    n = [count_params(build(m))["non_embedding"] for m, _ in runs["aspect"]]
    assert max(n) / min(n) < 1.05
    # families: 3 or more budgets, each shared by a GPT and an LSTM of nearly the same N
    budgets = {}
    for m, t in runs["families"]:
        budgets.setdefault(t.flops, []).append(m)
    assert len(budgets) >= 3
    for models in budgets.values():
        assert sorted(type(m).__name__ for m in models) == ["GPTConfig", "LSTMConfig"]
        gpt_n, lstm_n = (matrix_params(m) for m in sorted(models, key=lambda m: type(m).__name__))
        assert abs(lstm_n / gpt_n - 1) < 0.05
    # optimizers: 3 or more sizes, a grid of 3 or more learning rates per optimizer
    assert len(s["optimizer_widths"]) >= 3 and all(len(lrs) >= 3 for lrs in s["optimizer_lrs"].values())
    # every run takes at least min_steps
    for name, configs in runs.items():
        for model, train in configs:
            assert plan_budget(model, train)[0] >= s["min_steps"], (name, model, train)


@pytest.mark.parametrize("lab", ["lab02", "lab03", "lab04", "lab05"])
def test_the_cpu_reference_holds_every_run_the_lab_reads(lab):
    for name, configs in experiments(lab, PROFILES["cpu"]).items():
        ids = {r["run_id"] for r in read_results(reference_path(lab, name))}
        assert {run_id(m, t) for m, t in configs} <= ids, name


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_lab03_measures_what_the_chapter_claims(profile):
    s, runs = PROFILES[profile].labs["lab03"], lab03(PROFILES[profile])
    # noise: the batch is split into micro-batches, so the run logs |g|^2 at two batch sizes
    [(_, noise)] = runs["noise"]
    assert noise.micro_batches >= 2 and noise.schedule == "constant"
    # batch sizes: two decades or more, a constant lr (steps to a target do not depend on the budget),
    # 3+ learning rates per batch, and enough steps for the largest batch
    batches = sorted({t.batch_size for _, t in runs["batch_sizes"]})
    assert batches[-1] / batches[0] >= 64 and all(t.schedule == "constant" for _, t in runs["batch_sizes"])
    assert all(len({t.lr for _, t in runs["batch_sizes"] if t.batch_size == b}) >= 3 for b in batches)
    assert all(plan_budget(m, t)[0] >= s["min_steps"] for m, t in runs["batch_sizes"])
    # lr x width: 4+ widths, each on the same log grid of 6+ learning rates, on one budget
    widths = sorted({m.d_model for m, _ in runs["lr_width"]})
    lrs = sorted({t.lr for _, t in runs["lr_width"]})
    assert len(widths) >= 4 and len(lrs) >= 6 and len(runs["lr_width"]) == len(widths) * len(lrs)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert max(ratios) == pytest.approx(min(ratios)) and ratios[0] > 1  # a log grid
    assert len({t.tokens for _, t in runs["lr_width"]}) == 1
    assert all(m.parameterization == "sp" for m, _ in runs["lr_width"])
    # schedules: cosine and WSD at 3+ budgets; the WSD runs share one stable phase
    cosine = sorted(t.tokens for _, t in runs["schedules"] if t.schedule == "cosine")
    wsd = [(m, t) for m, t in runs["schedules"] if t.schedule == "wsd"]
    assert len(cosine) >= 3 and cosine == sorted(t.tokens for _, t in wsd)
    assert len({branch_key(m, t) for m, t in wsd}) == 1 and None not in {branch_key(m, t) for m, t in wsd}


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_lab04_measures_what_the_chapter_claims(profile):
    s, runs = PROFILES[profile].labs["lab04"], lab04(PROFILES[profile])
    # isoFLOP: 4+ budgets over a decade or more, 6 to 8 sizes each; every run spends its own budget on a
    # cosine schedule that ends there, in enough steps, at a learning rate that falls with width
    budgets = sorted({t.flops for _, t in runs["isoflops"]})
    assert len(budgets) >= 4 and budgets[-1] / budgets[0] >= 10
    for C in budgets:
        assert 6 <= len({m.d_model for m, t in runs["isoflops"] if t.flops == C}) <= 8
    assert all(t.schedule == "cosine" and t.flop_count == "exact" and plan_budget(m, t)[0] >= s["min_steps"]
               for m, t in runs["isoflops"])
    rates = {m.d_model: t.lr for m, t in runs["isoflops"]}
    assert [rates[d] for d in sorted(rates)] == sorted(rates.values(), reverse=True)
    # the prediction: 4 to 10 times the largest budget, at one width and its neighbours
    assert 4 <= s["predict_flops"] / budgets[-1] <= 10
    for name in ("predicted", "neighbours"):
        assert {t.flops for _, t in runs[name]} == {s["predict_flops"]}
    assert len(runs["predicted"]) == 1 and len(runs["neighbours"]) >= 2


@pytest.mark.parametrize("profile", ["smoke", "gpu"])
def test_lab04_trains_what_no_reference_holds(profile):
    # only the cpu profile has reference runs: under the others the lab trains every experiment it reads
    s = PROFILES[profile].labs["lab04"]
    assert set(lab04(PROFILES[profile])) | {"schedules"} <= set(s["live"])


@pytest.mark.parametrize("profile", ["cpu", "gpu"])
def test_lab05_runs_lab03s_grid_under_mup_with_more_seeds(profile):
    grid, runs = PROFILES[profile].labs["lab03"], lab05(PROFILES[profile])
    widths = sorted({m.d_model for m, _ in runs["mup_lr_width"]})
    assert len(widths) >= 4 and widths[-1] / widths[0] >= 8 and len(grid["lr_grid"]) >= 8
    assert {(m.parameterization, m.base_width) for m, _ in runs["mup_lr_width"]} == {("mup", widths[0])}
    assert {m.d_head for m, _ in runs["mup_lr_width"]} == {16}  # so muP's attention scale is SP's
    assert {PARAMETERIZATIONS["mup"](m).attn_scale() for m, _ in runs["mup_lr_width"]} == {16 ** -0.5}
    seeds = sorted({t.seed for _, t in runs["mup_lr_width"]})
    assert len(seeds) >= 2 and sorted({t.seed for _, t in runs["sp_lr_width"]}) == seeds[1:]
    # the SP half differs from the muP half in the parameterization only, and its seed 0 is Lab 3's sweep
    sp_all = lab03(PROFILES[profile])["lr_width"] + runs["sp_lr_width"]
    as_sp = [(m.__class__(**{**m.__dict__, "parameterization": "sp", "base_width": None,
                                       "base_n_head": None}), t)
             for m, t in runs["mup_lr_width"]]
    assert sorted(run_id(m, t) for m, t in as_sp) == sorted(run_id(m, t) for m, t in sp_all)
    # the coordinate check: 4+ widths over 8x or more, 5+ steps, SP and muP on the sweep's models
    s, coord = PROFILES[profile].labs["lab05"], coord_models(PROFILES[profile])
    coord_widths = [m.d_model for m in coord["sp"]]
    assert len(coord_widths) >= 4 and coord_widths[-1] / coord_widths[0] >= 8 and s["coord_steps"] >= 5
    assert coord["mup"] == [m for m, t in runs["mup_lr_width"] if t.seed == 0 and t.lr == grid["lr_grid"][0]]
