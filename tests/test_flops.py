import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from scalinglab.flops import flops_per_token, forward_flops_breakdown, tokens_for_flops, training_flops
from scalinglab.model import GPT, GPTConfig, LSTMConfig, build, non_embedding_params


def test_six_n_d():
    assert training_flops(1_000_000, 20_000_000) == 1.2e14
    assert training_flops(non_embedding_params(2, 64), 1000) == 6 * 98_304 * 1000


@pytest.mark.parametrize("L, d, h, T, V, forward", [
    # qkv 6 L d^2, proj 2 L d^2, mlp 16 L d^2, QK^T and AV 2 L T d each, logits 2 d V, by hand:
    (2, 64, 2, 128, 256, 49_152 + 16_384 + 131_072 + 32_768 + 32_768 + 32_768),
    (4, 128, 4, 128, 256, 393_216 + 131_072 + 1_048_576 + 131_072 + 131_072 + 65_536),
    (96, 12288, 96, 2048, 50257, 2 * 12 * 96 * 12288 ** 2 + 4 * 96 * 2048 * 12288 + 2 * 12288 * 50257),
])
def test_exact_count_by_hand(L, d, h, T, V, forward):
    config = GPTConfig(n_layer=L, d_model=d, n_head=h, context=T, vocab_size=V)
    assert sum(forward_flops_breakdown(config).values()) == forward
    assert flops_per_token(config) == 3 * forward


def test_gpt3_scale_ratio_to_6n():
    # GPT-3 175B shape: attention and logits add only a few percent to 6N at this scale.
    config = GPTConfig(n_layer=96, d_model=12288, n_head=96, context=2048, vocab_size=50257)
    ratio = flops_per_token(config) / (6 * non_embedding_params(96, 12288))
    assert 1.0 < ratio < 1.05


@pytest.mark.parametrize("L, d, h, T", [(2, 64, 2, 128), (3, 96, 4, 64)])
def test_exact_count_matches_torch_flop_counter(L, d, h, T):
    """PyTorch's own counter, over a real forward and backward pass (math attention, so it sees QK^T, AV)."""
    config = GPTConfig(n_layer=L, d_model=d, n_head=h, context=T)
    model, x = GPT(config), torch.randint(0, 256, (2, T))
    with sdpa_kernel([SDPBackend.MATH]), FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    assert counter.get_total_flops() == flops_per_token(config) * x.numel()


def test_tokens_for_flops():
    config = GPTConfig(n_layer=2, d_model=64, n_head=2)
    assert tokens_for_flops(884_736 * 1000, config) == 1000
    assert tokens_for_flops(6 * 98_304 * 1000, config, "6nd") == 1000
    with pytest.raises(ValueError, match="unknown FLOP count"):
        tokens_for_flops(1e9, config, "7nd")


def lstm_by_hand(model, x):
    """The LSTM's forward pass written with F.linear, which the FLOP counter sees (torch's fused LSTM it does not)."""
    import torch.nn.functional as F
    h = model.wte(x)
    for layer in range(model.config.n_layer):
        w_ih, w_hh, b_ih, b_hh = (getattr(model.lstm, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh",
                                                                                       "bias_ih", "bias_hh"))
        state = cell = torch.zeros(x.shape[0], model.config.d_model)
        outputs = []
        for t in range(x.shape[1]):
            gates = F.linear(h[:, t], w_ih, b_ih) + F.linear(state, w_hh, b_hh)
            i, f, g, o = gates.chunk(4, dim=1)
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            state = torch.sigmoid(o) * torch.tanh(cell)
            outputs.append(state)
        h = torch.stack(outputs, dim=1)
    return model.head(model.ln_f(h))


def test_lstm_count_matches_the_torch_flop_counter_on_the_same_computation():
    config = LSTMConfig(n_layer=2, d_model=24, context=16)
    model, x = build(config), torch.randint(0, 256, (2, 16))
    logits = lstm_by_hand(model, x)
    assert torch.allclose(logits, model(x)[0], atol=1e-5)  # the hand-written pass is the model's
    with FlopCounterMode(display=False) as counter:
        loss = torch.nn.functional.cross_entropy(lstm_by_hand(model, x).view(-1, 256), x.view(-1))
        loss.backward()
    # the count's one simplification: the initial state is zero and needs no gradient, which saves
    # one recurrent backward matmul (2 * 4d * d per sequence and layer) out of T
    first_step = config.n_layer * x.shape[0] * 2 * 4 * 24 * 24
    assert counter.get_total_flops() == flops_per_token(config) * x.numel() - first_step
    assert flops_per_token(config) == 6 * (8 * 2 * 24 ** 2) + 6 * 24 * 256  # 6N + 6 d V: no attention term
    assert tokens_for_flops(6 * 8 * 2 * 24 ** 2 * 1000, config, "6nd") == 1000
