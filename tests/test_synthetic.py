import hashlib
import itertools
import math
from collections import defaultdict

import numpy as np
import pytest

from scalinglab.data import entropy_rate
from scalinglab.errors import ConfigError
from scalinglab.synthetic import Params, generate, key_probs, optimal_loss, table

TINY = Params(n_keys=3, zipf=1.5, key_len=1, value_len=1, noise_len=1)  # records like "a b 7\n"


def test_generation_is_deterministic_and_prefix_stable():
    a, b = generate(100_000, seed=0), generate(50_000, seed=0)
    assert a[:50_000] == b and generate(100_000, seed=0) == a and generate(100_000, seed=1) != a
    # the raw PCG64 stream is fixed by the algorithm: the same bytes on every machine (default: 1,000 keys)
    assert hashlib.sha256(generate(15_000, seed=0)).hexdigest()[:16] == "bec193daea535f12"


def test_records_follow_the_format_and_the_key_decides_the_value():
    records = generate(15 * 20_000).decode("ascii").splitlines()
    values = {}
    for record in records:
        key, value, noise = record.split(" ")
        assert len(key) == 4 and len(value) == 6 and len(noise) == 2 and noise.isdigit()
        assert values.setdefault(key, value) == value


def test_entropy_rate_formula_and_sampled_keys():
    p = Params()
    probs = key_probs(p)
    h_key = -(probs * np.log(probs)).sum()
    assert entropy_rate() == pytest.approx((h_key + 2 * math.log(10)) / 15, rel=1e-12)
    # the generator draws keys with the Zipf probabilities: -log p(key) averages to H(key)
    keys = [r[:4] for r in generate(15 * 100_000).decode("ascii").splitlines()]
    rank = {bytes(row[:4]).decode(): k for k, row in enumerate(table(p))}
    surprise = np.array([-math.log(probs[rank[k]]) for k in keys])
    assert abs(surprise.mean() - h_key) < 4 * surprise.std() / math.sqrt(len(surprise))


def brute_force_window_loss(p, context):
    """[H(X_1..X_n) - H(X_1)] / context by enumerating every window of n = context + 1 bytes."""
    fixed, probs = table(p), key_probs(p)
    L, n = p.record_len, context + 1
    records = {}
    for k, digits in itertools.product(range(p.n_keys), itertools.product(range(10), repeat=p.noise_len)):
        text = bytes(fixed[k]) + b" " + bytes(48 + d for d in digits) + b"\n"
        records[text] = records.get(text, 0) + probs[k] * 10.0 ** -p.noise_len
    n_records = -(-(n + L) // L)
    windows, first = defaultdict(float), defaultdict(float)
    for combo in itertools.product(records.items(), repeat=n_records):
        stream = b"".join(text for text, _ in combo)
        weight = math.prod(w for _, w in combo) / L
        for phi in range(L):
            windows[stream[phi:phi + n]] += weight
            first[stream[phi:phi + 1]] += weight
    entropy = (lambda dist: -sum(w * math.log(w) for w in dist.values() if w > 0))
    return (entropy(windows) - entropy(first)) / context


def test_optimal_windowed_loss_matches_brute_force():
    assert optimal_loss(TINY, context=6) == pytest.approx(brute_force_window_loss(TINY, 6), abs=1e-12)


def test_windowed_floor_is_above_the_entropy_rate_and_approaches_it():
    h = entropy_rate()
    e64, e128, e256 = (entropy_rate(context=c) for c in (64, 128, 256))
    assert h < e256 < e128 < e64
    assert e128 - h < 0.05 * h


def test_entropy_rate_is_only_known_for_synthetic():
    with pytest.raises(ConfigError, match="entropy rate of 'poetry' is unknown"):
        entropy_rate("poetry")
