"""Recording formats compared on one clip: file size and encode time of MP4 (H.264) and GIF.

Shows ``--frames`` steps of a game between two random agents in the viewer (640x480, the HUD on,
as ``arena watch --record`` records them) and keeps the frames; then each format's ``Recorder``
is fed the same frames and closed (an MP4 is encoded by an ffmpeg process as the frames come, a
GIF is quantised frame by frame and written at the end), timed from the first frame to the
finished file. The written files are decoded again to check their frame count. Prints a Markdown
table and the MP4/GIF ratios of this run.

Usage:
    SDL_VIDEODRIVER=dummy MUJOCO_GL=egl python benchmarks/recording_formats.py [--frames 200]
        [--size 640 480] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import imageio_ffmpeg
import numpy as np
from PIL import Image

from arena.match import resolve_pair
from arena.recording import Recorder
from arena.viewer import Viewer
from arena.watch import GameView
from leagues.games import GameConfig, GameSpec


def clip(frames: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``frames`` viewer frames of random (ant) vs random (bug), one episode after the other."""
    shown: list[np.ndarray] = []
    viewer = Viewer(*size, realtime=False, on_frame=shown.append)
    a, b = resolve_pair("random", "random", ["ant", "bug"])
    spec = GameSpec(a, b, GameConfig(rounds=1, episodes=100, max_steps=500), seed=0)
    try:
        GameView(viewer, spec, max_steps=frames).play()
    finally:
        viewer.close()
    return shown


def decoded_frames(path: Path) -> int:
    """Frames in a written MP4 or GIF, decoded again."""
    if path.suffix == ".mp4":
        reader = imageio_ffmpeg.read_frames(str(path))
        next(reader)
        return sum(1 for _ in reader)
    with Image.open(path) as image:
        return image.n_frames


def encode(frames: list[np.ndarray], path: Path) -> dict[str, float]:
    """Wall seconds from the first frame to the finished file, ffmpeg's CPU seconds, bytes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    recorder = Recorder(path)
    for frame in frames:
        recorder(frame)
    recorder.close()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    if decoded_frames(path) != len(frames):
        raise RuntimeError(f"{path} decodes to {decoded_frames(path)} frames, not {len(frames)}")
    return {"seconds": seconds, "child_cpu": child_cpu, "bytes": path.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames in the clip")
    parser.add_argument("--size", nargs=2, type=int, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--repeats", type=int, default=2, help="encodes per format; best kept")
    args = parser.parse_args()
    frames = clip(args.frames, tuple(args.size))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".mp4", ".gif"):
            runs = [encode(frames, Path(tmp) / f"clip{suffix}") for _ in range(args.repeats)]
            results[suffix] = min(runs, key=lambda r: r["seconds"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    w, h = args.size
    print(f"# Recording {len(frames)} frames of {w}x{h} ({len(frames) / 20:.0f} s at 20 frames/s), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{load}; best of {args.repeats}\n")
    print("| format | file | encode s (wall) | ffmpeg CPU s | frames/s encoded |")
    print("|---|---:|---:|---:|---:|")
    for suffix, name in ((".mp4", "MP4 (H.264, crf 23)"), (".gif", "GIF (128 colours)")):
        r = results[suffix]
        print(f"| {name} | {r['bytes'] / 1e6:.2f} MB | {r['seconds']:.2f} | "
              f"{r['child_cpu']:.2f} | {len(frames) / r['seconds']:.0f} |")
    mp4, gif = results[".mp4"], results[".gif"]
    print(f"\nMP4 / GIF: size {mp4['bytes'] / gif['bytes']:.3f}x "
          f"(GIF {gif['bytes'] / mp4['bytes']:.1f}x larger), encode time "
          f"{mp4['seconds'] / gif['seconds']:.2f}x")


if __name__ == "__main__":
    main()
