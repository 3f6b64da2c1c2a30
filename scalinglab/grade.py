"""python -m scalinglab.grade SUBMISSIONS --lab 0 --out grades.csv: grade a folder of notebooks.

Student code runs only inside a bubblewrap sandbox (scalinglab.sandbox), one notebook per sandbox,
under the smoke profile: there the harness (scalinglab.harness) runs the notebook and records what
each graded function returns on the cases' arguments, as plain JSON. This process never runs
student code. It validates those records and scores them against the lab's
hidden cases (tests/grading/labNN_hidden.py), whose verdicts and expected values never enter the
sandbox; the public cases of scalinglab/checks/labNN.py are the students' feedback, not their grade.
Written answers are read from the notebook file and scored by their public cases.
Whatever one submission does costs only its own row; the CSV is always written, atomically.
"""
import argparse
import csv
import functools
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import scalinglab
from scalinglab import sandbox
from scalinglab.checks import Outcome, judge
from scalinglab.files import write_atomic

ROOT = Path(__file__).resolve().parents[1]
LOG_LIMIT = 1 << 20           # bytes of a submission's printed output kept for its feedback
RESULTS_LIMIT = 4 << 20       # bytes of recorded answers read back
NOTEBOOK_LIMIT = 50 << 20     # bytes of a submitted notebook
LAB_TITLE = re.compile(r"^#\s*Lab\s+(\d+)\b", re.M)


def questions_of(lab):
    return importlib.import_module(f"scalinglab.checks.lab{lab:02d}").QUESTIONS


def graded_cases(lab):
    """question id -> the cases that score it: the hidden cases (tests/grading/labNN_hidden.py) of a code
    question, the public cases of a written one.

    The public cases are feedback, not grades: their expected values are public, so a function that
    looks its inputs up in a table would pass them. Without hidden cases (a student release), the
    public cases score instead.
    """
    questions = questions_of(lab)
    path = ROOT / "tests" / "grading" / f"lab{lab:02d}_hidden.py"
    hidden = {}
    if path.exists():
        spec = importlib.util.spec_from_file_location(f"lab{lab:02d}_hidden", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        hidden = module.HIDDEN
    return {qid: tuple(hidden[qid]) if qid in hidden and not q.written else q.cases for qid, q in questions.items()}


def written_answers(nb):
    """Answer id -> text of every marked written answer in a notebook."""
    pattern = re.compile(r"<!-- BEGIN ANSWER (\w+) -->\n?(.*?)\n?<!-- END ANSWER -->", re.S)
    return {m.group(1): m.group(2).strip() for cell in nb["cells"] if cell.get("cell_type") == "markdown"
            for m in pattern.finditer(source_of(cell))}


def source_of(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def lab_of(nb):
    """The lab a notebook belongs to: its metadata, else the number in its title; None if it says neither."""
    lab = nb.get("metadata", {}).get("scalinglab", {}).get("lab")
    if isinstance(lab, int):
        return lab
    for cell in nb["cells"][:3]:
        if cell.get("cell_type") == "markdown" and (m := LAB_TITLE.search(source_of(cell))):
            return int(m.group(1))
    return None


def read_notebook(path, lab):
    """(notebook as a dict, None), or (None, a one-line reason it cannot be graded)."""
    try:
        if os.path.getsize(path) > NOTEBOOK_LIMIT:
            return None, f"not graded: the file is larger than {NOTEBOOK_LIMIT >> 20} MB"
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        return None, f"not a notebook: {type(e).__name__}: {str(e)[:120]}"
    if not (isinstance(nb, dict) and isinstance(nb.get("cells"), list) and nb["cells"]
            and all(isinstance(c, dict) for c in nb["cells"])):
        return None, "not a notebook: it has no cells"
    found = lab_of(nb)
    if found is not None and found != lab:
        return None, f"wrong lab: this is a Lab {found} notebook, graded as Lab {lab}"
    return nb, None


# ---------------------------------------------------------------- running one submission

def drain(stream, limit, keep):
    """Read a pipe to its end, keeping the first `limit` bytes: a flood can neither block nor fill memory."""
    while chunk := stream.read(1 << 16):
        room = limit - keep.tell()
        if room > 0:
            keep.write(chunk[:room])


def run_submission(notebook, lab, calls, isolate, timeout, cell_timeout, threads, secrets):
    """Run the harness on one notebook; returns (status, results bytes, log bytes)."""
    from scalinglab.data import cache_dir
    with tempfile.TemporaryDirectory(prefix="scalinglab-grade-") as tmp:
        shutil.copy(notebook, Path(tmp, "submission.ipynb"))
        Path(tmp, "calls.json").write_text(json.dumps(calls))
        read_end, write_end = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SCALINGLAB_PROFILE": "smoke", "MPLBACKEND": "Agg",
               "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": str(threads),
               "PYTHONPATH": str(Path(scalinglab.__file__).resolve().parents[1])}  # the library this grader uses
        harness = [sys.executable, "-m", "scalinglab.harness", "submission.ipynb", str(lab), "calls.json",
                   "--results-fd", str(write_end), "--cell-timeout", str(cell_timeout),
                   "--cpu-seconds", str(timeout * max(1, threads))]
        if isolate:
            argv = sandbox.command(harness, {"submission.ipynb": Path(tmp, "submission.ipynb"),
                                             "calls.json": Path(tmp, "calls.json")},
                                   {**env, "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp"}, cache_dir(), secrets)
            cwd, env = tmp, None
        else:
            work = Path(tmp, "home")
            (work / "tmp").mkdir(parents=True)
            for name in ("submission.ipynb", "calls.json"):
                shutil.copy(Path(tmp, name), work / name)
            argv, cwd = harness, work
            env = {**env, "HOME": str(work), "TMPDIR": str(work / "tmp"), "MPLCONFIGDIR": str(work / "tmp"),
                   "SCALINGLAB_CACHE": cache_dir()}
        results, log = io.BytesIO(), io.BytesIO()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, pass_fds=(write_end,), start_new_session=True)
        os.close(write_end)
        readers = [threading.Thread(target=drain, args=(os.fdopen(read_end, "rb"), RESULTS_LIMIT, results)),
                   threading.Thread(target=drain, args=(proc.stdout, LOG_LIMIT, log))]
        for reader in readers:
            reader.start()
        try:
            proc.wait(timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"crashed (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {timeout} s"
        try:  # the sandbox dies with bwrap; without it, the harness's process group is the best we can do
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for reader in readers:
            reader.join(timeout=30)
        return status, results.getvalue(), log.getvalue()


def parse_results(data):
    """(cell errors, {question id: record}) from the harness's JSON lines; malformed lines are skipped."""
    errors, records = [], {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("cell_errors"), list) and not errors:
            errors = [str(e)[:300] for e in record["cell_errors"][:100]]
        elif isinstance(record.get("qid"), str) and record["qid"] not in records:
            records[record["qid"]] = record
    return errors, records


def score(lab, nb, records, graded):
    """question id -> {'points', 'max_points', 'messages'}; every question gets a row, whatever happened."""
    questions = questions_of(lab)
    answers = written_answers(nb) if nb else {}
    grades = {}
    for qid, question in questions.items():
        cases, record = graded[qid], records.get(qid, {})
        if question.written:
            outcome = judge(qid, question, cases, answers.get(question.target, ""))
        elif isinstance(record.get("outputs"), list) and len(record["outputs"]) == len(cases):
            outcome = judge(qid, question, cases, record["outputs"])
        else:
            outcome = Outcome(qid, 0.0, sum(c.points for c in cases))
            outcome.messages.append(
                f"{question.target} is not defined: did its cell run without errors?" if record.get("missing") else
                "the checks timed out" if record.get("timed_out") else
                "not graded: the notebook stopped before this question was checked" if nb else "not graded")
        grades[qid] = {"points": outcome.points, "max_points": outcome.max_points, "messages": outcome.messages}
    return grades


def calls_of(lab, graded):
    """What enters the sandbox: question id -> the arguments of every call of every graded case."""
    return {qid: [list(c.calls) for c in graded[qid]] for qid, q in questions_of(lab).items() if not q.written}


def grade_notebook(path, lab, timeout=600, cell_timeout=120, isolate=True, threads=1, secrets=(), graded=None):
    """Grade one notebook; returns {'status', 'grades', 'cell_errors'}."""
    graded = graded or graded_cases(lab)
    nb, reason = read_notebook(path, lab)
    if nb is None:
        return {"status": reason, "grades": score(lab, None, {}, graded), "cell_errors": []}
    prepare(lab, isolate)
    status, results, log = run_submission(path, lab, calls_of(lab, graded), isolate, timeout, cell_timeout,
                                          threads, (ROOT / "solutions", ROOT / "tests", Path(path).parent, *secrets))
    errors, records = parse_results(results)
    if status != "ok":
        errors.append(f"grader: {status}; last output:\n{log[-2000:].decode(errors='replace')}")
    return {"status": status, "grades": score(lab, nb, records, graded), "cell_errors": errors}


def prepare(lab, isolate):
    """Check that a sandbox can start, and build the lab's corpora: the sandbox sees the cache read-only."""
    if isolate:
        sandbox.check_available()
    build_corpora(lab)


@functools.cache
def build_corpora(lab):
    from scalinglab.data import load_corpus
    for name in sorted(corpora_of(lab)):
        load_corpus(name)


def corpora_of(lab):
    """The corpora a lab's experiments read, built before grading: the sandbox sees the cache read-only."""
    from scalinglab.experiments import LABS
    from scalinglab.profiles import get_profile
    if f"lab{lab:02d}" not in LABS:
        return set()
    configs = [train for runs in LABS[f"lab{lab:02d}"](get_profile("smoke")).values() for _, train in runs]
    return {c.corpus for c in configs} | {name for c in configs for name in c.eval_corpora}


def feedback(lab, path, result, questions):
    lines = [f"Lab {lab}: {path.name}", f"status: {result['status']}", ""]
    for qid, question in questions.items():
        g = result["grades"][qid]
        lines.append(f"{qid} {question.title}: {g['points']:g}/{g['max_points']:g}"
                     + (" (written: your instructor reads it too)" if question.written else ""))
        lines += [f"    - {m}" for m in g["messages"]]
    if result["cell_errors"]:
        lines += ["", "cells that raised an error:"] + [f"    {e}" for e in result["cell_errors"]]
    return "\n".join(lines) + "\n"


def grade_folder(folder, lab, out, feedback_dir=None, timeout=600, cell_timeout=120, jobs=2, isolate=True):
    """Grade every .ipynb in folder; write the CSV (and a feedback file per student). Returns rows."""
    questions = questions_of(lab)
    notebooks = sorted(Path(folder).glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"error: no .ipynb files in {folder}")
    prepare(lab, isolate)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    graded = graded_cases(lab)
    out = Path(out).resolve()
    feedback_dir = Path(feedback_dir or out.with_suffix("")).resolve()
    secrets = (out.parent, feedback_dir)

    def grade_one(path):
        try:
            return grade_notebook(path, lab, timeout, cell_timeout, isolate, threads, secrets, graded)
        except Exception as e:  # a grader bug costs one row, never the CSV
            return {"status": f"grader error: {type(e).__name__}: {e}", "grades": score(lab, None, {}, graded),
                    "cell_errors": []}

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(grade_one, notebooks))
    feedback_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for path, result in zip(notebooks, results):
        row = {"student": path.stem, **{qid: result["grades"][qid]["points"] for qid in questions}}
        row["total"] = sum(row[qid] for qid in questions)
        row["status"] = result["status"]
        rows.append(row)
        write_atomic(feedback_dir / f"{path.stem}.txt", feedback(lab, path, result, questions).encode())
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=["student", *questions, "total", "status"])
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out, table.getvalue().encode())
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scalinglab.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", help="folder of student notebooks (.ipynb)")
    parser.add_argument("--lab", type=int, required=True, help="lab number, e.g. 0")
    parser.add_argument("--out", default="grades.csv", help="CSV to write (default grades.csv)")
    parser.add_argument("--feedback", help="folder for one feedback file per student (default: next to --out)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per notebook (default 600)")
    parser.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run notebooks without isolation: only for notebooks you trust")
    args = parser.parse_args(argv)
    if not Path(args.submissions).is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if importlib.util.find_spec(f"scalinglab.checks.lab{args.lab:02d}") is None:
        parser.error(f"there is no lab {args.lab} (no scalinglab/checks/lab{args.lab:02d}.py)")
    if args.jobs < 1 or args.timeout < 1 or args.cell_timeout < 1:
        parser.error("--jobs, --timeout and --cell-timeout must be at least 1")
    if args.no_sandbox:
        print("warning: --no-sandbox: student code runs with your permissions and can read and change your "
              "files, including the solutions and other grades", file=sys.stderr)
    try:
        rows = grade_folder(args.submissions, args.lab, args.out, args.feedback, args.timeout, args.cell_timeout,
                            args.jobs, isolate=not args.no_sandbox)
    except sandbox.SandboxUnavailable as e:
        sys.exit(f"error: {e}")
    print(f"graded {len(rows)} notebooks -> {args.out}")


if __name__ == "__main__":
    main()
