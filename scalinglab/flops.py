"""Training FLOPs: the 6ND rule and the exact per-token count it approximates.

A multiply-add is 2 FLOPs. The backward pass costs twice the forward pass (one matmul for the
gradient of the activations, one for the gradient of the weights), so training costs 3x forward.
"""
from scalinglab.model import LSTMConfig, matrix_params


def training_flops(N, D):
    """C = 6 N D: N non-embedding parameters, D training tokens.

    Kaplan et al. (2020), Sec. 2.1: 2N FLOPs per token forward, twice that backward.
    """
    return 6 * N * D


def forward_flops_breakdown(config):
    """Forward FLOPs per token of every matrix multiply in the model (a GPT or an LSTM), by component.

    Follows Kaplan et al. (2020), Table 1, and Hoffmann et al. (2022), Appendix F, with d_attn =
    d_model and d_ff = 4 d_model. Each query attends to the full context, as both papers count it
    (a causal mask could skip about half of QK^T and AV). Counted like Hoffmann et al., both QK^T and
    AV are included; Kaplan's table has one term 2 n_layer n_ctx d_attn. Not counted: the embedding
    lookup (a gather, not a matmul; Hoffmann et al. count it as one), softmax, LayerNorm, GELU and
    the optimizer, which are O(d_model) per token rather than O(d_model^2).
    """
    if isinstance(config, LSTMConfig):
        return lstm_forward_flops(config)
    L, d, T, V = config.n_layer, config.d_model, config.context, config.vocab_size
    return {
        "qkv": L * 2 * d * 3 * d,
        "attn_scores": L * 2 * T * d,   # q . k for T keys
        "attn_values": L * 2 * T * d,   # weighted sum of T values
        "attn_proj": L * 2 * d * d,
        "mlp": L * 2 * 2 * d * 4 * d,
        "logits": 2 * d * V,
    }


def lstm_forward_flops(config: LSTMConfig):
    """An LSTM layer multiplies its input and its previous state by the 4d x d matrices of four gates:
    2 * 8 d^2 per token. Gate nonlinearities and products are O(d) and not counted. No attention,
    so no term grows with the context. Training is 3x this, which includes the gradient of the first
    step's zero state: 1/T of one of the recurrent matrix's three multiplies that autograd skips."""
    L, d, V = config.n_layer, config.d_model, config.vocab_size
    return {"gates": L * 2 * 8 * d * d, "logits": 2 * d * V}


def flops_per_token(config):
    """Exact training FLOPs per token (forward + backward): for a GPT 6N + 12 L T d + 6 d V,
    for an LSTM 6N + 6 d V."""
    return 3 * sum(forward_flops_breakdown(config).values())


def tokens_for_flops(flops, config, count="exact"):
    """How many training tokens a FLOP budget buys, with the exact count or with 6N."""
    if count == "exact":
        per_token = flops_per_token(config)
    elif count == "6nd":
        per_token = 6 * matrix_params(config)
    else:
        raise ValueError(f"unknown FLOP count {count!r}: use 'exact' or '6nd'")
    return flops / per_token
