"""The pygame viewer, headless: frames, keys (synthesized events), recording, watch and replay."""

from __future__ import annotations

import numpy as np
import pygame
import pytest
from PIL import Image

from arena.cli import main
from arena.match import resolve_pair
from arena.timeline import Snapshot
from arena.view_settings import CAMERAS, FOLLOW
from arena.viewer import Hud, Viewer, ViewerQuit, ViewerRestart, apply_event
from arena.watch import GameView
from envs.robosumo import parallel_env
from leagues.games import GameConfig, GameSpec


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0)


@pytest.fixture
def viewer():
    v = Viewer(160, 120)
    yield v
    v.close()


def test_frames_are_not_blank_and_change_from_step_to_step(viewer):
    env = parallel_env(("ant", "bug"))
    env.reset(seed=0)
    hud = Hud(("a", "b"), ("ant", "bug"))
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        env.step({p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.agents})
        frames.append(viewer.show(env, hud).astype(int))
    env.close()
    assert frames[0].shape == (120, 160, 3)
    for frame in frames:
        assert frame.std() > 10  # not a blank screen
    assert np.abs(frames[1] - frames[0]).mean() > 0.05
    assert np.abs(frames[2] - frames[1]).mean() > 0.05
    assert viewer.frames == 3


def test_keys_change_the_view_state():
    from arena.viewer import ViewState

    state = ViewState()
    apply_event(state, key(pygame.K_SPACE))
    assert state.paused
    apply_event(state, key(pygame.K_SPACE))
    assert not state.paused
    apply_event(state, key(pygame.K_PERIOD))
    assert state.paused and state.step_pending
    speed = state.speed
    apply_event(state, key(pygame.K_PLUS))
    assert state.speed == 2 * speed
    apply_event(state, key(pygame.K_MINUS))
    apply_event(state, key(pygame.K_MINUS))
    assert state.speed == speed / 2
    seen = [state.camera]
    for _ in CAMERAS:
        apply_event(state, key(pygame.K_c))
        seen.append(state.camera)
    assert seen == [*CAMERAS, CAMERAS[0]]
    for k in (pygame.K_COMMA, pygame.K_LEFT):
        state.paused, state.step_back = False, False
        apply_event(state, key(k))
        assert state.paused and state.step_back
    apply_event(state, key(pygame.K_HOME))
    assert state.jump == "start"
    apply_event(state, key(pygame.K_END))
    assert state.jump == "end"
    follows = [state.follow]
    for _ in FOLLOW:
        apply_event(state, key(pygame.K_f))
        follows.append(state.follow)
    assert follows == [*FOLLOW, FOLLOW[0]]
    assert not state.plot
    apply_event(state, key(pygame.K_p))
    assert state.plot
    apply_event(state, pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(5, 5)))
    azimuth = state.orbit[0]
    apply_event(state, pygame.event.Event(pygame.MOUSEMOTION, rel=(20, 0), pos=(25, 5),
                                          buttons=(1, 0, 0)))
    assert state.camera == "orbit" and state.orbit[0] != azimuth
    apply_event(state, key(pygame.K_r))
    assert state.restart
    apply_event(state, key(pygame.K_q))
    assert state.quit


def test_pause_blocks_until_a_single_step_and_stays_paused(viewer, monkeypatch):
    env = parallel_env(("ant", "ant"))
    env.reset(seed=0)
    viewer.timeline.append(Snapshot.of(env, Hud(("a", "b"), ("ant", "ant"))))
    env.close()
    pygame.event.clear()
    viewer.state.paused = True
    redraws = []
    show = viewer.show_snapshot

    def show_and_note(snapshot, record=True):
        redraws.append(record)
        if redraws == [True, False, False, False]:  # paused: it redraws until the key comes
            pygame.event.post(key(pygame.K_PERIOD))
        return show(snapshot, record)

    monkeypatch.setattr(viewer, "show_snapshot", show_and_note)
    viewer.present()  # returns on the key: the newest step is shown, the game may go on
    assert redraws == [True, False, False, False]  # shown once, redrawn while paused
    assert viewer.state.paused and not viewer.state.step_pending
    assert viewer.frames == 1
    pygame.event.post(key(pygame.K_SPACE))
    viewer.present()
    assert not viewer.state.paused


def test_quit_and_restart_keys_raise(viewer):
    pygame.event.post(key(pygame.K_r))
    with pytest.raises(ViewerRestart):
        viewer.pump()
    pygame.event.post(key(pygame.K_ESCAPE))
    with pytest.raises(ViewerQuit):
        viewer.pump()


def test_restart_plays_the_game_again_from_its_start():
    shown = []

    def on_frame(frame):
        shown.append(frame)
        if len(shown) == 4:
            pygame.event.post(key(pygame.K_r))

    viewer = Viewer(96, 72, on_frame=on_frame)
    a, b = resolve_pair("random", "idle", ["ant", "ant"])
    view = GameView(viewer, GameSpec(a, b, GameConfig(rounds=1, episodes=1, max_steps=50), 0),
                    max_steps=6)
    try:
        assert view.play() is None  # stopped by max_steps
    finally:
        viewer.close()
    assert len(shown) == 4 + 6
    assert np.array_equal(shown[0], shown[4])  # same seed: the restart shows the same first frame


def test_watch_records_a_gif_headless(tmp_path, capsys):
    gif, shot = tmp_path / "bout.gif", tmp_path / "shot.png"
    assert main(["watch", "random", "idle", "--bodies", "bug", "ant", "--stop-after", "8",
                 "--size", "160", "120", "--record", str(gif), "--screenshot", str(shot)]) == 0
    assert "recorded 8 frames" in capsys.readouterr().out
    with Image.open(gif) as image:
        assert image.n_frames == 8 and image.size == (160, 120)
    with Image.open(shot) as image:
        assert image.size == (160, 120)


def test_watch_records_png_frames_and_shows_lineage_versions(zoo, tmp_path):
    frames = tmp_path / "frames"
    assert main(["watch", "zoo:selfplay-ant@1", "zoo:selfplay-ant", "--opponent-lineage",
                 "--rounds", "2", "--episodes", "1", "--max-steps", "5", "--size", "160",
                 "120", "--record", str(frames), "--record-every", "2"]) == 0
    assert len(list(frames.glob("frame_*.png"))) == 5  # 10 steps, every second one


def test_replay_shows_the_stored_episode_exactly(empty_zoo, tmp_path, capsys):
    db = tmp_path / "t.sqlite"
    assert main(["tournament", "random,body=ant", "idle,body=bug", "--db", str(db),
                 "--rounds", "2", "--episodes", "2", "--max-steps", "40", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["replay", "--db", str(db), "--game", "1", "--round", "2", "--episode", "2",
                 "--size", "96", "72"]) == 0
    out = capsys.readouterr().out
    stored = out.split("stored ")[1].split("\n")[0]
    assert f"replayed {stored}" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["replay", "--db", "nothing.sqlite", "--game", "1"], "no league file at nothing.sqlite"),
    (["watch", "random", "ghost", "--bodies", "ant", "ant"], "unknown agent 'ghost'"),
    (["watch", "random", "idle", "--bodies", "ant", "ant", "--record", "x.avi"],
     "--record must name FILE.mp4 (video), FILE.gif (animated GIF) or a directory"),
    (["watch", "random", "idle", "--bodies", "ant", "ant", "--stop-after", "0"], "--stop-after"),
])
def test_watch_and_replay_errors(argv, message, capsys, empty_zoo):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_replay_refuses_a_game_or_round_that_is_not_there(tmp_path, capsys):
    db = tmp_path / "t.sqlite"
    main(["tournament", "random,body=ant", "idle,body=ant", "--db", str(db), "--rounds", "1",
          "--episodes", "1", "--max-steps", "10", "--no-progress"])
    for argv, message in ((["--game", "7"], "no game 7"),
                          (["--game", "1", "--round", "3"], "rounds 1..1")):
        with pytest.raises(SystemExit):
            main(["replay", "--db", str(db), *argv])
        assert message in capsys.readouterr().err


def test_the_hud_and_the_reward_terms_can_be_hidden():
    viewer = Viewer(320, 240)
    env = parallel_env(("ant", "ant"))
    env.reset(seed=0)
    hud = Hud(("a", "b"), ("ant", "ant"))
    hud.terms = {"a": {"reward_draw": -1000.0, "reward_ctrl": -0.75},
                 "b": {"reward_draw": -1000.0, "reward_ctrl": -0.5}}
    scene = viewer.render_scene(env).astype(int)
    full = viewer.show(env, hud).astype(int)
    apply_event(viewer.state, key(pygame.K_t))
    no_terms = viewer.show(env, hud).astype(int)
    apply_event(viewer.state, key(pygame.K_h))
    bare = viewer.show(env, hud).astype(int)
    viewer.close()
    env.close()
    np.testing.assert_array_equal(bare, scene)  # h: the scene alone
    # t hides the terms panel at the lower right only; the top bar stays
    changed = np.abs(full - no_terms).sum(-1) > 0
    rows, cols = np.nonzero(changed)
    assert changed.any() and rows.min() > 240 // 3 and cols.min() > 320 // 4
    assert cols.max() > 320 - 12  # against the right edge, away from the ring's middle
    assert np.array_equal(full[:20], no_terms[:20])
