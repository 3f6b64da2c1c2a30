import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from scalinglab.assign import ROOT, STUB, TAG, generate, student_notebook, stub_code
from scalinglab.checks import PLACEHOLDER


def solution():
    cells = [
        new_code_cell("import numpy as np\nfrom scalinglab.checks.lab00 import check"),
        new_code_cell("def slope(x, y):\n    \"\"\"The slope.\"\"\"\n    ### BEGIN SOLUTION\n"
                      "    s = np.polyfit(x, y, 1)[0]\n    ### END SOLUTION\n    return s"),
        new_code_cell("check('q1', slope)"),
        new_code_cell("fitted = slope([1, 2], [2, 4])\nprint(fitted)"),
        new_code_cell("assert abs(fitted - 2) < 1e-9"),
        new_code_cell("print(np.pi)"),
        new_markdown_cell("Why?\n\n<!-- BEGIN ANSWER q2 -->\nBecause the data say so.\n<!-- END ANSWER -->"),
    ]
    cells[3].outputs = [new_output("stream", text="2.0\n")]
    cells[3].execution_count = 4
    return new_notebook(cells=cells)


def test_solution_regions_become_stubs_at_their_indentation():
    lab = student_notebook(solution())
    assert lab.cells[1].source == f'def slope(x, y):\n    """The slope."""\n    {STUB}\n    return s'
    assert "polyfit" not in nbformat.writes(lab)


def test_written_answers_become_placeholders_inside_their_markers():
    text = student_notebook(solution()).cells[6].source
    assert "Because" not in text and PLACEHOLDER in text
    assert text.startswith("Why?\n\n<!-- BEGIN ANSWER q2 -->\n") and text.endswith("\n<!-- END ANSWER -->")


def test_outputs_are_cleared_and_dependent_cells_tagged():
    original = solution()
    lab = student_notebook(original)
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in lab.cells if c.cell_type == "code")
    tagged = [i for i, c in enumerate(lab.cells) if TAG in c.metadata.get("tags", [])]
    assert tagged == [1, 2, 3, 4]  # the stub, the check, the use of slope, the use of fitted; not np.pi
    assert original.cells[3].outputs, "the solution itself is not changed"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "without '### END"),
    ("x = 1\n### END SOLUTION", "without '### BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
])
def test_unbalanced_markers_are_errors(source, message):
    with pytest.raises(ValueError, match=message):
        stub_code(source)


def test_generate_writes_then_checks(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(solution(), tmp_path / "solutions" / "lab09_demo.ipynb")
    labs = tmp_path / "labs"
    assert generate(tmp_path / "solutions", labs) == [labs / "lab09_demo.ipynb"]
    assert generate(tmp_path / "solutions", labs, check=True) == []
    (labs / "lab09_demo.ipynb").write_text((labs / "lab09_demo.ipynb").read_text().replace("slope", "slop"))
    assert generate(tmp_path / "solutions", labs, check=True) == [labs / "lab09_demo.ipynb"]


def test_committed_labs_are_exactly_what_assign_generates():
    solutions = sorted((ROOT / "solutions").glob("lab*.ipynb"))
    assert solutions, "no solution notebooks found"
    assert sorted(p.name for p in (ROOT / "labs").glob("lab*.ipynb")) == [p.name for p in solutions]
    assert generate(check=True) == [], "labs/ is out of date: run python -m scalinglab.assign"


def test_instructor_toc_adds_each_solution_after_its_lab():
    from scalinglab.assign import instructor_toc
    toc = {"format": "jb-book", "root": "book/intro", "parts": [
        {"caption": "A", "chapters": [{"file": "book/a", "sections": [{"file": "labs/lab00_x"}]}]}]}
    sections = instructor_toc(toc)["parts"][0]["chapters"][0]["sections"]
    assert sections == [{"file": "labs/lab00_x"}, {"file": "solutions/lab00_x", "title": "Solution"}]
    assert toc["parts"][0]["chapters"][0]["sections"] == [{"file": "labs/lab00_x"}]  # unchanged
