import json
import os
import signal
import subprocess
import sys
import time

import pytest

from scalinglab.errors import ConfigError
from scalinglab.sweep import expand, load_results, read_results, results_frame, run_sweep

BASE = {"model": {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 64},
        "train": {"corpus": "prose", "tokens": 20 * 8 * 64, "batch_size": 8, "eval_tokens": 2048}}


def test_grid_and_runs_expand_to_the_cartesian_product():
    configs = expand({**BASE, "grid": {"model.d_model": [32, 64], "train.lr": [1e-3, 3e-3, 1e-2]},
                      "runs": [{"train.seed": 0}, {"train.seed": 1}]})
    assert len(configs) == 12
    assert {(m.d_model, t.lr, t.seed) for m, t in configs} == {
        (d, lr, s) for d in (32, 64) for lr in (1e-3, 3e-3, 1e-2) for s in (0, 1)}


@pytest.mark.parametrize("spec, message", [
    ({"grid": {"model.width": [1]}}, "unknown sweep key 'model.width'"),
    ({"grid": {"train.lr": 3e-3}}, "must be a non-empty list"),
    ({"grdi": {}}, "unknown sweep spec keys"),
    ({"grid": {"model.d_model": [30]}, "model": {"n_head": 4}}, "not divisible"),
])
def test_bad_specs_fail_before_training(spec, message):
    with pytest.raises(ConfigError, match=message):
        expand({**BASE, **spec} if "model" not in spec else {**BASE, **spec, "train": BASE["train"]})


def test_sweep_skips_finished_runs_and_loads_into_pandas(tmp_path):
    path = tmp_path / "sweep.jsonl"
    configs = expand({**BASE, "grid": {"train.lr": [1e-3, 3e-3]}})
    first = run_sweep(configs[:1], path, command="test", progress=False)
    before = path.read_text()
    results = run_sweep(configs, path, command="test", progress=False)
    assert path.read_text().startswith(before)  # the finished run was kept, not redone
    assert [r["run_id"] for r in results][0] == first[0]["run_id"] and len(read_results(path)) == 2
    again = run_sweep(configs, path, progress=False)
    assert again == results and len(read_results(path)) == 2
    frame = load_results(path)
    assert list(frame["train.lr"]) == [1e-3, 3e-3] and (frame["D"] == 20 * 8 * 64).all()
    assert isinstance(frame["val_curve"][0]["val_loss"], list)
    # a file can hold more runs than a sweep asks for: its own results, as a frame, are only those
    only_second = results_frame(run_sweep(configs[1:], path, progress=False))
    assert list(only_second["train.lr"]) == [3e-3] and list(only_second.columns) == list(frame.columns)
    provenance = json.loads((tmp_path / "sweep.provenance.json").read_text())
    assert provenance["runs"] == 2 and provenance["command"] == "test" and provenance["scalinglab_commit"]


def test_a_hand_edited_results_file_is_reported_not_overwritten(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"run_id": "x"}\nnot json\n')
    with pytest.raises(ConfigError, match="line 2"):
        run_sweep(expand(BASE), path, progress=False)
    assert path.read_text() == '{"run_id": "x"}\nnot json\n'


def _sweep_process(tmp_path, n_runs):
    # runs of a few seconds each, so that the signal lands mid-sweep even on a busy machine
    spec = {**BASE, "train": {**BASE["train"], "tokens": 300 * 8 * 64}, "grid": {"train.seed": list(range(n_runs))}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    # a child inherits an ignored SIGINT (running notebooks in this process can leave it ignored); a terminal's
    # Ctrl-C reaches a sweep with the default disposition, so restore it
    return subprocess.Popen([sys.executable, "-m", "scalinglab", "sweep", str(tmp_path / "spec.json"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_lines(path, n, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise TimeoutError(f"{path} never reached {n} lines")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_sweep_resumes_after_its_process_is_killed(tmp_path, sig):
    results = tmp_path / "spec.jsonl"
    proc = _sweep_process(tmp_path, 3)
    _wait_for_lines(results, 1, proc)
    assert proc.poll() is None, "the sweep finished before it could be interrupted: make its runs longer"
    proc.send_signal(sig)  # the second run is in progress
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert "run the same command to resume" in err and "Traceback" not in err
    saved = results.read_text()
    assert saved.endswith("\n") and 1 <= len(read_results(results)) < 3  # whole lines only, none lost
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f] or sig == signal.SIGKILL

    proc = _sweep_process(tmp_path, 3)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert results.read_text().startswith(saved)  # finished runs were kept, byte for byte
    records = read_results(results)
    assert len(records) == 3 and len({r["run_id"] for r in records}) == 3
    assert sorted(r["train"]["seed"] for r in records) == [0, 1, 2]


def test_progress_counts_planned_flops_not_runs():
    from scalinglab.flops import flops_per_token
    from scalinglab.model import GPTConfig
    from scalinglab.sweep import planned_flops
    from scalinglab.train import TrainConfig
    model = GPTConfig(n_layer=1, d_model=32, n_head=1, context=64)
    small, large = (planned_flops(model, TrainConfig(tokens=t, batch_size=4)) for t in (2_560, 25_600))
    assert large == 10 * small == 10 * flops_per_token(model) * 2_560


def test_a_spec_can_sweep_the_lstm_family():
    configs = expand({"model": {"family": "lstm", "n_layer": 1, "context": 64},
                      "train": {"tokens": 1000}, "grid": {"model.d_model": [16, 32]}})
    assert [type(m).__name__ for m, _ in configs] == ["LSTMConfig", "LSTMConfig"]
    assert [m.d_model for m, _ in configs] == [16, 32]
    with pytest.raises(ConfigError, match="bad lstm model fields"):
        expand({"model": {"family": "lstm", "n_head": 2}, "train": {"tokens": 1000}})


def test_a_sweep_trains_wsd_budgets_from_one_stable_phase(tmp_path):
    configs = expand({**BASE, "train": {**BASE["train"], "schedule": "wsd"},
                      "runs": [{"train.tokens": 20 * 8 * 64, "train.warmup_frac": 1 / 20},
                               {"train.tokens": 40 * 8 * 64, "train.warmup_frac": 1 / 40},
                               {"train.lr": 1e-2}]})
    results = run_sweep(configs, tmp_path / "wsd.jsonl", progress=False)
    assert [r["extra"].get("branched_at_step") for r in results] == [16, 32, None]
    assert results[0]["curve"]["train_loss"][:16] == results[1]["curve"]["train_loss"][:16]
