"""The experiments of each lab, built from the compute profile's sizes.

A lab and its reference data (data/reference/) run exactly these configurations, so a student's
live runs can be compared with the reference runs of the same profile. Regenerate the reference
with `SCALINGLAB_PROFILE=cpu python -m scalinglab reference lab01`.
"""
from pathlib import Path

from scalinglab.errors import ConfigError
from scalinglab.model import GPTConfig
from scalinglab.train import TrainConfig

# data/reference in the repository; installed from a wheel, the same files are the package scalinglab.reference.
HERE = Path(__file__).resolve().parent
REFERENCE_DIR = HERE / "reference" if (HERE / "reference").is_dir() else HERE.parent / "data" / "reference"


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


LABS = {"lab01": lab01}


def experiments(lab, profile):
    if lab not in LABS:
        raise ConfigError(f"unknown lab {lab!r}: labs with experiments are {sorted(LABS)}")
    return LABS[lab](profile)


def reference_path(lab, name):
    return REFERENCE_DIR / f"{lab}_{name}.jsonl"
