"""python -m scalinglab bench: training throughput as ratios, not seconds; --fit: the Chinchilla fit's speed.

For models of about 0.1M, 1M and 10M non-embedding parameters (context 128, byte vocabulary,
batch 32 x 128) it measures scalinglab's `train` against a plain PyTorch loop of the same
architecture written below, and against the machine's fp32 matmul rate. Each measurement runs in
a fresh process, so that peak memory (max RSS) is that one run's. The two implementations run
alternately and the ratio is the median over those pairs: this machine's speed drifts by 10%
from minute to minute, and pairing cancels the drift.
"""
import concurrent.futures
import multiprocessing
import resource
import statistics
import time

import torch
import torch.nn.functional as F

SIZES = {  # label: (n_layer, d_model, n_head), with heads of 64 dimensions as in GPT-2 and GPT-3
    "0.1M": (2, 64, 1),
    "1M": (5, 128, 2),
    "10M": (6, 384, 6),
}
CONTEXT, BATCH, VOCAB = 128, 32, 256
NOISE_PARTS = 8
STEPS = {"0.1M": 450, "1M": 60, "10M": 12}  # about 20 s per run, so that a run outlasts the machine's jitter


def matmul_gflops(seconds=2.0):
    """The best fp32 matmul rate over a few square sizes, in GFLOP/s."""
    best = 0.0
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b  # warm up
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            a @ b
            count += 1
        best = max(best, 2 * n ** 3 * count / (time.perf_counter() - start) / 1e9)
    return best


def plain_loop(n_layer, d_model, n_head, steps, tokens):
    """The same GPT and AdamW step as scalinglab, written as plain functions over weight tensors."""
    torch.manual_seed(0)
    d, T = d_model, CONTEXT

    def weight(*shape, std=0.02):
        return (torch.randn(*shape) * std).requires_grad_()

    wte, wpe, head = weight(VOCAB, d), weight(T, d), weight(VOCAB, d)
    layers = [dict(ln1=torch.ones(d, requires_grad=True), qkv=weight(3 * d, d), proj=weight(d, d),
                   ln2=torch.ones(d, requires_grad=True), up=weight(4 * d, d), down=weight(d, 4 * d))
              for _ in range(n_layer)]
    ln_f = torch.ones(d, requires_grad=True)
    params = [wte, wpe, head, ln_f] + [p for layer in layers for p in layer.values()]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    data = torch.from_numpy(tokens[: 1 << 22].astype("int64"))

    def loss_fn(idx, targets):
        x = wte[idx] + wpe
        for w in layers:
            h = F.layer_norm(x, (d,), w["ln1"])
            q, k, v = F.linear(h, w["qkv"]).view(BATCH, T, 3, n_head, d // n_head).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + F.linear(a.transpose(1, 2).reshape(BATCH, T, d), w["proj"])
            x = x + F.linear(F.gelu(F.linear(F.layer_norm(x, (d,), w["ln2"]), w["up"])), w["down"])
        logits = F.linear(F.layer_norm(x, (d,), ln_f), head)
        return F.cross_entropy(logits.view(-1, VOCAB), targets.reshape(-1))

    start = time.perf_counter()
    for _ in range(steps):
        ix = torch.randint(len(data) - T - 1, (BATCH,))
        xy = torch.stack([data[i:i + T + 1] for i in ix])
        loss = loss_fn(xy[:, :-1], xy[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
    return steps * BATCH * T / (time.perf_counter() - start)


def scalinglab_loop(n_layer, d_model, n_head, steps, micro_batches=1):
    from scalinglab.model import GPTConfig
    from scalinglab.train import TrainConfig, train
    result = train(GPTConfig(n_layer=n_layer, d_model=d_model, n_head=n_head, context=CONTEXT),
                   TrainConfig(corpus="prose", tokens=steps * BATCH * CONTEXT, batch_size=BATCH,
                               eval_tokens=CONTEXT, eval_interval=steps, device="cpu", micro_batches=micro_batches))
    if result.diverged:  # its throughput would cover only part of the run
        raise RuntimeError(f"the benchmark run diverged at step {result.diverged_step}")
    return result.tokens_per_s


def measure(label, impl, steps):
    """(tokens/s, peak RSS in MB) of one implementation at one size; runs in its own process."""
    from scalinglab.data import load_corpus
    n_layer, d_model, n_head = SIZES[label]
    tokens = load_corpus("prose")
    if impl == "plain":
        rate = plain_loop(n_layer, d_model, n_head, steps, tokens)
    else:
        rate = scalinglab_loop(n_layer, d_model, n_head, steps, NOISE_PARTS if impl == "noise log" else 1)
    return rate, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(quick=False):
    from scalinglab.data import load_corpus
    from scalinglab.flops import flops_per_token
    from scalinglab.model import GPTConfig, non_embedding_params
    load_corpus("prose")  # build the cache once, outside the timed processes
    # passed to each worker: a spawned process imports this module afresh and would not see a change to STEPS
    steps = {k: max(3, v // 3) for k, v in STEPS.items()} if quick else STEPS
    repeats = 1 if quick else 3
    peak = matmul_gflops()
    print(f"fp32 matmul rate: {peak:.1f} GFLOP/s on {torch.get_num_threads()} threads (torch {torch.__version__})")
    print(f"{'size':>5} {'N':>10} {'impl':>10} {'tokens/s':>10} {'GFLOP/s':>8} {'of matmul':>9} {'peak MB':>8}")
    ctx = multiprocessing.get_context("spawn")
    ratios, fractions, peak_mb, noise_cost = {}, {}, {}, {}
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        for label, (n_layer, d_model, n_head) in SIZES.items():
            per_token = flops_per_token(GPTConfig(n_layer=n_layer, d_model=d_model, n_head=n_head, context=CONTEXT))
            runs = {"plain": [], "scalinglab": [], "noise log": []}  # lists of (tokens/s, peak MB), in triples
            for _ in range(repeats):
                for impl in runs:
                    runs[impl].append(pool.submit(measure, label, impl, steps[label]).result())
            for impl, measured in runs.items():
                rate = statistics.median(r for r, _ in measured)
                gflops = rate * per_token / 1e9
                print(f"{label:>5} {non_embedding_params(n_layer, d_model):>10,} {impl:>10} {rate:>10,.0f} "
                      f"{gflops:>8.1f} {gflops / peak:>9.0%} {max(mb for _, mb in measured):>8.0f}")
            ratios[label] = statistics.median(o / r for (r, _), (o, _) in zip(runs["plain"], runs["scalinglab"]))
            noise_cost[label] = statistics.median(o / n for (o, _), (n, _) in zip(runs["scalinglab"], runs["noise log"]))
            fractions[label] = statistics.median(r for r, _ in runs["scalinglab"]) * per_token / 1e9 / peak
            peak_mb[label] = max(mb for _, mb in runs["scalinglab"])
    print("ratio scalinglab / plain loop (median of pairs): " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(f"time per token with the noise log ({NOISE_PARTS} micro-batches) / without: "
          + ", ".join(f"{k} {v:.2f}" for k, v in noise_cost.items()))
    print(f"bench: noise_log_cost_max={max(noise_cost.values()):.2f} min_ratio_vs_plain={min(ratios.values()):.2f} matmul_fraction_1M={fractions['1M']:.2f} "
          f"matmul_fraction_10M={fractions['10M']:.2f} peak_mem_10M_MB={peak_mb['10M']:.0f}")


def fit_speed(sample=100):
    """The Chinchilla grid fit (4,500 starts) on 245 runs, batched, against scipy's L-BFGS-B one start at a time.

    The runs are Hoffmann et al.'s law plus 1% noise, as many as Besiroglu et al. extracted. scipy
    gets the same objective and its analytic gradient and runs `sample` of the starts; its time for
    all of them is extrapolated from those.
    """
    import numpy as np
    from scipy.optimize import minimize

    from scalinglab.fit import HOFFMANN_GRID, ChinchillaFit, fit_chinchilla, huber_objective
    rng = np.random.default_rng(0)
    N, D = np.exp(rng.uniform(np.log(4e7), np.log(1.6e10), 245)), np.exp(rng.uniform(np.log(5e9), np.log(5e11), 245))
    L = ChinchillaFit(1.69, 406.4, 410.7, 0.34, 0.28, objective=0).predict(N, D) * np.exp(rng.normal(0, 0.01, 245))
    start = time.perf_counter()
    fit_chinchilla(N, D, L)
    batched = time.perf_counter() - start
    fun = huber_objective(np.log(N), np.log(D), np.log(L), np.ones(len(N)), 1e-3)

    def one(theta):
        f, g = fun(theta[None], np.array([0]))
        return f[0], g[0]
    starts = HOFFMANN_GRID[rng.choice(len(HOFFMANN_GRID), sample, replace=False)]
    looped = {}
    for name, objective, jac in (("analytic", one, True), ("finite_differences", lambda t: one(t)[0], None)):
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            for theta in starts:
                minimize(objective, theta, jac=jac, method="L-BFGS-B")
        looped[name] = (time.perf_counter() - start) / sample * len(HOFFMANN_GRID)
    print(f"Chinchilla grid fit, {len(HOFFMANN_GRID):,} starts on {len(N)} runs: {batched:.1f} s batched; scipy's "
          f"L-BFGS-B one start at a time would take {looped['analytic']:.0f} s with the analytic gradient and "
          f"{looped['finite_differences']:.0f} s with finite differences, as the replication ran it (from {sample} starts)")
    print(f"bench: chinchilla_fit_s={batched:.1f} "
          + " ".join(f"{name}_loop_over_batched={t / batched:.1f}" for name, t in looped.items()))


def _timed_sweep(configs, path, **where):
    from scalinglab.sweep import run_sweep
    start = time.perf_counter()
    results = run_sweep(configs, path, progress=False, **where)
    return time.perf_counter() - start, sum(r["wall_time_s"] for r in results)


def _steady_rate(groups, **where):
    """Seconds to the first finished run (starting the workers), then seconds per run after it."""
    from scalinglab.workers import run_groups
    start = time.perf_counter()
    finished = [time.perf_counter() for _ in run_groups(groups, **where)]
    return finished[0] - start, (finished[-1] - finished[0]) / (len(finished) - 1)


def sweep_speed(lab="lab02", experiment="families", workers=2, tiny_runs=200):
    """A lab's cpu-profile reference sweep sequentially, with local workers and with Ray; then what
    scheduling costs per run, from `tiny_runs` runs of one step each: the time between finished runs
    once the workers are up, times the workers, less the same for the sequential sweep."""
    import tempfile
    from scalinglab.experiments import experiments
    from scalinglab.model import GPTConfig
    from scalinglab.profiles import get_profile
    from scalinglab.train import TrainConfig
    from scalinglab.workers import cores
    ways = {"sequential": {}, f"{workers} local workers": {"workers": workers},
            f"Ray, {workers} tasks at once": {"backend": "ray", "workers": workers}}
    configs = experiments(lab, get_profile("cpu"))[experiment]
    tiny = [[(GPTConfig(n_layer=1, d_model=16, n_head=1, context=32),
              TrainConfig(corpus="prose", tokens=4 * 32, batch_size=4, eval_tokens=4 * 33, seed=seed))]
            for seed in range(tiny_runs)]
    print(f"{lab} {experiment} (cpu profile, {len(configs)} runs) on {cores()} cores, "
          f"torch {torch.get_num_threads()} threads in this process")
    walls, per_run, startup = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, where) in enumerate(ways.items()):
            walls[name], trained = _timed_sweep(configs, f"{tmp}/{k}.jsonl", **where)
            startup[name], per_run[name] = _steady_rate(tiny, **where)
            print(f"{name:>24}: {walls[name]:7.1f} s wall ({trained:7.1f} s of training by the runs' clocks), "
                  f"speed-up {walls['sequential'] / walls[name]:.2f}; one-step runs: first after {startup[name]:.1f} s, "
                  f"then one every {per_run[name] * 1e3:.1f} ms")
    local, ray = list(ways)[1:]
    # each worker spends workers * (time between runs) on a run: beyond what a sequential run costs, that is scheduling
    overhead = {name: workers * per_run[name] - per_run["sequential"] for name in (local, ray)}
    print(f"bench: sweep_speedup_local={walls['sequential'] / walls[local]:.2f} "
          f"sweep_speedup_ray={walls['sequential'] / walls[ray]:.2f} "
          f"overhead_per_run_local_ms={overhead[local] * 1e3:.1f} overhead_per_run_ray_ms={overhead[ray] * 1e3:.1f} "
          f"startup_local_s={startup[local]:.1f} startup_ray_s={startup[ray]:.1f}")
