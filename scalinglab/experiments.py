"""The experiments of each lab, built from the compute profile's sizes.

A lab and its reference data (data/reference/) run exactly these configurations, so a student's
live runs can be compared with the reference runs of the same profile. Regenerate the reference
with `SCALINGLAB_PROFILE=cpu python -m scalinglab reference lab01`.
"""
from pathlib import Path

from scalinglab.errors import ConfigError
from scalinglab.model import GPTConfig
from scalinglab.train import TrainConfig

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"


def lab01(profile):
    """Data scaling: L(D) on poetry (scored on prose too), repeated data, and the synthetic source."""
    s = profile.labs["lab01"]
    model, settings = GPTConfig(**s["model"]), s["train"]
    data_scaling = [(model, TrainConfig(corpus="poetry", tokens=D, eval_corpora=("prose",), **settings))
                    for D in s["tokens"]]
    budget = s["repeat_tokens"]
    repetition = [(model, TrainConfig(corpus="poetry", tokens=budget, unique_tokens=budget // epochs, **settings))
                  for epochs in s["epochs"]]
    synthetic_model = GPTConfig(**s["synthetic_model"])
    synthetic = [(synthetic_model, TrainConfig(corpus="synthetic", tokens=D, **s["synthetic_train"]))
                 for D in s["synthetic_tokens"]]
    return {"data_scaling": data_scaling, "repetition": repetition, "synthetic": synthetic}


LABS = {"lab01": lab01}


def experiments(lab, profile):
    if lab not in LABS:
        raise ConfigError(f"unknown lab {lab!r}: labs with experiments are {sorted(LABS)}")
    return LABS[lab](profile)


def reference_path(lab, name):
    return REFERENCE_DIR / f"{lab}_{name}.jsonl"
