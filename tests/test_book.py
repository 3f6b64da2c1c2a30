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
    # launch buttons where something runs: on the labs, not on the chapters (Colab cannot open MyST Markdown)
    for page in pages:
        text = (html / f"{page}.html").read_text(encoding="utf-8")
        launches = "colab.research.google.com" in text and "mybinder.org/v2/gh/" in text
        assert launches == page.startswith("labs/"), f"{page}: launch buttons {'missing' if not launches else 'shown'}"
    # every figure of a chapter is a numbered figure with a caption
    for page in pages:
        text = (html / f"{page}.html").read_text(encoding="utf-8")
        outputs = re.findall(r'<div class="cell_output docutils container">.*?</div>\s*</div>', text, flags=re.S)
        bare = [o for o in outputs if "<img" in o and "<figcaption" not in o]
        assert not bare, f"{page}: {len(bare)} figure(s) without a caption: give the cell a mystnb.figure caption"


def test_binder_builds_from_the_pins():
    """Binder installs requirements.txt itself, with PyTorch's CPU wheels (a plain pip pulls CUDA)."""
    lines = (ROOT / ".binder" / "requirements.txt").read_text().splitlines()
    assert "-r ../requirements.txt" in lines and "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert (ROOT / ".binder" / "runtime.txt").read_text().strip() == "python-3.11"


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
