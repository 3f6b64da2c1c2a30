"""train(model_config, train_config) -> RunResult: one training run, start to finish.

AdamW (or SGD with momentum) with warmup and a cosine, WSD or constant schedule, gradient clipping, validation on a
fixed held-out set, and divergence detection. The result is a plain JSON-serialisable record.
"""
import datetime
import hashlib
import json
import math
import platform
import time
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from scalinglab.data import GENERATED_VERSIONS, Batches, eval_windows, load_corpus
from scalinglab.errors import ConfigError, positive_int
from scalinglab.flops import flops_per_token, tokens_for_flops, training_flops
from scalinglab.model import build, count_params, matrix_params

SCHEDULES = ("cosine", "wsd", "constant")
OPTIMIZERS = ("adamw", "sgd")
EVAL_BATCH = 32  # validation windows per forward pass, whatever the training batch (a batch of 1 is slow)


class DivergenceWatch:
    """Calls a run diverged on a non-finite loss; on an explosion, above 3 ln(vocab) (an untrained
    model is at ln(vocab)); or on a sustained rise: the mean of the last `window` steps more than
    `margin` nats above the first step. Brief spikes that recover, common early on, are not divergence.
    """

    def __init__(self, steps, vocab_size, window=10, margin=1.0):
        self.recent = deque(maxlen=max(window, steps // 20))
        self.ceiling, self.margin, self.first = 3 * math.log(vocab_size), margin, None

    def __call__(self, loss):
        self.first = loss if self.first is None else self.first
        self.recent.append(loss)
        full = len(self.recent) == self.recent.maxlen
        return (not math.isfinite(loss) or loss > self.ceiling
                or full and sum(self.recent) / len(self.recent) > self.first + self.margin)


@dataclass
class TrainConfig:
    corpus: str = "poetry"
    tokens: int | None = None      # the budget in training tokens D ...
    flops: float | None = None     # ... or in training FLOPs C, converted to tokens by flop_count
    flop_count: str = "exact"      # 'exact' (flops_per_token) or '6nd' (6 N per token)
    batch_size: int = 32           # sequences per step; the batch in tokens is batch_size * context
    lr: float = 3e-3               # peak learning rate eta
    optimizer: str = "adamw"       # 'adamw', or 'sgd' (heavy-ball momentum beta1, L2 weight decay)
    schedule: str = "cosine"       # 'cosine', 'wsd' (warmup-stable-decay) or 'constant'
    warmup_frac: float = 0.05      # fraction of steps spent warming up linearly from 0
    decay_frac: float = 0.2        # wsd: fraction of steps spent decaying at the end
    min_lr_frac: float = 0.1       # the floor the schedule decays to, as a fraction of lr
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    unique_tokens: int | None = None  # train on only this many distinct tokens, repeated (None: all)
    eval_corpora: tuple = ()       # other corpora whose validation split is also scored at the end
    eval_interval: int | None = None  # steps between validations; None: 4 per run
    eval_tokens: int = 524288         # the fixed validation set of the final loss (see README: noise)
    seed: int = 0
    device: str = "auto"           # 'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'mps'
    compile: bool = False          # torch.compile the model (worth it on CUDA for long runs)

    def __post_init__(self):
        if (self.tokens is None) == (self.flops is None):
            raise ConfigError("give exactly one training budget: tokens=... or flops=...")
        if self.tokens is not None:
            self.tokens = positive_int(self.tokens, "tokens")
        elif not (isinstance(self.flops, (int, float)) and self.flops > 0):
            raise ConfigError(f"the FLOP budget must be a positive number, got {self.flops!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}: use one of {SCHEDULES}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}: use one of {OPTIMIZERS}")
        if self.flop_count not in ("exact", "6nd"):
            raise ConfigError(f"unknown flop_count {self.flop_count!r}: use 'exact' or '6nd'")
        for name in ("warmup_frac", "decay_frac", "min_lr_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        for name in ("batch_size", "eval_tokens"):
            setattr(self, name, positive_int(getattr(self, name), name))
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        self.eval_corpora = tuple(self.eval_corpora)
        if self.unique_tokens is not None:
            self.unique_tokens = positive_int(self.unique_tokens, "unique_tokens")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise ConfigError(f"unknown device {self.device!r}: use auto, cpu, cuda or mps")


@dataclass
class RunResult:
    run_id: str
    model: dict
    train: dict
    params: dict
    steps: int
    tokens: int                    # training tokens seen, D
    batch_tokens: int
    flops: dict                    # training FLOPs: {'exact': ..., '6nd': ...}
    train_loss: float | None       # nats per token, mean of the last 5% of steps
    val_loss: float | None         # nats per token on the fixed validation set
    val_loss_stderr: float | None  # standard error of val_loss across validation windows
    val_loss_by_corpus: dict       # corpus -> [loss, stderr] for each of train.eval_corpora
    unique_tokens: int             # distinct training tokens the run could see
    epochs: float                  # tokens / unique_tokens: how often the data repeated, on average
    train_bpb: float | None        # bits per byte (= bits per token for byte tokens)
    val_bpb: float | None
    curve: dict                    # train loss and lr at logged steps
    val_curve: dict                # validation loss at evaluation steps (before the last: every 4th window)
    diverged: bool
    diverged_step: int | None
    wall_time_s: float
    tokens_per_s: float
    device: str
    versions: dict
    date: str
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)

    def summary(self):
        status = f"DIVERGED at step {self.diverged_step}" if self.diverged else \
            f"val {self.val_loss:.4f} ± {self.val_loss_stderr:.4f} nats/token ({self.val_bpb:.3f} bits/byte)"
        return (f"run {self.run_id}: N={self.params['non_embedding']:,} D={self.tokens:,} "
                f"C={self.flops['exact']:.3g} FLOPs | {status} | {self.steps} steps in {self.wall_time_s:.1f}s "
                f"({self.tokens_per_s:,.0f} tok/s on {self.device})")


# Fields added after reference results were published, with their defaults: they enter a run's
# identity only when set to something else, so every earlier run keeps its id.
LATER_FIELDS = {"optimizer": "adamw"}


def run_id(model_config, train_config: TrainConfig):
    """A run's identity: a hash of its full configuration (what sweeps use to skip finished runs)."""
    train = {k: v for k, v in asdict(train_config).items() if LATER_FIELDS.get(k, object()) != v}
    identity = {"model": asdict(model_config), "train": train}
    if train_config.corpus in GENERATED_VERSIONS:
        identity["corpus_version"] = GENERATED_VERSIONS[train_config.corpus]
    blob = json.dumps(identity, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def lr_multiplier(step, total_steps, config: TrainConfig):
    """The schedule: the fraction of the peak learning rate to use at `step` (0-based)."""
    warmup = round(config.warmup_frac * total_steps)
    if step < warmup:
        return (step + 1) / warmup
    floor = config.min_lr_frac
    if config.schedule == "constant":
        return 1.0
    if config.schedule == "cosine":
        progress = (step - warmup) / max(1, total_steps - 1 - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_start = total_steps - round(config.decay_frac * total_steps)  # wsd
    if step < decay_start:
        return 1.0
    progress = (step - decay_start + 1) / max(1, total_steps - decay_start)
    return 1.0 - (1 - floor) * progress


def pick_device(name="auto"):
    if name != "auto":
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' requested but CUDA is not available: use device='auto' or 'cpu'")
        if name == "mps" and not torch.backends.mps.is_available():
            raise ConfigError("device 'mps' requested but Apple MPS is not available: use device='auto' or 'cpu'")
        return name
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def make_optimizer(model, config: TrainConfig, device):
    """AdamW or SGD with one parameter group per kind, so the parameterization sets each group's lr.

    SGD's momentum is beta1, as Adam's first moment; its weight decay is torch's L2 penalty, whose
    shrinkage per step is lr * weight_decay, so compare optimizers at weight_decay=0."""
    groups = {}
    for _, p, kind in model.param_kinds():
        groups.setdefault(kind, []).append(p)
    param_groups = [{"params": ps, "lr_mult": model.param.lr_mult(kind),
                     "weight_decay": 0.0 if kind in ("gain", "bias") else config.weight_decay}
                    for kind, ps in groups.items()]
    if config.optimizer == "sgd":
        return torch.optim.SGD(param_groups, lr=config.lr, momentum=config.beta1)
    # The fused kernel is faster than the per-tensor loop on CPU and CUDA alike.
    fused = device == "cpu" or device.startswith("cuda")
    return torch.optim.AdamW(param_groups, lr=config.lr, betas=(config.beta1, config.beta2), fused=fused)


def autocast_for(device):
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))


@torch.no_grad()
def evaluate(model, windows, device, autocast):
    """Mean loss over the fixed validation windows, and its standard error across windows."""
    model.eval()
    per_window = []
    for chunk in windows.split(EVAL_BATCH):
        chunk = chunk.to(device)
        with autocast:
            logits, _ = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.float().transpose(1, 2), chunk[:, 1:], reduction="none")
        per_window.append(loss.mean(dim=1).cpu())
    model.train()
    losses = torch.cat(per_window).double()
    stderr = losses.std().item() / math.sqrt(len(losses)) if len(losses) > 1 else float("nan")
    return losses.mean().item(), stderr


def versions():
    import scalinglab
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scalinglab": scalinglab.__version__}


def plan_budget(model_config, config: TrainConfig):
    """Steps and tokens a budget buys: tokens as given, or a FLOP budget converted by config.flop_count."""
    tokens = config.tokens
    if tokens is None:
        tokens = tokens_for_flops(config.flops, model_config, config.flop_count)
    batch_tokens = config.batch_size * model_config.context
    steps = max(1, round(tokens / batch_tokens))
    return steps, steps * batch_tokens


def train(model_config, train_config: TrainConfig, progress=False) -> RunResult:
    """Train a model (GPTConfig or LSTMConfig) from scratch and return its RunResult.
    Never raises on divergence: marks it."""
    mc, tc = model_config, train_config
    device = pick_device(tc.device)
    steps, _ = plan_budget(mc, tc)
    batches = Batches(load_corpus(tc.corpus, "train"), tc.batch_size, mc.context, seed=tc.seed, device=device,
                      unique=tc.unique_tokens)
    val_set = eval_windows(load_corpus(tc.corpus, "val"), mc.context, tc.eval_tokens)
    other_sets = {name: eval_windows(load_corpus(name, "val"), mc.context, tc.eval_tokens) for name in tc.eval_corpora}
    torch.manual_seed(tc.seed)
    model = build(mc).to(device)
    log = training_loop(model, batches, val_set, steps, tc, device, progress)
    return record(model, mc, tc, batches, other_sets, log, device)


@dataclass
class TrainingLog:
    curve: dict                 # train loss and lr at logged steps
    val_curve: dict             # validation loss at evaluation steps
    train_loss: float | None    # mean of the last 5% of steps
    steps: int                  # steps taken: all of them, or up to and including the one that diverged
    diverged_step: int | None
    wall_time_s: float


def training_loop(model, batches, val_set, steps, tc: TrainConfig, device, progress=False) -> TrainingLog:
    """The optimizer steps, with the schedule, logging, validation along the way and divergence checks."""
    optimizer = make_optimizer(model, tc, device)
    step_fn = torch.compile(model) if tc.compile else model
    autocast = autocast_for(device)
    batch_tokens = batches.batch_size * batches.context
    eval_interval = tc.eval_interval or max(1, steps // 4)
    log_interval = max(1, steps // 200)
    recent = deque(maxlen=max(1, steps // 20))  # the final train loss averages the last 5% of steps
    diverging = DivergenceWatch(steps, model.config.vocab_size)
    curve = {"step": [], "lr": [], "train_loss": []}
    val_curve = {"step": [], "tokens": [], "val_loss": [], "val_loss_stderr": []}
    window_sum, window_n = 0.0, 0
    diverged_step = None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="train", unit="step")

    start = time.perf_counter()
    for step in range(steps):
        lr = tc.lr * lr_multiplier(step, steps, tc)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_mult"]
        x, y = next(batches)
        with autocast:
            _, loss = step_fn(x, y)
        loss.backward()
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

        loss = loss.item()
        diverged_step = step if diverging(loss) else None
        recent.append(loss)
        window_sum, window_n = window_sum + loss, window_n + 1
        if (step + 1) % log_interval == 0 or step + 1 == steps or diverged_step is not None:
            curve["step"].append(step + 1)
            curve["lr"].append(lr)
            mean = window_sum / window_n
            curve["train_loss"].append(mean if math.isfinite(mean) else None)  # JSON has no NaN
            window_sum, window_n = 0.0, 0
        if diverged_step is not None:
            break
        if (step + 1) % eval_interval == 0 or step + 1 == steps:
            # the final loss uses every window; points along the way a quarter of them, for speed
            windows = val_set if step + 1 == steps else val_set[::4]
            val, err = evaluate(model, windows, device, autocast)
            for k, v in zip(val_curve, (step + 1, (step + 1) * batch_tokens, val, err)):
                val_curve[k].append(v)
        if bar:
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")
    wall = time.perf_counter() - start
    if bar:
        bar.close()

    diverged = diverged_step is not None
    return TrainingLog(curve, val_curve, None if diverged else sum(recent) / len(recent),
                       diverged_step + 1 if diverged else steps, diverged_step, wall)


def record(model, mc, tc: TrainConfig, batches, other_sets, log: TrainingLog, device) -> RunResult:
    """The RunResult of a finished (or diverged) run: its final losses, other corpora, counts and provenance."""
    diverged = log.diverged_step is not None
    batch_tokens = batches.batch_size * batches.context
    seen = log.steps * batch_tokens
    val_loss, stderr = (None, None) if diverged else (log.val_curve["val_loss"][-1], log.val_curve["val_loss_stderr"][-1])
    by_corpus = {} if diverged else {name: list(evaluate(model, windows, device, autocast_for(device)))
                                     for name, windows in other_sets.items()}
    bpb = (lambda nats: None if nats is None else nats / math.log(2))
    return RunResult(
        run_id=run_id(mc, tc), model=asdict(mc), train=asdict(tc), params=count_params(model),
        steps=log.steps, tokens=seen, batch_tokens=batch_tokens,
        # 6N uses Kaplan's N (12 n_layer d^2 for a GPT), the same N that converts a '6nd' budget into tokens
        flops={"exact": flops_per_token(mc) * seen, "6nd": training_flops(matrix_params(mc), seen)},
        train_loss=log.train_loss, val_loss=val_loss, val_loss_stderr=stderr, val_loss_by_corpus=by_corpus,
        unique_tokens=batches.unique, epochs=seen / batches.unique,
        train_bpb=bpb(log.train_loss), val_bpb=bpb(val_loss), curve=log.curve, val_curve=log.val_curve,
        diverged=diverged, diverged_step=log.diverged_step, wall_time_s=log.wall_time_s,
        tokens_per_s=seen / log.wall_time_s if log.wall_time_s > 0 else 0.0, device=device, versions=versions(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
