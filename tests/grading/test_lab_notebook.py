"""Grade a notebook question by question: `pytest tests/grading --lab-notebook PATH`.

Without --lab-notebook it grades every solution notebook, each of which must get full marks.
A student can run it on their own notebook to see which questions still fail, and why.
"""
import re
from pathlib import Path

import pytest

from scalinglab.grade import ROOT, grade_notebook


def lab_number(path):
    match = re.match(r"lab(\d+)_", Path(path).name)
    if not match:
        raise pytest.UsageError(f"{path}: a lab notebook's name starts with labNN_, e.g. lab00_power_laws.ipynb")
    return int(match.group(1))


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        paths = metafunc.config.getoption("--lab-notebook") or sorted(map(str, (ROOT / "solutions").glob("lab*.ipynb")))
        metafunc.parametrize("notebook", paths, scope="module", ids=[Path(p).stem for p in paths])


@pytest.fixture(scope="module")
def graded(notebook):
    return grade_notebook(notebook, lab_number(notebook), timeout=600, cell_timeout=120)


def test_notebook_runs(graded, notebook):
    if graded["status"] != "ok":
        pytest.fail(f"{graded['status']}\n" + "\n".join(graded["cell_errors"]), pytrace=False)
    if Path(notebook).parent == ROOT / "solutions":  # a solution runs every cell, training included
        assert graded["cell_errors"] == []


def test_every_question_gets_full_marks(graded):
    assert graded["grades"]
    lines = [f"{qid}: {g['points']:g}/{g['max_points']:g}\n" + "".join(f"    - {m}\n" for m in g["messages"])
             for qid, g in graded["grades"].items() if g["points"] < g["max_points"]]
    if lines:  # the same one line per failed case, with its hint, that check() prints; no assertion dump
        pytest.fail("".join(lines), pytrace=False)
