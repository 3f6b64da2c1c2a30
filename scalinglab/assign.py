"""python -m scalinglab.assign: generate the student labs in labs/ from the solutions in solutions/.

Markers in a solution notebook:
  code      the lines between `### BEGIN SOLUTION` and `### END SOLUTION` are replaced by
            `raise NotImplementedError(...)` at the same indentation;
  written   in a markdown cell, the text between `<!-- BEGIN ANSWER q5 -->` and
            `<!-- END ANSWER -->` is replaced by a placeholder; the markers stay, so the grader
            can find the student's answer.
Outputs are cleared. A cell that contains a stub, or uses a name that a stubbed cell defines, is
tagged `raises-exception`, so that nbval and the book accept the error it raises until the student
fills it in. `--check` verifies that labs/ is what this command generates, changing nothing.
"""
import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

from scalinglab.checks import PLACEHOLDER

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("replace this line with your code")'
ANSWER = re.compile(r"(<!-- BEGIN ANSWER (\w+) -->\n).*?(\n?<!-- END ANSWER -->)", re.S)
TAG = "raises-exception"
ROOT = Path(__file__).resolve().parents[1]


def stub_code(source):
    """The source with each solution region replaced by a stub; raises on unbalanced markers."""
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r}")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r}")
    return "\n".join(out)


def stub_answers(source):
    return ANSWER.sub(lambda m: f"{m.group(1)}*{PLACEHOLDER}: replace this line with your answer.*{m.group(3)}",
                      source)


def python_source(source):
    """A cell's source as plain Python: IPython magics and shell escapes become `pass`."""
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
                     else line for line in source.splitlines())


def names(source):
    """(names the cell binds at top level, names it reads)."""
    tree = ast.parse(python_source(source))
    bound, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound, used


def student_notebook(solution):
    """The student version of a solution notebook (a new object; the solution is not changed)."""
    nb = copy.deepcopy(solution)
    unfinished = set()  # names whose value depends on a stub
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = stub_answers(cell.source)
            continue
        if cell.cell_type != "code":
            continue
        stubbed = stub_code(cell.source)
        bound, used = names(stubbed)
        tags = [t for t in cell.metadata.get("tags", []) if t != TAG]
        if stubbed != cell.source or used & unfinished:
            unfinished |= bound
            tags.append(TAG)
        cell.source = stubbed
        cell.outputs, cell.execution_count = [], None
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return nb


def lab_path(solution_path, labs_dir):
    return Path(labs_dir) / Path(solution_path).name


def generate(solutions_dir=ROOT / "solutions", labs_dir=ROOT / "labs", check=False):
    """Write (or with check=True, compare) every lab; returns the list of labs that differ."""
    differ = []
    for path in sorted(Path(solutions_dir).glob("lab*.ipynb")):
        text = nbformat.writes(student_notebook(nbformat.read(path, as_version=4))) + "\n"
        target = lab_path(path, labs_dir)
        if not target.exists() or target.read_text() != text:
            differ.append(target)
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return differ


def instructor_toc(toc):
    """The site's table of contents with each lab's solution listed right after the lab."""
    if isinstance(toc, dict):
        return {key: instructor_toc(value) for key, value in toc.items()}
    if isinstance(toc, list):
        out = []
        for entry in toc:
            out.append(instructor_toc(entry))
            if isinstance(entry, dict) and str(entry.get("file", "")).startswith("labs/"):
                out.append({"file": "solutions/" + entry["file"][len("labs/"):], "title": "Solution"})
        return out
    return toc


def write_instructor_toc(path):
    import yaml
    toc = instructor_toc(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(toc, sort_keys=False))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scalinglab.assign", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify that labs/ is up to date")
    parser.add_argument("--solutions", default=ROOT / "solutions", help="folder of solution notebooks")
    parser.add_argument("--labs", default=ROOT / "labs", help="folder to write the student labs to")
    parser.add_argument("--instructor-toc", metavar="PATH",
                        help="instead, write a table of contents that adds each lab's solution to the site")
    parser.add_argument("--release", metavar="DIR",
                        help="instead, write the student release (no solutions, hidden cases or answer keys) to DIR")
    args = parser.parse_args(argv)
    if args.release:
        from scalinglab.release import write_release
        try:
            write_release(args.release)
        except (FileExistsError, ValueError) as e:
            sys.exit(f"error: {e}")
        print(f"wrote the student release to {args.release}")
        return
    if args.instructor_toc:
        write_instructor_toc(args.instructor_toc)
        print(f"wrote {args.instructor_toc}: build with jupyter-book build . --toc {args.instructor_toc}")
        return
    try:
        differ = generate(args.solutions, args.labs, check=args.check)
    except (ValueError, SyntaxError) as e:
        sys.exit(f"error: {e}")
    if args.check and differ:
        sys.exit("out of date: " + ", ".join(map(str, differ)) + " (run python -m scalinglab.assign)")
    print(("up to date" if args.check else f"wrote {len(differ)} lab(s)") + f" in {args.labs}")


if __name__ == "__main__":
    main()
