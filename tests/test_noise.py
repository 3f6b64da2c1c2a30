import numpy as np
import pytest

from scalinglab.errors import ConfigError
from scalinglab.noise import noise_along_run, noise_scale


def batch_grad_sq(rng, mean, scales, batch, steps):
    """|G_B|^2 of `steps` batch means of `batch` per-example gradients ~ N(mean, diag(scales^2))."""
    per_example = mean + scales * rng.standard_normal((steps, batch, len(mean)))
    return np.sum(per_example.mean(axis=1) ** 2, axis=1)


def test_recovers_the_true_gradient_and_noise_from_per_example_gradients():
    rng = np.random.default_rng(0)
    mean, scales = rng.normal(0.0, 0.1, 40), rng.uniform(0.5, 1.5, 40)
    true_grad_sq, true_trace = np.sum(mean ** 2), np.sum(scales ** 2)   # tr Sigma of a diagonal covariance
    small = batch_grad_sq(rng, mean, scales, batch=4, steps=4000)
    big = batch_grad_sq(rng, mean, scales, batch=64, steps=4000)
    result = noise_scale(small, big, 4, 64)
    # sampling error: the estimates average 4000 steps; 5% is several standard errors here
    assert result.grad_sq == pytest.approx(true_grad_sq, rel=0.05)
    assert result.trace == pytest.approx(true_trace, rel=0.05)
    assert result.b_simple == pytest.approx(true_trace / true_grad_sq, rel=0.08)


def test_exact_expectations_give_exact_estimates():
    grad_sq, trace = 2.0, 30.0
    expected = lambda b: grad_sq + trace / b  # noqa: E731
    assert noise_scale(expected(8), expected(128), 8, 128) == pytest.approx((2.0, 30.0, 15.0))
    # arrays are averaged before the ratio: per-step values that average to the expectations
    small, big = expected(8) + np.array([-1.0, 1.0]), expected(128) + np.array([0.5, -0.5])
    assert noise_scale(small, big, 8, 128) == pytest.approx((2.0, 30.0, 15.0))


def test_noise_that_swamps_the_signal_gives_an_infinite_noise_scale():
    # measured |G_big|^2 so far below |G_small|^2 that the estimate of |G|^2 is negative
    result = noise_scale(10.0, 0.1, 8, 128)
    assert result.grad_sq < 0 and result.b_simple == float("inf")


@pytest.mark.parametrize("args, message", [
    (([1.0, 2.0], [1.0], 8, 128), "same number of measurements"),
    (([], [], 8, 128), "same number of measurements"),
    ((1.0, float("nan"), 8, 128), "finite and non-negative"),
    ((1.0, -1.0, 8, 128), "finite and non-negative"),
    ((1.0, 0.5, 128, 8), "0 < b_small < b_big"),
    ((1.0, 0.5, 0, 8), "0 < b_small < b_big"),
    ((1.0, 0.5, [8], 128), "0 < b_small < b_big"),
])
def test_bad_inputs_are_clear_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        noise_scale(*args)


def test_noise_along_a_run_estimates_each_stretch_of_its_curve():
    # a curve whose true gradient shrinks stretch by stretch while the noise stays: B_simple grows
    grad_sq, trace, context, batch, parts = np.repeat([4.0, 2.0, 1.0, 0.5], 10), 512.0, 16, 8, 4
    b_big = batch * context
    curve = {"step": list(range(5, 205, 5)), "train_loss": list(np.linspace(3, 2, 40)),
             "grad_sq_micro_batch": list(grad_sq + trace / (b_big / parts)), "grad_sq_batch": list(grad_sq + trace / b_big)}
    record = {"run_id": "x", "curve": curve, "train": {"batch_size": batch, "micro_batches": parts},
              "model": {"context": context}}
    frame = noise_along_run(record, windows=4)
    assert list(frame["step"]) == [50, 100, 150, 200] and list(frame["tokens"]) == [50 * b_big, 100 * b_big,
                                                                                    150 * b_big, 200 * b_big]
    assert frame["b_simple"].tolist() == pytest.approx([128, 256, 512, 1024])
    assert frame["train_loss"].is_monotonic_decreasing
    with pytest.raises(ConfigError, match="windows must be between 1 and the 40"):
        noise_along_run(record, windows=41)
    del curve["grad_sq_batch"]
    with pytest.raises(ConfigError, match="train it with micro_batches > 1"):
        noise_along_run(record)
