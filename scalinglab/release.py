"""The student release: the course as students get it, written by `python -m scalinglab.assign --release DIR`.

It holds the book, the student labs, the library (with its public self-checks), the reference data and a
student README. It holds no solutions/, no hidden case, no answer implementation of the instructor's
and no model answer: `audit` looks for each of them in every file written, and the release is refused
if one is found. This is the tree that Colab, Binder and the public site install and build from.
"""
import ast
import json
import re
import shutil
from pathlib import Path

from scalinglab.assign import ANSWER, BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = ["book", "labs", "scalinglab", "data/reference", "_config.yml", "_toc.yml", "pyproject.toml",
           "requirements.txt", ".binder", ".gitignore"]
MIN_SECRET_CHARS = 30  # shorter solution lines (`return float(mse)`) say nothing a student could not write
# Files that print a solution on purpose, with the reason. Keep this empty: each entry is a known leak.
KNOWN_LEAKS = {}

README = """# Scaling Laws, Hands-On: labs and library

An open course on neural scaling laws for language models. Each chapter teaches one law with
citations and figures from real runs; each lab has you train tiny byte-level Transformers on a
laptop CPU (or one GPU) and fit the law yourself from what you measure.

## Running a lab

Python 3.11:

```bash
pip install -r requirements.txt
jupyter lab labs/
```

On Colab, open a lab from the course site with its launch button: the lab's first cell installs
the library. Every lab reads its sizes from a compute profile (`SCALINGLAB_PROFILE=smoke|cpu|gpu`;
unset: `gpu` with CUDA, else `cpu`) and prints how long it will take before it trains anything.

## Checking your work

Each task has a check cell, `check("q1", your_function)`, that prints ✓ or one line per failed
test with a hint. To check a whole notebook the way the grader runs it (in a sandbox, with the
checks you can see; your instructor also runs hidden ones):

```bash
python -m scalinglab.grade my_notebooks/ --lab 0 --out my_grades.csv
```

## The book

```bash
pip install -r requirements.txt && jupyter-book build . -W -n --keep-going
```

then open `_build/html/index.html`.
"""


def secrets(root=ROOT):
    """Strings that must not appear in a release: solution lines, model answers, hidden cases' names.

    A line the student lab or the library already shows (given code, a library function) is no secret.
    """
    found = set()
    for path in sorted((root / "solutions").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                inside = False
                for line in source.splitlines():
                    inside = (inside or line.strip() == BEGIN) and line.strip() != END
                    if inside and len(line.strip()) >= MIN_SECRET_CHARS:
                        found.add(line.strip())
            else:
                found |= {m.group(0)[len(m.group(1)):-len(m.group(3))].strip() for m in ANSWER.finditer(source)}
    for path in sorted((root / "tests" / "grading").glob("*_hidden.py")):
        found.add(path.name)
        tree = ast.parse(path.read_text())
        found |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    public = "\n".join(p.read_text() for p in [*(root / "labs").glob("*.ipynb"), *(root / "scalinglab").rglob("*.py")])
    return {s for s in found if s and s not in public}


def audit(directory, root=ROOT):
    """[(file, secret)] for every secret found in the files under directory."""
    words = secrets(root)
    names = {s for s in words if re.fullmatch(r"\w+(\.py)?", s)}
    leaks = []
    for path in sorted(Path(directory).rglob("*")):
        if not path.is_file() or path.relative_to(directory).as_posix() in KNOWN_LEAKS:
            continue
        text = path.read_text(errors="replace")
        tokens = set(re.findall(r"\w+(?:\.py)?", text)) | {path.name}
        leaks += [(path, s) for s in names & tokens]
        leaks += [(path, s) for s in words - names if s in text]
    return leaks


def write_release(directory, root=ROOT):
    """Write the student release into directory (which must not exist yet); returns its path."""
    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(f"{directory} exists: a release is written into a new folder")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    for name in INCLUDE:
        source, target = root / name, directory / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        elif source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (directory / "README.md").write_text(README)
    leaks = audit(directory, root)
    if leaks:
        shutil.rmtree(directory)
        raise ValueError("the release would leak: " + "; ".join(f"{p.relative_to(directory)}: {s[:60]!r}"
                                                                  for p, s in leaks[:5]))
    return directory
