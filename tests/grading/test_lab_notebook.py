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
    assert graded["status"] == "ok", graded["cell_errors"]
    if Path(notebook).parent == ROOT / "solutions":  # a solution runs every cell, training included
        assert graded["cell_errors"] == []


def test_every_question_gets_full_marks(graded):
    missing = {q: g["messages"] for q, g in graded["grades"].items() if g["points"] < g["max_points"]}
    assert graded["grades"] and not missing, missing
