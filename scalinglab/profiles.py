"""Compute profiles: the sizes of every experiment for CI (smoke), a laptop CPU (cpu) and one GPU (gpu).

A profile sets sizes, never code paths: the same code runs in all three. The profile is chosen by
$SCALINGLAB_PROFILE, otherwise automatically (CUDA -> gpu, else cpu).
"""
import os
from dataclasses import dataclass, field

import torch

from scalinglab.errors import ConfigError


@dataclass(frozen=True)
class Profile:
    name: str
    budget: str     # what the profile promises, in words
    model: dict     # the default model of `python -m scalinglab train`
    train: dict     # its default training settings
    labs: dict = field(default_factory=dict)  # lab name -> that lab's sizes, e.g. labs["lab00"]


PROFILES = {
    "smoke": Profile("smoke", "a whole lab in <= 90 s on 2 CPU cores (CI)",
                     model=dict(n_layer=2, d_model=64, n_head=2, context=128),
                     train=dict(tokens=200_000, batch_size=16, eval_tokens=16_384),
                     labs={"lab00": dict(expected_s=15, mean_n_max=4_096, mean_trials=300, box_n_max=70_000,
                                         box_trials=2, box_n_test=4_000, curve_points=25, n_boot=100),
                           "lab01": dict(model=dict(n_layer=2, d_model=64, n_head=1, context=128),
                                         train=dict(max_batch_size=16, lr=3e-3, eval_tokens=16_384), min_steps=8,
                                         tokens=[20_000, 40_000, 80_000, 160_000],
                                         repeat_tokens=160_000, epochs=[4, 16],
                                         synthetic_model=dict(n_layer=2, d_model=64, n_head=1, context=128),
                                         synthetic_train=dict(max_batch_size=8, lr=1e-2, eval_tokens=16_384),
                                         synthetic_tokens=[50_000, 100_000, 200_000]),
                           "lab02": dict(context=64, max_batch_size=8, min_steps=16, n_layer=1,
                                         train=dict(lr=3e-3, eval_tokens=8_192),
                                         widths=[8, 12, 16, 20, 24, 32, 40], size_tokens=40_960,
                                         aspect_N=6_144, depths=[1, 2, 4, 8], aspect_tokens=20_480,
                                         aspect_lr_depths=[1, 8], aspect_lrs=[1e-3, 1e-2],
                                         family_widths=[8, 16, 24], tokens_per_param=4,
                                         optimizer_widths=[8, 16, 32], optimizer_tokens=20_480,
                                         optimizer_lrs={"adamw": [3e-3, 1e-2], "sgd": [0.3, 1.0]},
                                         live=("sizes", "aspect", "aspect_lr", "families", "optimizers")),
                           "lab03": dict(context=64, n_layer=1, eval_tokens=8_192, width=16, lr=1e-2,
                                         noise_tokens=65_536, noise_batch_size=16, noise_micro_batches=4,
                                         batch_sizes=[2, 4, 8, 16], batch_lrs=[1e-2], batch_tokens=16_384,
                                         min_steps=16, lr_widths=[8, 16, 24, 32],
                                         lr_grid=[1e-3 * 2 ** k for k in range(0, 12, 2)], lr_tokens=8_192,
                                         lr_batch_size=8, schedule_width=16, schedule_batch_size=8,
                                         schedule_lr=1e-2, budgets=[8_192, 16_384, 32_768], decay_frac=0.2,
                                         live=("noise", "batch_sizes", "lr_width", "schedules")),
                           "lab04": dict(context=64, n_layer=1, max_batch_size=8, min_steps=32, eval_tokens=8_192,
                                         lr=1e-2, lr_width=16,
                                         isoflops=[(C, (8, 12, 16, 24, 32)) for C in (2e9, 4e9, 8e9)],
                                         predict_flops=3.2e10, predict_width=24, neighbour_widths=(16, 32),
                                         live=("isoflops", "predicted", "neighbours", "schedules")),
                           "lab05": dict(more_seeds=(), coord_steps=5, coord_lr=1e-2, coord_batch_size=4,
                                         live=("lr_width", "mup_lr_width", "sp_lr_width"))}),
    "cpu": Profile("cpu", "a lab's experiments in <= 20 min on 2 CPU cores (laptops)",
                   model=dict(n_layer=4, d_model=128, n_head=4, context=128),
                   train=dict(tokens=2_000_000, batch_size=32),
                   labs={"lab00": dict(expected_s=60, mean_n_max=16_384, mean_trials=1_000, box_n_max=2_000_000,
                                       box_trials=4, box_n_test=20_000, curve_points=41, n_boot=1_000),
                         "lab01": dict(model=dict(n_layer=2, d_model=128, n_head=2, context=128),
                                       train=dict(max_batch_size=16, lr=3e-3), min_steps=1024,
                                       tokens=[2 ** k for k in range(17, 23)],  # 131,072 to 4,194,304
                                       repeat_tokens=2 ** 21, epochs=[2, 4, 8, 16],
                                       synthetic_model=dict(n_layer=2, d_model=64, n_head=1, context=128),
                                       synthetic_train=dict(max_batch_size=8, lr=1e-2),
                                       synthetic_tokens=[2 ** k for k in range(18, 24)]),  # 262,144 to 8,388,608
                         # widths 8-64 at 2 layers: N = 1,576 to 98,624 (1.8 decades), on D and D/2; the
                         # lab trains `live` and reads the rest from the reference
                         "lab02": dict(context=128, max_batch_size=16, min_steps=512, n_layer=2,
                                       train=dict(lr=3e-3),
                                       widths=[8, 12, 16, 24, 32, 40, 48, 64], size_tokens=2 ** 23,
                                       aspect_N=55_296, depths=[1, 2, 3, 4, 6, 8], aspect_tokens=2 ** 22,
                                       aspect_lr_depths=[1, 8], aspect_lrs=[1e-3, 1e-2],
                                       family_widths=[24, 32, 48, 64], tokens_per_param=30,
                                       optimizer_widths=[16, 32, 64], optimizer_tokens=2 ** 20,
                                       optimizer_lrs={"adamw": [1e-3, 3e-3, 1e-2, 3e-2], "sgd": [0.03, 0.1, 0.3, 1.0, 3.0]},
                                       live=("families", "optimizers")),
                         # batch sizes 512 to 32,768 tokens; widths 32-256 over 8 learning rates (factor 2
                         # apart); WSD against cosine at 1M, 2M and 4M tokens. The lab trains `live` (2.0 min
                         # on the machine that made the reference) and reads the rest from the reference:
                         # with batch_sizes it took 9.3 min there, and that machine is 2-2.5x faster than
                         # the one that measured Labs 1 and 2
                         "lab03": dict(context=128, n_layer=2, eval_tokens=524_288, width=32, lr=1e-2,
                                       noise_tokens=2 ** 23, noise_batch_size=64, noise_micro_batches=8,
                                       batch_sizes=[4, 8, 16, 32, 64, 128, 256], batch_lrs=[3e-3, 1e-2, 3e-2],
                                       batch_tokens=2 ** 21, min_steps=512,
                                       lr_widths=[32, 64, 128, 256], lr_grid=[5e-4 * 2 ** k for k in range(8)],
                                       lr_tokens=2 ** 20, lr_batch_size=16,
                                       schedule_width=64, schedule_batch_size=16, schedule_lr=4e-3,
                                       budgets=[2 ** 20, 2 ** 21, 2 ** 22], decay_frac=0.2,
                                       live=("noise", "schedules")),
                         # budgets 4.64e11 to 4.64e12 FLOPs (exact count), 7 widths a factor of about 2 in N
                         # apart, 3 on each side of the best (a first try centred on 20 tokens per parameter
                         # found the best at its smallest width); the prediction at 5.4x the largest budget:
                         # width 64 is the fitted law's optimum there, 96 nearest the isoFLOP line's (both
                         # predicted from the isoFLOP runs before these were trained)
                         "lab04": dict(context=128, n_layer=2, max_batch_size=16, min_steps=256, eval_tokens=524_288,
                                       lr=4e-3, lr_width=64,
                                       isoflops=[(4.64e11, (12, 16, 24, 32, 48, 64, 96)),
                                                 (1e12, (12, 16, 24, 32, 48, 64, 96)),
                                                 (2.15e12, (16, 24, 32, 48, 64, 96, 128)),
                                                 (4.64e12, (16, 24, 32, 48, 64, 96, 128))],
                                       predict_flops=2.5e13, predict_width=64, neighbour_widths=(48, 96, 128),
                                       live=("predicted",)),
                         # muP: Lab 3's lr x width grid (4 widths, 8 rates) under muP at 2 seeds, and SP at 1 more
                         # (a third seed would take another 40 min at these widths);
                         # the coordinate check at Lab 3's widths, 8 Adam steps at about muP's best rate
                         "lab05": dict(more_seeds=(1,), coord_steps=8, coord_lr=1e-2, coord_batch_size=16,
                                       live=())}),
    "gpu": Profile("gpu", "a lab in <= 30 min on one GPU",
                   model=dict(n_layer=6, d_model=384, n_head=6, context=256),
                   train=dict(tokens=100_000_000, batch_size=64),
                   labs={"lab00": dict(expected_s=60, mean_n_max=16_384, mean_trials=1_000, box_n_max=2_000_000,
                                       box_trials=4, box_n_test=20_000, curve_points=41, n_boot=1_000),
                         "lab01": dict(model=dict(n_layer=4, d_model=256, n_head=4, context=128),
                                       train=dict(max_batch_size=64, lr=2e-3), min_steps=1024,
                                       tokens=[2 ** k for k in range(20, 26)],
                                       repeat_tokens=2 ** 23, epochs=[2, 4, 8, 16],
                                       synthetic_model=dict(n_layer=2, d_model=128, n_head=2, context=128),
                                       synthetic_train=dict(max_batch_size=16, lr=1e-2),
                                       synthetic_tokens=[2 ** k for k in range(19, 25)]),
                         # not yet measured on a GPU: sizes chosen to scale the cpu profile up about 10x
                         "lab02": dict(context=128, max_batch_size=64, min_steps=1024, n_layer=4,
                                       train=dict(lr=2e-3),
                                       widths=[32, 48, 64, 96, 128, 192, 256], size_tokens=2 ** 26,
                                       aspect_N=786_432, depths=[1, 2, 3, 4, 6, 8, 12], aspect_tokens=2 ** 25,
                                       aspect_lr_depths=[1, 12], aspect_lrs=[1e-3, 4e-3],
                                       family_widths=[48, 64, 96, 128, 192], tokens_per_param=30,
                                       optimizer_widths=[32, 64, 128], optimizer_tokens=2 ** 23,
                                       optimizer_lrs={"adamw": [1e-3, 2e-3, 4e-3, 8e-3], "sgd": [0.1, 0.3, 1.0, 3.0]},
                                       live=("sizes", "aspect", "aspect_lr", "families", "optimizers")),
                         # not yet measured on a GPU: the cpu design at 4-8x the widths and tokens
                         "lab03": dict(context=256, n_layer=4, eval_tokens=1_048_576, width=128, lr=4e-3,
                                       noise_tokens=2 ** 26, noise_batch_size=128, noise_micro_batches=8,
                                       batch_sizes=[8, 16, 32, 64, 128, 256, 512], batch_lrs=[1e-3, 3e-3, 1e-2],
                                       batch_tokens=2 ** 24, min_steps=1024,
                                       lr_widths=[64, 128, 256, 512], lr_grid=[2.5e-4 * 2 ** k for k in range(8)],
                                       lr_tokens=2 ** 23, lr_batch_size=64,
                                       schedule_width=256, schedule_batch_size=64, schedule_lr=4e-3,
                                       budgets=[2 ** 23, 2 ** 24, 2 ** 25], decay_frac=0.2,
                                       live=("noise", "batch_sizes", "lr_width", "schedules")),
                         # not yet measured on a GPU: the cpu design at about 30x the compute
                         "lab04": dict(context=256, n_layer=4, max_batch_size=64, min_steps=1024,
                                       eval_tokens=1_048_576, lr=4e-3, lr_width=64,
                                       isoflops=[(C, (64, 96, 128, 192, 256, 384, 512)) for C in (3e13, 1e14, 3e14)]
                                       + [(1e15, (96, 128, 192, 256, 384, 512, 768))],
                                       predict_flops=5e15, predict_width=384, neighbour_widths=(256, 512),
                                       live=("isoflops", "predicted", "neighbours", "schedules")),
                         "lab05": dict(more_seeds=(1, 2), coord_steps=8, coord_lr=1e-2, coord_batch_size=32,
                                       live=("lr_width", "mup_lr_width", "sp_lr_width"))}),
}


def get_profile(name=None) -> Profile:
    """The named profile, else $SCALINGLAB_PROFILE, else gpu when CUDA is available and cpu otherwise."""
    name = name or os.environ.get("SCALINGLAB_PROFILE") or "auto"
    if name == "auto":
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}: set SCALINGLAB_PROFILE to one of {sorted(PROFILES)} or auto")
    return PROFILES[name]
