"""train(model_config, train_config) -> RunResult: one training run, start to finish.

AdamW (or SGD with momentum) with warmup and a cosine, WSD or constant schedule, gradient clipping, validation on a
fixed held-out set, and divergence detection. The result is a plain JSON-serialisable record.
"""
import copy
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
    micro_batches: int = 1         # >1: accumulate each step's gradient over this many parts, logging the noise scale
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
        for name in ("batch_size", "micro_batches", "eval_tokens"):
            setattr(self, name, positive_int(getattr(self, name), name))
        if self.batch_size % self.micro_batches:
            raise ConfigError(f"batch_size={self.batch_size} does not split into micro_batches={self.micro_batches} "
                              f"equal parts: choose micro_batches from the divisors of batch_size")
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
LATER_FIELDS = {"model": {"base_n_head": None}, "train": {"optimizer": "adamw", "micro_batches": 1}}


def run_id(model_config, train_config: TrainConfig):
    """A run's identity: a hash of its full configuration (what sweeps use to skip finished runs)."""
    identity = {part: {k: v for k, v in asdict(config).items() if LATER_FIELDS[part].get(k, object()) != v}
                for part, config in (("model", model_config), ("train", train_config))}
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
    param_groups = [{"params": ps, "kind": kind, "lr_mult": model.param.lr_mult(kind),
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


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


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


def setup(mc, tc: TrainConfig):
    """The device, the training stream, the validation sets and the freshly initialised model of a run."""
    device = pick_device(tc.device)
    batches = Batches(load_corpus(tc.corpus, "train"), tc.batch_size, mc.context, seed=tc.seed, device=device,
                      unique=tc.unique_tokens)
    val_set = eval_windows(load_corpus(tc.corpus, "val"), mc.context, tc.eval_tokens)
    other_sets = {name: eval_windows(load_corpus(name, "val"), mc.context, tc.eval_tokens) for name in tc.eval_corpora}
    torch.manual_seed(tc.seed)
    return device, batches, val_set, other_sets, build(mc).to(device)


def eval_steps(steps, tc: TrainConfig):
    """The steps after which a run of `steps` steps validates: every eval_interval, and the last."""
    interval = tc.eval_interval or max(1, steps // 4)
    return set(range(interval, steps + 1, interval)) | {steps}


def train(model_config, train_config: TrainConfig, progress=False) -> RunResult:
    """Train a model (GPTConfig or LSTMConfig) from scratch and return its RunResult.
    Never raises on divergence: marks it."""
    mc, tc = model_config, train_config
    device, batches, val_set, other_sets, model = setup(mc, tc)
    steps, _ = plan_budget(mc, tc)
    run = Run(model, batches, val_set, tc, device)
    run.advance(steps, steps, DivergenceWatch(steps, mc.vocab_size), eval_steps(steps, tc), progress)
    return record(run, mc, tc, other_sets, steps)


def branch_key(mc, tc: TrainConfig):
    """WSD runs with equal keys differ only in their budget: they can share one stable phase (train_branches).
    The key holds the warmup in steps, which must agree for the schedules to agree before the decay."""
    if tc.schedule != "wsd" or tc.decay_frac == 0:
        return None
    steps, _ = plan_budget(mc, tc)
    rest = {k: v for k, v in asdict(tc).items() if k not in ("tokens", "flops", "warmup_frac")}
    return json.dumps({"model": asdict(mc), "train": rest, "warmup_steps": round(tc.warmup_frac * steps)},
                      sort_keys=True, default=str)


def train_branches(model_config, train_configs, progress=False) -> list:
    """WSD runs of one model at several budgets, sharing one stable phase; their RunResults in the given order.

    The run goes through the stable phase once; at each budget's decay start a copy of it (model,
    optimizer and data stream) is cooled down to that budget, and the stable phase goes on from the
    point of the copy. Each result is the run train(model_config, config) makes on its own, with the
    same data, schedule and seed: only the stable phase is not paid for again. Configurations must
    have equal branch_key: the same WSD run but for the budget (tokens or flops, and warmup_frac
    set to keep the warmup's steps).
    """
    mc, tcs = model_config, list(train_configs)
    keys = {branch_key(mc, tc) for tc in tcs}
    if None in keys or len(keys) != 1:
        raise ConfigError("train_branches needs WSD configurations (decay_frac > 0) that differ only in their budget "
                          "and keep the same warmup in steps (set warmup_frac = warmup_steps / steps for each)")
    device, batches, val_set, other_sets, model = setup(mc, tcs[0])
    plans = sorted((plan_budget(mc, tc)[0], i) for i, tc in enumerate(tcs))
    watches = [DivergenceWatch(steps, mc.vocab_size) for steps, _ in plans]
    stable_evals = set().union(*(eval_steps(steps, tcs[i]) for steps, i in plans))
    results = [None] * len(tcs)
    trunk = Run(model, batches, val_set, tcs[plans[0][1]], device)
    for (steps, i), watch in zip(plans, watches):
        tc = tcs[i]
        decay_start = steps - round(tc.decay_frac * steps)
        # before any decay the schedule is the same for every budget; every watch sees the shared losses
        trunk.tc = tc
        trunk.advance(decay_start, steps, lambda loss: any([w(loss) for w in watches]), stable_evals, progress)
        branch = trunk.copy()
        branch.advance(steps, steps, watch, eval_steps(steps, tc), progress)
        results[i] = record(branch, mc, tc, other_sets, steps)
        results[i].extra["branched_at_step"] = decay_start
    return results


def grad_sq_norm(model):
    """|g|^2, the squared norm of the gradient held by the model's parameters."""
    return sum(p.grad.float().pow(2).sum() for p in model.parameters() if p.grad is not None).item()


class Run:
    """A run in progress: its model, optimizer and data stream, and what it has logged, per step.

    A run advances in parts and can be copied, so that WSD cooldowns branch from one stable phase.
    With micro_batches > 1 each step accumulates the gradient over micro-batches and also logs
    |g|^2 of the first micro-batch and of the whole batch, for the gradient noise scale (scalinglab.noise).
    """

    def __init__(self, model, batches, val_set, tc: TrainConfig, device):
        self.model, self.batches, self.val_set, self.tc, self.device = model, batches, val_set, tc, device
        self.optimizer = make_optimizer(model, tc, device)
        self.autocast = autocast_for(device)
        self.forward = torch.compile(model) if tc.compile else model
        self.step, self.diverged_step, self.wall_time_s = 0, None, 0.0
        self.losses, self.lrs, self.grad_sq = [], [], []  # per step; grad_sq holds (micro-batch, batch) pairs
        self.evals = {}                                   # step -> (val loss, stderr)

    def copy(self):
        other = copy.copy(self)
        other.model, other.optimizer = copy.deepcopy((self.model, self.optimizer))
        other.forward = torch.compile(other.model) if self.tc.compile else other.model
        other.batches = copy.copy(self.batches)
        other.batches.rng = copy.deepcopy(self.batches.rng)
        other.losses, other.lrs, other.grad_sq, other.evals = (list(self.losses), list(self.lrs), list(self.grad_sq),
                                                              dict(self.evals))
        return other

    def optimizer_step(self, lr):
        """One step at learning rate lr: the gradient of the batch, accumulated over micro-batches, clipped, applied."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_mult"]
        x, y = next(self.batches)
        parts, loss_sum = self.tc.micro_batches, 0.0
        for part, (xs, ys) in enumerate(zip(x.chunk(parts), y.chunk(parts))):
            with self.autocast:
                _, loss = self.forward(xs, ys)
            (loss / parts).backward()
            loss_sum += loss.item()
            if part == 0 and parts > 1:
                first = grad_sq_norm(self.model) * parts ** 2  # the held gradient is the micro-batch's / parts
        if parts > 1:
            self.grad_sq.append((first, grad_sq_norm(self.model)))  # before clipping: the gradients themselves
        if self.tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_sum / parts

    def advance(self, until, total_steps, diverging, evals, progress=False):
        """Take steps up to `until` on the schedule of a run of total_steps steps, validating after each step
        in `evals` (with every window at the last step, a quarter of them before), until `diverging(loss)`."""
        if self.diverged_step is not None or self.step >= until:
            return
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=until, initial=self.step, desc="train", unit="step")
        start = time.perf_counter()
        for step in range(self.step, until):
            lr = self.tc.lr * lr_multiplier(step, total_steps, self.tc)
            loss = self.optimizer_step(lr)
            self.losses.append(loss)
            self.lrs.append(lr)
            self.step = step + 1
            if diverging(loss):
                self.diverged_step = step
                break
            if step + 1 in evals:
                windows = self.val_set if step + 1 == total_steps else self.val_set[::4]
                self.evals[step + 1] = evaluate(self.model, windows, self.device, self.autocast)
            if bar:
                bar.update()
                bar.set_postfix(loss=f"{loss:.3f}")
        self.wall_time_s += time.perf_counter() - start
        if bar:
            bar.close()

    def log(self, steps) -> "TrainingLog":
        """The run's curves as a run of `steps` steps records them: means over every steps // 200 steps."""
        every = max(1, steps // 200)
        curve = {"step": [], "lr": [], "train_loss": []}
        if self.grad_sq:
            curve.update(grad_sq_micro_batch=[], grad_sq_batch=[])
        for first in range(0, self.step, every):
            last = min(first + every, self.step)
            mean = sum(self.losses[first:last]) / (last - first)
            curve["step"].append(last)
            curve["lr"].append(self.lrs[last - 1])
            curve["train_loss"].append(mean if math.isfinite(mean) else None)  # JSON has no NaN
            if self.grad_sq:
                for key, values in zip(("grad_sq_micro_batch", "grad_sq_batch"), zip(*self.grad_sq[first:last])):
                    curve[key].append(sum(values) / len(values))
        val_curve = {"step": [], "tokens": [], "val_loss": [], "val_loss_stderr": []}
        for step in sorted(set(self.evals) & eval_steps(steps, self.tc)):
            for key, value in zip(val_curve, (step, step * self.batches.batch_size * self.batches.context,
                                              *self.evals[step])):
                val_curve[key].append(value)
        diverged = self.diverged_step is not None
        recent = self.losses[-max(1, steps // 20):]  # the final train loss averages the last 5% of steps
        return TrainingLog(curve, val_curve, None if diverged else sum(recent) / len(recent),
                           self.step, self.diverged_step, self.wall_time_s)


@dataclass
class TrainingLog:
    curve: dict                 # train loss and lr at logged steps (and |g|^2 with micro-batches)
    val_curve: dict             # validation loss at evaluation steps
    train_loss: float | None    # mean of the last 5% of steps
    steps: int                  # steps taken: all of them, or up to and including the one that diverged
    diverged_step: int | None
    wall_time_s: float


def record(run: Run, mc, tc: TrainConfig, other_sets, steps) -> RunResult:
    """The RunResult of a finished (or diverged) run of `steps` steps: its final losses, other corpora,
    counts and provenance."""
    log, model, batches, device = run.log(steps), run.model, run.batches, run.device
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
        date=utc_now())
