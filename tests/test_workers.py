"""Sweeps in parallel: local worker processes and Ray give a sequential sweep's results, survive
killed workers and a killed driver, and turn bad choices into one-line errors."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from scalinglab.errors import ConfigError, SweepError
from scalinglab.sweep import expand, failures_path, read_results, run_sweep
from scalinglab.workers import cores, ray_request

BASE = {"model": {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 64},
        "train": {"corpus": "prose", "tokens": 20 * 8 * 64, "batch_size": 8, "eval_tokens": 2048}}
WHEN = ("wall_time_s", "tokens_per_s", "date")  # what may differ between two trainings of the same run


def same_runs(results):
    return [{k: v for k, v in r.items() if k not in WHEN} for r in results]


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster of 2 CPUs for this module's Ray tests (starting one takes seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture
def one_thread():
    """Two workers get half the cores each: so must the sequential sweep they are compared with, since CPU
    float sums depend on how they are split among threads (at the 1e-8 level)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, cores() // 2))
    yield
    torch.set_num_threads(threads)


def test_local_workers_and_ray_give_the_records_of_a_sequential_sweep(tmp_path, one_thread, ray_cluster):
    configs = expand({**BASE, "train": {**BASE["train"], "schedule": "wsd"}, "grid": {"train.seed": [0, 1, 2]},
                      "runs": [{"train.lr": 3e-3}, {"train.lr": 1e-2}]})
    configs += expand({**BASE, "train": {**BASE["train"], "schedule": "wsd"},  # two budgets sharing a stable phase
                       "runs": [{"train.tokens": 20 * 8 * 64, "train.warmup_frac": 1 / 20},
                                {"train.tokens": 40 * 8 * 64, "train.warmup_frac": 1 / 40}]})
    sequential = run_sweep(configs, tmp_path / "sequential.jsonl", progress=False)
    for name, where in [("local", {"workers": 2}), ("ray", {"backend": "ray", "workers": 2})]:
        results = run_sweep(configs, tmp_path / f"{name}.jsonl", progress=False, **where)
        assert same_runs(results) == same_runs(sequential), name  # bit for bit, in the configs' order
        in_file = [r["run_id"] for r in read_results(tmp_path / f"{name}.jsonl")]  # in the order they finished
        assert sorted(in_file) == sorted({r["run_id"] for r in sequential})  # each once (the first WSD run is twice
        # in configs: it is the seed-0 run of the grid)
        before = (tmp_path / f"{name}.jsonl").read_text()
        assert run_sweep(configs, tmp_path / f"{name}.jsonl", progress=False, **where) == results  # nothing to do
        assert (tmp_path / f"{name}.jsonl").read_text() == before
    assert results[-1]["extra"]["branched_at_step"] == 32  # the WSD pair still trained as one group


def test_ray_takes_as_many_runs_at_once_as_the_cluster_has_cpus(tmp_path, ray_cluster):
    from scalinglab.workers import RayPool
    pool = RayPool(None, None)
    assert (pool.workers, pool.threads) == (2, 1)
    pool.close()
    assert ray_cluster.is_initialized()  # a cluster the caller started is the caller's to stop


@pytest.mark.parametrize("total, nodes, workers, asked", [
    ({"CPU": 2}, [2], None, (2, 1, 0)),
    ({"CPU": 16}, [8, 8], 2, (2, 8, 0)),
    ({"CPU": 16}, [8, 8], 1, (1, 8, 0)),     # no run can have more CPUs than one node has
    ({"CPU": 64, "GPU": 8}, [64], None, (8, 1, 1)),  # a GPU each, as many at once as there are GPUs
    ({"CPU": 64, "GPU": 8}, [64], 4, (4, 1, 1)),
])
def test_ray_requests_a_gpu_per_run_or_a_share_of_the_cpus_that_fits_a_node(total, nodes, workers, asked):
    assert ray_request(total, nodes, workers) == asked


def test_a_ray_node_with_other_code_stops_the_sweep(tmp_path, ray_cluster, monkeypatch):
    from scalinglab import sweep
    monkeypatch.setattr(sweep, "git_commit", lambda: "0123abcd")  # the driver's commit, not the nodes'
    with pytest.raises(ConfigError, match=r"runs scalinglab .*, the driver 0123abcd: install the driver's commit"):
        run_sweep(expand(BASE), tmp_path / "sweep.jsonl", progress=False, backend="ray")
    assert not (tmp_path / "sweep.jsonl").exists()


def test_a_run_that_keeps_failing_is_recorded_and_the_others_are_saved(tmp_path, text_file):
    configs = expand({**BASE, "grid": {"train.seed": [0, 1]}})
    configs += expand({**BASE, "train": {**BASE["train"], "corpus": str(text_file)}})
    os.remove(text_file)  # gone between planning the sweep and training its last run
    path = tmp_path / "sweep.jsonl"
    with pytest.raises(SweepError, match=r"1 of 3 runs failed 2 times \(first error: ConfigError: corpus file"):
        run_sweep(configs, path, progress=False, workers=2, retries=1)
    assert sorted(r["train"]["seed"] for r in read_results(path)) == [0, 1]
    [failure] = read_results(failures_path(path))
    assert failure["attempts"] == 2 and "corpus file not found" in failure["error"]
    assert failure["train"]["corpus"] == str(text_file)

    text_file.write_text("the text is back " * 500)
    assert len(run_sweep(configs, path, progress=False, workers=2)) == 3  # run again: it is retried, and succeeds
    assert not os.path.exists(failures_path(path))  # no failure is left on record once its run has succeeded


def test_failures_are_recorded_where_no_run_has_succeeded_yet(tmp_path):
    configs = expand({**BASE, "train": {**BASE["train"], "corpus": str(tmp_path / "missing.txt")}})
    path = tmp_path / "new folder" / "sweep.jsonl"
    with pytest.raises(SweepError, match="1 of 1 runs failed 1 times"):
        run_sweep(configs, path, progress=False, workers=2, retries=0)
    assert not path.exists() and len(read_results(failures_path(path))) == 1


def _sweep(tmp_path, *where):
    """A sweep of 4 runs of a few seconds each in a process of its own, as a user starts it."""
    spec = {**BASE, "train": {**BASE["train"], "tokens": 300 * 8 * 64}, "grid": {"train.seed": list(range(4))}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    # a session of its own, as a terminal gives a command: Ctrl-C is then a SIGINT to its process group
    return subprocess.Popen([sys.executable, "-m", "scalinglab", "sweep", str(tmp_path / "spec.json"), "--quiet",
                             *where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(condition, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError("the sweep never got there")


def _lines(path, n):
    return lambda: path.exists() and len(path.read_text().splitlines()) >= n


def _processes(marker, parent=None):
    """The pids of the processes whose command line contains marker (and whose parent is `parent`, if given)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if marker in cmdline and parent in (None, ppid):
            found.append(int(pid))
    return found


def _check_all_four_once(results, saved=""):
    records = read_results(results)
    assert results.read_text().startswith(saved)  # finished runs were kept, byte for byte
    assert sorted(r["train"]["seed"] for r in records) == [0, 1, 2, 3] and len({r["run_id"] for r in records}) == 4


@pytest.mark.parametrize("backend, marker", [("local", b"scalinglab.workers"), ("ray", b"ray::_ray_task")])
def test_a_killed_worker_costs_a_retry_not_a_run(tmp_path, backend, marker):
    results = tmp_path / "spec.jsonl"
    proc = _sweep(tmp_path, "--workers", "2", "--backend", backend)
    _wait_for(_lines(results, 1), proc)
    parent = proc.pid if backend == "local" else None  # Ray's workers are its raylet's children
    worker = _wait_for(lambda: _processes(marker, parent), proc)[0]  # a worker with a run in progress
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "failed" in err and "attempt 2 of 3" in err  # the user is told, and the run trained again
    _check_all_four_once(results)


@pytest.mark.parametrize("sig, backend, marker", [  # Ctrl-C under Ray takes the same path as locally, a minute more
    (signal.SIGKILL, "local", b"scalinglab.workers"), (signal.SIGINT, "local", b"scalinglab.workers"),
    (signal.SIGKILL, "ray", b"ray::_ray_task")])
def test_a_killed_driver_stops_its_workers_and_resumes(tmp_path, sig, backend, marker):
    results = tmp_path / "spec.jsonl"
    proc = _sweep(tmp_path, "--workers", "2", "--backend", backend)
    _wait_for(_lines(results, 1), proc)
    workers = _wait_for(lambda: _processes(marker), proc)
    assert proc.poll() is None, "the sweep finished before it could be interrupted: make its runs longer"
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C: the whole foreground group, as a terminal sends it
    else:
        proc.kill()  # kill -9 of the driver alone
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert "run the same command to resume" in err and "Traceback" not in err
    deadline = time.time() + 20  # a local worker notices within a second that its driver is gone; Ray's, its raylet
    while set(workers) & set(_processes(marker)) and time.time() < deadline:
        time.sleep(0.2)
    assert not set(workers) & set(_processes(marker)), "workers outlived their driver"
    saved = results.read_text()
    assert saved.endswith("\n") and 1 <= len(read_results(results)) < 4

    proc = _sweep(tmp_path, "--workers", "2", "--backend", backend)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    _check_all_four_once(results, saved)


@pytest.mark.parametrize("where, message", [
    ({"workers": 0}, "workers must be a positive whole number, got 0"),
    ({"workers": 1.5}, "workers must be a positive whole number"),
    ({"backend": "slurm"}, "unknown backend 'slurm': use 'local'"),
    ({"workers": 2, "retries": -1}, "retries must be a whole number >= 0, got -1"),
    ({"address": "10.0.0.1:6379"}, "an address is for backend 'ray'"),
    ({"backend": "ray", "address": "127.0.0.1:1"}, "cannot reach a Ray cluster at 127.0.0.1:1"),
    ({"backend": "ray", "address": "nowhere"}, "is not HOST:PORT"),
])
def test_bad_choices_fail_before_anything_trains(tmp_path, where, message):
    path = tmp_path / "sweep.jsonl"
    with pytest.raises(ConfigError, match=message):
        run_sweep(expand(BASE), path, progress=False, **where)
    assert not path.exists()


def test_a_missing_ray_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails as it does where Ray is not installed
    with pytest.raises(ConfigError, match=r"needs Ray, which is not installed: pip install 'scalinglab\[ray\]'"):
        run_sweep(expand(BASE), "unused.jsonl", progress=False, backend="ray")


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "error: workers must be a positive whole number, got 0"),
    (["--backend", "dask"], "invalid choice: 'dask'"),
    (["--backend", "ray", "--address", "127.0.0.1:1"], "error: cannot reach a Ray cluster at 127.0.0.1:1"),
])
def test_bad_choices_on_the_command_line_give_one_line(tmp_path, args, message):
    (tmp_path / "spec.json").write_text(json.dumps(BASE))
    run = subprocess.run([sys.executable, "-m", "scalinglab", "sweep", str(tmp_path / "spec.json"), *args],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and message in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "spec.jsonl").exists()


def test_reference_with_workers_makes_the_same_reference(tmp_path, monkeypatch, one_thread):
    from scalinglab import experiments
    from scalinglab.cli import main
    made = {}
    for name, where in [("sequential", []), ("workers", ["--workers", "2"])]:
        monkeypatch.setattr(experiments, "REFERENCE_DIR", tmp_path / name)
        main(["reference", "lab01", "--profile", "smoke", "--only", "synthetic", "--quiet", *where])
        made[name] = sorted(read_results(tmp_path / name / "lab01_synthetic.jsonl"), key=lambda r: r["run_id"])
    assert len(made["workers"]) == 3 and same_runs(made["workers"]) == same_runs(made["sequential"])
    provenance = json.loads((tmp_path / "workers" / "lab01_synthetic.provenance.json").read_text())
    assert provenance["runs"] == 3
    assert provenance["command"] == "SCALINGLAB_PROFILE=smoke python -m scalinglab reference lab01"
