import json
import os
import subprocess
import sys

import pytest


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "scalinglab", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_smoke_train_prints_a_summary_and_saves_the_result(tmp_path):
    out = tmp_path / "r.jsonl"
    run = cli("train", "--quiet", "--out", str(out), env={"SCALINGLAB_PROFILE": "smoke"})
    assert run.returncode == 0, run.stderr
    assert "profile smoke" in run.stderr and "nats/token" in run.stdout and "bits/byte" in run.stdout
    record = json.loads(out.read_text())
    assert record["train"]["corpus"] == "poetry" and record["model"]["d_model"] == 64 and not record["diverged"]


def test_flop_budget_from_the_command_line(tmp_path):
    out = tmp_path / "r.jsonl"
    run = cli("train", "--quiet", "--corpus", "prose", "--n-layer", "1", "--d-model", "32", "--flops", "2e9",
              "--flop-count", "6nd", "--eval-tokens", "4096", "--out", str(out), env={"SCALINGLAB_PROFILE": "smoke"})
    assert run.returncode == 0, run.stderr
    record = json.loads(out.read_text())
    assert record["train"]["flops"] == 2e9 and record["train"]["tokens"] is None
    # the budget is rounded to whole steps: within half a batch of FLOPs
    half_batch = 6 * record["params"]["non_embedding"] * record["batch_tokens"] / 2
    assert abs(record["flops"]["6nd"] - 2e9) <= half_batch


@pytest.mark.parametrize("args, message", [
    (["train", "--d-model", "65"], "not divisible by n_head"),
    (["train", "--tokens", "lots"], "expected a number"),
    (["train", "--batch-size", "2.5"], "expected an integer"),
    (["train", "--corpus", "missing.txt"], "corpus file not found"),
    (["train", "--schedule", "linear"], "unknown schedule"),
    (["train", "--profile", "tpu"], "invalid choice"),
    (["sweep", "missing.yaml"], "sweep spec not found"),
    (["fly"], "invalid choice"),
])
def test_bad_arguments_give_one_line_not_a_traceback(args, message):
    run = cli(*args, env={"SCALINGLAB_PROFILE": "smoke"})
    assert run.returncode != 0
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len([line for line in run.stderr.splitlines() if "error" in line]) == 1


def test_bad_profile_variable():
    run = cli("train", env={"SCALINGLAB_PROFILE": "huge"})
    assert run.returncode != 0 and "unknown profile 'huge'" in run.stderr and "Traceback" not in run.stderr


def test_invalid_yaml_spec(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("grid: [unclosed\n")
    run = cli("sweep", str(spec))
    assert run.returncode != 0 and "not valid YAML" in run.stderr and "Traceback" not in run.stderr


def test_reference_command_is_resumable_and_records_provenance(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALINGLAB_PROFILE", "cpu")  # --profile must win
    from scalinglab import experiments
    monkeypatch.setattr(experiments, "REFERENCE_DIR", tmp_path)
    from scalinglab.cli import main
    main(["reference", "lab01", "--profile", "smoke", "--only", "synthetic", "--quiet"])
    results = tmp_path / "lab01_synthetic.jsonl"
    first = results.read_text()
    assert len(first.splitlines()) == 3
    provenance = json.loads((tmp_path / "lab01_synthetic.provenance.json").read_text())
    assert provenance["command"] == "SCALINGLAB_PROFILE=smoke python -m scalinglab reference lab01"
    assert provenance["profile"] == "smoke" and provenance["runs"] == 3
    main(["reference", "lab01", "--profile", "smoke", "--only", "synthetic", "--quiet"])
    assert results.read_text() == first  # nothing re-run
