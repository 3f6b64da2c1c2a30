"""The tiny GPT of the course, a pre-LayerNorm decoder in the style of nanoGPT, and an LSTM baseline.

Everything that depends on the parameterization (init scales, the attention scale, the output
multiplier and per-group learning-rate multipliers) is read from one object, `model.param`,
so that muP is a different object rather than flags scattered through the code.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from scalinglab.errors import ConfigError, positive_int


@dataclass
class GPTConfig:
    n_layer: int = 2
    d_model: int = 64
    n_head: int = 2
    context: int = 128          # tokens per sequence
    vocab_size: int = 256       # byte tokens
    parameterization: str = "sp"
    base_width: int | None = None  # the width a muP model is tuned at (sp has none: leave it None)
    base_n_head: int | None = None  # heads of the muP base model; None: as many as this one (heads widen)

    def __post_init__(self):
        for name in ("n_layer", "d_model", "n_head", "context", "vocab_size"):
            setattr(self, name, positive_int(getattr(self, name), f"GPTConfig.{name}"))
        if self.d_model % self.n_head:
            raise ConfigError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}: "
                              f"choose n_head from the divisors of d_model, e.g. {_divisors(self.d_model)}")
        if self.parameterization not in PARAMETERIZATIONS:
            raise ConfigError(f"unknown parameterization {self.parameterization!r}: "
                              f"choose one of {sorted(PARAMETERIZATIONS)}")
        if self.parameterization == "mup" and self.base_width is None:
            raise ConfigError("muP needs base_width, the width its hyperparameters are tuned at: "
                              "GPTConfig(parameterization='mup', base_width=...)")
        if self.base_width is not None:
            self.base_width = positive_int(self.base_width, "GPTConfig.base_width")
        if self.base_n_head is not None:
            self.base_n_head = positive_int(self.base_n_head, "GPTConfig.base_n_head")
            if self.base_width is None or self.base_width % self.base_n_head:
                raise ConfigError(f"base_n_head={self.base_n_head} must divide base_width={self.base_width}: "
                                  "it is the number of heads of the muP base model, of width base_width")
        if self.d_model == self.base_width and self.base_n_head not in (None, self.n_head):
            raise ConfigError(f"at its base width a muP model is its base model, so base_n_head={self.base_n_head} "
                              f"must equal n_head={self.n_head} (or be left unset)")
        if self.parameterization == "sp" and self.base_width is not None:
            raise ConfigError("base_width belongs to a width-aware parameterization such as muP; "
                              "the standard parameterization ('sp') has none: leave it unset")

    @property
    def d_head(self):
        return self.d_model // self.n_head


def _divisors(n):
    return [d for d in range(1, min(n, 16) + 1) if n % d == 0]


class StandardParam:
    """Standard parameterization (SP), as in GPT-2 and nanoGPT.

    The model holds this one object and asks it, where each value is used, for init scales,
    learning-rate multipliers, the attention scale and the output multiplier. Every parameter has a kind; the parameterization maps kinds to init scales and
    learning-rate multipliers:
      embedding  token and position embeddings
      hidden     weight matrices inside the blocks
      residual   matrices that write into the residual stream (scaled down with depth, GPT-2)
      output     the output head
      gain       LayerNorm weights (initialised to 1, never decayed)
      bias       the LSTM's gate biases (the GPT has none; initialised to 0, never decayed)
    """
    name = "sp"
    std = 0.02

    def __init__(self, config: GPTConfig):
        self.config = config

    def init_std(self, kind):
        if kind == "residual":
            return self.std / math.sqrt(2 * self.config.n_layer)
        return self.std

    def attn_scale(self):
        return 1 / math.sqrt(self.config.d_head)

    def output_mult(self):
        return 1.0

    def lr_mult(self, kind):
        return 1.0


class MuParam(StandardParam):
    """Maximal update parameterization (muP) for Adam, Yang et al. (2022), Table 3, in the form with
    multipliers of their Table 8 and of microsoft/mup.

    With m = d_model / base_width, relative to SP at the base width:
      hidden, residual  init std / sqrt(m) (variance 1 / fan_in), Adam learning rate / m
      output            logits multiplied by 1 / m (init and learning rate as in SP)
      attention         logits scaled by 1 / d_head, not 1 / sqrt(d_head): as sqrt(d_head0) / d_head,
                        with d_head0 = base_width / base_n_head the head size of the base model. By
                        default the heads are fixed and widen (Yang et al.); where the model adds heads
                        of a fixed size instead (the labs' GPTs), d_head0 = d_head and the scale is SP's
      embedding, gain   as in SP
    At d_model == base_width every factor is 1: the model and its training step are SP's.
    """
    name = "mup"

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.m = config.d_model / config.base_width  # GPTConfig makes sure muP has a base_width

    def init_std(self, kind):
        std = super().init_std(kind)
        return std / math.sqrt(self.m) if kind in ("hidden", "residual") else std

    def attn_scale(self):
        c = self.config
        return math.sqrt(c.base_width / (c.base_n_head or c.n_head)) / c.d_head

    def output_mult(self):
        return 1 / self.m

    def lr_mult(self, kind):
        return 1 / self.m if kind in ("hidden", "residual") else 1.0


PARAMETERIZATIONS = {"sp": StandardParam, "mup": MuParam}


class CausalSelfAttention(nn.Module):
    def __init__(self, config, param):
        super().__init__()
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)
        self.n_head, self.param = config.n_head, param

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.param.attn_scale())
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model, bias=False)
        self.down = nn.Linear(4 * config.d_model, config.d_model, bias=False)

    def forward(self, x):
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, config, param):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model, bias=False)
        self.attn = CausalSelfAttention(config, param)
        self.ln2 = nn.LayerNorm(config.d_model, bias=False)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.param = PARAMETERIZATIONS[config.parameterization](config)
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = nn.Embedding(config.context, config.d_model)
        self.blocks = nn.ModuleList(Block(config, self.param) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model, bias=False)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.reset_parameters()

    def param_kinds(self):
        """Yield (name, parameter, kind) for every parameter; see StandardParam for the kinds."""
        for name, p in self.named_parameters():
            if name.startswith(("wte", "wpe")):
                kind = "embedding"
            elif name.startswith("head"):
                kind = "output"
            elif p.ndim == 1:
                kind = "gain"
            elif name.endswith(("attn.proj.weight", "mlp.down.weight")):
                kind = "residual"
            else:
                kind = "hidden"
            yield name, p, kind

    @torch.no_grad()
    def reset_parameters(self):
        for _, p, kind in self.param_kinds():
            if kind == "gain":
                p.fill_(1.0)
            else:
                p.normal_(0.0, self.param.init_std(kind))

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        if T > self.config.context:
            raise ConfigError(f"sequence of {T} tokens is longer than the model's context {self.config.context}")
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        # skipped under SP: multiplying every logit by 1 cost 3.7% of the 0.1M model's forward and backward
        if self.param.output_mult() != 1.0:
            logits = logits * self.param.output_mult()
        return logits, next_token_loss(logits, targets)


def next_token_loss(logits, targets):
    """Mean cross-entropy in nats per token (None without targets)."""
    if targets is None:
        return None
    return F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))


@dataclass
class LSTMConfig:
    """A multi-layer LSTM language model: the recurrent baseline of Kaplan et al. (2020), Fig. 7.

    Embedding -> n_layer LSTM layers of width d_model -> LayerNorm -> output head. `family` marks
    its records, so that results of both families can share a file.
    """
    n_layer: int = 2
    d_model: int = 64
    context: int = 128
    vocab_size: int = 256
    family: str = field(default="lstm", init=False)

    def __post_init__(self):
        for name in ("n_layer", "d_model", "context", "vocab_size"):
            setattr(self, name, positive_int(getattr(self, name), f"LSTMConfig.{name}"))


class LSTM(nn.Module):
    """The same interface as GPT (param, param_kinds, forward), so the same trainer trains it."""

    def __init__(self, config: LSTMConfig):
        super().__init__()
        self.config = config
        self.param = StandardParam(config)
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.lstm = nn.LSTM(config.d_model, config.d_model, num_layers=config.n_layer, batch_first=True)
        self.ln_f = nn.LayerNorm(config.d_model, bias=False)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.reset_parameters()

    def param_kinds(self):
        for name, p in self.named_parameters():
            kind = {"wte": "embedding", "head": "output", "ln_f": "gain"}.get(name.split(".")[0])
            yield name, p, kind or ("bias" if p.ndim == 1 else "hidden")

    @torch.no_grad()
    def reset_parameters(self):
        d = self.config.d_model
        for name, p, kind in self.param_kinds():
            if kind == "gain":
                p.fill_(1.0)
            elif kind == "bias":
                # gates are stacked (input, forget, cell, output); a forget bias of 1 lets early
                # gradients flow through time (Jozefowicz et al. 2015). Two biases per layer: 1/2 each.
                p.zero_()
                p[d:2 * d] = 0.5
            else:
                p.normal_(0.0, self.param.init_std(kind))

    def forward(self, idx, targets=None):
        if idx.shape[1] > self.config.context:
            raise ConfigError(f"sequence of {idx.shape[1]} tokens is longer than the model's context {self.config.context}")
        x, _ = self.lstm(self.wte(idx))
        logits = self.head(self.ln_f(x))
        return logits, next_token_loss(logits, targets)


MODELS = {GPTConfig: GPT, LSTMConfig: LSTM}
FAMILIES = {"gpt": GPTConfig, "lstm": LSTMConfig}


def build(config):
    """The model a config describes: GPT for a GPTConfig, LSTM for an LSTMConfig."""
    return MODELS[type(config)](config)


def model_config(family="gpt", **fields):
    """A config of the named family from its fields (as a sweep spec or a results record gives them)."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}: use one of {sorted(FAMILIES)}")
    try:
        return FAMILIES[family](**fields)
    except TypeError as e:
        raise ConfigError(f"bad {family} model fields {sorted(fields)}: {e}") from None


def non_embedding_params(n_layer, d_model):
    """Kaplan et al. (2020)'s N = 12 * n_layer * d_model^2 (with d_ff = 4 d_model, d_attn = d_model).

    Per block: Q, K, V and the attention output are 4 d^2; the MLP is 2 * 4 d^2. Our model has no
    biases; its LayerNorm gains add (2 * n_layer + 1) * d_model more, which count_params includes.
    """
    return 12 * n_layer * d_model ** 2


def matrix_params(config):
    """Kaplan's N for either family: the weight matrices between embedding and head.

    GPT: 12 n_layer d^2 (non_embedding_params). LSTM: 8 n_layer d^2, the input and recurrent
    matrices of four gates per layer. Gains and biases are left out, as Kaplan et al. leave them.
    """
    if isinstance(config, LSTMConfig):
        return 8 * config.n_layer * config.d_model ** 2
    return non_embedding_params(config.n_layer, config.d_model)


def count_params(model):
    """Parameter counts of a GPT or LSTM, by the conventions of Kaplan et al. (2020).

    Returns a dict with
      embedding      token + position embeddings
      output_head    the untied output head (vocab_size * d_model). Kaplan's N excludes it, since in
                     a tied model it is the embedding; we follow that and keep it out of
                     `non_embedding`, reporting it here so that totals add up.
      non_embedding  everything between embedding and head: for a GPT exactly
                     non_embedding_params(n_layer, d_model) + (2 * n_layer + 1) * d_model
      total          the sum of the three
    """
    counts = {"embedding": 0, "output_head": 0, "non_embedding": 0}
    for _, p, kind in model.param_kinds():
        key = {"embedding": "embedding", "output": "output_head"}.get(kind, "non_embedding")
        counts[key] += p.numel()
    counts["total"] = sum(counts.values())
    return counts
