import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--lab-notebook", action="append", default=[], metavar="PATH",
                     help="notebook(s) for tests/grading to grade (default: every solution notebook)")


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session builds its corpora in a fresh cache, so cache bugs cannot hide."""
    os.environ["SCALINGLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture
def text_file(tmp_path):
    """A small UTF-8 text file (about 60 KB, with multi-byte characters)."""
    lines = [f"Line {i}: the quick brown fox — naïve café {i * i % 97}\n" for i in range(1200)]
    path = tmp_path / "tiny.txt"
    path.write_text("".join(lines), encoding="utf-8")
    return path
