"""The population's meta-learners: MAML, RL^2 and NoRML for every body, against the zoo's lineages.

For each body of ``--bodies`` and each method of ``--methods``, one resumable ``arena train``
run in RoboSumo (mirror matchup) against the zoo's self-play lineage ``zoo:selfplay-<body>``
(the opponents are its stored versions), with the settings the adaptation work settled on:

- MAML: from the lineage's newest version (theta and observation statistics), on pairs of
  consecutive versions (adapt against version k, judged against k+1); KL-sized inner steps
  (each step moves the policy by a KL of its step size, 0.01 at the start, so the step does not
  shrink with the 75 bouts it adapts on at play time), log-parametrised step sizes outside the
  meta-gradient clip, the value net with step sizes of its own, and the score-function term's
  per-task baseline;
- RL^2: an LSTM from scratch on trials of 5 bouts against one drawn version, backpropagated
  through 100-step windows (crossing bout ends inside a trial);
- NoRML: from the lineage's newest version, reward-free inner steps with a centred learned
  advantage.

``--workers`` runs go side by side (each on one core). Every run's directory is under ``--runs``;
rerunning the command resumes the unfinished ones. With ``--save-zoo`` each finished run's last
snapshot is copied to ``agents/zoo/<method>-sumo-<body>.safetensors`` (``-seed<k>`` appended for
``--seed`` k > 0; standalone, with the training command in its metadata). The runs' CPU time
goes to ``<runs>/budget.json``.

Usage:
    python scripts/population_zoo.py [--bodies ant bug spider] [--methods maml rl2 norml]
        [--workers 2] [--save-zoo]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from resultsdoc import ROOT, relative

import agents
from agents.checkpoint import load_checkpoint, save_checkpoint
from agents.lineage import Lineage
from arena.zoo import seed_name

METHODS = ("maml", "rl2", "norml")
SLOWEST_FIRST = ("rl2", "maml", "norml")  # so that the workers finish together
# the budget of every run (one core each): meta-iterations, or environment steps for RL^2
BUDGET = {"maml": 20, "rl2": 200_000, "norml": 25}


def train_args(method: str, body: str, run_dir: Path, seed: int = 0) -> list[str]:
    """The ``arena train`` arguments of one run."""
    name = body.capitalize()
    common = ["--env", f"RoboSumo-{name}-vs-{name}-v0", "--opponents", f"zoo:selfplay-{body}",
              "--seed", str(seed), "--run-dir", str(run_dir), "--no-progress",
              "--no-tensorboard", "--nthread", "1"]
    if method == "maml":
        return ["maml", *common, "--init-from", f"zoo:selfplay-{body}",
                "--iterations", str(BUDGET["maml"]), "--step-size", "0.01",
                "--inner-step", "kl", "--value-step", "separate", "--log-step-sizes",
                "--sf-baseline", "pre"]
    if method == "rl2":
        return ["rl2", *common, "--num-envs", "8", "--rollout", "500", "--episodes", "5",
                "--bptt", "100", "--total-steps", str(BUDGET["rl2"])]
    if method == "norml":
        return ["norml", *common, "--init-from", f"zoo:selfplay-{body}",
                "--iterations", str(BUDGET["norml"]), "--advantage-lr", "1e-3",
                "--center-advantage"]
    raise ValueError(f"unknown method {method!r}; accepted: {', '.join(METHODS)}")


def run_name(method: str, body: str, seed: int = 0) -> str:
    """A run's (and its zoo file's) name: ``<method>-sumo-<body>``, ``-seed<k>`` for seeds > 0."""
    return seed_name(f"{method}-sumo-{body}", seed)


def train(method: str, body: str, runs: Path, seed: int, log: Path) -> dict:
    """One run to its end (resuming); its wall and CPU seconds and last snapshot."""
    run_dir = runs / run_name(method, body, seed)
    args = train_args(method, body, run_dir, seed)
    # the command as a user would type it: the run directory relative to the repository
    command = "arena train " + " ".join(train_args(method, body, relative(run_dir), seed))
    start = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "arena", "train", *args],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{method} {body}: arena train exited with {code}; see {log}")
    lineage = Lineage(run_dir / "lineage", run_dir.name)
    latest = lineage.latest()
    if latest is None:
        raise SystemExit(f"{method} {body}: no snapshot in {run_dir / 'lineage'}")
    return {"method": method, "body": body, "seed": seed, "command": command,
            "wall_s": time.perf_counter() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
            "snapshot": str(lineage.path(latest))}


def save_zoo(result: dict) -> Path:
    """The run's last snapshot as a standalone zoo checkpoint with its command."""
    tensors, meta = load_checkpoint(result["snapshot"])
    meta = dataclasses.replace(meta, lineage=None, version=None,
                               extra={**meta.extra, "command": result["command"]})
    name = run_name(result["method"], result["body"], result["seed"])
    return save_checkpoint(agents.ZOO_DIR / f"{name}.safetensors", tensors, meta)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", nargs="+", default=["ant", "bug", "spider"],
                        choices=["ant", "bug", "spider"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=ROOT / "training" / "population")
    parser.add_argument("--save-zoo", action="store_true",
                        help="copy every finished run's last snapshot into agents/zoo")
    args = parser.parse_args()
    if args.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {args.workers}")
    args.runs = args.runs.resolve()
    args.runs.mkdir(parents=True, exist_ok=True)
    jobs = [(m, b) for b in args.bodies for m in args.methods]
    jobs.sort(key=lambda j: SLOWEST_FIRST.index(j[0]))
    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(
            lambda j: train(j[0], j[1], args.runs, args.seed,
                            args.runs / f"{run_name(j[0], j[1], args.seed)}.log"), jobs))
    budget_path = args.runs / "budget.json"
    budget = json.loads(budget_path.read_text()) if budget_path.exists() else {}
    for r in results:
        key = run_name(r["method"], r["body"], r["seed"])
        entry = budget.setdefault(key, {"command": r["command"], "invocations": []})
        entry["invocations"].append({"wall_s": round(r["wall_s"], 1),
                                     "cpu_s": round(r["cpu_s"], 1)})
        entry["cpu_hours"] = sum(i["cpu_s"] for i in entry["invocations"]) / 3600
        line = f"{key}: {entry['cpu_hours']:.2f} CPU h; {r['command']}"
        if args.save_zoo:
            line += f" -> {save_zoo(r).relative_to(ROOT)}"
        print(line, flush=True)
    budget_path.write_text(json.dumps(budget, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
