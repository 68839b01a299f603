"""Recording viewer frames: an animated GIF (Pillow) or a directory of PNG frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

GIF_COLORS = 128  # palette size of GIF frames: smaller files, no visible banding in the arena


class Recorder:
    """Collects frames and writes them when closed.

    Args:
        target: ``*.gif`` for an animated GIF; any other path without a suffix is a directory
            of ``frame_000000.png`` files.
        fps: frames per second of the GIF (real time: 20).
        every: keep every ``every``-th frame (``fps`` is divided accordingly).

    Raises:
        ValueError: for a file suffix other than .gif (e.g. .mp4: no video encoder is installed).
    """

    def __init__(self, target: Path | str, fps: float = 20.0, every: int = 1) -> None:
        self.target = Path(target)
        suffix = self.target.suffix.lower()
        if suffix not in ("", ".gif"):
            raise ValueError(f"cannot record to {self.target}: accepted are FILE.gif (animated "
                             f"GIF) or a directory (PNG frames); {suffix} needs a video encoder "
                             f"that is not installed")
        if every < 1:
            raise ValueError(f"--record-every must be >= 1, got {every}")
        self.gif = suffix == ".gif"
        self.fps, self.every = fps, every
        self._seen = 0
        self._frames: list = []
        self.written = 0
        if not self.gif:
            self.target.mkdir(parents=True, exist_ok=True)

    def __call__(self, frame: np.ndarray) -> None:
        """Add one H x W x 3 uint8 frame."""
        from PIL import Image

        keep = self._seen % self.every == 0
        self._seen += 1
        if not keep:
            return
        image = Image.fromarray(np.ascontiguousarray(frame))
        if self.gif:
            # Quantised frames are a third of the RGB size: a 500-step match stays in memory.
            self._frames.append(image.quantize(GIF_COLORS, method=Image.Quantize.MEDIANCUT))
        else:
            image.save(self.target / f"frame_{self.written:06d}.png")
        self.written += 1

    def close(self) -> Path | None:
        """Write the GIF (if any frames); the file or directory written, None if nothing was."""
        if not self.gif:
            return self.target if self.written else None
        if not self._frames:
            return None
        self.target.parent.mkdir(parents=True, exist_ok=True)
        first, *rest = self._frames
        first.save(self.target, save_all=True, append_images=rest, loop=0,
                   duration=round(1000 * self.every / self.fps), optimize=False)
        self._frames = []
        return self.target
