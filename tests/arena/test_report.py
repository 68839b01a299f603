"""``arena report``: the Markdown and HTML report with its plots."""

from __future__ import annotations

import pytest
from PIL import Image

from arena.cli import main
from arena.report import Block, adaptation_curves, to_html, to_markdown


@pytest.fixture
def league(tmp_path, capsys, empty_zoo):
    db = tmp_path / "league.sqlite"
    assert main(["tournament", "random,body=ant", "idle,body=bug", "random,body=spider,name=r2",
                 "--db", str(db), "--rounds", "2", "--episodes", "1", "--max-steps", "30",
                 "--no-progress"]) == 0
    capsys.readouterr()
    return db


def test_report_has_every_section_and_its_plots(league, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", "--db", str(league), "--out", str(out)]) == 0
    assert "report.md" in capsys.readouterr().out
    md = (out / "report.md").read_text()
    for section in ("## Leaderboard", "## Ratings over time", "## Payoff",
                    "## Episode win rates by body", "## Episode win rates by adaptation method",
                    "## Games (newest"):
        assert section in md
    for name in ("idle", "random", "r2"):
        assert f"| {name} |" in md
    assert "| spider |" in md and "| built-in idle |" in md
    for plot in ("ratings.png", "payoff.png", "win_rates.png"):
        assert f"]({plot})" in md
        with Image.open(out / plot) as image:
            assert image.size[0] > 300 and image.getextrema() != ((255, 255),) * 3
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<img src="payoff.png"' in html
    assert html.count("<table>") == 4  # leaderboard, by body, by method, games


def test_episode_tallies_count_each_episode_for_both_sides(league, tmp_path):
    from arena.report import episode_rates
    from leagues.storage import LeagueDB

    with LeagueDB(league) as db:
        by_body = {label: (w, d, lo) for label, w, d, lo in episode_rates(db, "body")}
        episodes = db.conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    assert sum(w + d + lo for w, d, lo in by_body.values()) == 2 * episodes
    assert sum(w for w, _, _ in by_body.values()) == sum(lo for _, _, lo in by_body.values())


def test_adaptation_curves_are_copied_and_linked(league, tmp_path):
    from arena.report import write_report

    plots = tmp_path / "docs" / "plots"
    plots.mkdir(parents=True)
    Image.new("RGB", (20, 10), "red").save(plots / "curve.png")
    results = tmp_path / "docs" / "results.md"
    results.write_text("## Adaptation on the bug\n\n![returns](plots/curve.png)\n\n"
                       "## Something else\n\n![other](plots/curve.png)\n")
    assert [c for c, _ in adaptation_curves(results)] == ["returns"]
    md, _ = write_report(league, tmp_path / "out", results)
    text = md.read_text()
    assert "](results/curve.png)" in text and "../docs/results.md" in text
    assert (tmp_path / "out" / "results" / "curve.png").is_file()


def test_markdown_and_html_say_the_same_thing():
    blocks = [Block("h2", "T"), Block("p", "see `x` and [y](z.md)"),
              Block("table", header=("a", "b"), rows=(("1", "<2>"),))]
    md, page = to_markdown(blocks), to_html(blocks, "t")
    assert "| 1 | <2> |" in md and "<td>&lt;2&gt;</td>" in page
    assert '<a href="z.md">y</a>' in page and "<code>x</code>" in page


def test_report_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["report", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path)])
    assert exc.value.code == 2 and "no league file at" in capsys.readouterr().err
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not a database" * 100)
    with pytest.raises(SystemExit) as exc:
        main(["report", "--db", str(junk), "--out", str(tmp_path / "r")])
    assert exc.value.code == 2 and "not a league database" in capsys.readouterr().err


def test_eleven_agents_get_eleven_colours():
    from arena.plots import colours

    for n in (3, 11, 25):
        assert len(set(colours(n))) == n


def test_adaptation_methods_name_frozen_and_tracked_checkpoints():
    from arena.report import METHODS, _rate_rows

    rows, _ = _rate_rows([("maml", 3, 0, 1), ("ppo-mlp[tracking]", 1, 1, 1),
                          ("maml[none]", 2, 0, 0)], METHODS)
    # sorted by episode win rate, the best first: 2/2, 3/4, 1/3
    assert [r[0] for r in rows] == ["none (frozen maml policy)", "MAML meta-update",
                                    "tracking (PPO steps on a ppo-mlp policy)"]


def test_a_report_without_the_results_file_says_its_curves_are_unavailable(
        league, tmp_path, monkeypatch):
    # an installed package has no docs/results.md next to it: the report must say so
    import arena.report
    from arena.report import write_report

    monkeypatch.setattr(arena.report, "RESULTS_MD", tmp_path / "elsewhere" / "results.md")
    md, page = write_report(league, tmp_path / "out")
    for text in (md.read_text(), page.read_text()):
        assert "Adaptation curves" in text and "Unavailable here" in text
    assert not (tmp_path / "out" / "results").exists()
