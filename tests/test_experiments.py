import dataclasses

import pytest

from scalinglab.errors import ConfigError
from scalinglab.experiments import batch_size_for, experiments, lab01
from scalinglab.profiles import PROFILES


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
