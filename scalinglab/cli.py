"""python -m scalinglab {train, sweep, reference, plan, bench}: the command line.

The options of `train` are generated from the fields of GPTConfig and TrainConfig, so the command
line can never fall behind the library. Bad input ends in one line on stderr, never a traceback.
"""
import argparse
import os
import shlex
import sys
import types
from dataclasses import MISSING, fields

from scalinglab.errors import ConfigError, SweepError, positive_int
from scalinglab.model import GPTConfig
from scalinglab.profiles import PROFILES, get_profile
from scalinglab.train import TrainConfig


class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind):
    def parse(text):
        try:
            value = float(text)  # accepts 1e6 for an integer too
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if kind is int:
            if not value.is_integer():
                raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
            return int(value)
        return value
    return parse


def _add_fields(group, cls, prefix):
    for f in fields(cls):
        kind = f.type
        if isinstance(kind, types.UnionType):  # int | None -> int
            kind = next(t for t in kind.__args__ if t is not type(None))
        default = None if f.default is MISSING else f.default
        flag = "--" + f.name.replace("_", "-")
        dest = f"{prefix}.{f.name}"
        if kind is tuple:
            group.add_argument(flag, dest=dest, nargs="+", default=None, metavar="NAME", help="(default: none)")
        elif kind is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None,
                               help=f"(default: {default})")
        else:
            group.add_argument(flag, dest=dest, default=None, metavar=kind.__name__.upper(),
                               type=_number(kind) if kind in (int, float) else kind,
                               help=f"(default: {default}, or the profile's)")


def _overrides(args, prefix):
    return {k.split(".", 1)[1]: v for k, v in vars(args).items() if k.startswith(prefix + ".") and v is not None}


def cmd_train(args):
    from scalinglab.sweep import append_result
    from scalinglab.train import train
    profile = get_profile(args.profile)
    model = {**profile.model, **_overrides(args, "model")}
    settings = {**profile.train, **_overrides(args, "train")}
    if "flops" in _overrides(args, "train") and "tokens" not in _overrides(args, "train"):
        settings.pop("tokens")  # a FLOP budget replaces the profile's token budget
    model_config, train_config = GPTConfig(**model), TrainConfig(**settings)
    print(f"profile {profile.name}: {profile.budget}", file=sys.stderr)
    result = train(model_config, train_config, progress=not args.quiet)
    print(result.summary())
    if args.out:
        append_result(args.out, result.to_dict())
        print(f"result appended to {args.out}")


def cmd_sweep(args):
    import yaml
    from scalinglab.sweep import expand, run_sweep
    try:
        with open(args.spec) as f:
            spec = yaml.safe_load(f)  # YAML is a superset of JSON
    except FileNotFoundError:
        raise ConfigError(f"sweep spec not found: {args.spec}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{args.spec} is not valid YAML or JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{args.spec} must hold a mapping with keys model, train, grid and/or runs")
    results = args.results or os.path.join(os.path.dirname(args.spec),
                                            spec.get("results") or os.path.splitext(os.path.basename(args.spec))[0] + ".jsonl")
    configs = expand(spec)
    command = f"SCALINGLAB_PROFILE={get_profile().name} python -m scalinglab sweep {shlex.quote(args.spec)}"
    print(f"sweep {args.spec}: {len(configs)} runs -> {results}", file=sys.stderr)
    try:
        run_sweep(configs, results, command=command, progress=not args.quiet, **_where(args))
    except KeyboardInterrupt:
        sys.exit(f"\ninterrupted: finished runs are saved in {results}; run the same command to resume")
    print(f"{len(configs)} runs in {results}")


def cmd_reference(args):
    from scalinglab.experiments import experiments, reference_path
    from scalinglab.sweep import run_sweep
    from scalinglab.workers import check_backend, connect_ray
    profile = get_profile(args.profile)
    command = f"SCALINGLAB_PROFILE={profile.name} python -m scalinglab reference {args.lab}"
    where = _where(args)
    check_backend(**where)
    connected = args.backend == "ray" and connect_ray(args.address)  # one Ray session for every experiment
    failed = []
    try:
        for name, configs in experiments(args.lab, profile).items():
            if args.only and name not in args.only:
                continue
            path = reference_path(args.lab, name)
            print(f"{args.lab} {name}: {len(configs)} runs -> {path}", file=sys.stderr)
            try:
                run_sweep(configs, str(path), command=command, progress=not args.quiet, profile=profile.name,
                          **{**where, "address": None})  # checked above; with Ray, connected above
            except KeyboardInterrupt:
                sys.exit(f"\ninterrupted: finished runs are saved in {path}; run the same command to resume")
            except SweepError as e:  # the other experiments still run
                print(f"error: {e}", file=sys.stderr)
                failed.append(name)
    finally:
        if connected:
            import ray
            ray.shutdown()
    if failed:
        raise SweepError(f"runs of {', '.join(failed)} failed (above); run the same command to retry them")


def _where(args):
    return {"workers": args.workers, "backend": args.backend, "address": args.address}


def _add_where(p):
    g = p.add_argument_group("where the runs train (results are the same wherever)")
    g.add_argument("--workers", type=_number(int), metavar="N",
                   help="runs at once (default: 1 locally; with ray, as many as the cluster's GPUs, else its CPUs)")
    g.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local: processes on this machine; ray: Ray tasks (pip install 'scalinglab[ray]')")
    g.add_argument("--address", help="with --backend ray: the cluster's HOST:PORT (default: start one here)")


def cmd_plan(args):
    from scalinglab.plan import LABS, Speed, calibrate, plan
    from scalinglab.sweep import read_results
    profile, devices = get_profile(args.profile), positive_int(args.devices, "devices")
    if args.calibrate:
        missing = [path for path in args.calibrate if not os.path.exists(path)]
        if missing:
            raise ConfigError(f"results file not found: {missing[0]}")
        records = [r for path in args.calibrate for r in read_results(path)]
        speed = calibrate(records)
        source = f"fitted to {len(records)} runs in {', '.join(args.calibrate)}"
    elif args.rate is not None:
        if not args.rate > 0 or args.step_ms < 0 or args.per_run_s < 0:
            raise ConfigError("--rate must be positive, --step-ms and --per-run-s at least 0")
        speed, source = Speed(args.rate, args.step_ms / 1e3, args.per_run_s), "given"
    else:
        raise ConfigError("give the device's speed: --rate FLOP/S [--step-ms MS --per-run-s S], or --calibrate "
                          "RESULTS.jsonl made on that device")
    print(f"profile {profile.name} on {devices} devices at {speed.rate / 1e12:.3g} TFLOP/s, "
          f"{speed.step_s * 1e3:.3g} ms per step, {speed.per_run_s:.3g} s per run ({source})")
    print(plan(profile, devices, speed, args.labs or LABS).round(2).to_string())


def cmd_bench(args):
    from scalinglab.bench import fit_speed, main, sweep_speed
    if args.sweep:
        sweep_speed(*args.sweep)
    else:
        fit_speed() if args.fit else main(quick=args.quick)


def build_parser():
    parser = Parser(prog="python -m scalinglab", description="Train tiny Transformers and fit scaling laws.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = commands.add_parser("train", help="train one model and print its RunResult summary",
                            description="Train one GPT. Unset options take the compute profile's sizes "
                                        "(SCALINGLAB_PROFILE=smoke|cpu|gpu, default auto).")
    p.add_argument("--profile", choices=sorted(PROFILES), help="compute profile (default: $SCALINGLAB_PROFILE or auto)")
    p.add_argument("--out", metavar="FILE.jsonl", help="append the RunResult to this results file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_fields(p.add_argument_group("model (GPTConfig)"), GPTConfig, "model")
    _add_fields(p.add_argument_group("training (TrainConfig)"), TrainConfig, "train")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("sweep", help="run a grid of runs from a YAML or JSON spec (resumable)",
                            description="Run every configuration of SPEC, skipping those already in the results "
                                        "file. SPEC keys: model, train (base fields), grid (key -> list, "
                                        "cartesian product), runs (list of overrides), results (file name).")
    p.add_argument("spec", help="YAML or JSON sweep spec")
    p.add_argument("--results", help="results file (default: the spec's 'results', or SPEC with .jsonl)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_where(p)
    p.set_defaults(run=cmd_sweep)

    p = commands.add_parser("reference", help="(re)make a lab's reference results in data/reference (resumable)",
                            description="Run every experiment of a lab under the profile and save its results, "
                                        "with provenance, as data/reference/<lab>_<experiment>.jsonl.")
    p.add_argument("lab", help="e.g. lab01")
    p.add_argument("--profile", choices=sorted(PROFILES), help="compute profile (default: $SCALINGLAB_PROFILE or auto)")
    p.add_argument("--only", nargs="+", metavar="EXPERIMENT", help="run only these experiments")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_where(p)
    p.set_defaults(run=cmd_reference)

    p = commands.add_parser("plan", help="how long a profile's reference sweeps take on N devices",
                            description="Plan the reference sweeps of the labs under a profile on several devices "
                                        "from the device's speed: given, or fitted to results it has made.")
    p.add_argument("--profile", choices=sorted(PROFILES), help="compute profile (default: $SCALINGLAB_PROFILE or auto)")
    p.add_argument("--devices", type=_number(int), default=1, help="GPUs (or machines) running runs at once")
    p.add_argument("--labs", nargs="+", metavar="LAB", help="default: every lab with reference sweeps")
    p.add_argument("--rate", type=_number(float), metavar="FLOP/S", help="sustained training FLOP/s of one device")
    p.add_argument("--step-ms", type=_number(float), default=0.0, help="floor per optimizer step, ms (default 0)")
    p.add_argument("--per-run-s", type=_number(float), default=0.0, help="fixed seconds per run (default 0)")
    p.add_argument("--calibrate", nargs="+", metavar="RESULTS", help="instead of --rate: fit the speed to these runs")
    p.set_defaults(run=cmd_plan)

    p = commands.add_parser("bench", help="training throughput vs a plain PyTorch loop and the matmul rate "
                                          "(--fit, --sweep: other speeds)")
    p.add_argument("--quick", action="store_true", help="fewer steps and one repeat (noisier)")
    p.add_argument("--fit", action="store_true", help="instead: the Chinchilla grid fit, batched against scipy's loop")
    p.add_argument("--sweep", nargs=2, metavar=("LAB", "EXPERIMENT"),
                   help="instead: a cpu-profile reference sweep (e.g. lab02 families) sequentially, with 2 local "
                        "workers and with Ray, and the scheduling cost per run")
    p.set_defaults(run=cmd_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (ConfigError, SweepError) as e:
        sys.exit(f"error: {e}")
