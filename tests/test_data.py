import os
import time

import numpy as np
import pytest

from scalinglab import data
from scalinglab.data import Batches, decode, encode, eval_windows, load_corpus, split_bounds
from scalinglab.errors import ConfigError


def test_tokens_round_trip():
    text = "Shall I compare thee — to a summer’s day? ναι 🌞\n"
    tokens = encode(text)
    assert tokens.dtype == np.uint8 and len(tokens) == len(text.encode("utf-8"))
    assert decode(tokens) == text


def test_split_is_fixed_integer_arithmetic():
    # 1000 tokens -> 20 chunks of 50; the last int(50 * 0.05) = 2 tokens of each chunk are validation.
    assert split_bounds(1000) == [(50 * i + 48, 50 * i + 50) for i in range(20)]


def test_split_is_disjoint_complete_and_stable(text_file):
    raw = np.frombuffer(text_file.read_bytes(), dtype=np.uint8)
    train, val = load_corpus(text_file), load_corpus(text_file, "val")
    assert len(train) + len(val) == len(raw)
    is_val = np.zeros(len(raw), bool)
    for lo, hi in split_bounds(len(raw)):
        is_val[lo:hi] = True
    assert np.array_equal(val, raw[is_val]) and np.array_equal(train, raw[~is_val])
    assert 0.04 < len(val) / len(raw) < 0.06
    data._LOADED.clear()  # a fresh process sees the same split
    assert np.array_equal(load_corpus(text_file, "val"), val)


def test_prose_corpus_and_fast_reload():
    train = load_corpus("prose")
    assert len(train) > 10_000_000 and decode(train[:200]).strip()
    data._LOADED.clear()
    start = time.perf_counter()
    again = load_corpus("prose")
    assert time.perf_counter() - start < 1.0
    assert isinstance(again, np.memmap) and np.array_equal(again[:1000], train[:1000])


def test_a_text_file_is_loaded_once_per_process(text_file):
    assert load_corpus(text_file) is load_corpus(text_file)


def _cache_files(path):
    key, _ = data._source(path)
    return [os.path.join(data.cache_dir(), f"{key}.{s}") for s in ("train.u8", "val.u8", "json")]


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "delete_meta"])
def test_damaged_cache_is_rebuilt(text_file, damage):
    expected = np.array(load_corpus(text_file))
    train_file, _, meta_file = _cache_files(text_file)
    if damage == "flip_byte":
        with open(train_file, "r+b") as f:
            f.seek(100)
            byte = f.read(1)
            f.seek(100)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncate":
        os.truncate(train_file, os.path.getsize(train_file) // 2)
    else:
        os.remove(meta_file)
    data._LOADED.clear()
    assert np.array_equal(load_corpus(text_file), expected)


def test_batches_are_seeded_and_shifted(text_file):
    tokens = load_corpus(text_file)
    x1, y1 = next(Batches(tokens, 4, 32, seed=7))
    x2, y2 = next(Batches(tokens, 4, 32, seed=7))
    x3, _ = next(Batches(tokens, 4, 32, seed=8))
    assert x1.shape == (4, 32) and x1.dtype.is_floating_point is False
    assert (x1 == x2).all() and (y1 == y2).all() and not (x1 == x3).all()
    assert (x1[:, 1:] == y1[:, :-1]).all()


def test_eval_windows_are_fixed(text_file):
    val = load_corpus(text_file, "val")
    a, b = eval_windows(val, 16, 160), eval_windows(val, 16, 160)
    assert a.shape == (10, 17) and (a == b).all()


def test_unknown_corpus_name():
    with pytest.raises(ConfigError, match="unknown corpus 'poetri'.*poetry.*prose"):
        load_corpus("poetri")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="corpus file not found"):
        load_corpus(tmp_path / "absent.txt")


def test_unknown_split():
    with pytest.raises(ConfigError, match="unknown split"):
        load_corpus("prose", "test")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1") * 100)
    with pytest.raises(ConfigError, match="not UTF-8.*offset 3.*iconv"):
        load_corpus(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="empty"):
        load_corpus(path)


def test_file_shorter_than_a_context_window(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("a few words only\n" * 20)
    with pytest.raises(ConfigError, match="fewer than one context window"):
        Batches(load_corpus(path), 4, 512)
    with pytest.raises(ConfigError, match="validation split has .* fewer than one context window"):
        eval_windows(load_corpus(path, "val"), 64, 1024)
