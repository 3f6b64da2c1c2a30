"""synthetic: a byte corpus of Zipf-distributed key -> value records with an exactly known entropy.

Each record is one line of ASCII,

    <key> ' ' <value> ' ' <noise> '\\n'        e.g.  "qzkf wrtbxa 37\\n"

  key    one of K fixed, distinct random strings of `key_len` lowercase letters; the record's key is
         drawn i.i.d. with Zipf probabilities p_k = k^-zipf / sum_j j^-zipf (k = 1..K, rank hidden)
  value  a fixed random string of `value_len` lowercase letters belonging to the key: a "fact"
         (Hutter 2021's feature, Michaud et al. 2023's quantum) that a model can only learn from
         the records of that key, so frequent keys are learned first and the fraction of the loss
         still unlearned after D tokens falls as a power law in D
  noise  `noise_len` i.i.d. uniform decimal digits: fresh randomness, the irreducible part

Records are i.i.d. and end in the only '\\n', so the entropy rate (nats per byte) is exact: the
entropy of one record over its length in bytes (entropy_rate; by renewal-reward, E[H(record)] /
E[bytes per record] if lengths varied; here every record has the same length). A model that sees
only `context` bytes pays a little more at the start of each window, where the record phase and
the key are still unseen; optimal_loss gives the exact minimum of scalinglab's windowed loss.
The design follows Hutter (2021), "Learning Curve Theory", and Michaud et al. (2023), "The
Quantization Model of Neural Scaling".
"""
import math
from dataclasses import dataclass

import numpy as np

LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
SPACE, NEWLINE, ZERO = ord(" "), ord("\n"), ord("0")


@dataclass(frozen=True)
class Params:
    # K = 1,000 facts of value_len letters: about 28 kbit, well within what the course's smallest model
    # (98,624 parameters outside the embeddings; ~2 bits per parameter, Allen-Zhu & Li 2024) can store. With
    # 100,000 keys the facts outgrow the model and its fitted floor lands above the entropy rate.
    n_keys: int = 1_000    # K
    zipf: float = 1.5      # Zipf exponent s > 1; the theory's data exponent is beta = 1 - 1/s
    key_len: int = 4       # letters per key (26**key_len must be >= 2K)
    value_len: int = 6     # letters per value
    noise_len: int = 2     # random digits per record

    @property
    def record_len(self):  # bytes per record, separators included
        return self.key_len + 1 + self.value_len + 1 + self.noise_len + 1


def key_probs(p: Params):
    """Zipf probabilities of the keys, by rank."""
    w = np.arange(1, p.n_keys + 1, dtype=np.float64) ** -p.zipf
    return w / w.sum()


def _raw(seed, stream, n):
    """n uint64 words from PCG64 seeded with (seed, stream): the raw stream is fixed by the PCG64
    algorithm, so the corpus is the same on every machine and numpy version."""
    return np.random.PCG64([seed, stream]).random_raw(n)


def table(p: Params, seed=0):
    """The fixed part of every key's record, key + ' ' + value, as a (K, key_len + 1 + value_len) uint8 array."""
    assert 2 * p.n_keys <= 26 ** p.key_len, "key_len too short for n_keys distinct keys"
    draws = _raw(seed, 1, 8 * p.n_keys) % 26 ** p.key_len
    _, first = np.unique(draws, return_index=True)
    codes = draws[np.sort(first)[:p.n_keys]]                 # the first K distinct draws
    keys = LETTERS[(codes[:, None] // 26 ** np.arange(p.key_len, dtype=np.uint64)) % 26]
    values = LETTERS[(_raw(seed, 2, p.n_keys * p.value_len) % 26).reshape(p.n_keys, p.value_len)]
    return np.concatenate([keys, np.full((p.n_keys, 1), SPACE, np.uint8), values], axis=1)


def generate(n_bytes, seed=0, p: Params = Params()) -> bytes:
    """n_bytes of the corpus (ASCII), a deterministic function of (n_bytes, seed, p).

    A shorter corpus is a prefix of a longer one with the same seed. (Digits are raw % 10, biased by
    under 1e-18: immaterial; key ranks are inverse-cdf samples of 53-bit uniforms.)
    """
    fixed = table(p, seed)
    n_rec = -(-n_bytes // p.record_len)
    uniform = (_raw(seed, 3, n_rec) >> np.uint64(11)) * 2.0 ** -53
    ranks = np.searchsorted(np.cumsum(key_probs(p)), uniform, side="right")
    ranks = np.minimum(ranks, p.n_keys - 1)  # guards the last bin against rounding of the cdf
    noise = (ZERO + _raw(seed, 4, n_rec * p.noise_len) % 10).astype(np.uint8).reshape(n_rec, p.noise_len)
    sep = lambda c: np.full((n_rec, 1), c, np.uint8)
    records = np.concatenate([fixed[ranks], sep(SPACE), noise, sep(NEWLINE)], axis=1)
    return records.tobytes()[:n_bytes]


def entropy(probs):
    probs = probs[probs > 0]
    return float(-(probs * np.log(probs)).sum())


def entropy_rate(p: Params = Params()) -> float:
    """Exact entropy rate in nats per byte: H(record) / bytes per record.

    Records are i.i.d., so H(X_1..X_n)/n -> H(record)/L (L = record_len). Within a record only the
    key and the noise are random: the separators are fixed and the value is a function of the key,
    and keys are distinct strings, so H(record) = H(Zipf_K(s)) + noise_len * ln 10.
    """
    return (entropy(key_probs(p)) + p.noise_len * math.log(10)) / p.record_len


def _field_entropy(fixed, probs, lo, hi):
    """Entropy of the substring fixed[k, lo:hi] when key k has probability probs[k]."""
    if hi <= lo:
        return 0.0
    rows = np.ascontiguousarray(fixed[:, lo:hi]).view(f"V{hi - lo}").ravel()
    _, inverse = np.unique(rows, return_inverse=True)
    return entropy(np.bincount(inverse.ravel(), weights=probs))


def optimal_loss(p: Params = Params(), context=128, seed=0) -> float:
    """Exact minimum of scalinglab's validation loss: the mean over the `context` targets of a window
    of H(X_t | X_1..X_t-1), for a window starting at a uniformly random byte of the record stream.

    That mean is [H(X_1..X_n) - H(X_1)] / context with n = context + 1. Let Phi be the window's start
    within its first record (uniform on 0..L-1). Phi is a function of the window (the position of a
    '\\n', which occurs only at record ends, and n >= L), so H(X_1..X_n) = ln L + E_Phi H(X_1..X_n | Phi),
    and given Phi the window is a suffix of one record, whole records, and a prefix of one more.
    """
    L, n = p.record_len, context + 1
    assert n >= L, "the context must hold a whole record"
    fixed, probs = table(p, seed), key_probs(p)
    d = fixed.shape[1]                       # bytes of key + ' ' + value
    digits = lambda lo, hi: max(0, min(hi, d + 1 + p.noise_len) - max(lo, d + 1)) * math.log(10)
    h_rec = entropy(probs) + p.noise_len * math.log(10)
    h_window = 0.0
    for phi in range(L):
        suffix = _field_entropy(fixed, probs, phi, d) + digits(phi, L)
        rest = n - (L - phi)
        j = rest % L
        prefix = _field_entropy(fixed, probs, 0, min(j, d)) + digits(0, j)
        h_window += (suffix + rest // L * h_rec + prefix) / L
    h_window += math.log(L)
    # X_1 is the byte at a uniformly random position of a record: a mixture over positions.
    marginal = np.zeros(256)
    for pos in range(d):
        marginal += np.bincount(fixed[:, pos], weights=probs, minlength=256) / L
    marginal[ZERO:ZERO + 10] += p.noise_len / 10 / L
    marginal[SPACE] += 1 / L
    marginal[NEWLINE] += 1 / L
    return (h_window - entropy(marginal)) / context
