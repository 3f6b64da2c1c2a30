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


def test_the_one_epoch_repetition_run_matches_the_data_scaling_run_of_its_size():
    runs = lab01(PROFILES["cpu"])
    one_epoch = next(t for _, t in runs["repetition"] if t.unique_tokens == t.tokens)
    same_size = next(t for _, t in runs["data_scaling"] if t.tokens == one_epoch.tokens)
    assert (one_epoch.batch_size, one_epoch.lr) == (same_size.batch_size, same_size.lr)


def test_unknown_lab_is_a_config_error():
    with pytest.raises(ConfigError, match="labs with experiments are"):
        experiments("lab99", PROFILES["cpu"])
