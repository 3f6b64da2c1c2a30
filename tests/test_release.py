"""The student release holds no solution, hidden case or answer key, and works on its own: its grader
grades Lab 0 from it, and the wheel built from it installs the library, its checks and the reference data
into a fresh environment, where a lab's first cell runs from a folder holding only the notebook (as on Colab)."""
import csv
import json
import os
import subprocess
import sys
import site
import venv
from pathlib import Path

import pytest

from scalinglab.assign import python_source
from scalinglab.release import ROOT, audit, secrets, write_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("release") / "course")


def test_the_release_holds_no_secret(release):
    assert not (release / "solutions").exists() and not (release / "tests").exists()
    assert len(secrets()) > 20 and not audit(release)
    assert audit(ROOT / "solutions")  # the audit finds what it looks for


def test_a_release_is_not_written_over_an_existing_folder(release):
    with pytest.raises(FileExistsError):
        write_release(release)


def test_lab0_runs_and_is_graded_from_the_release(release, tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "solution.ipynb").write_bytes((ROOT / "solutions" / "lab00_power_laws.ipynb").read_bytes())
    (submissions / "blank.ipynb").write_bytes((release / "labs" / "lab00_power_laws.ipynb").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(release), "SCALINGLAB_PROFILE": "smoke"}
    code = ("import scalinglab, sys; assert scalinglab.__file__.startswith(sys.argv[1]), scalinglab.__file__; "
            "from scalinglab.grade import main; main(sys.argv[2:])")
    subprocess.run([sys.executable, "-c", code, str(release), str(submissions), "--lab", "0",
                    "--out", str(tmp_path / "grades.csv"), "--timeout", "120"], env=env, cwd=release, check=True)
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert rows["solution"]["status"] == "ok" and float(rows["blank"]["total"]) == 0
    # without the instructor's hidden cases, the release grades with the public ones: all of them pass
    assert float(rows["solution"]["total"]) == sum(q.points for q in _lab00_questions())


def _lab00_questions():
    from scalinglab.checks.lab00 import QUESTIONS
    return QUESTIONS.values()


def test_the_wheel_installs_what_a_lab_needs(release, tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(release),
                    "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("scalinglab-*.whl"))
    # like Colab: the scientific stack is already there (this environment's packages, seen through a .pth,
    # which does not run the .pth files of the editable install); the wheel brings the rest
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    own = subprocess.run([python, "-c", "import site; print(site.getsitepackages()[0])"], capture_output=True,
                         text=True, check=True).stdout.strip()
    (Path(own) / "course_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    declared = ("import re; from importlib.metadata import requires, version; "
                "names = [re.match(r'[\\w.-]+', r).group(0) for r in requires('scalinglab') if 'extra ==' not in r]; "
                "print(names, [version(n) for n in names])")
    subprocess.run([python, "-c", declared], check=True)  # every declared dependency is installed
    for lab in sorted(p.stem for p in (release / "labs").glob("lab*.ipynb")):
        folder = tmp_path / lab
        folder.mkdir()
        (folder / f"{lab}.ipynb").write_bytes((release / "labs" / f"{lab}.ipynb").read_bytes())
        first = next(c for c in json.loads((folder / f"{lab}.ipynb").read_text())["cells"] if c["cell_type"] == "code")
        script = tmp_path / f"{lab}_first_cell.py"
        script.write_text(python_source("".join(first["source"])) + "\nimport scalinglab\nprint(scalinglab.__file__)\n"
                          "from scalinglab.experiments import reference_path\n"
                          "from scalinglab.sweep import load_results\n"
                          "print(len(load_results(reference_path('lab01', 'data_scaling'))), 'reference runs')\n")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([python, str(script)], cwd=folder, env={**env, "SCALINGLAB_PROFILE": "smoke"},
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert str(tmp_path / "venv") in done.stdout and "reference runs" in done.stdout, done.stdout
        assert sorted(p.name for p in folder.iterdir()) == [f"{lab}.ipynb"]  # nothing written beside the lab


def test_colab_installs_the_release_repository():
    import yaml
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for lab in sorted((ROOT / "labs").glob("lab*.ipynb")):
        first = "".join(next(c for c in json.loads(lab.read_text())["cells"] if c["cell_type"] == "code")["source"])
        assert f'%pip install -q "scalinglab @ git+{url}"' in first, lab.name
