"""``arena replay --html``: a self-contained page whose poses are the physics', and the report's
links to such pages; in a headless Chromium where one is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from arena.cli import main
from arena.html_replay import decode_page, page_name
from leagues.games import play_game
from leagues.storage import LeagueDB

ROUNDS, EPISODES, STEPS = 2, 2, 40
ONLY = (1, 0)  # round 2, episode 1 (0-based): the replay plays round 1 off screen first


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A league file with one game: random ant against idle bug, 2 rounds x 2 episodes."""
    db = tmp_path_factory.mktemp("league") / "t.sqlite"
    assert main(["tournament", "random,body=ant", "idle,body=bug", "--db", str(db),
                 "--rounds", str(ROUNDS), "--episodes", str(EPISODES), "--max-steps",
                 str(STEPS), "--no-progress"]) == 0
    return db


@pytest.fixture(scope="module")
def page(league: Path) -> Path:
    """The page of round 2, episode 1 of game 1."""
    out = league.parent / "replay.html"
    assert main(["replay", "--db", str(league), "--game", "1", "--round", str(ONLY[0] + 1),
                 "--episode", str(ONLY[1] + 1), "--html", str(out)]) == 0
    return out


def stored_episode(league: Path) -> dict:
    with LeagueDB(league) as db:
        return dict(db.episode(1, *ONLY))


def test_the_page_is_self_contained(page):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:", text)  # no address at all, let alone a src or href
    assert not re.search(r"<script[^>]*\bsrc\s*=", text)  # every script inline
    assert not re.search(r"<link\b|@import|url\(|<iframe|<img", text)
    assert text.count("<script") == 2  # the data and the player


def test_the_page_holds_every_step_and_the_agents(page, league):
    data = decode_page(page.read_text())
    stored = stored_episode(league)
    assert data["frames"] == stored["steps"] == data["poses"].shape[0]
    assert data["hud"]["names"] == ["random", "idle"]
    assert data["hud"]["bodies"] == ["ant", "bug"]
    assert (data["hud"]["round"], data["hud"]["episode"]) == ONLY
    assert data["hud"]["a_player"] == stored["a_player"]
    # the HUD's running returns end at what the league stored for the episode
    np.testing.assert_allclose(data["returns"][-1], (stored["return_a"], stored["return_b"]),
                               rtol=1e-5)
    # the step rewards add up to the returns
    np.testing.assert_allclose(data["rewards"].sum(0), data["returns"][-1], rtol=1e-4)
    assert "<title>game 1 round 2 episode 1: random vs idle</title>" in page.read_text()


def test_the_poses_are_those_of_the_physics(page, league):
    """Play the game again with a plain observer, keep qpos after every step of the episode,
    and compare forward kinematics of it with the page's decoded frames."""
    with LeagueDB(league) as db:
        spec = db.game_spec(1)
    qpos, models = [], []

    def observe(event) -> None:
        if (event.round, event.episode) == ONLY:
            qpos.append(event.env.data.qpos.copy())
            models.append(event.env.model)

    play_game(spec, observer=observe)
    data = decode_page(page.read_text())
    assert len(qpos) == data["frames"]
    model = models[0]
    moving = {g["slot"]: model.geom(g["name"]).id for g in data["geoms"] if "slot" in g}
    assert sorted(moving) == list(range(data["moving"]))
    # every geom of both robots moves; the floor, tatami and border are static
    assert len(moving) == sum(model.geom_bodyid > 0)
    ids = np.array([moving[s] for s in range(len(moving))])
    scratch = mujoco.MjData(model)
    for k in (0, len(qpos) // 2, len(qpos) - 1):
        scratch.qpos[:] = qpos[k]
        mujoco.mj_kinematics(model, scratch)
        frame = data["poses"][k]
        np.testing.assert_allclose(frame[:, :3], scratch.geom_xpos[ids], atol=1e-5)
        for slot, g in enumerate(ids):
            mat = np.empty(9)
            mujoco.mju_quat2Mat(mat, frame[slot, 3:].astype(float))
            np.testing.assert_allclose(mat, scratch.geom_xmat[g], atol=1e-5)
    assert not np.allclose(data["poses"][0], data["poses"][-1])  # the robots moved


def test_static_geoms_and_colours_come_from_the_model(page):
    data = decode_page(page.read_text())
    by_name = {g["name"]: g for g in data["geoms"]}
    assert by_name["floor"]["type"] == "plane" and by_name["tatami"]["type"] == "box"
    assert by_name["tatami"]["pose"][:3] == pytest.approx([0, 0, 0.25])
    assert {g["type"] for g in data["geoms"]} >= {"plane", "box", "cylinder", "capsule"}
    # the players' geoms carry their slot colours
    colours = {tuple(g["rgba"]) for g in data["geoms"] if "slot" in g}
    assert colours == {tuple(c) for c in data["hud"]["colors"]}


@pytest.mark.parametrize(("html", "extra", "message"), [
    ("missing/replay.html", [], "--html: no directory"),
    (".", [], "is a directory"),
    ("replay.txt", [], "must name an .html file"),
    ("replay.html", ["--record", "x.gif"], "--html: cannot be combined with --record"),
])
def test_bad_html_targets_are_refused_in_one_line(league, tmp_path, monkeypatch, capsys, html,
                                                  extra, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["replay", "--db", str(league), "--game", "1", "--html", html, *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert "--html" in err
    assert not list(tmp_path.rglob("*.html"))


def test_a_replay_that_differs_from_the_stored_episode_writes_no_page(league, tmp_path, capsys):
    changed = tmp_path / "changed.sqlite"
    shutil.copy(league, changed)
    with LeagueDB(changed) as db, db.transaction() as conn:
        conn.execute("UPDATE episodes SET steps = steps - 1 WHERE game = 1 AND round = ? AND "
                     "episode = ?", ONLY)
    out = tmp_path / "replay.html"
    with pytest.raises(SystemExit) as exc:
        main(["replay", "--db", str(changed), "--game", "1", "--round", str(ONLY[0] + 1),
              "--episode", str(ONLY[1] + 1), "--html", str(out)])
    assert exc.value.code == 2
    assert "the replay differs from the stored episode" in capsys.readouterr().err
    assert not out.exists()


def test_the_report_links_the_replays_it_wrote(league, tmp_path):
    out = tmp_path / "report"
    assert main(["report", "--db", str(league), "--out", str(out), "--replays", "1"]) == 0
    pages = sorted((out / "replays").glob("*.html"))
    assert len(pages) == ROUNDS * EPISODES
    report = (out / "report.html").read_text()
    for r in range(ROUNDS):
        for e in range(EPISODES):
            assert f'<a href="replays/{page_name(1, r, e)}">{r + 1}.{e + 1}</a>' in report
    # each page is the episode it is named after
    data = decode_page((out / "replays" / page_name(1, *ONLY)).read_text())
    assert (data["hud"]["round"], data["hud"]["episode"]) == ONLY
    assert data["frames"] == stored_episode(league)["steps"]


def test_without_replays_the_report_gives_the_command(league, tmp_path):
    out = tmp_path / "report"
    assert main(["report", "--db", str(league), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert not (out / "replays").exists()
    assert f"--html {out}/replays/game-G-round-R-episode-E.html" in text
    assert "replays/game-1" not in text  # nothing linked that was not written


# ---------------------------------------------------------------------- in a browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
SIZE = (800, 600)


def find_browser() -> str | None:
    """A Chromium-family browser: $ARENA_TEST_BROWSER, else the first of ``BROWSERS`` on the
    PATH."""
    named = os.environ.get("ARENA_TEST_BROWSER")
    return named if named else next((p for p in map(shutil.which, BROWSERS) if p), None)


def headless(browser: str, url: str, *args: str) -> subprocess.CompletedProcess:
    # software WebGL (SwiftShader): no GPU here
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
               "--enable-unsafe-swiftshader", "--hide-scrollbars", "--no-first-run",
               f"--window-size={SIZE[0]},{SIZE[1]}", "--virtual-time-budget=4000", *args, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(find_browser() is None,
                    reason="no headless browser: install Chromium (e.g. the Debian package "
                           "chromium) or set ARENA_TEST_BROWSER to a Chrome or Chromium binary")
def test_the_page_plays_in_a_headless_browser(page, tmp_path):
    browser = find_browser()
    frames = decode_page(page.read_text())["frames"]
    # a copy that lists every uncaught error and console.error in the DOM, which --dump-dom shows
    probe = tmp_path / "probe.html"
    hook = ("<script>window.__errors=[];addEventListener('error',e=>__errors.push(String("
            "e.message)));const __ce=console.error;console.error=(...a)=>{__errors.push(a.join("
            "' '));__ce(...a)};addEventListener('load',()=>{const p=document.createElement("
            "'pre');p.id='errors';p.textContent=JSON.stringify(__errors);document.body."
            "appendChild(p)})</script>")
    probe.write_text(page.read_text().replace("<body>", "<body>" + hook, 1))
    dom = headless(browser, probe.as_uri() + f"#step={frames}", "--dump-dom").stdout
    errors = re.search(r'<pre id="errors">(.*?)</pre>', dom)
    assert errors is not None, dom[-2000:]
    assert errors.group(1) == "[]"
    assert f"step {frames}/{STEPS}" in dom  # the HUD followed the timeline to the last step
    assert "This browser offers no WebGL" not in dom
    shots = []
    for step in (1, frames):
        shot = tmp_path / f"step-{step}.png"
        headless(browser, page.as_uri() + f"#step={step}", f"--screenshot={shot}")
        with Image.open(shot) as image:
            shots.append(np.asarray(image.convert("RGB")).astype(int))
    first, last = shots
    assert first.shape == last.shape == (SIZE[1], SIZE[0], 3)
    # the arena was drawn: the tatami's colour covers a good part of the picture
    tatami = np.array([0.65, 0.57, 0.31]) * 255
    near = np.abs(first - tatami).max(-1) < 60
    assert near.mean() > 0.05
    # the robots moved between the two positions: the scene (below the HUD, left of the
    # reward terms, above the controls) differs, not only the numbers
    scene = np.zeros(SIZE[::-1], bool)
    scene[100:SIZE[1] - 60] = True
    scene[SIZE[1] // 2:, SIZE[0] * 2 // 3:] = False
    assert (np.abs(first - last).sum(-1) > 30)[scene].mean() > 0.002
