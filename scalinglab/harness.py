"""python -m scalinglab.harness: run one submitted notebook and record what its graded functions return.

This is the only grading code that shares a process with student code: it runs inside the sandbox
(scalinglab.sandbox). It sets its resource limits, runs the notebook's code cells in one namespace
(each with a time limit), then calls each graded function on the cases' arguments (calls.json:
question id -> one list of keyword arguments per case; inputs only, never expected results) and
writes what they returned, one JSON line per question, to the results file descriptor. It judges
nothing: the grader reads those lines, validates them and scores them outside the sandbox. Anything
the student's code does to this process can at most change its own results.
"""
import argparse
import importlib
import json
import os
import resource
import signal
import sys


MEMORY = 4 << 30        # bytes of address space (Lab 1 graded under smoke: 0.3 GB resident at most)
PROCESSES = 64          # processes and threads: torch needs a few
OPEN_FILES = 256
FILE_SIZE = 64 << 20    # bytes of any one file written


class CellTimeout(BaseException):  # not an Exception: a student's `except Exception` must not swallow it
    pass


def limit(resource_id, value):
    resource.setrlimit(resource_id, (value, value))


def set_limits(cpu_seconds):
    limit(resource.RLIMIT_AS, MEMORY)
    limit(resource.RLIMIT_NPROC, PROCESSES)
    limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    limit(resource.RLIMIT_CPU, cpu_seconds)
    limit(resource.RLIMIT_FSIZE, FILE_SIZE)
    limit(resource.RLIMIT_CORE, 0)


def alarm(seconds):
    def handler(signum, frame):
        raise CellTimeout(f"ran longer than {seconds} s")
    signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)


def run_cells(nb, cell_timeout):
    """Execute the code cells in one namespace; returns (namespace, [errors])."""
    from scalinglab.assign import python_source
    namespace, errors = {"__name__": "__main__"}, []
    code_cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, 1):
        source = cell.get("source", "")
        source = python_source("".join(source) if isinstance(source, list) else str(source))
        try:
            alarm(cell_timeout)
            exec(compile(source, f"<cell {number}>", "exec"), namespace)
        except BaseException as e:  # SystemExit and KeyboardInterrupt from a cell end only that cell
            errors.append(f"cell {number}: {type(e).__name__}: {str(e)[:200]}")
        finally:
            signal.alarm(0)
    return namespace, errors


def record_answers(namespace, questions, calls, write, timeout):
    """Call each graded function on its cases' arguments; write one line per question."""
    from scalinglab.checks import collect
    for qid, calls_per_case in calls.items():
        question = questions[qid]
        if question.target not in namespace:
            write({"qid": qid, "missing": True})
            continue
        try:
            alarm(timeout)
            outputs = collect(question, calls_per_case, namespace[question.target])
        except CellTimeout:
            write({"qid": qid, "timed_out": True})
            continue
        finally:
            signal.alarm(0)
        write({"qid": qid, "outputs": outputs})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scalinglab.harness", description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("lab", type=int)
    parser.add_argument("calls", help="JSON file: question id -> [[kwargs of each call] of each case]")
    parser.add_argument("--results-fd", type=int, required=True)
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument("--cpu-seconds", type=int, default=1200)
    args = parser.parse_args(argv)
    results = os.fdopen(args.results_fd, "w")

    def write(record):
        results.write(json.dumps(record) + "\n")
        results.flush()

    questions = importlib.import_module(f"scalinglab.checks.lab{args.lab:02d}").QUESTIONS
    with open(args.notebook) as f:
        nb = json.load(f)
    with open(args.calls) as f:
        calls = json.load(f)
    import matplotlib
    matplotlib.use("Agg")
    set_limits(args.cpu_seconds)
    namespace, errors = run_cells(nb, args.cell_timeout)
    sys.stdout.flush()
    write({"cell_errors": errors})
    record_answers(namespace, questions, calls, write, args.cell_timeout)


if __name__ == "__main__":
    main()
