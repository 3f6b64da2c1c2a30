"""How long reference sweeps will take on K devices, worked out before anyone rents them.

A run takes its FLOPs (training, plus validation: a forward pass, a third of a training step per
token) at a sustained rate, plus a floor per optimizer step (small models wait on kernel launches
and Python, not on arithmetic), plus a fixed time per run. The three numbers are the device's:
`calibrate` fits them to runs it has made. The runs of a sweep are independent, so a longest-first
schedule on K devices finishes within 4/3 of the best possible one (Graham, 1969), and no schedule
finishes before the longest run or the total over K.
"""
import heapq
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from scalinglab.errors import ConfigError
from scalinglab.flops import flops_per_token
from scalinglab.model import model_config
from scalinglab.sweep import planned_flops
from scalinglab.train import TrainConfig, eval_steps, plan_budget

LABS = ("lab01", "lab02", "lab03", "lab04", "lab05")


def run_flops(mc, tc):
    """A run's FLOPs: training, the validations along the way (a quarter of the windows, all of them at
    the last step) and the other corpora scored at the end."""
    steps, _ = plan_budget(mc, tc)
    eval_tokens = tc.eval_tokens * (1 + (len(eval_steps(steps, tc)) - 1) / 4 + len(tc.eval_corpora))
    return planned_flops(mc, tc) + eval_tokens * flops_per_token(mc) / 3


def _terms(mc, tc):
    return [run_flops(mc, tc), plan_budget(mc, tc)[0], 1.0]


@dataclass
class Speed:
    rate: float          # sustained FLOP/s
    step_s: float = 0.0  # seconds per optimizer step beyond its FLOPs
    per_run_s: float = 0.0

    def seconds(self, mc, tc):
        flops, steps, once = _terms(mc, tc)
        return flops / self.rate + steps * self.step_s + once * self.per_run_s


def calibrate(records):
    """The Speed that best fits measured runs (result records), all three terms >= 0, by least squares in
    seconds: the long runs, which make up a plan's hours, weigh the most. Diverged runs are left out.
    A record's wall_time_s is its training loop with its validations; the time to build the model and
    record the run is not on that clock, so per_run_s from it is a floor."""
    records = [r for r in records if not r["diverged"]]  # stopped early: their time is not their plan's
    terms = np.array([_terms(model_config(**r["model"]), TrainConfig(**r["train"])) for r in records])
    seconds = np.array([r["wall_time_s"] for r in records])
    if len(records) < 3 or len({tuple(t) for t in terms[:, :2]}) < 3:
        raise ConfigError("calibrating needs at least three measured runs of different sizes and numbers of steps")
    (per_flop, step_s, per_run_s), _ = nnls(terms, seconds)
    if per_flop == 0:
        raise ConfigError("these runs' times do not grow with their FLOPs: calibrate on runs of more different sizes")
    return Speed(1 / per_flop, step_s, per_run_s)


def longest_first(seconds, devices):
    """The wall time of jobs of these durations on `devices`, each next-longest job on the first free device."""
    free = [0.0] * devices
    for s in sorted(seconds, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def plan(profile, devices, speed: Speed, labs=LABS):
    """One row per lab and one for all: runs, PFLOPs, device-hours, the wall time on `devices` as
    `reference LAB --workers` spends it (experiment after experiment, each one's runs longest first;
    the labs one after another) and the longest run. WSD budgets that share a stable phase are
    counted as apart: for them it is an overestimate."""
    from scalinglab.experiments import experiments
    rows = {}
    for lab in labs:
        sweeps = list(experiments(lab, profile).values())
        seconds = [[speed.seconds(mc, tc) for mc, tc in configs] for configs in sweeps]
        rows[lab] = {"runs": sum(map(len, sweeps)),
                     "PFLOPs": sum(run_flops(mc, tc) for configs in sweeps for mc, tc in configs) / 1e15,
                     "device_hours": sum(map(sum, seconds)) / 3600,
                     "wall_minutes": sum(longest_first(s, devices) for s in seconds) / 60,
                     "longest_run_minutes": max(map(max, seconds)) / 60}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["all"] = table.sum()
    table.loc["all", "longest_run_minutes"] = table["longest_run_minutes"].drop("all").max()
    return table
