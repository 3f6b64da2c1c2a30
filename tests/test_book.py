"""The site is part of the tests: a book that does not build without warnings is a failing test."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files(node):
    if isinstance(node, dict):
        return ([node["file"]] if "file" in node else []) + [f for v in node.values() for f in toc_files(v)]
    return [f for v in node for f in toc_files(v)] if isinstance(node, list) else []


def test_book_builds_without_warnings(tmp_path):
    command = [shutil.which("jupyter-book") or "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    html = tmp_path / "_build" / "html"
    pages = ["book/intro"] + toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    for page in pages:
        assert (html / f"{page}.html").exists(), f"{page} missing from the site"
    assert not (html / "solutions").exists(), "the public site must not show the solutions"


def test_instructor_build_shows_the_solutions(tmp_path):
    """The instructor build documented on the How to use page."""
    toc = tmp_path / "instructor_toc.yml"
    subprocess.run([sys.executable, "-m", "scalinglab.assign", "--instructor-toc", str(toc)], check=True)
    command = [shutil.which("jupyter-book") or "jupyter-book", "build", str(ROOT), "--toc", str(toc),
               "--path-output", str(tmp_path), "-W", "-n", "--keep-going"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    solutions = sorted(p.stem for p in (ROOT / "solutions").glob("lab*.ipynb"))
    assert solutions and all((tmp_path / "_build" / "html" / "solutions" / f"{s}.html").exists() for s in solutions)


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    command = re.search(r"# run all the tests\n(.+)\n", readme).group(1).strip()
    assert command in ci, f".ci/run must run the README's test command: {command}"
