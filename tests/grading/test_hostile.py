"""Hostile submissions: a blank Lab 0 plus cells that attack the grader, graded in one folder beside an honest
solution and a classmate's notebook. Each attack must score no more than its honest work (a blank lab: 0),
leave no trace outside its sandbox, and leave every other row of the CSV intact."""
import csv
import hashlib
import os
import time
from pathlib import Path

import nbformat
import pytest

import scalinglab
from scalinglab.grade import ROOT, main as grade_main
from scalinglab.sandbox import python_paths

SOLUTION = ROOT / "solutions" / "lab00_power_laws.ipynb"
BLANK = ROOT / "labs" / "lab00_power_laws.ipynb"
SECRET = "instructor-secret-7f3a"


def attacks(host):
    """Attack name -> code cells appended to a blank lab. `host` holds the host paths an attacker would aim at."""
    write_everywhere = f"""
import os
targets = [{str(host['canary'])!r}, {str(host['outside'])!r}, {str(host['library_file'])!r}]
"""
    return {
        "patch_checks": ["""
import scalinglab.checks as c, scalinglab.checks.lab00 as lab
c.judge = lambda qid, question, cases, outputs: c.Outcome(qid, 99.0, 99.0)
c.collect = lambda question, calls, fn: [[{"value": None} for _ in case] for case in calls]
for question in lab.QUESTIONS.values():
    object.__setattr__(question, "cases", ())   # every case switched off
"""],
        "forge_results": ["""
import json, os
forged = {"points": 99, "max_points": 99, "grades": {"q1": {"points": 99}}}
for qid in ("q1", "q2", "q3", "q4", "q5"):
    line = json.dumps({"qid": qid, "outputs": [[{"value": 0.4}] * 3] * 12, **forged}) + "\\n"
    for fd in range(3, 256):
        try:
            os.write(fd, line.encode())
        except OSError:
            pass
open("result.json", "w").write(json.dumps(forged))
os._exit(0)
"""],
        "patch_json": ["""
import json
json.dumps = lambda *args, **kwargs: '{"qid": "q1", "points": 99, "outputs": [[{"value": 0.4}]]}'
json.dump = lambda obj, f, *args, **kwargs: f.write(json.dumps(obj))
"""],
        "copy_solutions": [f"""
import json
nb = json.load(open({str(SOLUTION)!r}))
for cell in nb["cells"]:
    if cell["cell_type"] == "code":
        try:
            exec("".join(line for line in cell["source"] if not line.lstrip().startswith("%")))
        except Exception:
            pass
"""],
        "answer_keys": ["""
from scalinglab.checks.lab01 import effective_data_answer, slope_difference_answer
""", f"""
exec(open({str(ROOT / 'tests' / 'grading' / 'lab00_hidden.py')!r}).read())
"""],
        "escape_ctypes": [write_everywhere + """
import ctypes
libc = ctypes.CDLL(None)
for t in targets:
    fd = libc.open(t.encode(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if fd >= 0:
        libc.write(fd, b"escaped", 7)
"""],
        "escape_dir_fd": [write_everywhere + """
for t in targets:
    try:
        d = os.open(os.path.dirname(t), os.O_RDONLY)
        fd = os.open(os.path.basename(t), os.O_WRONLY | os.O_CREAT | os.O_APPEND, dir_fd=d)
        os.write(fd, b"escaped")
    except OSError:
        pass
"""],
        "escape_sqlite": [write_everywhere + """
import sqlite3
for t in targets:
    try:
        sqlite3.connect(t).execute("create table escaped (x)")
    except sqlite3.Error:
        pass
"""],
        "escape_spawn": [write_everywhere + """
import multiprocessing
def scribble(paths):
    for t in paths:
        try:
            open(t, "a").write("escaped")
        except OSError:
            pass
if __name__ == "__main__":
    p = multiprocessing.get_context("spawn").Process(target=scribble, args=(targets,))
    p.start(); p.join(20)
"""],
        "escape_posixsubprocess": [write_everywhere + """
import subprocess
for t in targets:
    subprocess.run(["/bin/sh", "-c", f"echo escaped >> {t}"], capture_output=True)
"""],
        "fork_pty_survivor": [f"""
import os
pid, fd = os.forkpty()
if pid == 0:
    os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 1234.5; echo rewritten > {host['csv']}"])
"""],
        "overwrite_classmate": [f"""
import glob
for pattern in ({str(host['submissions'])!r} + "/victim.ipynb", "/proc/*/cwd/*.ipynb", "/proc/*/cwd/../*.ipynb"):
    for path in glob.glob(pattern):
        try:
            open(path, "w").write("{{}}")
        except OSError:
            pass
"""],
        "kill_grader": ["""
import os, signal
for pid in [os.getppid(), 1] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
os.kill(-1, signal.SIGKILL)
"""],
        "read_environment": ["""
import os
raise RuntimeError("environment: " + repr(dict(os.environ)))
"""],
        "output_flood": ["""
import sys
for _ in range(1000):
    sys.stdout.write("x" * 50_000 + "\\n")
"""],
        "disk_flood": ["""
for name in ("flood1", "/tmp/flood2"):
    with open(name, "wb") as f:
        try:
            for _ in range(40_000):
                f.write(b"0" * (1 << 20))
        except OSError as e:
            print("stopped:", e)
"""],
        "resource_bombs": ["""
try:
    hog = bytearray(64 << 30)
except MemoryError:
    print("no 64 GB")
""", """
import os, time
children = 0
for _ in range(1000):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
    except OSError:
        break
print("forked", children)
"""],
    }


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftover_processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"1234.5" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    submissions = tmp / "submissions"
    submissions.mkdir()
    host = {"canary": tmp / "canary.txt", "outside": tmp / "written_outside.txt", "csv": tmp / "grades.csv",
            "submissions": submissions, "library_file": Path(scalinglab.__file__).parent / "checks" / "__init__.py"}
    host["canary"].write_text("do not touch")
    (submissions / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    (submissions / "victim.ipynb").write_bytes(SOLUTION.read_bytes())
    (submissions / "blank.ipynb").write_bytes(BLANK.read_bytes())
    for name, cells in attacks(host).items():
        nb = nbformat.read(BLANK, as_version=4)
        nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(nb, submissions / f"{name}.ipynb")
    protected = {p: digest(p) for p in [host["library_file"], SOLUTION, submissions / "victim.ipynb"]}
    os.environ["SCALINGLAB_TEST_SECRET"] = SECRET
    start = time.perf_counter()
    try:
        grade_main([str(submissions), "--lab", "0", "--out", str(host["csv"]), "--timeout", "120",
                    "--cell-timeout", "20", "--jobs", "2"])
    finally:
        del os.environ["SCALINGLAB_TEST_SECRET"]
    print(f"graded {len(list(submissions.glob('*.ipynb')))} notebooks in {time.perf_counter() - start:.0f} s")
    rows = {r["student"]: r for r in csv.DictReader(open(host["csv"]))}
    return {"rows": rows, "host": host, "tmp": tmp, "protected": protected}


def test_the_csv_has_every_row(graded):
    assert set(graded["rows"]) == {"solution", "victim", "blank", *attacks(graded["host"])}


def test_honest_work_scores_as_before(graded):
    rows = graded["rows"]
    assert float(rows["solution"]["total"]) > 0
    assert rows["victim"]["total"] == rows["solution"]["total"] and rows["victim"]["status"] == "ok"
    assert float(rows["blank"]["total"]) == 0


@pytest.mark.parametrize("attack", sorted(attacks({k: Path("/x") for k in ("canary", "outside", "csv",
                                                                           "submissions", "library_file")})))
def test_each_attack_scores_no_more_than_its_honest_work(graded, attack):
    row = graded["rows"][attack]
    print(f"{attack}: total {row['total']}, status {row['status']}")
    assert float(row["total"]) == 0, row


def test_nothing_outside_the_sandbox_changed(graded):
    host = graded["host"]
    assert host["canary"].read_text() == "do not touch"
    assert not host["outside"].exists()
    assert all(digest(p) == d for p, d in graded["protected"].items())
    assert sorted(p.name for p in graded["tmp"].iterdir()) == ["canary.txt", "grades", "grades.csv", "submissions"]


def test_no_process_outlives_the_grader(graded):
    time.sleep(1)
    assert not leftover_processes()


def test_the_environment_and_floods_stay_inside(graded):
    feedback = graded["tmp"] / "grades"
    assert all(SECRET not in p.read_text() for p in feedback.iterdir())
    assert "environment: " in (feedback / "read_environment.txt").read_text()  # the attack ran, and saw nothing
    assert max(p.stat().st_size for p in feedback.iterdir()) < 100_000


def test_the_sandbox_mounts_no_secret():
    for path in python_paths():
        for secret in (ROOT / "solutions", ROOT / "tests"):
            assert not secret.resolve().is_relative_to(path), path
