"""The viewer's timeline, follow camera, reward plot and MP4 recording, headless."""

from __future__ import annotations

import io

import imageio_ffmpeg
import numpy as np
import pygame
import pytest
from PIL import Image

from arena.cli import main
from arena.match import resolve_pair
from arena.recording import Recorder, megabytes
from arena.timeline import Snapshot, Timeline
from arena.viewer import Hud, Viewer, apply_event
from arena.watch import GameView
from envs.robosumo import parallel_env
from leagues.games import GameConfig, GameSpec


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0)


def click(pos: tuple[int, int]) -> list[pygame.event.Event]:
    return [pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=pos),
            pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=pos)]


def played_timeline(steps: int, a_player: str = "player_0", seed: int = 3
                    ) -> tuple[Timeline, object]:
    """A timeline of ``steps`` random steps of ant vs bug (and the env, still open)."""
    env = parallel_env(("ant", "bug"))
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    timeline = Timeline(100)
    hud = Hud(("a", "b"), ("ant", "bug"), a_player=a_player, max_steps=100)
    for step in range(1, steps + 1):
        *_, infos = env.step(
            {p: rng.uniform(-0.3, 0.3, env.action_space(p).shape) for p in env.agents})
        hud.step = step
        hud.terms = {s: {k: v for k, v in infos[p].items() if k.startswith("reward_")}
                     for s, p in (("a", "player_0"), ("b", "player_1"))}
        timeline.append(Snapshot.of(env, hud))
    return timeline, env


def test_a_snapshot_is_a_copy_and_the_timeline_keeps_each_terms_series():
    timeline, env = played_timeline(5)
    first = timeline.snapshots[0]
    assert not np.array_equal(first.qpos, env.data.qpos)  # the env moved on, the copy did not
    assert [s.hud.step for s in timeline] == [1, 2, 3, 4, 5]
    ctrl = timeline.series[("a", "reward_ctrl")]
    assert ctrl == [s.hud.terms["a"]["reward_ctrl"] for s in timeline] and all(ctrl)
    assert ("a", "reward_win") not in timeline.series  # terminal terms: in the table only
    assert "reward_ctrl" in timeline.plotted_terms()
    assert "reward_attack" not in timeline.plotted_terms()  # weight 0: zero at every step
    assert timeline.length == 100 and timeline.at_fraction(1.0) == 4  # only 5 steps so far
    timeline.complete = True
    assert timeline.length == 5 and timeline.at_fraction(0.5) == 2
    with pytest.raises(RuntimeError):
        timeline.append(first)
    env.close()


def run_watch(script: dict[int, list[pygame.event.Event]], hud: bool = False):
    """Watch random vs idle (one 40-step episode), posting ``script[n]`` after the n-th frame;
    the frames shown, the game's outcome and the live steps played."""
    frames: list[np.ndarray] = []
    viewer = Viewer(96, 72)
    viewer.state.hud = hud

    def on_frame(frame: np.ndarray) -> None:
        frames.append(frame)
        for event in script.get(len(frames), ()):
            pygame.event.post(event)

    viewer.on_frame = on_frame
    a, b = resolve_pair("random", "idle", ["ant", "ant"])
    view = GameView(viewer, GameSpec(a, b, GameConfig(rounds=1, episodes=1, max_steps=40), 0))
    try:
        result = view.play()
    finally:
        viewer.close()
    return frames, result, view.hud.step


def test_stepping_back_and_forth_shows_the_same_frames_and_leaves_the_game_alone():
    plain, result, steps = run_watch({})
    back, fwd = key(pygame.K_LEFT), key(pygame.K_PERIOD)
    script = {6: [back, back, key(pygame.K_COMMA), fwd, key(pygame.K_RIGHT), fwd,
                  key(pygame.K_SPACE)]}
    scrubbed, scrubbed_result, scrubbed_steps = run_watch(script)
    assert len(plain) == steps > 12
    shown = [5, 4, 3, 4, 5, 6]  # steps (from 1) shown after the 6th: back 3, forward 3
    assert len(scrubbed) == len(plain) + len(shown)
    for frame, step in zip(scrubbed[6:12], shown, strict=True):
        np.testing.assert_array_equal(frame, plain[step - 1])
    # the live game went on from where it was: the same frames, the same result
    for a, b in zip(scrubbed[12:], plain[6:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert scrubbed_result == result and scrubbed_steps == steps
    assert not np.array_equal(plain[2], plain[5])  # the frames compared do differ


def test_home_end_and_the_timeline_bar_move_the_cursor(monkeypatch):
    viewer = Viewer(320, 240)
    timeline, env = played_timeline(10)
    timeline.complete = True
    viewer.timeline = timeline
    viewer.state.paused = True
    seen: list[int] = []
    show = viewer.show_snapshot

    def show_and_note(snapshot, record=True):
        if record:
            seen.append(viewer.timeline.cursor)
        return show(snapshot, record)

    monkeypatch.setattr(viewer, "show_snapshot", show_and_note)
    viewer.timeline.cursor = 4
    viewer.show_snapshot(timeline.current, record=False)
    left, top, width, height = viewer.state.bar
    for event in (key(pygame.K_HOME), key(pygame.K_END), *click((left, top + height // 2)),
                  *click((left + round((width - 1) * 4 / 9), top + height // 2)),
                  *click((left + width + 40, top + height // 2))):  # beside the bar: orbit
        pygame.event.post(event)
    viewer.pump()
    assert seen == [0, 9, 0, 4]  # home, end, the bar's left end, 4/9 along it (of 10 steps)
    assert viewer.state.paused and not viewer.state.dragging
    env.close()
    viewer.close()


def test_scrubbing_a_replay_keeps_its_checked_outcome(empty_zoo, tmp_path, capsys, monkeypatch):
    db = tmp_path / "t.sqlite"
    assert main(["tournament", "random,body=ant", "idle,body=bug", "--db", str(db),
                 "--rounds", "1", "--episodes", "2", "--max-steps", "30", "--no-progress"]) == 0
    capsys.readouterr()
    shown: list[int] = []
    show = Viewer.show_snapshot

    def scrub(self, snapshot, record=True):
        frame = show(self, snapshot, record)
        if record:
            shown.append(self.timeline.cursor)
            if len(shown) == 5:  # look back, jump to the start, click the bar's end, play
                left, top, width, height = self.state.bar
                for event in (key(pygame.K_LEFT), key(pygame.K_LEFT), key(pygame.K_HOME),
                              *click((left + width - 1, top + height // 2)),
                              key(pygame.K_SPACE)):
                    pygame.event.post(event)
        return frame

    monkeypatch.setattr(Viewer, "show_snapshot", scrub)
    assert main(["replay", "--db", str(db), "--game", "1", "--round", "1", "--episode", "2",
                 "--size", "160", "120"]) == 0
    out = capsys.readouterr().out
    stored = out.split("stored ")[1].split("\n")[0]
    assert f"replayed {stored}" in out
    steps = int(stored.split(" after ")[1].split()[0])
    # the first five steps, back two, the start, the end; playing on at the end ends the replay
    assert steps > 5 and shown == [0, 1, 2, 3, 4, 3, 2, 0, steps - 1]


def test_the_follow_camera_keeps_the_followed_torso_in_the_middle():
    viewer = Viewer(160, 120)
    timeline, env = played_timeline(8, a_player="player_1")
    snapshot = timeline.snapshots[-1]
    centre = {}
    for follow, player in (("A", 1), ("B", 0)):
        apply_event(viewer.state, key(pygame.K_f))
        assert viewer.state.follow == follow
        image = viewer.render_state(snapshot).astype(int)
        np.testing.assert_array_equal(viewer.camera.lookat, env.torso_xyz(player))
        centre[follow] = image[55:65, 75:85].reshape(-1, 3).mean(0)
    # A is player_1 (teal) in this episode, B player_0 (red): the middle shows the torso followed
    assert centre["A"][1] > centre["A"][0] + 20 and centre["B"][0] > centre["B"][1] + 20
    # dragging orbits around the followed robot and keeps it in the middle
    azimuth = viewer.camera.azimuth
    apply_event(viewer.state, pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)))
    apply_event(viewer.state, pygame.event.Event(pygame.MOUSEMOTION, rel=(30, 0), pos=(35, 5),
                                                 buttons=(1, 0, 0)))
    viewer.render_state(snapshot)
    assert viewer.camera.azimuth != azimuth and viewer.state.camera == "tracking"
    np.testing.assert_array_equal(viewer.camera.lookat, env.torso_xyz(0))
    apply_event(viewer.state, key(pygame.K_f))
    assert viewer.state.follow == "free"
    viewer.render_state(snapshot)
    midpoint = (env.torso_xyz(0) + env.torso_xyz(1)) / 2
    np.testing.assert_allclose(viewer.camera.lookat[:2], midpoint[:2])  # tracking the pair
    env.close()
    viewer.close()


def test_the_reward_plot_toggles_beside_the_terms_table():
    viewer = Viewer(640, 480)
    timeline, env = played_timeline(30)
    viewer.timeline = timeline
    timeline.cursor = 20
    snapshot = timeline.current
    base = viewer.show_snapshot(snapshot).astype(int)
    apply_event(viewer.state, key(pygame.K_p))
    plotted = viewer.show_snapshot(snapshot).astype(int)
    apply_event(viewer.state, key(pygame.K_p))
    again = viewer.show_snapshot(snapshot).astype(int)
    apply_event(viewer.state, key(pygame.K_t))
    no_terms = viewer.show_snapshot(snapshot).astype(int)
    env.close()
    viewer.close()
    np.testing.assert_array_equal(again, base)  # p twice: as before
    plot = np.abs(plotted - base).sum(-1) > 0
    rows, cols = np.nonzero(plot)
    assert plot.sum() > 2000  # a panel, not a stray pixel
    assert rows.min() > 480 // 2 and cols.min() < 20  # lower left
    terms_cols = np.nonzero((np.abs(base - no_terms).sum(-1) > 0).any(0))[0]
    assert cols.max() < terms_cols.min()  # beside the terms table, not over it


def test_an_mp4_recording_decodes_with_every_frame(tmp_path, capsys):
    mp4, shot = tmp_path / "bout.mp4", tmp_path / "last.png"
    assert main(["watch", "random", "idle", "--bodies", "bug", "ant", "--stop-after", "12",
                 "--size", "160", "120", "--record", str(mp4), "--screenshot", str(shot)]) == 0
    captured = capsys.readouterr()
    assert f"recorded 12 frames to {mp4} ({megabytes(mp4.stat().st_size)})" in captured.out
    assert (f"recording every frame to {mp4} (MP4 video, H.264, 160x120): at most 12 frames"
            in captured.err)
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8).reshape(120, 160, 3) for f in reader]
    assert meta["size"] == (160, 120) and meta["fps"] == 20 and len(frames) == 12
    last = np.asarray(Image.open(shot)).astype(int)
    assert np.abs(frames[-1].astype(int) - last).mean() < 6  # the video shows what was shown


def test_a_recorder_pads_odd_sizes_and_reports_its_size(tmp_path):
    rng = np.random.default_rng(0)
    log = io.StringIO()
    recorder = Recorder(tmp_path / "odd.mp4", every=2, expected=3, progress=True, file=log)
    for _ in range(6):
        recorder(rng.integers(0, 255, (33, 65, 3), dtype=np.uint8))
    assert recorder.close() == tmp_path / "odd.mp4" and recorder.written == 3
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "odd.mp4"))
    assert next(reader)["size"] == (66, 34)
    assert sum(1 for _ in reader) == 3
    size = (tmp_path / "odd.mp4").stat().st_size
    assert f"recording {tmp_path / 'odd.mp4'}: 3/3 frames" in log.getvalue()
    assert log.getvalue().rstrip().endswith(f"; size {megabytes(size)}")  # the final line
    with pytest.raises(ValueError, match=r"--record must name FILE\.mp4"):
        Recorder(tmp_path / "x.webm")


def test_a_gif_size_estimate_is_near_the_written_size(tmp_path):
    timeline, env = played_timeline(40)
    viewer = Viewer(160, 120)
    recorder = Recorder(tmp_path / "clip.gif", expected=40)
    for snapshot in timeline:
        recorder(viewer.show_snapshot(snapshot))
    estimate = recorder.bytes_so_far()
    recorder.close()
    viewer.close()
    env.close()
    written = (tmp_path / "clip.gif").stat().st_size
    assert 0.5 * written < estimate < 2 * written


def test_a_person_watching_a_replay_is_held_at_its_end_and_space_plays_it_again():
    from arena.viewer import ViewerQuit

    viewer = Viewer(96, 72, realtime=True)
    viewer.state.speed_index = 5  # 8x real time
    timeline, env = played_timeline(6)
    timeline.complete = True
    viewer.timeline = timeline
    shown: list[int] = []

    def on_shown() -> None:
        shown.append(viewer.timeline.cursor)
        if len(shown) == 6:  # the end: held there (paused) until space comes
            pygame.time.set_timer(key(pygame.K_SPACE), 300, loops=1)
        if len(shown) == 12:
            pygame.event.post(key(pygame.K_q))

    pygame.event.clear()
    with pytest.raises(ViewerQuit):
        viewer.present(on_shown, live=False)
    env.close()
    viewer.close()
    assert shown == [*range(6), *range(6)]
