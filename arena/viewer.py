"""The pygame viewer: a RoboSumo scene rendered offscreen by MuJoCo, shown with a HUD.

Each frame, ``mujoco.Renderer`` draws the arena into an RGB array, pygame blits it into the window
and draws the HUD on top (agent names, bodies, lineage versions, round and episode, score, step,
reward terms). It runs headless with ``SDL_VIDEODRIVER=dummy`` (and ``MUJOCO_GL=egl``): the window
then lives in memory, which is how tests, recordings and report screenshots use it.

Keys:
    space        pause / resume
    . or right   single step (pauses)
    + / -        faster / slower (0.25x .. 8x real time)
    c            next camera: tracking, top, side, orbit (drag with the mouse to orbit, wheel zooms)
    h            hide / show the HUD;  t  hide / show the reward terms
    s            save a screenshot (PNG) next to the working directory
    r            restart the game
    q or escape  quit
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    # No display: mujoco renders through EGL (chosen when it is imported), pygame into memory.
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import mujoco
import numpy as np
import pygame

from arena.view_settings import CAMERAS, QUALITY, REAL_TIME_FPS, SPEEDS
from envs.robosumo.render import tracking_camera
from envs.robosumo.scene import PLAYER_RGBA

_HUD_BG = (10, 12, 20, 170)
_WHITE, _GREY, _YELLOW = (235, 235, 235), (160, 160, 170), (250, 210, 80)


class ViewerQuit(Exception):
    """The person watching asked to quit (q, escape or the window's close button)."""


class ViewerRestart(Exception):
    """The person watching asked to restart the game (r)."""


@dataclass
class Hud:
    """What the HUD shows; sides are A and B, each in one player slot per episode.

    Attributes:
        names: labels of A and B.
        bodies: bodies of A and B.
        versions: lineage versions of A and B (None: not from a lineage).
        a_player: the slot ("player_0" or "player_1") A has in this episode.
        round: 0-based round; rounds: rounds in the game.
        episode: 0-based episode in the round; episodes: episodes per round.
        score: A's wins, losses and draws of episodes in this round.
        rounds_score: A's wins, losses and draws of finished rounds.
        step: steps played in this episode; max_steps: the step limit.
        terms: reward terms of the last step, by side ("a", "b").
        returns: episode returns so far, by side.
        message: a line shown under the header (e.g. the result of the last episode).
    """

    names: tuple[str, str]
    bodies: tuple[str, str]
    versions: tuple[int | None, int | None] = (None, None)
    a_player: str = "player_0"
    round: int = 0
    rounds: int = 1
    episode: int = 0
    episodes: int = 1
    score: tuple[int, int, int] = (0, 0, 0)
    rounds_score: tuple[int, int, int] = (0, 0, 0)
    step: int = 0
    max_steps: int = 500
    terms: dict[str, Mapping[str, float]] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=lambda: {"a": 0.0, "b": 0.0})
    message: str = ""


@dataclass
class ViewState:
    """Everything the keys and the mouse change."""

    paused: bool = False
    step_pending: bool = False
    speed_index: int = SPEEDS.index(1.0)
    camera: str = "tracking"
    quit: bool = False
    restart: bool = False
    screenshot: bool = False
    hud: bool = True
    terms: bool = True
    orbit: list[float] = field(default_factory=lambda: [90.0, -25.0, 6.0])  # azimuth, elev, dist
    dragging: bool = False

    @property
    def speed(self) -> float:
        """Playback speed as a multiple of real time."""
        return SPEEDS[self.speed_index]


def apply_event(state: ViewState, event: pygame.event.Event) -> None:
    """Update the view state for one pygame event (keys, mouse, window close)."""
    if event.type == pygame.QUIT:
        state.quit = True
    elif event.type == pygame.KEYDOWN:
        key = event.key
        if key in (pygame.K_q, pygame.K_ESCAPE):
            state.quit = True
        elif key == pygame.K_SPACE:
            state.paused = not state.paused
        elif key in (pygame.K_PERIOD, pygame.K_RIGHT):
            state.paused, state.step_pending = True, True
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS, pygame.K_UP):
            state.speed_index = min(state.speed_index + 1, len(SPEEDS) - 1)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS, pygame.K_DOWN):
            state.speed_index = max(state.speed_index - 1, 0)
        elif key == pygame.K_c:
            state.camera = CAMERAS[(CAMERAS.index(state.camera) + 1) % len(CAMERAS)]
        elif key == pygame.K_r:
            state.restart = True
        elif key == pygame.K_s:
            state.screenshot = True
        elif key == pygame.K_h:
            state.hud = not state.hud
        elif key == pygame.K_t:
            state.terms = not state.terms
    elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
        state.dragging = True
    elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
        state.dragging = False
    elif event.type == pygame.MOUSEMOTION and state.dragging:
        state.camera = "orbit"
        dx, dy = event.rel
        state.orbit[0] = (state.orbit[0] - 0.4 * dx) % 360.0
        state.orbit[1] = float(np.clip(state.orbit[1] - 0.4 * dy, -89.0, -2.0))
    elif event.type == pygame.MOUSEWHEEL:
        state.orbit[2] = float(np.clip(state.orbit[2] * (0.9 ** event.y), 2.0, 20.0))


class Viewer:
    """A pygame window (or an in-memory one, headless) showing RoboSumo frames with a HUD.

    Args:
        width: window width in pixels.
        height: window height in pixels.
        camera: the first camera, one of ``CAMERAS``.
        quality: offscreen render settings, a key of ``QUALITY``.
        paused: start paused.
        realtime: pace frames to the playback speed (default: only with a real display).
        on_frame: called with every finished frame (H x W x 3 uint8), e.g. a recorder.
        title: window title.
    """

    def __init__(self, width: int = 640, height: int = 480, camera: str = "tracking",
                 quality: str = "fast", paused: bool = False, realtime: bool | None = None,
                 on_frame: Callable[[np.ndarray], None] | None = None,
                 title: str = "RoboSumo arena") -> None:
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; cameras are {', '.join(CAMERAS)}")
        if quality not in QUALITY:
            raise ValueError(f"unknown quality {quality!r}; choose {' or '.join(QUALITY)}")
        if width < 64 or height < 64:
            raise ValueError(f"the window must be at least 64x64 pixels, got {width}x{height}")
        self.width, self.height, self.quality = width, height, quality
        self.state = ViewState(paused=paused, camera=camera)
        headless = os.environ.get("SDL_VIDEODRIVER") == "dummy"
        self.realtime = (not headless) if realtime is None else realtime
        self.on_frame = on_frame
        self.frames = 0
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(title)
        self.screen = pygame.display.set_mode((width, height))
        # a hinted sans face (pygame's bundled one drops the dot of an "i" at small sizes),
        # growing with the window
        self.font = _font(max(14, height // 34))
        self.small = _font(max(12, height // 40))
        self.line = self.font.get_linesize()
        self.small_line = self.small.get_linesize()
        self.clock = pygame.time.Clock()
        self.camera = mujoco.MjvCamera()
        self._renderers: dict[int, mujoco.Renderer] = {}
        self.last_frame: np.ndarray | None = None
        self.last_times = (0.0, 0.0)  # s: offscreen render, HUD + display of the last frame

    # ------------------------------------------------------------------ events

    def pump(self) -> None:
        """Handle the pending pygame events; raise if they ask to quit or restart.

        Raises:
            ViewerQuit: on q, escape or closing the window.
            ViewerRestart: on r.
        """
        for event in pygame.event.get():
            apply_event(self.state, event)
        if self.state.screenshot:
            self.state.screenshot = False
            if self.last_frame is not None:
                save_png(self.last_frame, Path(f"arena-{self.frames:06d}.png"))
        if self.state.quit:
            raise ViewerQuit
        if self.state.restart:
            self.state.restart = False
            raise ViewerRestart

    def wait(self, redraw: Callable[[], None]) -> None:
        """Return when the next step may be played: at once, or after a pause or single step.

        ``redraw`` is called while paused, so that camera changes show.
        """
        self.pump()
        while self.state.paused and not self.state.step_pending:
            redraw()
            self.clock.tick(30)
            self.pump()
        self.state.step_pending = False
        if self.realtime:
            self.clock.tick(REAL_TIME_FPS * self.state.speed)

    # ------------------------------------------------------------------ drawing

    def _renderer(self, model: mujoco.MjModel) -> mujoco.Renderer:
        renderer = self._renderers.get(id(model))
        if renderer is None:
            settings = QUALITY[self.quality]
            # Visual settings only: they are read when the offscreen buffers are made.
            model.vis.quality.offsamples = settings["offsamples"]
            model.vis.quality.shadowsize = settings["shadowsize"]
            renderer = mujoco.Renderer(model, self.height, self.width)
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = settings["reflection"]
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = settings["shadow"]
            self._renderers[id(model)] = renderer
        return renderer

    def forget_scenes(self) -> None:
        """Free the renderers of past envs (call when a game's envs are closed)."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    def _aim(self, torsos: Sequence[np.ndarray]) -> None:
        if self.state.camera != "orbit":
            tracking_camera(self.camera, torsos, self.state.camera)
            return
        mid = (np.asarray(torsos[0]) + np.asarray(torsos[1])) / 2
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.lookat[:] = (mid[0], mid[1], 0.8)
        self.camera.azimuth, self.camera.elevation, self.camera.distance = self.state.orbit

    def render_scene(self, env: Any) -> np.ndarray:
        """The env's current scene from the current camera, H x W x 3 uint8."""
        renderer = self._renderer(env.model)
        self._aim([env.torso_xyz(0), env.torso_xyz(1)])
        renderer.update_scene(env.data, self.camera)
        return renderer.render()

    def show(self, env: Any, hud: Hud | None, record: bool = True) -> np.ndarray:
        """Render the scene, draw the HUD, update the window; the frame as shown (H x W x 3).

        Args:
            env: a RoboSumo ``SumoEnv``.
            hud: what the HUD shows (None: no HUD).
            record: count the frame and hand it to ``on_frame`` (False for redraws while paused).
        """
        start = time.perf_counter()
        image = self.render_scene(env)
        rendered = time.perf_counter()
        self.screen.blit(pygame.surfarray.make_surface(image.swapaxes(0, 1)), (0, 0))
        if hud is not None and self.state.hud:
            self._draw_hud(hud)
        pygame.display.flip()
        frame = pygame.surfarray.array3d(self.screen).swapaxes(0, 1)
        self.last_frame = frame
        self.last_times = (rendered - start, time.perf_counter() - rendered)
        if record:
            self.frames += 1
            if self.on_frame is not None:
                self.on_frame(frame)
        return frame

    def _text(self, text: str, pos: tuple[int, int], color: tuple[int, int, int] = _WHITE,
              small: bool = False) -> int:
        surface = (self.small if small else self.font).render(text, True, color)
        self.screen.blit(surface, pos)
        return surface.get_width()

    def _panel(self, rect: tuple[int, int, int, int]) -> None:
        panel = pygame.Surface(rect[2:], pygame.SRCALPHA)
        panel.fill(_HUD_BG)
        self.screen.blit(panel, rect[:2])

    def _draw_hud(self, hud: Hud) -> None:
        line = self.line
        self._panel((0, 0, self.width, 3 * line + 8))
        colors = {p: tuple(int(255 * c) for c in rgba[:3]) for p, rgba in
                  zip(("player_0", "player_1"), PLAYER_RGBA, strict=True)}
        b_player = "player_1" if hud.a_player == "player_0" else "player_0"
        x = 8
        for side, player, k in (("A", hud.a_player, 0), ("B", b_player, 1)):
            pygame.draw.rect(self.screen, colors[player], (x, 6, line - 6, line - 6))
            version = f" v{hud.versions[k]}" if hud.versions[k] is not None else ""
            x += line + self._text(f"{side}: {hud.names[k]}{version} ({hud.bodies[k]})",
                                   (x + line, 4))
            if k == 0:
                x += 12 + self._text("vs", (x + 12, 4), _GREY) + 12
        w, lo, d = hud.score
        rw, rl, rd = hud.rounds_score
        self._text(f"round {hud.round + 1}/{hud.rounds}   episode {hud.episode + 1}/"
                   f"{hud.episodes}   round score A {w}-{d}-{lo} (W-D-L)   rounds A {rw}-{rd}-{rl}",
                   (8, 4 + line))
        status = "PAUSED" if self.state.paused else f"{self.state.speed:g}x"
        self._text(f"step {hud.step}/{hud.max_steps}   {status}   camera {self.state.camera}",
                   (8, 4 + 2 * line), _YELLOW if self.state.paused else _GREY)
        if hud.message:
            self._text(hud.message, (self.width // 2, 4 + 2 * line), _YELLOW)
        if self.state.terms:
            self._draw_terms(hud)
        small = self.small_line
        self._panel((0, self.height - small - 4, self.width, small + 4))
        self._text("space pause  . step  +/- speed  c camera  drag orbit  h HUD  t terms  "
                   "s shot  r restart  q quit", (8, self.height - small - 1), _GREY, small=True)

    def _draw_terms(self, hud: Hud) -> None:
        """The reward terms of the last step and the returns, in fixed columns at the right
        edge (the ring is in the middle), numbers right-aligned so none runs into the next."""
        names = sorted({k for t in hud.terms.values() for k in t})
        if not names:
            return
        rows = [(name.removeprefix("reward_"),
                 *("-" if hud.terms.get(side, {}).get(name) is None
                   else f"{hud.terms[side][name]:+,.2f}" for side in ("a", "b")))
                for name in names]
        rows.append(("episode return", *(f"{hud.returns.get(side, 0.0):+,.1f}"
                                         for side in ("a", "b"))))
        header = ("reward term", "A", "B")
        widths = [max(self.small.size(r[c])[0] for r in (header, *rows)) for c in range(3)]
        gap, pad, line = 14, 8, self.small_line
        width = sum(widths) + 2 * gap + 2 * pad
        height = line * (len(rows) + 1) + 2 * pad
        left = self.width - width - 6
        top = self.height - self.small_line - 10 - height
        self._panel((left, top, width, height))
        for r, row in enumerate((header, *rows)):
            y = top + pad + r * line
            color = _GREY if r == 0 else _YELLOW if r == len(rows) else _WHITE
            x = left + pad
            self._text(row[0], (x, y), color, small=True)
            right = x + widths[0]
            for c in (1, 2):
                right += gap + widths[c]
                text = self.small.render(row[c], True, color)
                self.screen.blit(text, (right - text.get_width(), y))

    def close(self) -> None:
        """Free the renderers and close the window."""
        self.forget_scenes()
        pygame.display.quit()


def _font(size: int) -> pygame.font.Font:
    """DejaVu Sans (or Liberation Sans, Arial) at ``size`` points; pygame's own face scaled to
    a similar height where none is installed."""
    path = pygame.font.match_font("dejavusans,liberationsans,arial,helvetica")
    return pygame.font.Font(path, size) if path else pygame.font.Font(None, int(size * 1.45))


def save_png(frame: np.ndarray, path: Path) -> Path:
    """Write an H x W x 3 uint8 frame as a PNG file."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)
    return path
