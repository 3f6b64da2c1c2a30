"""Self-checks of Lab 2, model scaling.

Each case calls the student's function on small inputs and compares the result with a known truth,
a property, or a value stored here that the instructor's answer implementation computed
(tests/grading/test_cases.py recomputes every stored value). Models are described by plain data
and built next to the student's code. Hidden cases for grading: tests/grading/lab02_hidden.py.
"""
import numpy as np
import torch.nn as nn

from scalinglab.checks import Case, Question, finite_float, make_check, params, relative_error, rng, written_answer
from scalinglab.checks.lab01 import data, width
from scalinglab.model import build, model_config


# ---------------------------------------------------------------- q1: count parameters by kind

class TiedLM(nn.Module):
    """A small language model whose output head shares the token embedding's matrix (as GPT-2 does)."""

    def __init__(self, vocab_size, d_model, d_hidden, head_bias=False):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, d_model)
        self.body = nn.Sequential(nn.Linear(d_model, d_hidden), nn.GELU(), nn.Linear(d_hidden, d_model))
        self.head = nn.Linear(d_model, vocab_size, bias=head_bias)
        self.head.weight = self.wte.weight


class NestedLM(nn.Module):
    """Embeddings inside a container, an untied head with a bias, and a recurrent core."""

    def __init__(self, vocab_size, d_model, context):
        super().__init__()
        self.inputs = nn.ModuleDict({"tokens": nn.Embedding(vocab_size, d_model),
                                     "positions": nn.Embedding(context, d_model)})
        self.core = nn.GRU(d_model, d_model, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)


CUSTOM = {"tied": TiedLM, "nested": NestedLM}


def make_model(spec):
    spec = dict(spec)
    family = spec.pop("family")
    return CUSTOM[family](**spec) if family in CUSTOM else build(model_config(family, **spec))


def call_count(fn, model):
    result = fn(make_model(model))
    assert isinstance(result, dict), "return a dict with the keys embedding, output_head and non_embedding"
    return params(result, ("embedding", "output_head", "non_embedding"))


def expected_counts(spec):
    """The counts of a model spec, by formula: what the verdicts compare with."""
    family, V, d = spec["family"], spec.get("vocab_size", 256), spec["d_model"]
    if family == "gpt":
        L, T = spec["n_layer"], spec.get("context", 128)
        return {"embedding": (V + T) * d, "output_head": V * d, "non_embedding": 12 * L * d * d + (2 * L + 1) * d}
    if family == "lstm":
        L = spec["n_layer"]
        return {"embedding": V * d, "output_head": V * d, "non_embedding": 8 * L * d * d + 8 * L * d + d}
    if family == "tied":
        h = spec["d_hidden"]
        return {"embedding": V * d, "output_head": V if spec.get("head_bias") else 0,
                "non_embedding": 2 * d * h + h + d}
    T = spec["context"]  # nested: GRU of 3 gates, two biases each; LayerNorm with a bias
    return {"embedding": (V + T) * d, "output_head": V * d + V, "non_embedding": 6 * d * d + 6 * d + 2 * d}


def counts_match(spec, hint):
    def verdict(outputs):
        got, want = outputs[0], expected_counts(spec)
        for kind in want:
            finite_float(got[kind], kind)
        assert got == {k: float(v) for k, v in want.items()}, f"{spec}: expected {want}, got {got}: {hint}"
    return verdict


GPT1 = {"family": "gpt", "n_layer": 2, "d_model": 64, "n_head": 2}
LSTM1 = {"family": "lstm", "n_layer": 2, "d_model": 48}
TIED1 = {"family": "tied", "vocab_size": 256, "d_model": 32, "d_hidden": 96}


# ---------------------------------------------------------------- q2: fit L(N) = (N_c / N)^alpha

def call_law(fn, N, L, stderr, n_boot, seed, lists=False):
    args = (N, L, stderr) if lists else (np.array(N), np.array(L), np.array(stderr))
    result = fn(*args, n_boot=n_boot, seed=seed)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (params, intervals)"
    fitted, intervals = params(result[0], ("alpha", "N_c")), result[1]
    assert isinstance(intervals, dict) and all(n in intervals and np.shape(intervals[n]) == (2,) for n in fitted), (
        "intervals should map alpha and N_c to (low, high)")
    return {"params": fitted, "intervals": {n: [intervals[n][0], intervals[n][1]] for n in fitted}}


def law(output):
    """(params, intervals) of one output, checked to be finite numbers and ordered intervals."""
    p, intervals = output["params"], {}
    for name in ("alpha", "N_c"):
        finite_float(p[name], f"params[{name!r}]")
        low, high = (finite_float(v, f"each end of intervals[{name!r}]") for v in output["intervals"][name])
        assert low <= high, f"intervals[{name!r}] = ({low:.4g}, {high:.4g}) should be (low, high)"
        intervals[name] = (low, high)
    return p, intervals


def noisy_model_law(seed, points=7, alpha=0.08, N_c=1e12, noise=0.005, start=4, stop=6):
    N = np.logspace(start, stop, points)
    return N, (N_c / N) ** alpha * np.exp(noise * rng(seed).standard_normal(points))


N1 = np.logspace(3, 6, 7)
EXACT2 = data(N=N1, L=(8.8e13 / N1) ** 0.076, stderr=1e-9 * (8.8e13 / N1) ** 0.076)
N_STORED2, L_STORED2 = noisy_model_law(21)
STORED2 = data(N=N_STORED2, L=L_STORED2, stderr=0.005 * L_STORED2)
STORED2_RESULT = {"alpha": 0.08148144551556101, "N_c": 746767113251.4474,
                  "alpha_interval": (0.0789956983339133, 0.08355814843266726)}  # 300 draws, seed 4


def q2_exact_law(outputs):
    p, intervals = law(outputs[0])
    assert abs(p["alpha"] - 0.076) < 1e-6 and relative_error(p["N_c"], 8.8e13) < 1e-4, (
        f"on exact data L = (8.8e13 / N)^0.076 the fit returned {p}: fit a line to log L against log N; "
        f"alpha is minus its slope, and log N_c = intercept / alpha")
    low, high = intervals["alpha"]
    assert high - low < 1e-6, (f"with standard errors of 1e-9 every draw gives the same fit, so the interval of "
                               f"alpha should have (almost) zero width, got ({low:.6g}, {high:.6g})")


def q2_matches_stored(outputs):
    (p, intervals), (_, again) = law(outputs[0]), law(outputs[1])
    assert intervals == again, "the same seed gave two different intervals: use rng = np.random.default_rng(seed)"
    ref = STORED2_RESULT
    assert abs(p["alpha"] - ref["alpha"]) < 1e-9 and relative_error(p["N_c"], ref["N_c"]) < 1e-6, (
        f"the least-squares fit in log space gives alpha = {ref['alpha']:.6g} and N_c = {ref['N_c']:.6g}, "
        f"got {p['alpha']:.6g} and {p['N_c']:.6g}")
    (low, high), (ref_low, ref_high) = intervals["alpha"], ref["alpha_interval"]
    w = ref_high - ref_low
    assert abs(low - ref_low) < 0.25 * w and abs(high - ref_high) < 0.25 * w, (
        f"95% interval of alpha ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): draw new "
        f"losses around the fitted line, times exp(normal(0, stderr / L)), refit, and take the 2.5% and 97.5% "
        f"quantiles")


def q2_uses_stderr(outputs):
    (_, small), (_, large) = law(outputs[0]), law(outputs[1])
    ratio = width(large["alpha"]) / max(width(small["alpha"]), 1e-300)
    assert ratio > 2.5, (
        f"four times the standard errors should widen the interval of alpha about fourfold, but it widened "
        f"{ratio:.2g} times: draw each run's noise from its own standard error, stderr / L in log space")


# ---------------------------------------------------------------- q3: the compute-efficiency factor

def call_factor(fn, C_a, L_a, stderr_a, C_b, L_b, stderr_b, n_boot, seed, lists=False):
    args = (C_a, L_a, stderr_a, C_b, L_b, stderr_b)
    result = fn(*(args if lists else map(np.array, args)), n_boot=n_boot, seed=seed)
    assert isinstance(result, tuple) and len(result) == 3 and np.shape(result[1]) == (2,), (
        "return a tuple (factor, (low, high), exponent)")
    return [result[0], result[1][0], result[1][1], result[2]]


def factor_of(output):
    factor, low, high, exponent = (finite_float(v, "the factor, each end of its interval and the exponent")
                                   for v in output)
    assert low <= high, f"the interval ({low:.4g}, {high:.4g}) should be (low, high)"
    return factor, (low, high), exponent


def parallel(C_a, C_b, k_a, k_b, a, noise_a, noise_b, seed=None):
    """Two loss curves k C^-a over their own budgets, with lognormal noise of the given size if seeded."""
    C_a, C_b = np.asarray(C_a, dtype=float), np.asarray(C_b, dtype=float)
    L_a, L_b = k_a * C_a ** -a, k_b * C_b ** -a
    if seed is not None:
        L_a = L_a * np.exp(noise_a * rng(seed).standard_normal(len(C_a)))
        L_b = L_b * np.exp(noise_b * rng(seed + 1).standard_normal(len(C_b)))
    return data(C_a=C_a, L_a=L_a, stderr_a=noise_a * L_a, C_b=C_b, L_b=L_b, stderr_b=noise_b * L_b)


C3 = np.logspace(10, 13, 4)
EXACT3 = parallel(C3, C3, 5.0, 5.5, 0.05, 1e-9, 1e-9)
SWAPPED3 = parallel(C3, C3, 5.5, 5.0, 0.05, 1e-9, 1e-9)
STORED3 = parallel(np.logspace(11, 12.5, 4), np.logspace(11.2, 12.8, 4), 4.0, 4.3, 0.06, 0.004, 0.006, seed=31)
STORED3_RESULT = (3.53816540097488, (3.1796315108388327, 3.9984529476514155), 0.06062771268515158)  # 400 draws, seed 2
NOISE3 = [parallel(C3, C3, 5.0, 5.3, 0.05, noise, noise) for noise in (0.002, 0.008)]


def q3_exact(outputs):
    (factor, (low, high), exponent), (swapped, _, _) = factor_of(outputs[0]), factor_of(outputs[1])
    target = 1.1 ** 20
    assert abs(exponent - 0.05) < 1e-6, (
        f"both curves are 5 C^-0.05 and 5.5 C^-0.05: the common exponent is 0.05, got {exponent:.6g}: fit one "
        f"slope shared by both curves (and one intercept each) to log L against log C")
    assert relative_error(factor, target) < 1e-6, (
        f"curve b needs (5.5/5)^(1/0.05) = {target:.6g} times the compute of curve a for the same loss, got "
        f"{factor:.6g}: factor = exp((intercept_b - intercept_a) / exponent)")
    assert relative_error(low, target) < 1e-6 and relative_error(high, target) < 1e-6, (
        f"with standard errors of 1e-9 every draw gives the same factor, got the interval ({low:.6g}, {high:.6g})")
    assert relative_error(swapped, 1 / target) < 1e-6, (
        f"swapping the curves should invert the factor to {1 / target:.6g}, got {swapped:.6g}")


def q3_matches_stored(outputs):
    first, again = factor_of(outputs[0]), factor_of(outputs[1])
    assert first == again, "the same seed gave two different answers: use rng = np.random.default_rng(seed)"
    (factor, (low, high), exponent), (ref, (ref_low, ref_high), ref_exponent) = first, STORED3_RESULT
    assert relative_error(factor, ref) < 1e-6 and abs(exponent - ref_exponent) < 1e-9, (
        f"these curves have different budgets: with one shared slope the fit gives exponent {ref_exponent:.6g} and "
        f"factor {ref:.6g}, got {exponent:.6g} and {factor:.6g}")
    w = np.log(ref_high) - np.log(ref_low)
    assert abs(np.log(low / ref_low)) < 0.25 * w and abs(np.log(high / ref_high)) < 0.25 * w, (
        f"95% interval ({low:.4g}, {high:.4g}), expected about ({ref_low:.4g}, {ref_high:.4g}): draw each curve "
        f"around its fitted line with its own standard errors, refit both, and take the 2.5% and 97.5% quantiles")


def q3_uses_stderr(outputs):
    (_, small, _), (_, large, _) = factor_of(outputs[0]), factor_of(outputs[1])
    ratio = np.log(large[1] / large[0]) / max(np.log(small[1] / small[0]), 1e-300)
    assert ratio > 2.5, (
        f"four times the standard errors should widen the interval of log(factor) about fourfold, but it widened "
        f"{ratio:.2g} times: draw each loss with noise stderr / L in log space")


# ---------------------------------------------------------------- q4: the basin of good shapes

def call_basin(fn, aspect, loss, tolerance=None, lists=False):
    args = (aspect, loss) if lists else (np.array(aspect), np.array(loss))
    result = fn(*args) if tolerance is None else fn(*args, tolerance=tolerance)
    assert isinstance(result, tuple) and len(result) == 2, "return a tuple (lowest, highest) aspect ratio"
    return [result[0], result[1]]


def basin_of(output):
    low, high = (finite_float(v, "each end of the basin") for v in output)
    assert low <= high, f"the basin ({low:g}, {high:g}) should be (lowest, highest)"
    return low, high


ASPECT4 = {"aspect": [68.0, 24.0, 13.3, 8.5, 4.7, 3.0], "loss": [2.150, 2.080, 2.071, 2.075, 2.090, 2.120]}


def q4_default_tolerance(outputs):
    assert basin_of(outputs[0]) == (4.7, 24.0), (
        f"with the best loss 2.071 and a tolerance of 1%, the runs up to 2.0917 are in the basin: aspect ratios "
        f"4.7 to 24, got {basin_of(outputs[0])}")


def q4_tolerance(outputs):
    assert basin_of(outputs[0]) == (8.5, 13.3), (
        f"with tolerance=0.002 only losses up to 2.071 * 1.002 = 2.0751 count: aspect ratios 8.5 to 13.3, got "
        f"{basin_of(outputs[0])}: use the argument tolerance")
    assert basin_of(outputs[1]) == (3.0, 68.0), (
        f"with tolerance=0.05 every run is in the basin, got {basin_of(outputs[1])}")


# ---------------------------------------------------------------- the questions

QUESTIONS = {
    "q1": Question("count parameters by kind", "count_params_by_kind", call=call_count, cases=(
        Case("the course's GPT", ({"model": GPT1},), counts_match(GPT1, "token and position embeddings are "
             "embedding; the head is output_head; every other parameter (LayerNorm gains too) is non_embedding")),
        Case("the LSTM", ({"model": LSTM1},), counts_match(LSTM1, "an LSTM has two bias vectors per layer; "
             "they are non_embedding")),
        Case("a tied head", ({"model": TIED1},), counts_match(TIED1, "the head's weight is the embedding matrix: "
             "count each parameter once (model.parameters() does), as embedding")),
    )),
    "q2": Question("fit L(N), with a noise bootstrap", "fit_model_law", call=call_law, cases=(
        Case("recovers Kaplan's law", ({**EXACT2, "n_boot": 20, "seed": 0},), q2_exact_law),
        Case("agrees with the noise bootstrap", ({**STORED2, "n_boot": 300, "seed": 4},) * 2, q2_matches_stored),
        Case("intervals grow with the standard errors", (
            {**STORED2, "n_boot": 200, "seed": 0},
            {**STORED2, "stderr": (4 * np.array(STORED2["stderr"])).tolist(), "n_boot": 200, "seed": 0}),
            q2_uses_stderr),
    )),
    "q3": Question("the compute-efficiency factor", "efficiency_factor", call=call_factor, cases=(
        Case("exact parallel laws", ({**EXACT3, "n_boot": 20, "seed": 0}, {**SWAPPED3, "n_boot": 20, "seed": 0}),
             q3_exact),
        Case("agrees with the noise bootstrap", ({**STORED3, "n_boot": 400, "seed": 2},) * 2, q3_matches_stored),
        Case("intervals grow with the standard errors", tuple({**c, "n_boot": 200, "seed": 1} for c in NOISE3),
             q3_uses_stderr),
    )),
    "q4": Question("the basin of good shapes", "aspect_basin", call=call_basin, cases=(
        Case("a 1% tolerance", (ASPECT4,), q4_default_tolerance),
        Case("the tolerance argument", ({**ASPECT4, "tolerance": 0.002}, {**ASPECT4, "tolerance": 0.05}),
             q4_tolerance),
    )),
    "q5": Question("would you scale the LSTM? (written)", "q5", cases=written_answer(
        min_words=40, must_mention=[("LSTM", "recurren"), ("factor", "compute", "FLOP"),
                                    ("interval", "uncertain", "noise", "scale")])),
}

check = make_check(QUESTIONS)
