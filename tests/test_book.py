"""The site is part of the tests: a book that does not build without warnings is a failing test."""
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings(tmp_path):
    command = [shutil.which("jupyter-book") or "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going",
               "--path-output", str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-5000:]
    html = tmp_path / "_build" / "html"
    pages = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text()) + ["book/intro"]
    for page in pages:
        assert (html / f"{page}.html").exists(), f"{page} missing from the site"


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    command = re.search(r"# run all the tests\n(.+)\n", readme).group(1).strip()
    assert command in ci, f".ci/run must run the README's test command: {command}"
