"""The pygame viewer: a RoboSumo scene rendered offscreen by MuJoCo, shown with a HUD.

Each frame, ``mujoco.Renderer`` draws the arena into an RGB array, pygame blits it into the window
and draws the HUD on top (agent names, bodies, lineage versions, round and episode, score, step,
reward terms, the timeline of the episode, a plot of the reward terms). It runs headless with
``SDL_VIDEODRIVER=dummy`` (and ``MUJOCO_GL=egl``): the window then lives in memory, which is how
tests, recordings and report screenshots use it.

The viewer keeps every step of the shown episode in a ``Timeline`` and renders each frame from a
step's snapshot (``arena.timeline``), so the person watching can scrub back and forth; the game
itself waits while they look back (its env is only read), and goes on from its live state.

Keys:
    space               play / pause (at the end of a replay: play again from the start)
    , or left           one step back (pauses)
    . or right          one step forward (pauses; at the newest step: play the next one)
    home / end          first step / newest step (live)
    click or drag the timeline bar: go to that step
    + / -               faster / slower (0.25x .. 8x real time)
    c                   next camera: tracking, top, side, orbit (drag to orbit, wheel zooms)
    f                   follow: free camera, follow A, follow B (drag orbits the followed robot)
    p                   show / hide the plot of the reward terms
    h                   hide / show the HUD;  t  hide / show the reward terms
    s                   save a screenshot (PNG) in the working directory
    r                   restart the game
    q or escape         quit
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
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

from arena.hud import Hud, HudPainter
from arena.timeline import Snapshot, Timeline
from arena.view_settings import CAMERAS, FOLLOW, QUALITY, REAL_TIME_FPS, SPEEDS
from envs.robosumo.render import tracking_camera

__all__ = ["Hud", "ViewState", "Viewer", "ViewerQuit", "ViewerRestart", "apply_event",
           "save_png"]

PAUSED_FPS = 30  # redraws per second while paused, so that camera changes show


class ViewerQuit(Exception):
    """The person watching asked to quit (q, escape or the window's close button)."""


class ViewerRestart(Exception):
    """The person watching asked to restart the game (r)."""


@dataclass
class ViewState:
    """Everything the keys and the mouse change.

    ``step_pending``, ``step_back``, ``jump`` and ``seek`` are requests to move in the timeline,
    taken up by ``Viewer.pump``; ``bar`` is where the timeline bar was last drawn.
    """

    paused: bool = False
    step_pending: bool = False
    step_back: bool = False
    jump: str | None = None  # "start" or "end"
    seek: float | None = None  # a fraction of the timeline bar
    speed_index: int = SPEEDS.index(1.0)
    camera: str = "tracking"
    follow: str = "free"
    quit: bool = False
    restart: bool = False
    screenshot: bool = False
    hud: bool = True
    terms: bool = True
    plot: bool = False
    orbit: list[float] = field(default_factory=lambda: [90.0, -25.0, 6.0])  # azimuth, elev, dist
    dragging: bool = False
    scrubbing: bool = False
    bar: tuple[int, int, int, int] | None = None

    @property
    def speed(self) -> float:
        """Playback speed as a multiple of real time."""
        return SPEEDS[self.speed_index]

    def bar_fraction(self, x: float) -> float:
        """Where ``x`` (pixels) lies along the timeline bar, 0..1."""
        left, _, width, _ = self.bar
        return float(np.clip((x - left) / max(width - 1, 1), 0.0, 1.0))

    def on_bar(self, pos: tuple[int, int]) -> bool:
        """Whether ``pos`` is on the timeline bar (with a few pixels to spare above and below)."""
        if self.bar is None:
            return False
        left, top, width, height = self.bar
        return left <= pos[0] < left + width and top - 4 <= pos[1] < top + height + 4


_KEYS: dict[int, str] = {
    pygame.K_q: "quit", pygame.K_ESCAPE: "quit", pygame.K_SPACE: "play",
    pygame.K_PERIOD: "forward", pygame.K_RIGHT: "forward",
    pygame.K_COMMA: "back", pygame.K_LEFT: "back",
    pygame.K_HOME: "start", pygame.K_END: "end",
    pygame.K_PLUS: "faster", pygame.K_EQUALS: "faster", pygame.K_KP_PLUS: "faster",
    pygame.K_UP: "faster", pygame.K_MINUS: "slower", pygame.K_KP_MINUS: "slower",
    pygame.K_DOWN: "slower", pygame.K_c: "camera", pygame.K_f: "follow", pygame.K_p: "plot",
    pygame.K_r: "restart", pygame.K_s: "screenshot", pygame.K_h: "hud", pygame.K_t: "terms",
}


def _apply_key(state: ViewState, action: str) -> None:
    if action == "quit":
        state.quit = True
    elif action == "play":
        state.paused = not state.paused
    elif action == "forward":
        state.paused, state.step_pending = True, True
    elif action == "back":
        state.paused, state.step_back = True, True
    elif action in ("start", "end"):
        state.jump = action
    elif action in ("faster", "slower"):
        step = 1 if action == "faster" else -1
        state.speed_index = int(np.clip(state.speed_index + step, 0, len(SPEEDS) - 1))
    elif action == "camera":
        state.camera = CAMERAS[(CAMERAS.index(state.camera) + 1) % len(CAMERAS)]
    elif action == "follow":
        state.follow = FOLLOW[(FOLLOW.index(state.follow) + 1) % len(FOLLOW)]
    elif action in ("restart", "screenshot"):
        setattr(state, action, True)
    else:  # the toggles: hud, terms, plot
        setattr(state, action, not getattr(state, action))


def apply_event(state: ViewState, event: pygame.event.Event) -> None:
    """Update the view state for one pygame event (keys, mouse, window close)."""
    if event.type == pygame.QUIT:
        state.quit = True
    elif event.type == pygame.KEYDOWN:
        if event.key in _KEYS:
            _apply_key(state, _KEYS[event.key])
    elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
        if state.on_bar(event.pos):
            state.scrubbing, state.seek = True, state.bar_fraction(event.pos[0])
        else:
            state.dragging = True
    elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
        state.dragging = state.scrubbing = False
    elif event.type == pygame.MOUSEMOTION and state.scrubbing and state.bar is not None:
        state.seek = state.bar_fraction(event.pos[0])
    elif event.type == pygame.MOUSEMOTION and state.dragging:
        if state.follow == "free":
            state.camera = "orbit"
        dx, dy = event.rel
        state.orbit[0] = (state.orbit[0] - 0.4 * dx) % 360.0
        state.orbit[1] = float(np.clip(state.orbit[1] - 0.4 * dy, -89.0, -2.0))
    elif event.type == pygame.MOUSEWHEEL:
        state.orbit[2] = float(np.clip(state.orbit[2] * (0.9 ** event.y), 1.0, 20.0))


class Viewer:
    """A pygame window (or an in-memory one, headless) showing RoboSumo frames with a HUD.

    Args:
        width: window width in pixels.
        height: window height in pixels.
        camera: the first camera, one of ``CAMERAS``.
        quality: offscreen render settings, a key of ``QUALITY``.
        paused: start paused.
        realtime: pace frames to the playback speed (default: only with a real display).
        on_frame: called with every frame of a step shown (H x W x 3 uint8), e.g. a recorder;
            redraws of the same step while paused are not passed on.
        title: window title.
        follow: the first follow mode, one of ``FOLLOW``.
        plot: start with the reward plot shown.
    """

    def __init__(self, width: int = 640, height: int = 480, camera: str = "tracking",
                 quality: str = "fast", paused: bool = False, realtime: bool | None = None,
                 on_frame: Callable[[np.ndarray], None] | None = None,
                 title: str = "RoboSumo arena", follow: str = "free", plot: bool = False) -> None:
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; cameras are {', '.join(CAMERAS)}")
        if follow not in FOLLOW:
            raise ValueError(f"unknown follow mode {follow!r}; choose {', '.join(FOLLOW)}")
        if quality not in QUALITY:
            raise ValueError(f"unknown quality {quality!r}; choose {' or '.join(QUALITY)}")
        if width < 64 or height < 64:
            raise ValueError(f"the window must be at least 64x64 pixels, got {width}x{height}")
        self.width, self.height, self.quality = width, height, quality
        self.state = ViewState(paused=paused, camera=camera, follow=follow, plot=plot)
        headless = os.environ.get("SDL_VIDEODRIVER") == "dummy"
        self.realtime = (not headless) if realtime is None else realtime
        self.on_frame = on_frame
        self.frames = 0
        pygame.display.init()
        pygame.font.init()
        pygame.display.set_caption(title)
        self.screen = pygame.display.set_mode((width, height))
        self.painter = HudPainter(self.screen)
        self.clock = pygame.time.Clock()
        self.camera = mujoco.MjvCamera()
        self.timeline = Timeline()
        self._renderers: dict[int, mujoco.Renderer] = {}
        self._scratch: dict[int, mujoco.MjData] = {}
        self._on_shown: Callable[[], None] = lambda: None
        self._live = True
        self._held_at_end = False
        self.last_frame: np.ndarray | None = None
        self.last_times = (0.0, 0.0)  # s: offscreen render, HUD + display of the last frame

    # ------------------------------------------------------------------ events and timeline

    def pump(self) -> None:
        """Handle the pending pygame events; move in the timeline as they ask.

        Raises:
            ViewerQuit: on q, escape or closing the window.
            ViewerRestart: on r.
        """
        for event in pygame.event.get():
            apply_event(self.state, event)
            self._seek()  # one event at a time: three presses of "," go back three steps
        if self.state.screenshot:
            self.state.screenshot = False
            if self.last_frame is not None:
                save_png(self.last_frame, Path(f"arena-{self.frames:06d}.png"))
        if self.state.quit:
            raise ViewerQuit
        if self.state.restart:
            self.state.restart = False
            raise ViewerRestart

    def _seek(self) -> None:
        """Take up the state's requests to move in the timeline (a forward step at the newest
        step stays pending: it asks the game for its next step)."""
        st, tl = self.state, self.timeline
        target = None
        if st.step_back:
            st.step_back, target = False, tl.cursor - 1
        if st.jump is not None:
            target, st.jump = (0 if st.jump == "start" else tl.head), None
        if st.seek is not None:
            target, st.seek = tl.at_fraction(st.seek), None
        if st.step_pending and (tl.cursor < tl.head or not self._live):
            st.step_pending, target = False, tl.cursor + 1
        if target is not None and len(tl) and tl.clamp(target) != tl.cursor:
            self._move_to(tl.clamp(target))

    def _move_to(self, index: int) -> None:
        """Show step ``index`` of the timeline as a new frame."""
        self.timeline.cursor = index
        self._held_at_end = False
        self.show_snapshot(self.timeline.current)
        self._on_shown()

    def present(self, on_shown: Callable[[], None] | None = None, live: bool = True) -> None:
        """Show the timeline until the game may play its next step, or the person is done.

        The newest step is shown first when ``live``, else the first step; then the timeline
        plays at the playback speed and follows the keys and the mouse.

        Args:
            on_shown: called after each frame of a step shown (e.g. to stop after N).
            live: the game goes on after the newest step (watch): return when the cursor is at
                that step and playback goes on (or a forward step asks for the next one). Else
                the episode is complete (replay): return when playback passes its end, or with a
                person watching, hold there until they quit.
        """
        tl, st = self.timeline, self.state
        self._on_shown, self._live = on_shown or (lambda: None), live
        self._move_to(tl.head if live else 0)
        while True:
            self.pump()
            if st.step_pending and live:  # a forward step at the newest step
                st.step_pending = False
                return
            if st.paused or st.scrubbing:
                self.show_snapshot(tl.current, record=False)
                self.clock.tick(PAUSED_FPS)
                continue
            if self._held_at_end:  # play again from the start
                self._move_to(0)
                continue
            if self.realtime:
                self.clock.tick(REAL_TIME_FPS * st.speed)
            if tl.cursor < tl.head:
                self._move_to(tl.cursor + 1)
            elif live or not self.realtime:
                return
            else:
                st.paused, self._held_at_end = True, True

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
            self._scratch[id(model)] = mujoco.MjData(model)
        return renderer

    def forget_scenes(self) -> None:
        """Free the renderers of past envs (call when a game's envs are closed)."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        self._scratch.clear()

    def _aim(self, torsos: Sequence[np.ndarray], a_player: str) -> None:
        st = self.state
        if st.follow != "free":
            a = 0 if a_player == "player_0" else 1
            followed = torsos[a if st.follow == "A" else 1 - a]
            self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
            self.camera.lookat[:] = followed
            self.camera.azimuth, self.camera.elevation, self.camera.distance = st.orbit
            return
        if st.camera != "orbit":
            tracking_camera(self.camera, torsos, st.camera)
            return
        mid = (np.asarray(torsos[0]) + np.asarray(torsos[1])) / 2
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.lookat[:] = (mid[0], mid[1], 0.8)
        self.camera.azimuth, self.camera.elevation, self.camera.distance = st.orbit

    def render_state(self, snapshot: Snapshot) -> np.ndarray:
        """The scene of a snapshot from the current camera, H x W x 3 uint8.

        The state is put into a scratch ``MjData`` of the model (positions computed by
        ``mj_forward``), so the frame depends on the snapshot alone.
        """
        renderer = self._renderer(snapshot.model)
        data = self._scratch[id(snapshot.model)]
        data.qpos[:], data.qvel[:], data.time = snapshot.qpos, snapshot.qvel, snapshot.time
        mujoco.mj_forward(snapshot.model, data)
        a_player = snapshot.hud.a_player if snapshot.hud is not None else "player_0"
        self._aim(snapshot.torsos, a_player)
        renderer.update_scene(data, self.camera)
        return renderer.render()

    def render_scene(self, env: Any) -> np.ndarray:
        """The env's current scene from the current camera, H x W x 3 uint8."""
        return self.render_state(Snapshot.of(env))

    def show(self, env: Any, hud: Hud | None, record: bool = True) -> np.ndarray:
        """Render the env's current state, draw the HUD, update the window; the frame as shown.

        Args:
            env: a RoboSumo ``SumoEnv``.
            hud: what the HUD shows (None: no HUD).
            record: count the frame and hand it to ``on_frame`` (False for redraws while paused).
        """
        return self.show_snapshot(Snapshot.of(env, hud), record)

    def show_snapshot(self, snapshot: Snapshot, record: bool = True) -> np.ndarray:
        """Render a snapshot, draw its HUD, update the window; the frame as shown (H x W x 3)."""
        start = time.perf_counter()
        image = self.render_state(snapshot)
        rendered = time.perf_counter()
        self.screen.blit(pygame.surfarray.make_surface(image.swapaxes(0, 1)), (0, 0))
        self.state.bar = None
        if snapshot.hud is not None and self.state.hud:
            timeline = self.timeline if len(self.timeline) else None
            self.state.bar = self.painter.draw(snapshot.hud, self.state, timeline)
        pygame.display.flip()
        frame = pygame.surfarray.array3d(self.screen).swapaxes(0, 1)
        self.last_frame = frame
        self.last_times = (rendered - start, time.perf_counter() - rendered)
        if record:
            self.frames += 1
            if self.on_frame is not None:
                self.on_frame(frame)
        return frame

    def close(self) -> None:
        """Free the renderers and close the window."""
        self.forget_scenes()
        pygame.display.quit()


def save_png(frame: np.ndarray, path: Path) -> Path:
    """Write an H x W x 3 uint8 frame as a PNG file."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)
    return path
