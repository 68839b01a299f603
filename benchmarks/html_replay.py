"""Size and speed of an HTML replay (``arena replay --html``) of a 500-step bout.

Plays one bout of 500 steps between two idle robots (they stand, so the bout runs to the step
limit) as a one-episode game, and measures against references taken in the same run:

- size: the page's bytes per step against the raw float64 poses of the same geoms
  (``geom_xpos`` and ``geom_xmat``: 12 float64 per moving geom and step);
- generation: replaying the game with the pose recorder and writing the page, against playing
  the same game with no observer (the simulation alone);
- loading: Python's ``decode_page`` and, where a Chromium is installed, the browser's time from
  navigation to the player's first drawn frame (``performance.now()`` after its script ran),
  against the bout's duration in real time (500 x 0.05 s).

Each time is the best of ``--repeats`` runs. Prints a Markdown table.

Usage:
    python benchmarks/html_replay.py [--bodies bug bug] [--steps 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

from arena.html_replay import decode_page, write_page
from arena.watch import record_game
from leagues.executors import single_threaded_torch
from leagues.games import GameConfig, GameSpec, play_game
from leagues.roster import AgentSpec, with_body

TIMING = ("<script>document.body.insertAdjacentHTML('beforeend', '<pre id=\"loaded\">' + "
          "performance.now().toFixed(1) + '</pre>')</script>")


def best(repeats: int, run) -> tuple[float, object]:
    """The shortest wall time of ``repeats`` calls of ``run`` and the last call's value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    return min(times), value


def browser_load_ms(page: Path, repeats: int) -> float | None:
    """Milliseconds from navigation to the end of the player's script (its first frame drawn)
    in headless Chromium (software WebGL), best of ``repeats``; None without a browser."""
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                                  "google-chrome")) if p), None)
    if browser is None:
        return None
    probe = page.with_name("probe.html")
    text = page.read_text()
    end = text.rindex("</script>") + len("</script>")
    probe.write_text(text[:end] + TIMING + text[end:])
    found = []
    for _ in range(repeats):
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                              "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                              "--window-size=800,600", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=120, check=False).stdout
        match = re.search(r'<pre id="loaded">([\d.]+)</pre>', dom)
        if match:
            found.append(float(match.group(1)))
    return min(found) if found else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bodies", nargs=2, default=("bug", "bug"),
                   help="bodies of the two idle robots (idle spiders fall before step 500)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    single_threaded_torch()
    a = with_body(AgentSpec("idle", body=args.bodies[0], name="idle-a"))
    b = with_body(AgentSpec("idle", body=args.bodies[1], name="idle-b"))
    spec = GameSpec(a, b, GameConfig(rounds=1, episodes=1, max_steps=args.steps), seed=0)

    simulate, result = best(args.repeats, lambda: play_game(spec))
    steps = result.episodes[0].steps
    if steps < args.steps:
        raise SystemExit(f"the bout ended after {steps} steps: choose --bodies that stand")
    record, (_, recorder) = best(args.repeats, lambda: record_game(spec))
    frames = recorder.episodes[(0, 0)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replay.html"
        write, _ = best(args.repeats, lambda: write_page(path, frames, {}, "benchmark"))
        text = path.read_text()
        size = path.stat().st_size
        decode, _ = best(args.repeats, lambda: decode_page(text))
        load_ms = browser_load_ms(path, args.repeats)
    moving = len(frames.moving)
    raw = steps * moving * 12 * 8  # float64 geom_xpos (3) and geom_xmat (9)
    real_time = steps * 0.05
    print(f"HTML replay of a {steps}-step bout, {args.bodies[0]} vs {args.bodies[1]} (idle), "
          f"{moving} moving geoms; best of {args.repeats}; {platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} cores\n")
    print("| measure | value | reference | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| page size | {size / 1e6:.2f} MB ({size / steps / 1e3:.1f} kB/step) | raw float64 "
          f"poses {raw / 1e6:.2f} MB | {size / raw:.2f} |")
    print(f"| generate (replay with recorder + write page) | {record + write:.2f} s | simulate "
          f"the game alone {simulate:.2f} s | {(record + write) / simulate:.2f} |")
    print(f"| of which writing the page | {write:.3f} s | | |")
    print(f"| decode in Python (decode_page) | {decode * 1e3:.0f} ms | bout in real time "
          f"{real_time:.0f} s | {decode / real_time:.4f} |")
    if load_ms is None:
        print("| load in a browser | no Chromium found | | |")
    else:
        print(f"| load in headless Chromium (navigation to first frame, software WebGL) | "
              f"{load_ms:.0f} ms | bout in real time {real_time:.0f} s | "
              f"{load_ms / 1e3 / real_time:.4f} |")


if __name__ == "__main__":
    main()
