import math

import numpy as np
import pytest
import torch

from scalinglab.errors import ConfigError
from scalinglab.model import (GPT, LSTM, GPTConfig, LSTMConfig, StandardParam, build, count_params, matrix_params,
                              model_config, non_embedding_params)
from scalinglab.train import TrainConfig


@pytest.mark.parametrize("L, d, h, T, expected", [
    # embedding = 256 d + T d; head = 256 d; non-embedding = 12 L d^2 + (2 L + 1) d LayerNorm gains
    (2, 64, 2, 128, {"embedding": 24_576, "output_head": 16_384, "non_embedding": 98_624, "total": 139_584}),
    (4, 128, 4, 128, {"embedding": 49_152, "output_head": 32_768, "non_embedding": 787_584, "total": 869_504}),
    (6, 384, 6, 256, {"embedding": 196_608, "output_head": 98_304, "non_embedding": 10_621_824, "total": 10_916_736}),
])
def test_parameter_counts_by_hand(L, d, h, T, expected):
    assert count_params(GPT(GPTConfig(n_layer=L, d_model=d, n_head=h, context=T))) == expected


@pytest.mark.parametrize("L, d", [(1, 8), (2, 64), (5, 128), (6, 384)])
def test_12_L_d2_differs_only_by_layernorm_gains(L, d):
    model = GPT(GPTConfig(n_layer=L, d_model=d, n_head=1))
    # counted from the model itself, not from the formula: the weight matrices inside the blocks
    matrices = sum(p.numel() for name, p in model.named_parameters() if name.startswith("blocks") and p.ndim == 2)
    assert non_embedding_params(L, d) == matrices
    assert count_params(model)["non_embedding"] - non_embedding_params(L, d) == (2 * L + 1) * d


def test_forward_shapes_and_initial_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, d_model=32, n_head=4, context=16))
    x = torch.randint(0, 256, (3, 16))
    logits, loss = model(x, x)
    assert logits.shape == (3, 16, 256)
    assert abs(loss.item() - math.log(256)) < 0.1  # an untrained model is close to uniform


def test_model_is_causal():
    model = GPT(GPTConfig(n_layer=2, d_model=32, n_head=4, context=16))
    x = torch.randint(0, 256, (1, 16))
    y = x.clone()
    y[0, 10:] = (y[0, 10:] + 1) % 256
    a, _ = model(x)
    b, _ = model(y)
    assert torch.allclose(a[0, :10], b[0, :10]) and not torch.allclose(a[0, 10:], b[0, 10:])


def test_init_and_lr_come_from_the_parameterization():
    class Wide(StandardParam):
        std = 0.5

        def lr_mult(self, kind):
            return 3.0 if kind == "hidden" else 1.0

    config = GPTConfig(n_layer=2, d_model=256, n_head=4)
    model = GPT(config)
    model.param = Wide(config)
    model.reset_parameters()
    kinds = {name: kind for name, _, kind in model.param_kinds()}
    assert kinds["blocks.0.attn.qkv.weight"] == "hidden" and kinds["blocks.0.mlp.down.weight"] == "residual"
    assert kinds["head.weight"] == "output" and kinds["wte.weight"] == "embedding" and kinds["ln_f.weight"] == "gain"
    assert abs(model.blocks[0].attn.qkv.weight.std().item() - 0.5) < 0.02
    assert abs(model.blocks[1].mlp.down.weight.std().item() - 0.5 / 2) < 0.02  # 0.5 / sqrt(2 n_layer)
    assert (model.ln_f.weight == 1).all()
    from scalinglab.train import make_optimizer
    groups = make_optimizer(model, TrainConfig(tokens=1), "cpu").param_groups
    assert sorted(g["lr_mult"] for g in groups) == [1.0, 1.0, 1.0, 1.0, 3.0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(d_model=65, n_head=2), "d_model=65 is not divisible by n_head=2"),
    (dict(n_layer=0), "n_layer must be a positive whole number"),
    (dict(d_model=-8), "d_model must be a positive whole number"),
    (dict(context=2.5), "context must be a positive whole number"),
    (dict(parameterization="ntk"), "unknown parameterization 'ntk'"),
])
def test_bad_configs(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GPTConfig(**kwargs)


def test_numpy_and_float_sizes_are_whole_numbers():
    config = GPTConfig(n_layer=np.int64(2), d_model=64.0, n_head=np.int32(2))
    assert (config.n_layer, config.d_model, config.n_head) == (2, 64, 2)
    assert all(type(v) is int for v in (config.n_layer, config.d_model, config.n_head))
    assert TrainConfig(tokens=2e6, batch_size=np.int64(8)).batch_size == 8


def test_sequence_longer_than_context():
    model = GPT(GPTConfig(context=8))
    with pytest.raises(ConfigError, match="longer than the model's context 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_the_parameterization_object_is_read_where_it_is_used():
    model = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, context=16))
    idx = torch.randint(0, 256, (2, 16))
    logits, _ = model(idx)
    model.param.output_mult = lambda: 2.0          # one object: the forward pass asks it, not a copy
    assert torch.allclose(model(idx)[0], 2 * logits)
    model.param.attn_scale = lambda: 0.0           # uniform attention over the past
    assert not torch.allclose(model(idx)[0], 2 * logits)


def test_base_width_needs_a_width_aware_parameterization():
    with pytest.raises(ConfigError, match="base_width"):
        GPTConfig(base_width=64)


def test_the_lstm_counts_embedding_head_and_gates():
    model = build(LSTMConfig(n_layer=2, d_model=48, context=64))
    # per layer: input and recurrent matrices of 4 gates (8 d^2) and their two bias vectors (8 d); final LayerNorm d
    assert count_params(model) == {"embedding": 256 * 48, "output_head": 256 * 48,
                                   "non_embedding": 2 * (8 * 48 ** 2 + 8 * 48) + 48, "total": 2 * 256 * 48 + 37_680}
    assert matrix_params(model.config) == 8 * 2 * 48 ** 2
    kinds = {name: kind for name, _, kind in model.param_kinds()}
    assert kinds["lstm.bias_ih_l0"] == "bias" and kinds["lstm.weight_hh_l1"] == "hidden" and kinds["wte.weight"] == "embedding"


def test_the_lstm_is_causal_and_starts_near_uniform():
    model = build(LSTMConfig(n_layer=2, d_model=32, context=16))
    x = torch.randint(0, 256, (2, 16))
    logits, loss = model(x, x)
    assert logits.shape == (2, 16, 256) and abs(loss.item() - math.log(256)) < 0.1
    changed = x.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 256
    assert torch.equal(model(changed)[0][:, :10], logits[:, :10])
    # the forget gate's two biases start at 1/2 each, every other bias at 0
    bias = model.lstm.bias_ih_l0
    assert torch.all(bias[32:64] == 0.5) and torch.all(bias[:32] == 0) and torch.all(bias[64:] == 0)


def test_model_configs_are_built_by_family():
    assert isinstance(build(model_config("lstm", n_layer=1, d_model=16)), LSTM)
    assert isinstance(build(model_config(n_layer=1, d_model=16, n_head=1)), GPT)
    with pytest.raises(ConfigError, match="unknown model family 'rnn'"):
        model_config("rnn", n_layer=1)
    with pytest.raises(ConfigError, match="bad lstm model fields"):
        model_config("lstm", n_head=2)
    with pytest.raises(ConfigError, match="LSTMConfig.d_model must be a positive whole number"):
        LSTMConfig(d_model=0)


def test_mup_needs_a_base_width():
    with pytest.raises(ConfigError, match="base_width"):
        GPTConfig(parameterization="mup")


def test_mup_at_its_base_width_is_sp_in_model_and_training_step():
    from scalinglab.train import make_optimizer
    shape = dict(n_layer=2, d_model=32, n_head=2, context=16)
    models = []
    for fields in ({}, {"parameterization": "mup", "base_width": 32}):
        torch.manual_seed(0)
        models.append(GPT(GPTConfig(**shape, **fields)))
    x = torch.randint(0, 256, (4, 17))
    for model in models:
        opt = make_optimizer(model, TrainConfig(tokens=64, lr=1e-2), "cpu")
        for group in opt.param_groups:
            group["lr"] = 1e-2 * group["lr_mult"]
        _, loss = model(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
    for (name, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters()):
        assert torch.equal(a, b), name


def test_mup_scales_init_learning_rates_and_multipliers_with_the_width():
    base, wide = (GPT(GPTConfig(n_layer=2, d_model=d, n_head=2, parameterization="mup", base_width=32))
                  for d in (32, 128))
    m = 4
    assert wide.param.lr_mult("hidden") == wide.param.lr_mult("residual") == 1 / m
    assert wide.param.lr_mult("embedding") == wide.param.lr_mult("output") == 1.0
    assert wide.param.output_mult() == 1 / m
    assert wide.param.init_std("hidden") == pytest.approx(base.param.init_std("hidden") / m ** 0.5)
    assert wide.param.init_std("embedding") == base.param.init_std("embedding")
    # heads fixed at 2: d_head grows 16 -> 64, and the attention scale falls as 1 / d_head, from SP's at the base
    assert base.param.attn_scale() == pytest.approx(1 / 16 ** 0.5)
    assert wide.param.attn_scale() == pytest.approx(base.param.attn_scale() * 16 / 64)


def test_mup_with_heads_of_a_fixed_size_keeps_sps_attention_scale():
    # the labs' GPTs add 16-channel heads as they widen: d_head never changes, so neither does 1 / d_head's effect
    wide = GPT(GPTConfig(n_layer=1, d_model=128, n_head=8, parameterization="mup", base_width=32, base_n_head=2))
    assert wide.param.attn_scale() == pytest.approx(1 / 16 ** 0.5)
    assert wide.param.output_mult() == 1 / 4


@pytest.mark.parametrize("fields, message", [
    ({"d_model": 64, "base_width": 32, "base_n_head": 3}, "must divide base_width"),
    ({"d_model": 32, "base_width": 32, "base_n_head": 1}, "must equal n_head"),
])
def test_bad_base_n_head_is_refused(fields, message):
    with pytest.raises(ConfigError, match=message):
        GPTConfig(n_layer=1, n_head=2, parameterization="mup", **fields)
