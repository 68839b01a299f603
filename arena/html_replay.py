"""``arena replay --html``: a stored episode as one self-contained HTML page.

The game is replayed exactly as ``arena replay`` replays it (``arena.watch.record_game``:
``GameView`` over ``leagues.games.play_game``), with a ``PoseRecorder`` in place of the pygame
viewer: instead of rendering each step it keeps the pose of every geom (position and unit
quaternion, float32) and what the HUD shows. ``replay_page`` then writes one HTML file with the
data inline (base64 of little-endian Float32Arrays) and a WebGL player of our own
(``arena/replay_player.js``): timeline, play/pause, speed, an orbit camera (drag to orbit, wheel
to zoom) and the HUD. The page loads nothing from anywhere else.

The page's data (``decode_page`` reads it back) is a JSON object:

- ``geoms``: one entry per drawn geom, ``type`` (plane, sphere, capsule, ellipsoid, cylinder,
  box), ``size`` (MuJoCo's), ``rgba`` and either ``pose`` (a static geom: x, y, z, qw, qx, qy, qz)
  or ``slot`` (its index among the moving geoms).
- ``poses``: frames x moving geoms x 7 float32 (x, y, z, qw, qx, qy, qz), frame k being the state
  after step k + 1, as the viewer shows it.
- ``returns`` and ``rewards``: frames x 2 float32 (sides A, B); ``terms``: frames x 2 x terms.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from envs.robosumo.scene import PLAYER_RGBA

FORMAT = 1  # version of the page's data layout
PLAYER_JS = Path(__file__).with_name("replay_player.js")
# MuJoCo geom type -> the name the player draws it by (meshes and height fields are not drawn)
GEOM_TYPES = {int(getattr(mujoco.mjtGeom, f"mjGEOM_{name.upper()}")): name
              for name in ("plane", "sphere", "capsule", "ellipsoid", "cylinder", "box")}
VISIBLE_GROUPS = 3  # MuJoCo's viewers show geom groups 0, 1 and 2 by default
_DATA_RE = re.compile(r'<script type="application/json" id="replay-data">(.*?)</script>', re.S)


def check_html_target(path: Path) -> Path:
    """Refuse an ``--html`` path that cannot be written, before any game is replayed.

    Raises:
        ValueError: a directory, a name without .html/.htm, or a folder that does not exist.
    """
    if path.is_dir():
        raise ValueError(f"--html: {path} is a directory; give a file name such as "
                         f"{path / 'replay.html'}")
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--html: {path} must name an .html file")
    if not path.parent.is_dir():
        raise ValueError(f"--html: no directory {path.parent} to write {path.name} into")
    return path


def _geom_colour(model: mujoco.MjModel, g: int) -> list[float]:
    """The geom's colour as MuJoCo draws it: its material's (times the mean of the material's
    texture) where it has one, else its own rgba."""
    mat = int(model.geom_matid[g])
    if mat < 0:
        return [float(c) for c in model.geom_rgba[g]]
    rgba = model.mat_rgba[mat].astype(float)
    tex = int(model.mat_texid[mat, int(mujoco.mjtTextureRole.mjTEXROLE_RGB)])
    if tex >= 0 and model.tex_nchannel[tex] >= 3:
        adr, n = int(model.tex_adr[tex]), int(model.tex_nchannel[tex])
        size = int(model.tex_width[tex] * model.tex_height[tex] * n)
        texels = model.tex_data[adr:adr + size].reshape(-1, n)[:, :3]
        rgba[:3] *= texels.mean(0) / 255.0
    return [float(c) for c in rgba]


def scene_geoms(model: mujoco.MjModel) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The drawn geoms of a model and the ids of the moving ones (in slot order).

    A geom is drawn when its type is one of ``GEOM_TYPES``, its group is visible and it is not
    transparent; geoms of the world body are static and keep the pose of the model.
    """
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    geoms, moving = [], []
    for g in range(model.ngeom):
        kind = GEOM_TYPES.get(int(model.geom_type[g]))
        if kind is None or model.geom_group[g] >= VISIBLE_GROUPS or model.geom_rgba[g, 3] == 0:
            continue
        entry: dict[str, Any] = {"name": model.geom(g).name, "type": kind,
                                 "size": [float(s) for s in model.geom_size[g]],
                                 "rgba": _geom_colour(model, g)}
        if model.geom_bodyid[g] == 0:
            entry["pose"] = [float(v) for v in _poses(data, np.array([g]))[0]]
        else:
            entry["slot"] = len(moving)
            moving.append(g)
        geoms.append(entry)
    return geoms, np.array(moving, dtype=int)


def _poses(data: mujoco.MjData, geoms: np.ndarray) -> np.ndarray:
    """Position and unit quaternion (w, x, y, z) of ``geoms``: len(geoms) x 7 float64."""
    out = np.empty((len(geoms), 7))
    out[:, :3] = data.geom_xpos[geoms]
    for k, g in enumerate(geoms):
        mujoco.mju_mat2Quat(out[k, 3:], data.geom_xmat[g])
    return out


@dataclasses.dataclass
class EpisodeFrames:
    """What was recorded of one episode: the scene once, then a pose and the HUD per step.

    Attributes:
        round: the round, from 0; episode: the episode in the round, from 0.
        hud: the HUD's fixed part (names, bodies, versions, A's slot, counts, score before).
        geoms: ``scene_geoms``' description; moving: ids of the moving geoms.
        torsos: slots of the two players' torso geoms (the camera follows them).
        poses: one moving-geoms x 7 array per step.
        returns, rewards: (A, B) per step; terms: the reward terms' names, values per step.
        end: the HUD after the last step (score, rounds score, message).
    """

    round: int
    episode: int
    hud: dict[str, Any]
    geoms: list[dict[str, Any]]
    moving: np.ndarray
    torsos: tuple[int, int]
    poses: list[np.ndarray] = dataclasses.field(default_factory=list)
    returns: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    rewards: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    term_names: tuple[str, ...] = ()
    terms: list[np.ndarray] = dataclasses.field(default_factory=list)
    end: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Steps recorded (frames of the page)."""
        return len(self.poses)


def _torso_slots(model: mujoco.MjModel, moving: np.ndarray) -> tuple[int, int]:
    slots = []
    for player in ("player_0", "player_1"):
        body = model.body(f"{player}/torso").id
        slots.append(int(np.flatnonzero(model.geom_bodyid[moving] == body)[0]))
    return slots[0], slots[1]


class PoseRecorder:
    """Stands in for the viewer of ``arena.watch.GameView``: records each shown step instead of
    drawing it (no window, no rendering), one ``EpisodeFrames`` per episode shown.

    ``GameView`` appends every shown step to the viewer's ``timeline`` and then calls
    ``present``; here the timeline records each step as it is appended (the state after the
    step, as ``arena.timeline.Snapshot`` holds it) and ``present`` has nothing to show. The
    recorded poses are forward kinematics of the step's ``qpos`` in a scratch ``MjData``, so the
    env's data is never touched.
    """

    realtime = False

    def __init__(self) -> None:
        from arena.viewer import ViewState

        self.state = ViewState()
        self.episodes: dict[tuple[int, int], EpisodeFrames] = {}
        self._scratch: dict[int, tuple[mujoco.MjModel, mujoco.MjData]] = {}
        self.timeline = _RecordingTimeline(self)

    def _start(self, model: mujoco.MjModel, hud: Any) -> EpisodeFrames:
        geoms, moving = scene_geoms(model)
        fixed = {"names": list(hud.names), "bodies": list(hud.bodies),
                 "versions": list(hud.versions), "a_player": hud.a_player,
                 "round": hud.round, "rounds": hud.rounds, "episode": hud.episode,
                 "episodes": hud.episodes, "max_steps": hud.max_steps,
                 "score": list(hud.score), "rounds_score": list(hud.rounds_score),
                 "colors": [list(c) for c in PLAYER_RGBA]}
        names = tuple(sorted({k for t in hud.terms.values() for k in t}))
        return EpisodeFrames(hud.round, hud.episode, fixed, geoms, moving,
                             _torso_slots(model, moving), term_names=names)

    def record(self, snapshot: Any) -> None:
        """Record a step: the state after it (``snapshot.qpos``) and its HUD."""
        hud, model = snapshot.hud, snapshot.model
        key = (hud.round, hud.episode)
        frames = self.episodes.get(key)
        if frames is None:
            frames = self.episodes[key] = self._start(model, hud)
        known, scratch = self._scratch.get(id(model), (None, None))
        if known is not model:
            scratch = mujoco.MjData(model)
            self._scratch[id(model)] = (model, scratch)
        scratch.qpos[:] = snapshot.qpos
        mujoco.mj_kinematics(model, scratch)
        frames.poses.append(_poses(scratch, frames.moving).astype(np.float32))
        frames.returns.append((hud.returns["a"], hud.returns["b"]))
        frames.rewards.append(tuple(sum(hud.terms.get(s, {}).values()) for s in ("a", "b")))
        frames.terms.append(np.array([[hud.terms.get(s, {}).get(n, 0.0) for n in frames.term_names]
                                      for s in ("a", "b")], dtype=np.float32))
        frames.end = {"score": list(hud.score), "rounds_score": list(hud.rounds_score),
                      "message": hud.message.split(";")[0]}

    def present(self, on_shown: Callable[[], None] | None = None, live: bool = True) -> None:
        """Nothing to show: every step was recorded as it came (the viewer's ``present``)."""
        if on_shown is not None:
            on_shown()

    def forget_scenes(self) -> None:
        """Forget the scratch data of the game's envs."""
        self._scratch.clear()


class _RecordingTimeline:
    """The recorder's timeline: records each appended step, keeps none of them."""

    def __init__(self, recorder: PoseRecorder) -> None:
        self.recorder = recorder
        self.complete = False

    def clear(self, length: int | None = None) -> None:
        self.complete = False

    def append(self, snapshot: Any) -> int:
        self.recorder.record(snapshot)
        return 0


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def page_data(frames: EpisodeFrames, about: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object the page plays (see the module docstring); ``about`` adds what the HUD
    says of the game (its id, league file, the stored outcome)."""
    if not frames.poses:
        raise ValueError("the episode has no recorded steps")
    return {"format": FORMAT, "dt": 0.05, "frames": frames.steps, "moving": len(frames.moving),
            "hud": {**frames.hud, **about, "end": frames.end, "terms": list(frames.term_names)},
            "geoms": frames.geoms, "torsos": list(frames.torsos),
            "poses": _b64(np.stack(frames.poses)), "returns": _b64(np.array(frames.returns)),
            "rewards": _b64(np.array(frames.rewards)), "terms": _b64(np.stack(frames.terms))}


def replay_page(frames: EpisodeFrames, about: Mapping[str, Any], title: str) -> str:
    """The self-contained HTML page that plays ``frames``."""
    # "<" escaped so that no name can close the script element the JSON lives in
    data = json.dumps(page_data(frames, about), separators=(",", ":")).replace("<", "\\u003c")
    script = PLAYER_JS.read_text()
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title></head><body>\n"
            f'<script type="application/json" id="replay-data">{data}</script>\n'
            f"<script>\n{script}</script>\n</body></html>\n")


def write_page(path: Path, frames: EpisodeFrames, about: Mapping[str, Any], title: str) -> Path:
    """Write ``replay_page`` to ``path``; the path."""
    path.write_text(replay_page(frames, about, title), encoding="utf-8")
    return path


def decode_page(text: str) -> dict[str, Any]:
    """The data of a replay page, its arrays decoded (``poses``: frames x moving x 7 float32,
    ``returns``/``rewards``: frames x 2, ``terms``: frames x 2 x terms).

    Raises:
        ValueError: if the text is no replay page.
    """
    found = _DATA_RE.search(text)
    if found is None:
        raise ValueError("not a replay page: no replay data in it")
    data = json.loads(found.group(1))
    n, m, t = data["frames"], data["moving"], len(data["hud"]["terms"])
    shapes = {"poses": (n, m, 7), "returns": (n, 2), "rewards": (n, 2), "terms": (n, 2, t)}
    for key, shape in shapes.items():
        data[key] = np.frombuffer(base64.b64decode(data[key]), dtype="<f4").reshape(shape)
    return data


PAGE_NAME = "game-{game}-round-{round}-episode-{episode}.html"  # in a report's replays/


def page_name(game: int, round_index: int, episode: int) -> str:
    """The file name of an episode's page in a report's ``replays/`` (0-based round, episode)."""
    return PAGE_NAME.format(game=game, round=round_index + 1, episode=episode + 1)
