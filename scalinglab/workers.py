"""Where a sweep's runs train: in this process, in a pool of local processes, or as Ray tasks.

The sweep (sweep.run_sweep) hands out groups of runs and is the only one to write their results;
run_groups yields each group's results as it finishes, in completion order. A group whose worker
raises or dies is retried up to `retries` more times, then comes back as a Failure with its error,
and the other groups go on. The runs are independent and seeded, so where they train changes
nothing in their results (on CPU: the same numbers, bit for bit).
"""
import collections
import functools
import json
import multiprocessing.connection
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import torch

from scalinglab.errors import ConfigError, positive_int
from scalinglab.train import train, train_branches

BACKENDS = ("local", "ray")
RAY_INSTALL = "pip install 'scalinglab[ray]'"


def cores():
    """The cores this process may use (all of the machine's where the OS cannot say, as on macOS)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@dataclass
class Failure:
    error: str     # the last attempt's error, in one line
    attempts: int


def train_group(runs, threads=None):
    """The result dicts of a group of (model config, TrainConfig): one run, or WSD budgets sharing a stable phase."""
    if threads:
        torch.set_num_threads(threads)
    mc = runs[0][0]
    results = train_branches(mc, [tc for _, tc in runs]) if len(runs) > 1 else [train(*runs[0])]
    return [json.loads(json.dumps(r.to_dict())) for r in results]  # exactly as a later read of the file gives them


def check_backend(backend, workers, address, retries=0):
    """Fail on a bad choice before anything trains; the number of workers (None: as many as Ray's cluster allows)."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries must be a whole number >= 0, got {retries!r}")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}: use 'local' (processes on this machine) or 'ray'")
    if workers is not None:
        workers = positive_int(workers, "workers")
    if backend == "local":
        if address is not None:
            raise ConfigError("an address is for backend 'ray': add backend='ray' (--backend ray) or drop the address")
        return workers or 1
    ray = import_ray()
    if address not in (None, "auto"):
        _reachable(address)
        if ray.is_initialized():
            raise ConfigError("this process is already connected to a Ray cluster: drop the address to use that one, "
                              "or call ray.shutdown() first")
    return workers


def run_groups(groups, backend="local", workers=None, address=None, retries=2, on_retry=None):
    """Yield (index, result dicts or Failure) for each group of runs, as each finishes.

    local, workers=1: in this process, one after another (an error stops the sweep, as it always has);
    local, workers>1: a pool of processes, threads shared out among them, one GPU each where there are several;
    ray: one Ray task per group on the cluster at `address` (None: a cluster started on this machine).
    on_retry(index, error, attempt) hears of each failed attempt that will be retried.
    """
    workers = check_backend(backend, workers, address, retries)
    if not groups:
        return
    if backend == "local" and workers == 1:
        for i, group in enumerate(groups):
            yield i, train_group(group)
        return
    pool = LocalPool(min(workers, len(groups))) if backend == "local" else RayPool(workers, address)
    pending, attempts = collections.deque(range(len(groups))), collections.Counter()
    try:
        while pending or pool.busy:
            while pending and pool.has_room():
                i = pending.popleft()
                attempts[i] += 1
                pool.submit(i, groups[i])
            i, ok, payload = pool.next_done()
            if ok:
                yield i, payload
            elif attempts[i] <= retries:
                if on_retry:
                    on_retry(i, payload, attempts[i])
                pending.append(i)
            else:
                yield i, Failure(payload, attempts[i])
    finally:  # a finished sweep, Ctrl-C or an error: no worker outlives it
        pool.close()


def _stop_with(driver_pid):
    """Exit when the driver is gone (killed with -9, it cannot stop its workers): orphans would train on for nothing."""
    while os.getppid() == driver_pid:
        time.sleep(1)
    os._exit(1)


def local_worker(fd, threads, driver_pid):
    """A pool's worker (python -m scalinglab.workers): train each group the driver sends, send back its results."""
    threading.Thread(target=_stop_with, args=(driver_pid,), daemon=True).start()
    conn = multiprocessing.connection.Connection(fd)
    while True:
        try:
            group = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, train_group(group, threads)))
        except Exception as e:
            conn.send((False, f"{type(e).__name__}: {e}"))


class LocalPool:
    """Worker processes on this machine, each training one group at a time; a worker that dies or fails is replaced.

    Workers are fresh interpreters (not multiprocessing's spawn, which re-imports the caller's script
    and so needs an `if __name__ == "__main__"` guard in it), connected by a socket pair, each in a
    session of its own: Ctrl-C reaches the driver alone, which stops them."""

    def __init__(self, workers):
        count = torch.cuda.device_count()
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")  # set by Slurm or the user: its ids, not 0..count-1
        self.gpus = (visible.split(",") if visible else [str(g) for g in range(count)])[:count] if count > 1 else []
        self.threads = max(1, cores() // workers)  # so that workers share the cores
        self.procs, self.conns, self.busy = {}, {}, {}  # slot -> process, its connection, and the group it trains
        for slot in range(workers):
            self._start(slot)

    def _start(self, slot):
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[slot % len(self.gpus)]  # one GPU per worker
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-m", "scalinglab.workers", str(theirs.fileno()), str(self.threads), str(os.getpid())],
            pass_fds=[theirs.fileno()], env=env, start_new_session=True)
        theirs.close()
        self.conns[slot] = multiprocessing.connection.Connection(ours.detach())

    def _restart(self, slot):
        self.procs[slot].kill()
        self.procs[slot].wait()
        self.conns[slot].close()
        self._start(slot)

    def has_room(self):
        return len(self.busy) < len(self.procs)

    def submit(self, i, group):
        slot = next(s for s in self.procs if s not in self.busy)
        try:
            self.conns[slot].send(group)
        except OSError:  # it died while idle: a new one takes the group
            self._restart(slot)
            self.conns[slot].send(group)
        self.busy[slot] = i

    def next_done(self):
        waiting = {self.conns[s]: s for s in self.busy}
        slot = waiting[multiprocessing.connection.wait(list(waiting))[0]]  # a result, or the end of a dead worker
        i = self.busy.pop(slot)
        try:
            ok, payload = self.conns[slot].recv()
        except (EOFError, OSError):
            try:
                code = self.procs[slot].wait(5)
            except subprocess.TimeoutExpired:
                code = "none: it hung"
            ok, payload = False, f"worker process died (exit code {code}) while training"
        if not ok:  # the next group gets a fresh process: a failed run can leave a broken CUDA context behind
            self._restart(slot)
        return i, ok, payload

    def close(self):
        for slot, proc in self.procs.items():
            proc.kill()
            proc.wait()
            self.conns[slot].close()


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"backend 'ray' needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


def _reachable(address, timeout=5.0):
    """Fail fast, with the reason, where ray.init would retry an unreachable address for a minute."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} is not HOST:PORT (or ray://HOST:PORT, or 'auto')")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}; start one there with "
                          f"`ray start --head` or check the address") from None


def connect_ray(address=None):
    """Connect this process to the Ray cluster at address (None: start one on this machine; check the
    address first with check_backend), unless it is connected already; True if it connected now, and so
    should disconnect when done."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError) as e:
        raise ConfigError(f"cannot connect to a Ray cluster at {address}: {str(e).splitlines()[0]}") from None
    return True


def ray_request(total, node_cpus, workers):
    """(runs at once, CPUs per run, GPUs per run) on a cluster with these total resources and nodes of these CPUs:
    a GPU per run where there are GPUs, else an even share of the CPUs that fits on one node."""
    gpus, cpus = int(total.get("GPU", 0)), int(total.get("CPU", 1))
    workers = workers or gpus or cpus
    if gpus:
        return workers, 1, 1
    return workers, max(1, min(cpus // workers, int(max(node_cpus, default=1)))), 0


class WrongCode(ConfigError):
    """A Ray node runs other scalinglab code than the driver: every run there would be mislabelled."""


@functools.cache
def _node_commit():
    from scalinglab.sweep import git_commit
    return git_commit()  # once per Ray worker process: a worker serves one sweep, with the code it imported


def _ray_task(group, threads, commit):
    if _node_commit() != commit:  # results whose provenance (the driver's commit) would not describe them
        raise WrongCode(f"a Ray node ({socket.gethostname()}) runs scalinglab {_node_commit()}, the driver "
                        f"{commit}: install the driver's commit on every node (a git checkout, pip install -e .)")
    return train_group(group, threads)


class RayPool:
    """One Ray task per group, with the resources of ray_request."""

    def __init__(self, workers, address):
        from scalinglab.sweep import git_commit
        self.ray = ray = import_ray()
        self.started = connect_ray(address)
        node_cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]]
        self.workers, self.threads, gpus = ray_request(ray.cluster_resources(), node_cpus, workers)
        # retries are run_groups' (max_retries=0), so that both backends retry alike
        self.task = ray.remote(num_cpus=self.threads, num_gpus=gpus, max_retries=0)(_ray_task)
        self.commit = git_commit()
        self.busy = {}  # Ray object ref -> group index

    def has_room(self):
        return len(self.busy) < self.workers

    def submit(self, i, group):
        self.busy[self.task.remote(group, self.threads, self.commit)] = i

    def next_done(self):
        [ref], _ = self.ray.wait(list(self.busy), num_returns=1)
        i = self.busy.pop(ref)
        try:
            return i, True, self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as e:  # the run raised: its own error, not Ray's wrapping
            cause = e.cause if isinstance(e.cause, BaseException) else e
            if isinstance(cause, WrongCode):  # no retry mends it: stop the sweep
                raise ConfigError(str(cause)) from None
            return i, False, f"{type(cause).__name__}: {cause}".splitlines()[0]
        except self.ray.exceptions.RayError as e:  # the worker died, or its node
            return i, False, f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"

    def close(self):
        for ref in self.busy:
            self.ray.cancel(ref, force=True)
        if self.started:
            self.ray.shutdown()


if __name__ == "__main__":
    local_worker(*map(int, sys.argv[1:]))
