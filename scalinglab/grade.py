"""python -m scalinglab.grade SUBMISSIONS --lab 0 --out grades.csv: grade a folder of notebooks.

Each notebook runs in its own process, in a fresh temporary folder, under the smoke profile:
  - every cell has a time limit (a cell that loops forever is interrupted; later cells still run),
    and the whole notebook has one too (its process is killed);
  - writes and deletions outside its folder (and the corpus cache), and starting programs, are
    refused by an audit hook; output beyond 1 MB is dropped.
Then the lab's checks (scalinglab/checks/labNN.py) and the hidden cases (tests/grading/labNN_hidden.py)
grade the functions and written answers the notebook defined. A failed cell costs only what
depends on it. This guards against accidents and runaway code, not against a student who sets out
to attack the grader: for that, run the grader in a container.
"""
import argparse
import csv
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_LIMIT = 1 << 20


def hidden_cases_path(lab):
    return ROOT / "tests" / "grading" / f"lab{lab:02d}_hidden.py"


def written_answers(nb):
    """Answer id -> text of every marked written answer in a notebook."""
    pattern = re.compile(r"<!-- BEGIN ANSWER (\w+) -->\n?(.*?)\n?<!-- END ANSWER -->", re.S)
    return {m.group(1): m.group(2).strip() for cell in nb["cells"] if cell["cell_type"] == "markdown"
            for m in pattern.finditer("".join(cell["source"]))}


# ---------------------------------------------------------------- inside the sandboxed process

class CappedStream:
    """A text stream that keeps at most `limit` characters and drops the rest."""

    def __init__(self, stream, limit=OUTPUT_LIMIT):
        self.stream, self.left = stream, limit

    def write(self, text):
        if self.left > 0:
            self.stream.write(text[: self.left])
        self.left -= len(text)
        return len(text)

    def flush(self):
        self.stream.flush()


def confine(allowed_roots):
    """Refuse writes and deletions outside allowed_roots, and starting programs, from now on."""
    roots = [os.path.realpath(r) for r in allowed_roots]

    def inside(path):
        if isinstance(path, int):
            return True  # an already-open file descriptor
        real = os.path.realpath(os.fsdecode(path))
        return real == os.devnull or any(real == r or real.startswith(r + os.sep) for r in roots)

    def hook(event, args):
        if event == "open":
            path, mode, flags = args
            writing = (mode and any(c in mode for c in "wax+")) or (
                mode is None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if writing and not inside(path):
                raise PermissionError(f"graded notebooks may only write inside their folder, not {path}")
        elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.utime",
                       "shutil.rmtree", "os.symlink", "os.link", "os.rename", "os.replace"):
            for path in args[:2] if event in ("os.rename", "os.replace", "os.symlink", "os.link") else args[:1]:
                if isinstance(path, (str, bytes, os.PathLike)) and not inside(path):
                    raise PermissionError(f"graded notebooks may not change {path}")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork"):
            raise PermissionError("graded notebooks may not start other programs")

    sys.addaudithook(hook)


class CellTimeout(BaseException):  # not an Exception: a student's `except Exception` must not swallow it
    pass


def run_notebook(nb, cell_timeout):
    """Execute the code cells in one namespace; returns (namespace, [errors])."""
    from scalinglab.assign import python_source
    namespace, errors = {"__name__": "__main__"}, []

    def alarm(signum, frame):
        raise CellTimeout(f"cell ran longer than {cell_timeout} s")
    signal.signal(signal.SIGALRM, alarm)
    code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(code_cells, 1):
        source = python_source("".join(cell["source"]))
        signal.alarm(cell_timeout)
        try:
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
        except BaseException as e:  # SystemExit and KeyboardInterrupt from a cell end only that cell
            errors.append(f"cell {number}: {type(e).__name__}: {str(e)[:200]}")
        finally:
            signal.alarm(0)
    return namespace, errors


def worker(notebook, lab, result_path, cell_timeout):
    """Run one notebook inside the sandbox and write its grades to result_path."""
    from scalinglab.checks import run_question
    from scalinglab.data import cache_dir
    with open(notebook) as f:
        nb = json.load(f)
    checks = importlib.import_module(f"scalinglab.checks.lab{lab:02d}")
    hidden = {}
    if hidden_cases_path(lab).exists():  # imported before student code runs
        spec = importlib.util.spec_from_file_location("hidden", hidden_cases_path(lab))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        hidden = module.HIDDEN
    import matplotlib
    matplotlib.use("Agg")
    here = os.getcwd()
    confine([here, cache_dir(), os.path.dirname(result_path)])
    sys.stdout, sys.stderr = CappedStream(sys.stdout), CappedStream(sys.stderr)
    namespace, errors = run_notebook(nb, cell_timeout)
    answers = written_answers(nb)
    grades = {}
    for qid, question in checks.QUESTIONS.items():
        if question.written:
            answer = answers.get(question.target, "")
        elif question.target in namespace:
            answer = namespace[question.target]
        else:
            grades[qid] = {"points": 0, "max_points": question.points + sum(c.points for c in hidden.get(qid, ())),
                           "messages": [f"{question.target} is not defined: did its cell run without errors?"]}
            continue
        signal.alarm(cell_timeout)
        try:
            outcome = run_question(qid, question, answer, hidden.get(qid, ()))
        except CellTimeout:
            outcome = None
        finally:
            signal.alarm(0)
        grades[qid] = ({"points": 0, "max_points": question.points, "messages": ["the checks timed out"]}
                       if outcome is None else
                       {"points": outcome.points, "max_points": outcome.max_points, "messages": outcome.messages})
    with open(result_path, "w") as f:
        json.dump({"grades": grades, "cell_errors": errors}, f)


# ---------------------------------------------------------------- the instructor's side

def grade_notebook(path, lab, timeout=600, cell_timeout=120):
    """Grade one notebook in a sandboxed subprocess; returns {'status', 'grades', 'cell_errors'}."""
    with tempfile.TemporaryDirectory(prefix="scalinglab-grade-") as tmp:
        work, result = Path(tmp, "work"), Path(tmp, "result.json")
        (work / "tmp").mkdir(parents=True)
        shutil.copy(path, work / "submission.ipynb")
        env = {**os.environ, "SCALINGLAB_PROFILE": "smoke", "HOME": str(work), "TMPDIR": str(work / "tmp"),
               "MPLCONFIGDIR": str(work / "tmp"), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        from scalinglab.data import cache_dir
        env["SCALINGLAB_CACHE"] = cache_dir()  # shared, read mostly: corpora are built once
        command = [sys.executable, "-c", "import sys; from scalinglab.grade import worker; "
                   "worker(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))",
                   "submission.ipynb", str(lab), str(result), str(cell_timeout)]
        with open(Path(tmp, "output.txt"), "wb") as output:
            proc = subprocess.Popen(command, cwd=work, env=env, stdout=output, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
                status = "ok" if proc.returncode == 0 else f"crashed (exit {proc.returncode})"
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                status = f"timed out after {timeout} s"
        try:
            record = json.loads(result.read_text())
        except (OSError, ValueError):
            record = {"grades": {}, "cell_errors": []}
        log = Path(tmp, "output.txt").read_bytes()[-2000:].decode(errors="replace")
        if status != "ok":
            record["cell_errors"].append(f"grader: {status}; last output:\n{log}")
    return {"status": status, **record}


def grade_folder(folder, lab, out, feedback_dir=None, timeout=600, cell_timeout=120, jobs=2):
    """Grade every .ipynb in folder; write the CSV (and a feedback file per student). Returns rows."""
    checks = importlib.import_module(f"scalinglab.checks.lab{lab:02d}")
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"error: no .ipynb files in {folder}")
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda p: grade_notebook(p, lab, timeout, cell_timeout), notebooks))
    qids = list(checks.QUESTIONS)
    rows = []
    feedback_dir = Path(feedback_dir or Path(out).with_suffix("")).resolve()
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for path, result in zip(notebooks, results):
        row = {"student": path.stem}
        lines = [f"Lab {lab}: {path.name}", f"status: {result['status']}", ""]
        for qid in qids:
            g = result["grades"].get(qid, {"points": 0, "max_points": None, "messages": ["not graded"]})
            row[qid] = g["points"]
            question = checks.QUESTIONS[qid]
            lines.append(f"{qid} {question.title}: {g['points']:g}/{g['max_points'] or question.points:g}"
                         + (" (written: your instructor reads it too)" if question.written else ""))
            lines += [f"    - {m}" for m in g["messages"]]
        row["total"] = sum(row[q] for q in qids)
        row["status"] = result["status"]
        rows.append(row)
        if result["cell_errors"]:
            lines += ["", "cells that raised an error:"] + [f"    {e}" for e in result["cell_errors"]]
        (feedback_dir / f"{path.stem}.txt").write_text("\n".join(lines) + "\n")
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["student", *qids, "total", "status"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scalinglab.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", help="folder of student notebooks (.ipynb)")
    parser.add_argument("--lab", type=int, required=True, help="lab number, e.g. 0")
    parser.add_argument("--out", default="grades.csv", help="CSV to write (default grades.csv)")
    parser.add_argument("--feedback", help="folder for one feedback file per student (default: next to --out)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per notebook (default 600)")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks graded at once")
    args = parser.parse_args(argv)
    if not Path(args.submissions).is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if importlib.util.find_spec(f"scalinglab.checks.lab{args.lab:02d}") is None:
        parser.error(f"there is no lab {args.lab} (no scalinglab/checks/lab{args.lab:02d}.py)")
    rows = grade_folder(args.submissions, args.lab, args.out, args.feedback, args.timeout, args.cell_timeout,
                        args.jobs)
    print(f"graded {len(rows)} notebooks -> {args.out}")


if __name__ == "__main__":
    main()
