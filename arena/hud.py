"""What the viewer draws over the scene: the header, the reward terms, the timeline, the plot.

Every panel lays its text out in fixed-width columns (widths taken from the widest value a column
can hold, not from the values of this frame), so that nothing shifts from frame to frame as the
numbers change. Fonts grow with the window, so that the panels stay readable from 640x480 up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pygame

from arena.timeline import Timeline
from envs.robosumo.scene import PLAYER_RGBA

HUD_BG = (10, 12, 20, 170)
WHITE, GREY, YELLOW, DARK = (235, 235, 235), (160, 160, 170), (250, 210, 80), (70, 72, 84)
PLAYER_COLORS = {p: tuple(int(255 * c) for c in rgba[:3])
                 for p, rgba in zip(("player_0", "player_1"), PLAYER_RGBA, strict=True)}
# Widest values of the numeric columns: the columns keep these widths whatever is shown.
TERM_TEMPLATE, RETURN_TEMPLATE = "+0,000.00", "+00,000.0"
# The help line, most wanted first; as many as fit the window's width are shown.
HELP = ("space play", ", . step", "home/end", "drag bar: seek", "+/- speed", "c camera",
        "f follow", "p plot", "h HUD", "t terms", "q quit", "r restart", "s shot")
PLOT_MIN_STEPS = 40  # the plot's x axis spans at least this many steps


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

    def side_colors(self) -> dict[str, tuple[int, int, int]]:
        """The colour of side "a" and "b" in this episode (the colour of its player slot)."""
        b_player = "player_1" if self.a_player == "player_0" else "player_0"
        return {"a": PLAYER_COLORS[self.a_player], "b": PLAYER_COLORS[b_player]}


def font(size: int) -> pygame.font.Font:
    """DejaVu Sans (or Liberation Sans, Arial) at ``size`` points; pygame's own face scaled to
    a similar height where none is installed."""
    path = pygame.font.match_font("dejavusans,liberationsans,arial,helvetica")
    return pygame.font.Font(path, size) if path else pygame.font.Font(None, int(size * 1.45))


class HudPainter:
    """Draws the panels onto the viewer's window surface.

    Args:
        screen: the window surface.
    """

    def __init__(self, screen: pygame.Surface) -> None:
        self.screen = screen
        self.width, self.height = screen.get_size()
        # a hinted sans face (pygame's bundled one drops the dot of an "i" at small sizes),
        # growing with the window
        self.font = font(max(14, self.height // 34))
        self.small = font(max(12, self.height // 40))
        self.line = self.font.get_linesize()
        self.small_line = self.small.get_linesize()
        self.bar_height = max(8, self.small_line // 2)

    # ------------------------------------------------------------------ primitives

    def text(self, text: str, pos: tuple[int, int], color: tuple[int, int, int] = WHITE,
             small: bool = False, right: bool = False) -> int:
        """Draw ``text`` at ``pos`` (its right end there if ``right``); its width."""
        surface = (self.small if small else self.font).render(text, True, color)
        x = pos[0] - surface.get_width() if right else pos[0]
        self.screen.blit(surface, (x, pos[1]))
        return surface.get_width()

    def panel(self, rect: tuple[int, int, int, int]) -> None:
        """A translucent dark rectangle."""
        panel = pygame.Surface(rect[2:], pygame.SRCALPHA)
        panel.fill(HUD_BG)
        self.screen.blit(panel, rect[:2])

    def columns(self, cells: Sequence[str], widths: Sequence[int], pos: tuple[int, int],
                color: tuple[int, int, int], gap: int = 18) -> None:
        """Cells left-aligned in columns of fixed ``widths``."""
        x, y = pos
        for cell, width in zip(cells, widths, strict=True):
            self.text(cell, (x, y), color)
            x += width + gap

    # ------------------------------------------------------------------ layout

    def bottom(self) -> int:
        """The top edge of the help line and the timeline bar above it."""
        return self.height - self.small_line - 4 - self.bar_height - 8

    def draw(self, hud: Hud, state: Any, timeline: Timeline | None) -> tuple[int, int, int, int]:
        """The whole HUD for one frame; the rectangle of the timeline bar (for the mouse).

        Args:
            hud: what the HUD shows at the step shown.
            state: the viewer's ``ViewState`` (paused, speed, camera, toggles).
            timeline: the timeline of the episode (None: a lone frame, an empty bar).
        """
        self._header(hud, state)
        bottom = self.bottom()
        terms_left = self.width
        if state.terms:
            terms_left = self._terms(hud, bottom)
        if state.plot and timeline is not None:
            self._plot(hud, timeline, bottom, terms_left)
        bar = self._timeline(timeline, bottom)
        self._help()
        return bar

    def _header(self, hud: Hud, state: Any) -> None:
        line = self.line
        self.panel((0, 0, self.width, 3 * line + 8))
        colors = hud.side_colors()
        x = 8
        for side, k in (("A", 0), ("B", 1)):
            pygame.draw.rect(self.screen, colors[side.lower()], (x, 6, line - 6, line - 6))
            version = f" v{hud.versions[k]}" if hud.versions[k] is not None else ""
            x += line + self.text(f"{side}: {hud.names[k]}{version} ({hud.bodies[k]})",
                                  (x + line, 4))
            if k == 0:
                x += 12 + self.text("vs", (x + 12, 4), GREY) + 12
        w, lo, d = hud.score
        rw, rl, rd = hud.rounds_score
        self.text(f"round {hud.round + 1}/{hud.rounds}   episode {hud.episode + 1}/"
                  f"{hud.episodes}   round score A {w}-{d}-{lo} (W-D-L)   rounds A {rw}-{rd}-{rl}",
                  (8, 4 + line))
        limit = f"{hud.max_steps}"
        camera = state.camera if state.follow == "free" else f"follow {state.follow}"
        cells = (f"step {hud.step}/{limit}", "PAUSED" if state.paused else f"{state.speed:g}x",
                 f"camera {camera}")
        templates = (f"step {limit}/{limit}", "PAUSED", "camera tracking")
        widths = [self.font.size(t)[0] for t in templates]
        self.columns(cells, widths, (8, 4 + 2 * line), YELLOW if state.paused else GREY)
        if hud.message:
            x = 8 + sum(widths) + 3 * 18
            self.text(hud.message, (max(x, self.width // 2), 4 + 2 * line), YELLOW)

    def _terms(self, hud: Hud, bottom: int) -> int:
        """The reward terms of the step and the returns, in fixed columns at the right edge (the
        ring is in the middle), numbers right-aligned; the panel's left edge."""
        names = sorted({k for t in hud.terms.values() for k in t})
        if not names:
            return self.width
        rows = [(name.removeprefix("reward_"),
                 *("-" if hud.terms.get(side, {}).get(name) is None
                   else f"{hud.terms[side][name]:+,.2f}" for side in ("a", "b")))
                for name in names]
        rows.append(("episode return", *(f"{hud.returns.get(side, 0.0):+,.1f}"
                                         for side in ("a", "b"))))
        header = ("reward term", "A", "B")
        size = self.small.size
        number = max(size(TERM_TEMPLATE)[0], size(RETURN_TEMPLATE)[0])
        widths = [max(size(r[0])[0] for r in (header, *rows)),
                  *(max(number, *(size(r[c])[0] for r in rows)) for c in (1, 2))]
        gap, pad, line = 10, 8, self.small_line
        width = sum(widths) + 2 * gap + 2 * pad
        height = line * (len(rows) + 1) + 2 * pad
        left = self.width - width - 6
        top = bottom - height - 2
        self.panel((left, top, width, height))
        for r, row in enumerate((header, *rows)):
            y = top + pad + r * line
            color = GREY if r == 0 else YELLOW if r == len(rows) else WHITE
            x = left + pad
            self.text(row[0], (x, y), color, small=True)
            right = x + widths[0]
            for c in (1, 2):
                right += gap + widths[c]
                self.text(row[c], (right, y), color, small=True, right=True)
        return left

    def _plot(self, hud: Hud, timeline: Timeline, bottom: int, right_edge: int) -> None:
        """Each shaping term of both sides over the episode, one row per term with its own
        scale, A and B in their colours, a line at the step shown."""
        names = timeline.plotted_terms()
        line, pad = self.small_line, 6
        row = max(line + 6, int(1.6 * line))
        label_w = max([self.small.size(n.removeprefix("reward_"))[0] for n in names] +
                      [self.small.size("move_to_opponent")[0]])
        scale_w = self.small.size("+0.000")[0]
        width = min(int(0.55 * self.width), right_edge - 12)
        height = 2 * pad + line + max(1, len(names)) * row
        left, top = 6, bottom - height - 2
        if width < label_w + scale_w + 60:
            return  # no room beside the terms table (hide it with t)
        self.panel((left, top, width, height))
        # the players' colours lightened, so that thin lines show on the dark panel
        colors = {s: tuple(int(0.5 * c + 0.5 * 255) for c in rgb)
                  for s, rgb in hud.side_colors().items()}
        x = left + pad
        x += self.text("reward terms per step:", (x, top + pad), GREY, small=True) + 8
        for side in ("a", "b"):
            pygame.draw.line(self.screen, colors[side], (x, top + pad + line // 2),
                             (x + 14, top + pad + line // 2), 2)
            x += 18 + self.text(side.upper(), (x + 18, top + pad), GREY, small=True) + 10
        if not names:
            self.text("no shaping yet", (left + pad, top + pad + line), GREY, small=True)
            return
        x0 = left + pad + label_w + 8
        x1 = left + width - pad - scale_w - 6
        # the steps so far fill the width (at least PLOT_MIN_STEPS, so that a start is no smear)
        span = max(len(timeline), PLOT_MIN_STEPS) - 1
        for k, name in enumerate(names):
            y0 = top + pad + line + k * row
            mid, half = y0 + row // 2, (row - 6) // 2
            self.text(name.removeprefix("reward_"), (left + pad, mid - line // 2), WHITE,
                      small=True)
            series = [timeline.series.get((s, name), []) for s in ("a", "b")]
            peak = max((abs(v) for values in series for v in values), default=0.0) or 1.0
            self.text(f"{peak:.3g}", (left + width - pad, mid - line // 2), GREY, small=True,
                      right=True)
            pygame.draw.line(self.screen, DARK, (x0, mid), (x1, mid))
            for side, values in zip(("a", "b"), series, strict=True):
                points = [(x0 + (x1 - x0) * i / span, mid - half * v / peak)
                          for i, v in enumerate(values)]
                if len(points) > 1:
                    pygame.draw.lines(self.screen, colors[side], False, points, 2)
                elif points:
                    pygame.draw.circle(self.screen, colors[side], points[0], 1)
        if timeline.cursor >= 0:
            x = x0 + (x1 - x0) * timeline.cursor / span
            y0 = top + pad + line
            pygame.draw.line(self.screen, YELLOW, (x, y0), (x, y0 + len(names) * row))

    def _timeline(self, timeline: Timeline | None, bottom: int) -> tuple[int, int, int, int]:
        """The bar of the episode's steps: recorded, shown; its rectangle."""
        h = self.bar_height
        label_w = self.small.size("000/000 live")[0]
        self.panel((0, bottom - 2, self.width, h + 8))
        rect = (8, bottom + 2, self.width - 24 - label_w, h)
        pygame.draw.rect(self.screen, DARK, rect)
        if timeline is None or not len(timeline):
            return rect
        span = max(timeline.length, 1)
        x, y, w, _ = rect
        pygame.draw.rect(self.screen, GREY, (x, y, round(w * len(timeline) / span), h))
        if timeline.cursor >= 0:
            pygame.draw.rect(self.screen, YELLOW,
                             (x, y, round(w * (timeline.cursor + 1) / span), h))
            knob = x + round(w * (timeline.cursor + 0.5) / span)
            pygame.draw.rect(self.screen, WHITE, (knob - 2, y - 3, 4, h + 6))
        shown = timeline.cursor + 1
        where = (" live" if not timeline.complete and timeline.cursor == timeline.head
                 else "")
        self.text(f"{shown}/{len(timeline)}{where}", (self.width - 8, bottom - 2 + (h + 8 -
                  self.small_line) // 2), WHITE, small=True, right=True)
        return rect

    def _help(self) -> None:
        small = self.small_line
        self.panel((0, self.height - small - 4, self.width, small + 4))
        text, limit = "", self.width - 16
        for item in HELP:
            candidate = f"{text}  {item}" if text else item
            if self.small.size(candidate)[0] > limit:
                break
            text = candidate
        self.text(text, (8, self.height - small - 1), GREY, small=True)
