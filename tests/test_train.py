import json
import math

import pytest

from scalinglab.errors import ConfigError
from scalinglab.flops import flops_per_token, tokens_for_flops
from scalinglab.model import GPTConfig, LSTMConfig
from scalinglab.train import (DivergenceWatch, TrainConfig, lr_multiplier, plan_budget, run_id, train,
                              train_branches)

TINY = GPTConfig(n_layer=2, d_model=32, n_head=2, context=64)
EARLIER_ID = "c0c879f1988b"  # run_id(TINY, tiny_train()) computed by scalinglab at commit c30c812


def tiny_train(**overrides):
    settings = dict(corpus="prose", tokens=30 * 8 * 64, batch_size=8, lr=3e-3, eval_tokens=64 * 64)
    return TrainConfig(**{**settings, **overrides})


def test_thirty_steps_lower_the_loss():
    result = train(TINY, tiny_train())
    assert result.steps == 30 and not result.diverged
    first, last = result.curve["train_loss"][0], result.curve["train_loss"][-1]
    assert last < first - 0.5, (first, last)
    assert result.val_loss < math.log(256) - 0.5


def test_same_seed_same_loss_on_cpu():
    a, b = train(TINY, tiny_train(seed=3)), train(TINY, tiny_train(seed=3))
    assert abs(a.val_loss - b.val_loss) < 1e-6 and abs(a.train_loss - b.train_loss) < 1e-6
    c = train(TINY, tiny_train(seed=4))
    assert abs(a.val_loss - c.val_loss) > 1e-6


def test_huge_learning_rate_is_recorded_as_diverged():
    result = train(TINY, tiny_train(lr=50.0))
    assert result.diverged and result.diverged_step is not None and result.diverged_step < 30
    assert result.val_loss is None and result.tokens < 30 * 8 * 64
    # the steps it took, the diverging one included, and that step's loss in its curve
    assert result.steps == result.diverged_step + 1 and result.tokens == result.steps * 8 * 64
    assert result.curve["step"][-1] == result.steps
    json.dumps(result.to_dict(), allow_nan=False)  # still a valid record


def test_divergence_rule():
    def first_alarm(losses):
        watch = DivergenceWatch(steps=100, vocab_size=256)
        return next((i for i, loss in enumerate(losses) if watch(loss)), None)

    assert first_alarm([5.5, 4.0, 3.5, 3.2] + [3.0] * 50) is None
    assert first_alarm([5.5, 4.3, 7.0, 9.9, 6.5, 4.0, 3.5] + [3.2] * 50) is None  # a spike that recovers
    assert first_alarm([5.5, 4.0, float("nan")]) == 2
    assert first_alarm([5.5, 4.0, float("inf")]) == 2
    assert first_alarm([5.5, 4.0, 17.0]) == 2  # above 3 ln 256 = 16.6
    assert first_alarm([5.5] + [7.0] * 20) == 9  # 1.5 nats above the start for 10 steps


def test_result_is_a_complete_json_record():
    result = train(TINY, tiny_train())
    record = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert record["model"]["d_model"] == 32 and record["train"]["corpus"] == "prose"
    assert record["tokens"] == 30 * 8 * 64 and record["batch_tokens"] == 512
    assert record["flops"]["exact"] == flops_per_token(TINY) * record["tokens"]
    # the same N as a '6nd' budget: the recorded 6ND FLOPs convert back to exactly the tokens seen
    assert tokens_for_flops(record["flops"]["6nd"], TINY, "6nd") == record["tokens"]
    assert record["val_bpb"] == pytest.approx(record["val_loss"] / math.log(2))
    assert record["val_curve"]["step"][-1] == 30 and len(record["curve"]["train_loss"]) == 30
    assert record["device"] == "cpu" and record["versions"]["torch"] and record["wall_time_s"] > 0
    assert record["run_id"] == run_id(TINY, tiny_train())


def test_default_validation_noise_is_below_a_hundredth_of_a_nat():
    # The default validation set (TrainConfig.eval_tokens) after a short run on the default corpus.
    model = GPTConfig(n_layer=2, d_model=64, n_head=2, context=128)
    result = train(model, TrainConfig(tokens=100 * 16 * 128, batch_size=16))
    assert result.val_loss_stderr < 0.01, result.val_loss_stderr


def test_flop_budget_is_converted_with_the_chosen_count():
    per_token = flops_per_token(TINY)
    steps, tokens = plan_budget(TINY, tiny_train(tokens=None, flops=per_token * 5120))
    assert (steps, tokens) == (10, 5120)
    six_nd = 6 * 12 * 2 * 32 ** 2
    steps, tokens = plan_budget(TINY, tiny_train(tokens=None, flops=six_nd * 5120, flop_count="6nd"))
    assert (steps, tokens) == (10, 5120)


@pytest.mark.parametrize("schedule", ["cosine", "wsd", "constant"])
def test_schedules_warm_up_then_follow_their_shape(schedule):
    config = tiny_train(schedule=schedule, warmup_frac=0.1, decay_frac=0.2, min_lr_frac=0.1)
    lrs = [lr_multiplier(s, 100, config) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)   # linear warmup over 10 steps
    assert all(0.1 - 1e-9 <= lr <= 1 for lr in lrs)
    if schedule == "cosine":
        assert lrs[10] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.1)
        assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    elif schedule == "wsd":
        assert lrs[10:80] == [1.0] * 70 and lrs[-1] == pytest.approx(0.1)
        assert lrs[80] < 1.0 and all(a > b for a, b in zip(lrs[80:], lrs[81:]))
    else:
        assert lrs[10:] == [1.0] * 90


@pytest.mark.parametrize("kwargs, message", [
    (dict(tokens=None), "exactly one training budget"),
    (dict(flops=1e9), "exactly one training budget"),
    (dict(tokens=-5), "tokens must be a positive whole number"),
    (dict(tokens=None, flops=-1.0), "FLOP budget must be a positive number"),
    (dict(schedule="linear"), "unknown schedule 'linear'"),
    (dict(flop_count="7nd"), "unknown flop_count"),
    (dict(warmup_frac=1.5), "warmup_frac must be between 0 and 1"),
    (dict(batch_size=0), "batch_size must be a positive whole number"),
    (dict(batch_size=2.5), "batch_size must be a positive whole number"),
    (dict(lr=0), "lr must be positive"),
    (dict(device="tpu"), "unknown device 'tpu'"),
    (dict(batch_size=8, micro_batches=3), "does not split into micro_batches=3"),
    (dict(micro_batches=0), "micro_batches must be a positive whole number"),
])
def test_bad_train_configs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        tiny_train(**kwargs)


def test_unavailable_device_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        train(TINY, tiny_train(device="cuda"))


def test_context_longer_than_the_data(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("only a few hundred bytes of text here. " * 10)
    with pytest.raises(ConfigError, match="fewer than one context window"):
        train(GPTConfig(context=512), tiny_train(corpus=str(path)))


def test_repeated_data_and_other_validation_corpora(text_file):
    result = train(TINY, tiny_train(unique_tokens=5000, eval_corpora=[str(text_file)]))
    assert result.unique_tokens == 2 * 4096  # whole chunks of REPEAT_CHUNK tokens
    assert result.epochs == pytest.approx(30 * 8 * 64 / 8192)
    loss, stderr = result.val_loss_by_corpus[str(text_file)]
    assert math.isfinite(loss) and loss > result.val_loss - 5 and stderr > 0
    full = train(TINY, tiny_train())
    assert full.unique_tokens > 10_000_000 and full.epochs < 0.01 and full.val_loss_by_corpus == {}


def test_unique_tokens_must_fit_the_corpus(text_file):
    with pytest.raises(ConfigError, match="more than the training split holds"):
        train(TINY, tiny_train(corpus=str(text_file), unique_tokens=10_000_000))
    with pytest.raises(ConfigError, match="unique_tokens must be a positive whole number"):
        tiny_train(unique_tokens=0)


def test_run_id_changes_with_the_version_of_a_generated_corpus(monkeypatch):
    """A results file made on an older synthetic corpus must not be read back as runs on the new one."""
    from scalinglab import data
    synthetic_run, poetry_run = TrainConfig(corpus="synthetic", tokens=4096), TrainConfig(corpus="poetry", tokens=4096)
    before = run_id(TINY, synthetic_run), run_id(TINY, poetry_run)
    monkeypatch.setitem(data.GENERATED_VERSIONS, "synthetic", data.GENERATED_VERSIONS["synthetic"] + 1)
    assert run_id(TINY, synthetic_run) != before[0]
    assert run_id(TINY, poetry_run) == before[1]


def test_the_lstm_and_sgd_train_by_the_same_path():
    lstm = LSTMConfig(n_layer=1, d_model=32, context=64)
    result = train(lstm, tiny_train())
    assert not result.diverged and result.val_loss < math.log(256) - 0.5
    assert result.model["family"] == "lstm" and result.flops["exact"] == flops_per_token(lstm) * result.tokens
    sgd = train(TINY, tiny_train(optimizer="sgd", lr=0.3, weight_decay=0.0))
    assert not sgd.diverged and sgd.val_loss < math.log(256) - 0.5
    assert abs(sgd.val_loss - train(TINY, tiny_train(weight_decay=0.0)).val_loss) > 1e-3  # a different optimizer


def test_a_new_field_at_its_default_keeps_earlier_run_ids():
    # the id of this configuration before TrainConfig had `optimizer` (scalinglab commit c30c812)
    assert run_id(TINY, tiny_train()) == EARLIER_ID
    assert run_id(TINY, tiny_train(optimizer="sgd")) != EARLIER_ID
    assert run_id(TINY, tiny_train(micro_batches=1)) == EARLIER_ID
    assert run_id(TINY, tiny_train(micro_batches=2)) != EARLIER_ID
    with pytest.raises(ConfigError, match="unknown optimizer 'adam'"):
        tiny_train(optimizer="adam")


def test_micro_batches_take_the_same_steps_and_log_both_gradient_norms():
    whole, parts = train(TINY, tiny_train()), train(TINY, tiny_train(micro_batches=4))
    # the same data and the same mean gradient, summed in another order
    assert parts.curve["train_loss"] == pytest.approx(whole.curve["train_loss"], abs=1e-4)
    assert parts.val_loss == pytest.approx(whole.val_loss, abs=1e-4)
    assert "grad_sq_batch" not in whole.curve
    small, big = parts.curve["grad_sq_micro_batch"], parts.curve["grad_sq_batch"]
    assert len(small) == len(big) == len(parts.curve["step"])
    # a quarter of the batch is noisier: on average its squared norm is the larger
    assert sum(small) > sum(big) > 0


def wsd_at(tokens, warmup_steps=3):
    steps = tokens // (8 * 64)
    return tiny_train(tokens=tokens, schedule="wsd", decay_frac=0.25, warmup_frac=warmup_steps / steps)


def test_wsd_branches_are_the_runs_trained_apart():
    budgets = [wsd_at(40 * 8 * 64), wsd_at(20 * 8 * 64), wsd_at(30 * 8 * 64)]
    branched = train_branches(TINY, budgets)
    for config, result in zip(budgets, branched):
        alone = train(TINY, config)
        assert result.run_id == alone.run_id and result.steps == alone.steps
        assert result.curve["train_loss"] == pytest.approx(alone.curve["train_loss"], abs=1e-6)
        assert result.curve["lr"] == alone.curve["lr"] and result.val_curve["step"] == alone.val_curve["step"]
        assert result.val_loss == pytest.approx(alone.val_loss, abs=1e-6)
        assert result.extra["branched_at_step"] == alone.steps - round(0.25 * alone.steps)
    # the branches share their stable phase, then part: the longest run was not cooled down early
    short, long = branched[1], branched[0]
    assert short.curve["train_loss"][:15] == long.curve["train_loss"][:15]
    assert short.curve["lr"][-1] < long.curve["lr"][19]


@pytest.mark.parametrize("budgets", [
    [tiny_train(schedule="cosine"), tiny_train(schedule="cosine", tokens=20 * 8 * 64)],
    [wsd_at(20 * 8 * 64), wsd_at(40 * 8 * 64, warmup_steps=5)],
    [wsd_at(20 * 8 * 64), tiny_train(**{**wsd_at(40 * 8 * 64).__dict__, "lr": 1e-2})],
])
def test_only_wsd_runs_that_differ_in_budget_can_branch(budgets):
    with pytest.raises(ConfigError, match="differ only in their budget"):
        train_branches(TINY, budgets)
