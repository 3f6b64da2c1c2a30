"""Sweeps: grids of runs whose results are appended, one RunResult per line, to a JSONL file.

A sweep is resumable: running it again skips every run whose id is already in the file. Each
result is written by replacing the whole file atomically (temporary file, fsync, rename), so an
interrupt, a crash or kill -9 loses at most the runs in progress and never leaves a torn line.
Runs can train in parallel (scalinglab.workers); this process alone writes the file.
"""
import contextlib
import itertools
import json
import os
import subprocess
import sys
from dataclasses import asdict, fields

import pandas as pd

from scalinglab.errors import ConfigError, SweepError
from scalinglab.files import write_atomic
from scalinglab.model import FAMILIES, model_config
from scalinglab.profiles import get_profile
from scalinglab.flops import flops_per_token
from scalinglab.train import TrainConfig, branch_key, pick_device, plan_budget, run_id, utc_now, versions
from scalinglab.workers import Failure, check_backend, run_groups


def _split_key(key):
    section, _, name = key.partition(".")
    valid = {"model": {f.name for cls in FAMILIES.values() for f in fields(cls)},
             "train": {f.name for f in fields(TrainConfig)}}
    if section not in valid or name not in valid[section]:
        raise ConfigError(f"unknown sweep key {key!r}: use 'model.<field>' or 'train.<field>', fields: "
                          f"model {sorted(valid['model'])}, train {sorted(valid['train'])}")
    return section, name


def expand(spec: dict):
    """The (model config, TrainConfig) pairs of a sweep spec.

    spec = {"model": {...base GPTConfig fields...}, "train": {...base TrainConfig fields...},
            "grid": {"model.d_model": [64, 128], "train.lr": [1e-3, 3e-3]},   # cartesian product
            "runs": [{"train.tokens": 1e6}, ...]}                               # and/or explicit runs
    The model is a GPT unless its fields say "family": "lstm".
    Every configuration is built (and so checked) before anything trains.
    """
    unknown = set(spec) - {"model", "train", "grid", "runs", "results", "name"}
    if unknown:
        raise ConfigError(f"unknown sweep spec keys {sorted(unknown)}: use model, train, grid, runs, results, name")
    grid = spec.get("grid") or {}
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid entry {key!r} must be a non-empty list of values, got {values!r}")
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    overrides = [{**combo, **run} for combo in combos for run in (spec.get("runs") or [{}])]
    configs = []
    for override in overrides:
        parts = {"model": dict(spec.get("model") or {}), "train": dict(spec.get("train") or {})}
        for key, value in override.items():
            section, name = _split_key(key)
            parts[section][name] = value
        try:
            configs.append((model_config(**parts["model"]), TrainConfig(**parts["train"])))
        except TypeError as e:
            raise ConfigError(f"bad sweep configuration {parts}: {e}") from None
    return configs


def read_results(path):
    """The RunResult dicts in a results file ([] if it does not exist)."""
    if not os.path.exists(path):
        return []
    results = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    results.append(json.loads(line))
                except json.JSONDecodeError:
                    raise ConfigError(f"{path}, line {number}, is not a JSON record: fix or remove that line "
                                      f"(scalinglab never writes one; was the file edited by hand?)") from None
    return results


def append_result(path, result: dict):
    """Add one result to a results file; the file is always either the old or the new version."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    old = open(path).read() if os.path.exists(path) else ""
    if old and not old.endswith("\n"):
        old += "\n"
    write_atomic(path, (old + json.dumps(result) + "\n").encode())


def git_commit():
    """The scalinglab checkout's commit, with '+dirty' when the library's code has uncommitted changes."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no", "--", here],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def write_provenance(path, command, results, profile=None, commit=None):
    """<results>.provenance.json: how the file was made, and the command that makes it again."""
    record = {
        "results": os.path.basename(path), "runs": len(results), "command": command,
        "scalinglab_commit": commit or git_commit(), "profile": profile or get_profile().name,
        "devices": sorted({r["device"] for r in results}), "versions": versions(),
        "date": utc_now(),
        "wall_time_s": round(sum(r["wall_time_s"] for r in results), 1),
    }
    write_atomic(provenance_path(path), (json.dumps(record, indent=2) + "\n").encode())


def provenance_path(path):
    return os.path.splitext(path)[0] + ".provenance.json"


def planned_flops(mc, tc: TrainConfig):
    """The training FLOPs a run will take: what the progress bar counts, since the runs of a sweep differ in size."""
    _, tokens = plan_budget(mc, tc)
    return flops_per_token(mc) * tokens


def share_stable_phases(configs):
    """The configurations in groups to train together: WSD runs that differ only in budget share one
    stable phase (train_branches, same results as apart); every other run is a group of its own."""
    groups = {}
    for mc, tc in configs:
        groups.setdefault(branch_key(mc, tc) or run_id(mc, tc), []).append((mc, tc))
    return list(groups.values())


def failures_path(path):
    return os.path.splitext(path)[0] + ".failures.jsonl"


def record_failures(path, done, new=()):
    """<results>.failures.jsonl: the runs that failed, with their errors, and have not succeeded since
    (the file goes when there are none). A failure is not a result: the next sweep tries the run again."""
    new_ids = {f["run_id"] for f in new}
    kept = [f for f in read_results(failures_path(path)) if f["run_id"] not in done and f["run_id"] not in new_ids]
    kept += new
    if kept:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # every run may have failed
        write_atomic(failures_path(path), "".join(json.dumps(f) + "\n" for f in kept).encode())
    elif os.path.exists(failures_path(path)):
        os.remove(failures_path(path))


def run_sweep(configs, results_path, command=None, progress=True, profile=None, workers=None, backend="local",
              address=None, retries=2):
    """Train every (model config, TrainConfig) not yet in results_path; return all results in config order.

    command: the shell command that regenerates this file; profile: the name of the profile whose
    sizes the configs use (default: the active one). Both are recorded in its provenance.
    workers, backend ("local" or "ray"), address: where the runs train (scalinglab.workers.run_groups).
    Results are the same wherever (on CPU, bit for bit at the same threads per run). Only this
    process writes results_path, each run as it finishes. With workers, a run that fails 1 + retries
    times goes to <results>.failures.jsonl with its error and the others go on; then SweepError says
    so, and running the sweep again tries it again.
    """
    workers = check_backend(backend, workers, address, retries)
    done = {r["run_id"]: r for r in read_results(results_path)}
    commit = git_commit()  # the code that makes these runs, before anything can change under them
    todo = list({run_id(mc, tc): (mc, tc) for mc, tc in configs if run_id(mc, tc) not in done}.values())
    if todo and backend == "local":
        pick_device(todo[0][1].device)  # fail before training, not after the first run
    groups = share_stable_phases(todo)
    if not (backend == "local" and workers == 1):  # in parallel, the longest first: no long run starts last
        groups.sort(key=lambda runs: -sum(planned_flops(*run) for run in runs))
    from tqdm.auto import tqdm
    total, left = (sum(planned_flops(mc, tc) for mc, tc in runs) / 1e12 for runs in (configs, todo))
    # progress and its ETA in planned TFLOPs, not in runs: a data sweep's last run is its largest
    finished, failed = len(configs) - len(todo), []

    def say_retry(i, error, attempt):
        tqdm.write(f"run {', '.join(run_id(*run) for run in groups[i])} failed ({error}): attempt {attempt + 1} "
                   f"of {retries + 1}", file=sys.stderr)

    with tqdm(total=total, initial=total - left, desc="sweep", unit="TFLOP", disable=not progress,
              bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} TFLOP [{elapsed}<{remaining}{postfix}]") as bar, \
            contextlib.closing(run_groups(groups, backend, workers, address, retries, say_retry)) as finished_groups:
        for i, results in finished_groups:
            if isinstance(results, Failure):
                new = [{"run_id": run_id(mc, tc), "model": asdict(mc), "train": asdict(tc), "error": results.error,
                        "attempts": results.attempts, "date": utc_now()} for mc, tc in groups[i]]
                record_failures(results_path, done, new)
                failed += new
                bar.set_postfix(runs=f"{finished}/{len(configs)}", failed=len(failed))
                continue
            for (mc, tc), result in zip(groups[i], results):
                append_result(results_path, result)
                done[result["run_id"]] = result
                write_provenance(results_path, command, list(done.values()), profile, commit)
                finished += 1
                bar.set_postfix(runs=f"{finished}/{len(configs)}",
                                last=("diverged" if result["diverged"] else f"{result['val_loss']:.3f}"))
                bar.update(planned_flops(mc, tc) / 1e12)
    record_failures(results_path, done)
    if failed:
        raise SweepError(f"{len(failed)} of {len(configs)} runs failed {failed[0]['attempts']} times (first error: "
                         f"{failed[0]['error']}); the others are saved in {results_path}, the errors in "
                         f"{failures_path(results_path)}: run the sweep again to retry them")
    return [done[run_id(mc, tc)] for mc, tc in configs]


def load_results(path) -> pd.DataFrame:
    """A results file as a DataFrame: one row per run, nested configs flattened to 'model.d_model' etc."""
    results = read_results(path)
    if not results:
        raise ConfigError(f"no results in {path}: run the sweep first")
    return results_frame(results)


def results_frame(results) -> pd.DataFrame:
    """Result records (as run_sweep returns them) as a DataFrame, flattened like load_results."""
    curves = ("curve", "val_curve")  # kept whole, as dicts of lists, rather than flattened
    frame = pd.json_normalize([{k: v for k, v in r.items() if k not in curves} for r in results])
    for key in curves:
        frame[key] = [r[key] for r in results]
    frame["N"], frame["D"], frame["C"] = frame["params.non_embedding"], frame["tokens"], frame["flops.exact"]
    frame["model.family"] = frame.get("model.family", pd.Series("gpt", index=frame.index)).fillna("gpt")
    return frame
