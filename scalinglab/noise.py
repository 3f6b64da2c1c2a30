"""The gradient noise scale of McCandlish et al. (2018), from squared gradient norms at two batch sizes.

The mean gradient of a batch of B independent examples has E|G_B|^2 = |G|^2 + tr(Sigma) / B, where G
is the true gradient and Sigma the covariance of one example's gradient. Measuring |G_B|^2 at two
batch sizes gives two equations, solved for unbiased estimates of both terms (their Appendix A.1):

    |G|^2     ~ (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small)
    tr Sigma  ~ (|G_small|^2 - |G_big|^2) / (1 / B_small - 1 / B_big)

and the simple noise scale B_simple = tr Sigma / |G|^2 predicts the critical batch size. Each
estimate is unbiased but noisy, and the ratio of two noisy estimates is biased: average each over
many steps first, then take the ratio. That is what noise_scale does with arrays.
"""
from typing import NamedTuple

import numpy as np
import pandas as pd

from scalinglab.errors import ConfigError


class NoiseScale(NamedTuple):
    grad_sq: float   # |G|^2, the squared norm of the true gradient
    trace: float     # tr Sigma, the summed variance of one example's gradient
    b_simple: float  # tr Sigma / |G|^2, in examples (inf when the estimate of |G|^2 is not positive)


def noise_scale(grad_sq_small, grad_sq_big, b_small, b_big) -> NoiseScale:
    """|G|^2, tr Sigma and B_simple from squared gradient norms measured at batch sizes b_small < b_big.

    grad_sq_small, grad_sq_big: |G_B|^2 of batch-mean gradients, one number or one per step (arrays
    of the same length); each is averaged over the steps before the estimates are formed. Batch
    sizes count examples (or tokens, if the gradients are per-token means: B_simple is then in tokens).
    """
    small, big = (np.asarray(v, dtype=float) for v in (grad_sq_small, grad_sq_big))
    if small.shape != big.shape or small.size == 0:
        raise ConfigError(f"give the same number of measurements at both batch sizes, got shapes "
                          f"{small.shape} and {big.shape}")
    if not (np.all(np.isfinite(small)) and np.all(np.isfinite(big)) and np.all(small >= 0) and np.all(big >= 0)):
        raise ConfigError("squared gradient norms must be finite and non-negative: check the measurements "
                          "(a diverged step gives inf or nan)")
    if not (np.isscalar(b_small) and np.isscalar(b_big) and 0 < b_small < b_big):
        raise ConfigError(f"need two batch sizes with 0 < b_small < b_big, got {b_small!r} and {b_big!r}")
    small, big = small.mean(), big.mean()
    grad_sq = (b_big * big - b_small * small) / (b_big - b_small)
    trace = (small - big) / (1 / b_small - 1 / b_big)
    b_simple = trace / grad_sq if grad_sq > 0 else float("inf")
    return NoiseScale(float(grad_sq), float(trace), float(b_simple))


def noise_along_run(result, windows=8):
    """B_simple along a run trained with micro_batches > 1, from the |g|^2 its curve logged.

    result: a run's record (as run_sweep or read_results give it). Its logged points are split into
    `windows` consecutive stretches and each stretch is estimated with noise_scale. The batch sizes
    are in tokens, since the loss is a mean over tokens: so is B_simple. One row per stretch: its
    last step, tokens seen, mean train loss, |G|^2, tr Sigma and B_simple.
    """
    curve, train, context = result["curve"], result["train"], result["model"]["context"]
    if "grad_sq_batch" not in curve:
        raise ConfigError(f"run {result['run_id']} logged no gradient norms: train it with micro_batches > 1")
    points = len(curve["step"])
    if not 1 <= windows <= points:
        raise ConfigError(f"windows must be between 1 and the {points} logged points, got {windows!r}")
    b_big = train["batch_size"] * context
    b_small = b_big // train["micro_batches"]
    rows = []
    for part in np.array_split(np.arange(points), windows):
        estimate = noise_scale(np.take(curve["grad_sq_micro_batch"], part), np.take(curve["grad_sq_batch"], part),
                               b_small, b_big)
        step = curve["step"][part[-1]]
        rows.append({"step": step, "tokens": step * b_big,
                     "train_loss": float(np.mean(np.take(curve["train_loss"], part))), **estimate._asdict()})
    return pd.DataFrame(rows)
