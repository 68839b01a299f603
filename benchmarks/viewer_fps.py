"""Viewer frames per second, headless (goal: at least 20 frames/s at 640x480, real time at dt 0.05).

Plays games between two 64x64 MLP policies in the viewer exactly as ``arena watch`` does (the
viewer is ``play_game``'s observer: physics, both policies, the offscreen MuJoCo render, the HUD and
the display update for every step, with the timeline of the episode kept), without pacing, and
times every frame. It also splits a frame into its parts (env step and policies, offscreen render,
HUD and display) in a second loop that times them one by one. Each setting is measured
``--repeats`` times and the best run is kept, so that other load on the machine disturbs every
setting alike. Prints a Markdown table.

Usage:
    SDL_VIDEODRIVER=dummy MUJOCO_GL=egl python benchmarks/viewer_fps.py [--frames 100]
        [--size 640 480] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import torch

from agents.checkpoint import CheckpointMeta
from agents.lineage import Lineage
from agents.policy import Policy
from arena.timeline import Snapshot
from arena.view_settings import QUALITY
from arena.viewer import Hud, Viewer
from arena.watch import GameView
from leagues.games import GameConfig, GameSpec
from leagues.roster import AgentSpec, with_body

DIMS = {"ant": (120, 8), "bug": (164, 12), "spider": (208, 16)}
PAIRS = (("ant", "ant"), ("bug", "spider"))
# (quality, reward plot shown): every quality, and the default one with the plot panel drawn
SETTINGS = (*((q, False) for q in QUALITY), ("fast", True))


def policy_file(root: Path, body: str) -> Path:
    """A random 64x64 MLP policy checkpoint for ``body``."""
    torch.manual_seed(len(body))
    policy = Policy(*DIMS[body])
    meta = CheckpointMeta(kind="ppo-mlp", body=body, env_id=None, config=policy.describe())
    return Lineage(root, body).save(1, policy.tensors(), meta)


def watch_fps(spec: GameSpec, size: tuple[int, int], quality: str, frames: int,
              plot: bool = False) -> float:
    """Frames per second of the watch path over ``frames`` frames (the first one excluded)."""
    stamps: list[float] = []
    viewer = Viewer(*size, quality=quality, realtime=False, plot=plot,
                    on_frame=lambda frame: stamps.append(time.perf_counter()))
    try:
        GameView(viewer, spec, max_steps=frames + 1).play()
    finally:
        viewer.close()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def frame_parts(spec: GameSpec, size: tuple[int, int], quality: str, frames: int,
                plot: bool = False) -> dict[str, float]:
    """Milliseconds per frame of env step + policies, offscreen render, and HUD + display (the
    snapshot of the step, kept in the timeline as the watch path keeps it, counts with the HUD)."""
    from envs.robosumo import parallel_env
    from leagues.roster import load_agent

    env = parallel_env((spec.a.body, spec.b.body), max_steps=spec.config.max_steps)
    players = {"player_0": load_agent(spec.a, 0), "player_1": load_agent(spec.b, 1)}
    viewer = Viewer(*size, quality=quality, realtime=False, plot=plot)
    hud = Hud((spec.a.label, spec.b.label), (spec.a.body, spec.b.body))
    totals = np.zeros(3)
    obs, _ = env.reset(seed=0)
    viewer.show(env, hud)  # first frame: buffers and contexts
    for _ in range(frames):
        start = time.perf_counter()
        if not env.agents:
            obs, _ = env.reset(seed=0)
            viewer.timeline.clear()
        obs, _, _, _, infos = env.step({p: a.act(obs[p]) for p, a in players.items()})
        stepped = time.perf_counter()
        hud.step += 1
        hud.terms = {s: {k: v for k, v in infos[p].items() if k.startswith("reward_")}
                     for s, p in (("a", "player_0"), ("b", "player_1"))}
        snapshot = Snapshot.of(env, hud)
        viewer.timeline.cursor = viewer.timeline.append(snapshot)
        viewer.show_snapshot(snapshot)
        snapped = time.perf_counter() - stepped - sum(viewer.last_times)
        totals += (stepped - start, viewer.last_times[0], viewer.last_times[1] + snapped)
    viewer.close()
    env.close()
    steps, render, hud_ms = 1000 * totals / frames
    return {"step": steps, "render": render, "hud": hud_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per measurement")
    parser.add_argument("--size", nargs=2, type=int, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; best is kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    size = tuple(args.size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bodies in PAIRS:
            a = with_body(AgentSpec(str(policy_file(Path(tmp) / "a", bodies[0])), name="A"))
            b = with_body(AgentSpec(str(policy_file(Path(tmp) / "b", bodies[1])), name="B"))
            spec = GameSpec(a, b, GameConfig(rounds=1, episodes=1000, max_steps=500), seed=0)
            for quality, plot in SETTINGS:
                fps = max(watch_fps(spec, size, quality, args.frames, plot)
                          for _ in range(args.repeats))
                parts = min((frame_parts(spec, size, quality, args.frames // 2, plot)
                             for _ in range(args.repeats)), key=lambda p: sum(p.values()))
                setting = f"{quality}, reward plot" if plot else quality
                rows.append(f"| {bodies[0]} vs {bodies[1]} | {setting} | {fps:.1f} | "
                            f"{parts['step']:.1f} | {parts['render']:.1f} | {parts['hud']:.1f} |")
                print(rows[-1], flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n# Viewer frames per second, {size[0]}x{size[1]}, headless "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load}; best of {args.repeats} x {args.frames} frames)\n")
    print("| bodies | quality | frames/s (watch path) | ms env step + policies | "
          "ms offscreen render | ms HUD + display |")
    print("|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\nGoal: at least 20 frames/s (real time at dt = 0.05 s) with the default quality "
          "(fast).")


if __name__ == "__main__":
    main()
