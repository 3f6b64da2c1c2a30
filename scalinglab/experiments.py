"""The experiments of each lab, built from the compute profile's sizes.

A lab and its reference data (data/reference/) run exactly these configurations, so a student's
live runs can be compared with the reference runs of the same profile. Regenerate the reference
with `SCALINGLAB_PROFILE=cpu python -m scalinglab reference lab01`.
"""
import math
from pathlib import Path

from scalinglab.errors import ConfigError
from scalinglab.flops import flops_per_token, tokens_for_flops
from scalinglab.model import GPTConfig, LSTMConfig, matrix_params
from scalinglab.train import TrainConfig, plan_budget

# data/reference in the repository; installed from a wheel, the same files are the package scalinglab.reference.
HERE = Path(__file__).resolve().parent
REFERENCE_DIR = HERE / "reference" if (HERE / "reference").is_dir() else HERE.parent / "data" / "reference"
AT_THE_END = 10 ** 9  # an eval_interval longer than any run: it validates once, after its last step


def batch_size_for(tokens, context, max_batch_size, min_steps):
    """The batch (in sequences) that gives a run of `tokens` tokens at least `min_steps` optimizer steps.

    A run with a fixed batch takes fewer steps the less data it gets, and a run of a few dozen steps
    is limited by its steps, not by its data. So small runs use smaller batches, down to 1 sequence.
    """
    return max(1, min(max_batch_size, tokens // (min_steps * context)))


def lab01(profile):
    """Data scaling: L(D) on poetry (scored on prose too), repeated data, and the synthetic source.

    The repetition runs spend the budget of one data-scaling run (repeat_tokens, one of its sizes) on
    2 or more epochs of fewer unique tokens; that data-scaling run is their one-epoch point.
    """
    s = profile.labs["lab01"]

    def config(model, D, settings, **extra):
        batch_size = batch_size_for(D, model.context, settings["max_batch_size"], s["min_steps"])
        other = {k: v for k, v in settings.items() if k != "max_batch_size"}
        return model, TrainConfig(tokens=D, batch_size=batch_size, **other, **extra)

    model, synthetic_model = GPTConfig(**s["model"]), GPTConfig(**s["synthetic_model"])
    budget = s["repeat_tokens"]
    if budget not in s["tokens"] or min(s["epochs"]) < 2:
        raise ConfigError(f"profile {profile.name}: repeat_tokens must be one of the data-scaling sizes (its "
                          f"one-epoch run) and the repetition epochs must be >= 2, got {budget} and {s['epochs']}")
    return {"data_scaling": [config(model, D, s["train"], corpus="poetry", eval_corpora=("prose",))
                             for D in s["tokens"]],
            "repetition": [config(model, budget, s["train"], corpus="poetry", unique_tokens=budget // epochs)
                           for epochs in s["epochs"]],
            "synthetic": [config(synthetic_model, D, s["synthetic_train"], corpus="synthetic")
                          for D in s["synthetic_tokens"]]}


def gpt(n_layer, d_model, n_head=None, context=128, **fields):
    """A GPT of this shape (and any other GPTConfig fields); by default one head per 16 channels (at least one)."""
    return GPTConfig(n_layer=n_layer, d_model=d_model, n_head=n_head or max(1, d_model // 16), context=context,
                     **fields)


def width_for(N, n_layer, multiple):
    """The width, a multiple of `multiple`, that gives a GPT of n_layer layers closest to N = 12 n_layer d^2."""
    return max(multiple, multiple * round(math.sqrt(N / (12 * n_layer)) / multiple))


def lab02(profile):
    """Model scaling: L(N), aspect ratio at fixed N, Transformer vs LSTM and Adam vs SGD.

    sizes       GPTs of growing width at a fixed depth, all on the same large D, and again on D/2:
                where halving D costs little, N limits the loss; where it costs a lot, D does
    aspect      depth 1 to 8 at (nearly) fixed N, width adjusted
    aspect_lr   the shallowest and deepest of them at other learning rates: is a shape's rank the lr's?
    families    a GPT and an LSTM with (nearly) the same N at each of several compute budgets C,
                each budget `tokens_per_param` tokens per GPT parameter; both spend C by the exact count
    optimizers  AdamW and SGD with momentum at several sizes, each over its own learning-rate grid,
                without weight decay (torch's SGD has only the coupled, L2 kind)
    """
    s = profile.labs["lab02"]

    def settings(tokens, **extra):
        batch_size = batch_size_for(tokens, s["context"], s["max_batch_size"], s["min_steps"])
        return {"batch_size": batch_size, **s["train"], **extra}

    sizes = [(gpt(s["n_layer"], d, context=s["context"]), TrainConfig(tokens=D, **settings(D)))
             for D in (s["size_tokens"], s["size_tokens"] // 2) for d in s["widths"]]

    def shape(L, **extra):
        return (gpt(L, width_for(s["aspect_N"], L, 2), n_head=2, context=s["context"]),
                TrainConfig(tokens=s["aspect_tokens"], **settings(s["aspect_tokens"], **extra)))

    aspect = [shape(L) for L in s["depths"]]
    aspect_lr = [shape(L, lr=lr) for L in s["aspect_lr_depths"] for lr in s["aspect_lrs"]]

    families = []
    for d in s["family_widths"]:
        transformer = gpt(s["n_layer"], d, context=s["context"])
        # the LSTM's 8 L h^2 matrix parameters match the GPT's 12 L d^2 at h = d sqrt(3/2)
        lstm = LSTMConfig(n_layer=s["n_layer"], d_model=2 * round(d * math.sqrt(1.5) / 2), context=s["context"])
        budget = float(flops_per_token(transformer) * s["tokens_per_param"] * matrix_params(transformer))
        batch = settings(round(tokens_for_flops(budget, transformer)))
        families += [(model, TrainConfig(flops=budget, **batch)) for model in (transformer, lstm)]

    optimizers = [(gpt(s["n_layer"], d, context=s["context"]),
                   TrainConfig(tokens=s["optimizer_tokens"], **settings(s["optimizer_tokens"], optimizer=name, lr=lr,
                                                                         weight_decay=0.0)))
                  for d in s["optimizer_widths"] for name, lrs in s["optimizer_lrs"].items() for lr in lrs]
    return {"sizes": sizes, "aspect": aspect, "aspect_lr": aspect_lr, "families": families, "optimizers": optimizers}


def lr_width(s, seed=0, **model):
    """Learning rate x width: GPTs of each width in s["lr_widths"] at every lr in s["lr_grid"], on one budget.

    The parameterization is in `model` (the standard one by default): the muP chapter runs the same
    grid with muP, so that the two halves differ in nothing else.
    """
    return [(gpt(s["n_layer"], d, context=s["context"], **model),
             TrainConfig(tokens=s["lr_tokens"], batch_size=s["lr_batch_size"], lr=lr, eval_tokens=s["eval_tokens"],
                         seed=seed))
            for d in s["lr_widths"] for lr in s["lr_grid"]]


def wsd_budgets(model, budgets, **train):
    """WSD runs of one model at several token budgets that can share a stable phase (train.train_branches):
    the warmup is the same number of steps in all, warmup_frac of the smallest budget's steps."""
    first = TrainConfig(tokens=min(budgets), schedule="wsd", **train)
    warmup = round(first.warmup_frac * plan_budget(model, first)[0])
    configs = []
    for tokens in budgets:
        steps = plan_budget(model, TrainConfig(tokens=tokens, **train))[0]
        configs.append(TrainConfig(tokens=tokens, schedule="wsd", **{**train, "warmup_frac": warmup / steps}))
    return configs


def lab03(profile):
    """Batch size and learning rate.

    noise        one run that logs the gradient noise scale along the way (micro-batches of the batch)
    batch_sizes  the same model at batch sizes a factor of 64 apart, each at a few constant learning rates,
                 long enough for every batch to reach the lowest target loss: steps and tokens to target
    lr_width     learning rate x width under the standard parameterization (lr_width)
    schedules    cosine runs at three budgets against WSD runs at the same budgets branched from one stable phase
    """
    s = profile.labs["lab03"]
    small = gpt(s["n_layer"], s["width"], context=s["context"])
    common = {"lr": s["lr"], "schedule": "constant", "eval_tokens": s["eval_tokens"]}
    noise = [(small, TrainConfig(tokens=s["noise_tokens"], batch_size=s["noise_batch_size"],
                                 micro_batches=s["noise_micro_batches"], **common))]
    batch_sizes = [(small, TrainConfig(tokens=max(s["batch_tokens"], s["min_steps"] * b * s["context"]), batch_size=b,
                                       **{**common, "lr": lr}))
                   for b in s["batch_sizes"] for lr in s["batch_lrs"]]
    model = gpt(s["n_layer"], s["schedule_width"], context=s["context"])
    train = {"batch_size": s["schedule_batch_size"], "lr": s["schedule_lr"], "eval_tokens": s["eval_tokens"]}
    schedules = [(model, TrainConfig(tokens=D, **train)) for D in s["budgets"]]
    schedules += [(model, tc) for tc in wsd_budgets(model, s["budgets"], decay_frac=s["decay_frac"], **train)]
    return {"noise": noise, "batch_sizes": batch_sizes, "lr_width": lr_width(s), "schedules": schedules}


def lr_for_width(s, d):
    """The peak learning rate of width d: s["lr"] at width s["lr_width"], falling as width^-1/2.
    Under SP the best rate falls with width (Lab 3); one rate for all sizes would favour some of them."""
    return s["lr"] * math.sqrt(s["lr_width"] / d)


def lab04(profile):
    """Compute-optimal training.

    isoflops   at each FLOP budget (exact count), GPTs of several widths at one depth, each trained to
               the end of its own cosine schedule on the tokens that budget buys; validated once, at the end
    predicted  the width predict_width at the budget predict_flops (4-10x the largest isoFLOP budget): the
               size nearest the one the isoFLOP runs predict, chosen and trained after the prediction was made
    neighbours the widths either side of it at the same budget, to locate the measured optimum
    """
    s = profile.labs["lab04"]

    def run(d, flops):
        model = gpt(s["n_layer"], d, context=s["context"])
        tokens = round(tokens_for_flops(flops, model))
        return model, TrainConfig(flops=flops, lr=lr_for_width(s, d), eval_interval=AT_THE_END,
                                  batch_size=batch_size_for(tokens, s["context"], s["max_batch_size"], s["min_steps"]),
                                  eval_tokens=s["eval_tokens"])

    return {"isoflops": [run(d, C) for C, widths in s["isoflops"] for d in widths],
            "predicted": [run(s["predict_width"], s["predict_flops"])],
            "neighbours": [run(d, s["predict_flops"]) for d in s["neighbour_widths"]]}


def mup_fields(grid):
    """muP for the GPTs of an lr_width grid, tuned at its smallest width. gpt() adds heads of 16 channels as
    it widens, so the base model has fewer heads than the others and d_head never changes."""
    base = min(grid["lr_widths"])
    return {"parameterization": "mup", "base_width": base, "base_n_head": gpt(1, base).n_head}


def coord_models(profile):
    """The models of the coordinate check: the lr_width grid's widths, under SP and under muP."""
    grid = profile.labs["lab03"]
    return {name: [gpt(grid["n_layer"], d, context=grid["context"], **fields) for d in grid["lr_widths"]]
            for name, fields in (("sp", {}), ("mup", mup_fields(grid)))}


def lab05(profile):
    """muP: Lab 3's learning-rate x width grid (lr_width) under muP, tuned at its smallest width.

    mup_lr_width  the grid under muP (mup_fields) at seed 0 and each of s["more_seeds"]
    sp_lr_width   the same grid under SP at s["more_seeds"]: its seed 0 is Lab 3's lr_width, not run twice
    One seed per point could not locate Lab 3's optima (they moved by up to 2x from seed to seed).
    """
    grid, s = profile.labs["lab03"], profile.labs["lab05"]
    runs = {"mup_lr_width": [run for seed in (0, *s["more_seeds"]) for run in lr_width(grid, seed, **mup_fields(grid))]}
    if s["more_seeds"]:  # smoke has none, to stay fast
        runs["sp_lr_width"] = [run for seed in s["more_seeds"] for run in lr_width(grid, seed)]
    return runs


LABS = {"lab01": lab01, "lab02": lab02, "lab03": lab03, "lab04": lab04, "lab05": lab05}


def experiments(lab, profile):
    if lab not in LABS:
        raise ConfigError(f"unknown lab {lab!r}: labs with experiments are {sorted(LABS)}")
    return LABS[lab](profile)


def reference_path(lab, name):
    return REFERENCE_DIR / f"{lab}_{name}.jsonl"
