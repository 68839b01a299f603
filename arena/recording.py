"""Recording viewer frames: an MP4 video, an animated GIF, or a directory of PNG frames.

MP4 (H.264, ``yuv420p`` so that browsers and players take it) is encoded as the frames come, by
the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships, in a process of its own; GIF frames
(Pillow) are held in memory and written at the end, which suits short clips. While recording,
progress goes to standard error (a bar on a terminal, a line every few seconds in a log) with
the size written so far and the size the whole recording will have at that rate.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

GIF_COLORS = 128  # palette size of GIF frames: smaller files, no visible banding in the arena
FORMATS = {".mp4": "MP4 video, H.264", ".gif": "animated GIF", "": "PNG frames"}
MP4_CRF = 23  # x264's constant rate factor (its default): 0 lossless .. 51 worst
ESTIMATE_EVERY = 25  # kept frames between size estimates (a GIF estimate encodes two frames)
MP4_LAG = 45  # frames x264 may hold before writing them (its look-ahead of 40, B-frames)


def record_error(target: Path | str) -> str | None:
    """Why ``target`` cannot be recorded to (None: it can)."""
    suffix = Path(target).suffix.lower()
    if suffix in FORMATS:
        return None
    return (f"--record must name FILE.mp4 (video), FILE.gif (animated GIF) or a directory "
            f"without a suffix (PNG frames), got {target}")


def megabytes(n: float) -> str:
    """A byte count for people: ``1.4 MB``, ``320 kB``, ``512 B``."""
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{n:.0f} B"


class Recorder:
    """Collects frames and writes them (MP4 as they come, GIF when closed, PNG each).

    Args:
        target: ``*.mp4`` for an H.264 video, ``*.gif`` for an animated GIF; a path without a
            suffix is a directory of ``frame_000000.png`` files.
        fps: frames per second of the video (real time: 20).
        every: keep every ``every``-th frame (``fps`` is divided accordingly).
        expected: frames that will be kept (at most), for the progress and the size estimate.
        progress: show progress on standard error.
        file: where progress goes (default standard error).

    Raises:
        ValueError: for another suffix (one line naming ``--record`` and the accepted ones).
    """

    def __init__(self, target: Path | str, fps: float = 20.0, every: int = 1,
                 expected: int | None = None, progress: bool = False,
                 file: TextIO | None = None) -> None:
        self.target = Path(target)
        problem = record_error(self.target)
        if problem is not None:
            raise ValueError(problem)
        if every < 1:
            raise ValueError(f"--record-every must be >= 1, got {every}")
        self.suffix = self.target.suffix.lower()
        self.fps, self.every, self.expected = fps, every, expected
        self._seen = 0
        self._frames: list = []
        self._writer: Any = None
        self._size: tuple[int, int] | None = None
        self._png_bytes = 0
        self._gif_first, self._gif_delta = 0, 0.0  # bytes of a first GIF frame, of each next one
        self.written = 0
        self._bar = None
        if progress:
            from agents.progress import progress_bar

            self._bar = progress_bar(expected, unit="frames", desc=f"recording {self.target}",
                                     file=file or sys.stderr)
        if self.suffix == "":
            self.target.mkdir(parents=True, exist_ok=True)

    @property
    def format(self) -> str:
        """What is written, in words."""
        return FORMATS[self.suffix]

    def __call__(self, frame: np.ndarray) -> None:
        """Add one H x W x 3 uint8 frame."""
        keep = self._seen % self.every == 0
        self._seen += 1
        if not keep:
            return
        frame = np.ascontiguousarray(frame)
        if self.suffix == ".mp4":
            self._write_mp4(frame)
        else:
            from PIL import Image

            image = Image.fromarray(frame)
            if self.suffix == ".gif":
                # Quantised frames are a third of the RGB size: a 500-step match stays in memory.
                self._frames.append(image.quantize(GIF_COLORS, method=Image.Quantize.MEDIANCUT))
            else:
                path = self.target / f"frame_{self.written:06d}.png"
                image.save(path)
                self._png_bytes += path.stat().st_size
        self.written += 1
        if self._bar is not None:
            self._bar.update(1)
            if self.written % ESTIMATE_EVERY == 0:
                self._bar.set_postfix(self._sizes())

    def _write_mp4(self, frame: np.ndarray) -> None:
        # x264 in yuv420p needs even sides: a last row or column is repeated where one is odd
        h, w = frame.shape[:2]
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self._writer is None:
            import imageio_ffmpeg

            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._size = (frame.shape[1], frame.shape[0])
            self._writer = imageio_ffmpeg.write_frames(
                str(self.target), self._size, fps=self.fps / self.every, codec="libx264",
                quality=None, macro_block_size=1, ffmpeg_log_level="error",
                output_params=["-crf", str(MP4_CRF), "-movflags", "+faststart"])
            self._writer.send(None)  # start ffmpeg
        elif (frame.shape[1], frame.shape[0]) != self._size:
            raise ValueError(f"a video's frames must all be {self._size[0]}x{self._size[1]}, "
                             f"got {frame.shape[1]}x{frame.shape[0]}")
        self._writer.send(frame)

    def bytes_so_far(self) -> float:
        """Bytes written (MP4, PNG) or that the GIF would have now (an estimate)."""
        if self.suffix == ".mp4":
            return self.target.stat().st_size if self.target.exists() else 0
        if self.suffix == "":
            return self._png_bytes
        if not self._frames:
            return 0
        if len(self._frames) % ESTIMATE_EVERY == 1 or not self._gif_first:
            # A GIF stores each frame as the rectangle that changed since the one before:
            # the cost of a next frame is what a second frame adds to a one-frame GIF.
            one = _gif_bytes(self._frames[-1:])
            if not self._gif_first:
                self._gif_first = one
            if len(self._frames) > 1:
                self._gif_delta = _gif_bytes(self._frames[-2:]) - _gif_bytes(self._frames[-2:-1])
        return self._gif_first + self._gif_delta * (len(self._frames) - 1)

    def _sizes(self) -> dict[str, str]:
        done = self.bytes_so_far()
        sizes = {"so far": megabytes(done)}
        # frames in the file: an MP4's last ones may still be inside the encoder
        settled = self.written - MP4_LAG if self.suffix == ".mp4" else self.written
        if self.expected and settled > 0 and done:
            sizes["at this rate in all"] = megabytes(done * self.expected / settled)
        return sizes

    def close(self) -> Path | None:
        """Finish the file (if any frames); the file or directory written, None if nothing was."""
        written = None
        try:
            written = self._finish()
        finally:
            if self._bar is not None:
                if self.written:
                    size = written_size(written) if written is not None else 0
                    self._bar.set_postfix({"size": megabytes(size)})
                self._bar.close()
                self._bar = None
        return written

    def _finish(self) -> Path | None:
        if self.suffix == ".mp4":
            if self._writer is None:
                return None
            self._writer.close()  # waits for ffmpeg to finish the file
            self._writer = None
            return self.target
        if self.suffix == "":
            return self.target if self.written else None
        if not self._frames:
            return None
        self.target.parent.mkdir(parents=True, exist_ok=True)
        first, *rest = self._frames
        first.save(self.target, save_all=True, append_images=rest, loop=0,
                   duration=round(1000 * self.every / self.fps), optimize=False)
        self._frames = []
        return self.target


def _gif_bytes(frames: list) -> int:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=50, optimize=False)
    return buffer.tell()


def written_size(path: Path) -> int:
    """Bytes of a recording: the file, or the PNG frames of a directory."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.glob("frame_*.png"))
    return path.stat().st_size
