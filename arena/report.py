"""``arena report``: a league file as a Markdown and an HTML report with PNG plots.

The report holds the leaderboard, the ratings over time, the payoff heatmap, episode win rates by
body and by adaptation method (the agents' kind), and links to the adaptation curves of
``docs/results.md`` when that file has them. Both documents are rendered from one list of blocks,
so they always say the same thing.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.evaluate import wilson_interval
from agents.loaders import KINDS

RESULTS_MD = Path(__file__).resolve().parent.parent / "docs" / "results.md"
# Agent kind -> how it adapts between rounds (the design's adaptation methods).
METHODS = {**{kind: k.method for kind, k in KINDS.items()},
           "tracking": "tracking (PPO steps)", "random": "built-in random",
           "idle": "built-in idle"}


@dataclass(frozen=True)
class Block:
    """One piece of the report: a heading, a paragraph, a table or an image."""

    kind: str  # "h2", "p", "table", "img"
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as Markdown."""
    out = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}")
        elif b.kind == "h2":
            out.append(f"## {b.text}")
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "img":
            out.append(f"![{b.header[0]}]({b.text})")
        else:
            lines = ["| " + " | ".join(b.header) + " |", "|" + "---|" * len(b.header)]
            lines += ["| " + " | ".join(row) + " |" for row in b.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    """Escape text, keeping Markdown links and code spans as HTML."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', text)


def to_html(blocks: list[Block], title: str) -> str:
    """The blocks as a standalone HTML page."""
    body = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "img":
            body.append(f'<p><img src="{html.escape(b.text)}" alt="{html.escape(b.header[0])}">'
                        f"</p>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                           for row in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:3px 7px;text-align:right}td:nth-child(2),th:nth-child(2){text-align:left}"
             "img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{style}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")


def leaderboard_block(table: list[Any]) -> Block:
    """The leaderboard (``leagues.report.standings``) as a table block."""
    header = ("rank", "agent", "kind", "body", "games", "W", "D", "L", "forfeits", "mu",
              "sigma", "mu - 3 sigma", "Elo", "fitted Elo")
    rows = tuple((str(k), s.name, s.kind, s.body, str(s.games), str(s.wins), str(s.draws),
                  str(s.losses), str(s.forfeits), f"{s.mu:.2f}", f"{s.sigma:.2f}",
                  f"{s.ordinal:.2f}", f"{s.elo:.0f}", f"{s.fitted_elo:.0f}")
                 for k, s in enumerate(table, 1))
    return Block("table", header=header, rows=rows)


def episode_rates(db: Any, group: str) -> list[tuple[str, int, int, int]]:
    """Episode tallies (label, wins, draws, losses) of every agent ``body`` or ``kind``.

    Every episode counts once for each side, from that side's point of view.
    """
    rows = db.episode_sides(group)
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        outcome = int(r["outcome"])
        tally[r["ga"]][1 - outcome] += 1
        tally[r["gb"]][1 + outcome] += 1
    return [(label, *tally[label]) for label in sorted(tally)]


def _method(kind: str, names: dict[str, str]) -> str:
    """How agents of ``kind`` adapt; ``kind[none]`` and ``kind[tracking]`` are the policy of
    such a checkpoint frozen or tracked with PPO (``agents.load(adaptation=...)``)."""
    base, _, adaptation = kind.partition("[")
    if adaptation == "none]":
        return f"none (frozen {base} policy)"
    if adaptation == "tracking]":
        return f"tracking (PPO steps on a {base} policy)"
    return names.get(kind, kind)


def _rate_rows(rates: list[tuple[str, int, int, int]], names: dict[str, str] | None = None
               ) -> tuple[tuple[tuple[str, ...], ...], list[tuple[str, float, float, float]]]:
    table, bars = [], []
    for label, w, d, lo in rates:
        n = w + d + lo
        low, high = wilson_interval(w, n)
        shown = _method(label, names) if names is not None else label
        table.append((shown, str(n), str(w), str(d), str(lo), f"{w / max(n, 1):.3f}",
                      f"[{low:.3f}, {high:.3f}]", f"{(w + d / 2) / max(n, 1):.3f}"))
        bars.append((shown, w / max(n, 1), low, high))
    order = sorted(range(len(table)), key=lambda k: -bars[k][1])  # the best first
    return tuple(table[k] for k in order), [bars[k] for k in order]


def adaptation_curves(results_md: Path) -> list[tuple[str, Path]]:
    """(caption, image file) of every plot in sections of ``results_md`` about adaptation."""
    if not results_md.is_file():
        return []
    found, heading = [], ""
    for line in results_md.read_text().splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
        for alt, target in re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", line):
            image = (results_md.parent / target).resolve()
            if "adapt" in (heading + " " + alt).lower() and image.is_file():
                found.append((alt or heading, image))
    return found


def build_report(db: Any, out: Path, results_md: Path | None = None) -> list[Block]:
    """Write the plots of a league file into ``out``; the report's blocks (the adaptation
    curves from ``results_md``, by default ``RESULTS_MD``)."""
    from arena import plots
    from leagues.matchmaking import payoff_table
    from leagues.report import rating_history, standings, status

    info = status(db)
    games = info["games"]
    blocks = [Block("h1", "League report"),
              Block("p", f"`{db.path.name}`: a {info['kind'] or 'empty league'} with "
                         f"{info['agents']} agents; {games['done']} games played, "
                         f"{games['pending']} pending, {games['void']} void."),
              Block("h2", "Leaderboard (ranked by mu - 3 sigma)"), leaderboard_block(standings(db))]
    history = rating_history(db)
    ranked = [s.name for s in standings(db)]
    plots.ratings_plot(history, out / "ratings.png", order=ranked)
    blocks += [Block("h2", "Ratings over time"),
               Block("img", "ratings.png", ("ratings (mu - 3 sigma) over the games",))]
    # the payoff table in rank order, the strongest agent first
    position = {name: k for k, name in enumerate(ranked)}
    agents = sorted(db.agents(), key=lambda r: position.get(r["name"], len(position)))
    index = {int(r["id"]): i for i, r in enumerate(agents)}
    played = [(index[g["a"]], index[g["b"]], int(g["outcome"])) for g in db.results()]
    rate, count = payoff_table(len(agents), played)
    plots.payoff_heatmap([r["name"] for r in agents], rate, count, out / "payoff.png")
    blocks += [Block("h2", "Payoff"),
               Block("p", "Row's score against column over their games (win 1, draw 0.5)."),
               Block("img", "payoff.png", ("payoff heatmap, agents in rank order",))]
    header = ("", "episodes", "W", "D", "L", "win rate", "95 % interval", "score")
    bars = {}
    for group, title, names in (("body", "By body", None),
                                ("kind", "By adaptation method", METHODS)):
        rows, bars[title] = _rate_rows(episode_rates(db, group), names)
        blocks += [Block("h2", f"Episode win rates {title.lower()}"),
                   Block("table", header=(title.split()[-1], *header[1:]), rows=rows)]
    plots.win_rate_bars(bars, out / "win_rates.png")
    blocks.append(Block("img", "win_rates.png",
                        ("episode win rates by body and by adaptation method",)))
    blocks += _games_blocks(db, out)
    blocks += _curve_blocks(out, RESULTS_MD if results_md is None else results_md)
    return blocks


def _games_blocks(db: Any, out: Path) -> list[Block]:
    """The newest games, with the command that replays one of their episodes and each
    episode linked to its HTML replay where ``out/replays/`` holds one."""
    from arena.html_replay import PAGE_NAME, page_name
    from leagues.report import GAMES_HEADER, game_rows, replay_hint

    rows = game_rows(db)
    if not rows:
        return []
    table = []
    for row in rows:
        game, cells = int(row[0]), []
        for e in db.game_episodes(game):
            name = page_name(game, int(e["round"]), int(e["episode"]))
            label = f"{int(e['round']) + 1}.{int(e['episode']) + 1}"
            cells.append(f"[{label}](replays/{name})" if (out / "replays" / name).is_file()
                         else label)
        table.append((*row, " ".join(cells)))
    pattern = PAGE_NAME.format(game="G", round="R", episode="E")
    return [Block("h2", f"Games (newest {len(rows)} of {db.counts()['done']})"),
            Block("p", replay_hint(db)),
            Block("p", f"Episodes are listed as round.episode, linked to their HTML replays "
                       f"(one self-contained page each, a WebGL player with timeline and "
                       f"orbit camera) where written: `arena report --db {db.path} --out {out} "
                       f"--replays K` writes those of the newest K games (one replay of each "
                       f"game), and `arena replay --db {db.path} --game G --round R --episode E "
                       f"--html {out / 'replays' / pattern}` one episode's."),
            Block("table", header=(*GAMES_HEADER, "episodes (round.episode)"),
                  rows=tuple(table))]


def _curve_blocks(out: Path, results_md: Path) -> list[Block]:
    curves = adaptation_curves(results_md)
    if not curves:  # e.g. an installed package without the repository's docs
        return [Block("h2", "Adaptation curves"),
                Block("p", f"Unavailable here: the adaptation curves are the plots of "
                           f"docs/results.md in the source repository, and this installation "
                           f"has none with adaptation plots (looked for {results_md}).")]
    link = os.path.relpath(results_md, out.resolve())
    blocks = [Block("h2", "Adaptation curves"),
              Block("p", f"From the experiments of [docs/results.md]({link}), with their "
                         f"commands and seeds there.")]
    (out / "results").mkdir(exist_ok=True)
    for k, (caption, image) in enumerate(curves, 1):
        shutil.copy2(image, out / "results" / image.name)
        # captions told apart even where sections reuse a title
        blocks.append(Block("img", f"results/{image.name}", (f"{k}. {caption} ({image.stem})",)))
    return blocks


def write_report(db_path: Path, out: Path, results_md: Path | None = None,
                 replays: int = 0) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and their plots into ``out``; the two files.

    Args:
        db_path: the league file.
        out: the report's directory.
        results_md: where the adaptation curves come from (default ``RESULTS_MD``, read
            when the report is written).
        replays: also write the HTML replays of every episode of the newest ``replays`` games
            into ``out/replays/`` (each game replayed once), which the games table links.

    Raises:
        ValueError: if there is no league file at ``db_path`` or it is not one.
    """
    if replays < 0:
        raise ValueError(f"--replays must be >= 0, got {replays}")
    from leagues.storage import LeagueDB, StorageError

    if not Path(db_path).is_file():
        raise ValueError(f"no league file at {db_path}")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give a directory to write report.md, "
                         f"report.html and the plots into")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with LeagueDB(db_path) as db:
            if replays:
                from arena.watch import write_game_pages

                for row in db.played_games(replays):
                    write_game_pages(db, int(row["id"]), out / "replays")
            blocks = build_report(db, out, results_md)
    except StorageError as err:
        raise ValueError(str(err)) from None
    md, page = out / "report.md", out / "report.html"
    md.write_text(to_markdown(blocks))
    page.write_text(to_html(blocks, f"League report: {Path(db_path).name}"))
    return md, page


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena report``."""
    p = sub.add_parser("report", help="write a Markdown and HTML report of a league file",
                       description="Write report.md and report.html with PNG plots: leaderboard, "
                                   "ratings over time, payoff heatmap, episode win rates by body "
                                   "and by adaptation method, and the adaptation curves of "
                                   "docs/results.md where it has them.")
    p.add_argument("--db", type=Path, required=True, help="league file (SQLite)")
    p.add_argument("--out", type=Path, required=True, help="directory to write the report into")
    p.add_argument("--replays", type=int, default=0, metavar="K",
                   help="also write the HTML replay of every episode of the newest K games "
                        "into OUT/replays/ and link them (each game is replayed once; "
                        "default 0: the report lists the commands)")
    p.set_defaults(func=_report_command)


def _report_command(args: argparse.Namespace) -> int:
    md, page = write_report(args.db, args.out, replays=args.replays)
    print(f"wrote {md} and {page} (plots: ratings.png, payoff.png, win_rates.png)")
    return 0
