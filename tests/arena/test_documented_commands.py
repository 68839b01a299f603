"""Every ``arena ...`` command that README.md and docs/*.md show runs, on a small budget.

Commands come from the shell code blocks (continuations joined, ``# comments`` dropped) and from
inline code that is a whole command. Each runs in-process through ``arena.cli.main`` in one
working directory per document, in document order, so that ``arena replay --db
runs/demo/league.sqlite`` finds what ``arena demo`` wrote before it (a command picked alone runs
the earlier command of its document that writes its input first). Flags that set the budget are
replaced or added (``SHRINK``), and every file a command is documented to write must exist
afterwards. A command that cannot run as written is skipped only for one of ``SKIPS``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from arena.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = ("", "bash", "console", "sh", "shell")

# Why a documented command may be left out; no other reason is accepted.
SKIPS = {
    "placeholder": "shows a placeholder (<...>, SRC, DIR, A B, FILE, N, ...) for the reader",
    "mention": "names a command or an option in a sentence, not a command to run",
    "original": "needs the reader's own copy of the original RoboSumo policies",
}
# A placeholder in the text, or a word in capitals (A, B, FILE, DIR/x) that is no option's choice.
PLACEHOLDER = re.compile(r"<[^>]*>|\.\.\.|\[|\||-X-vs-Y-")
PLACEHOLDER_WORD = re.compile(r"^[A-Z]+$|^[A-Z]+[/.]")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")

# Budget flags per command: a value replaces the documented one or is added, None adds a switch.
PLAY = {"--rounds": "2", "--episodes": "1", "--max-steps": "20", "--no-progress": None}
TRAIN = {"--no-progress": None, "--no-tensorboard": None, "--nthread": "1"}
SHRINK: dict[tuple[str, ...], dict[str, str | None]] = {
    ("demo",): {"--quick": None},
    ("match",): {"--episodes": "2", "--max-steps": "20"},
    ("watch",): {"--rounds": "1", "--episodes": "1", "--max-steps": "20", "--size": "160 120"},
    ("replay",): {"--stop-after": "20", "--size": "160 120"},
    ("game",): PLAY,
    ("tournament",): PLAY,
    ("league", "run"): {**PLAY, "--batches": "1", "--batch-size": "2", "--generations": "1",
                        "--copies": "1"},
    ("train", "ppo"): {**TRAIN, "--total-steps": "64", "--num-envs": "2", "--rollout": "32",
                       "--epochs": "1", "--minibatches": "1"},
    ("train", "maml"): {**TRAIN, "--iterations": "1", "--meta-batch": "1", "--episodes": "1",
                        "--episode-steps": "20", "--epochs": "1"},
    ("train", "rl2"): {**TRAIN, "--total-steps": "80", "--num-envs": "2", "--episodes": "2",
                       "--episode-steps": "20", "--rollout": "40", "--epochs": "1",
                       "--minibatches": "1", "--bptt": "20"},
    ("train", "norml"): {**TRAIN, "--iterations": "1", "--tasks": "2", "--rollouts": "1",
                         "--episode-steps": "20"},
}
# Budget flags that a command refuses in some of its forms.
NEW_LEAGUE_ONLY = {"--rounds", "--episodes", "--max-steps", "--batches", "--batch-size",
                   "--generations", "--copies"}  # resuming a league file takes its config
SUMO_ONLY = {("train", "maml"): {"--episode-steps", "--nthread"},
             ("train", "norml"): {"--episode-steps"}}
VIEWER_ONLY = {"--stop-after", "--size"}  # arena replay --html writes a page instead
# Flags whose value is a file or directory the command writes ('-' is standard output).
WRITES = ("--json", "--html", "--record", "--screenshot", "--out", "--history")


@dataclass(frozen=True)
class Documented:
    """One command as a document shows it.

    Attributes:
        where: ``file:line`` of the command.
        text: the command as written (continuations joined).
        argv: its words after ``arena``.
        env: the environment assignments written before ``arena``.
        inline: whether it stands in inline code rather than in a code block.
    """

    where: str
    text: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    inline: bool

    @property
    def document(self) -> str:
        return self.where.split(":")[0]


def _command(where: str, text: str, inline: bool) -> Documented | None:
    """The ``arena`` command of a shell line, or None if it is none."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return None
    env = []
    while words and ENV_ASSIGNMENT.match(words[0]):
        env.append(tuple(words.pop(0).split("=", 1)))
    if len(words) < 2 or words[0] != "arena":
        return None
    if words[1].endswith(":"):  # printed output: "arena demo: 11 agents, ..."
        return None
    return Documented(where, text, tuple(words[1:]), tuple(env), inline)


def _from_blocks(name: str, lines: list[str]) -> list[Documented]:
    found, block, pending, start = [], None, "", 0
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            block = None if block is not None else line.strip()[3:].strip()
            continue
        if block not in SHELL_BLOCKS:
            continue
        text = line.strip().removeprefix("$ ")
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        command, pending = _command(f"{name}:{start}", pending + text, inline=False), ""
        if command is not None:
            found.append(command)
    return found


def _inline(name: str, text: str) -> list[Documented]:
    # blank the code blocks out (keeping the line count) and read the inline code left
    kept = re.sub(r"^\s*```.*?^\s*```", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.M | re.S)
    found = []
    for match in re.finditer(r"`([^`]+)`", kept):
        line = kept.count("\n", 0, match.start()) + 1
        command = _command(f"{name}:{line}", " ".join(match.group(1).split()), inline=True)
        if command is not None:
            found.append(command)
    return found


def documented_commands() -> list[Documented]:
    """Every ``arena`` command of README.md and docs/*.md, in document order."""
    out = []
    for path in DOCUMENTS:
        name, text = str(path.relative_to(ROOT)), path.read_text()
        commands = _from_blocks(name, text.splitlines()) + _inline(name, text)
        out += sorted(commands, key=lambda c: int(c.where.split(":")[1]))
    return out


def _subcommand(argv: tuple[str, ...]) -> tuple[tuple[str, ...], argparse.ArgumentParser]:
    """The subcommand words at the start of ``argv`` (``("league", "run")``) and their parser."""
    parser, path = build_parser(), ()
    while len(path) < len(argv):
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
                   None)
        if sub is None or argv[len(path)] not in sub.choices:
            break
        parser, path = sub.choices[argv[len(path)]], (*path, argv[len(path)])
    return path, parser


def _is_placeholder(argv: tuple[str, ...], index: int) -> bool:
    if not PLACEHOLDER_WORD.search(argv[index]):
        return False
    option = _subcommand(argv)[1]._option_string_actions.get(argv[index - 1])
    return not (option and option.choices and argv[index] in option.choices)  # --follow A


def _parses(argv: tuple[str, ...]) -> bool:
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            build_parser().parse_args(list(argv))
    except SystemExit as exc:
        return exc.code == 0
    return True


def skip_reason(command: Documented) -> str | None:
    """The key of ``SKIPS`` that leaves ``command`` out, or None if it runs."""
    if PLACEHOLDER.search(command.text) or any(
            _is_placeholder(command.argv, i) for i in range(len(command.argv))):
        return "placeholder"
    if command.argv[:2] == ("zoo", "import-robosumo"):
        return "original"
    path, _ = _subcommand(command.argv)
    options_only = all(w.startswith("-") for w in command.argv[len(path):])
    if command.inline and options_only and not _parses(command.argv):
        return "mention"  # `arena watch`, `arena replay --html`
    return None


def _new_league(words: list[str]) -> bool:
    """Whether ``arena league run`` names agents (a new league) rather than resuming a file."""
    return bool(_subcommand(tuple(words))[1].parse_args(words[2:]).agents)


def shrunk(argv: tuple[str, ...]) -> list[str]:
    """``argv`` with the budget flags of ``SHRINK`` replaced or added."""
    path, _ = _subcommand(argv)
    words = list(argv)
    refused = set()
    if path == ("league", "run") and not _new_league(words):
        refused |= NEW_LEAGUE_ONLY
    if not any(w.startswith("RoboSumo-") for w in words):
        refused |= SUMO_ONLY.get(path, set())
    if "--html" in words:
        refused |= VIEWER_ONLY
    if path == ("demo",) and "--quick" not in words and "--out" not in words:
        words += ["--out", "runs/demo"]  # the small demo writes where the documented one does
    for flag, value in SHRINK.get(path, {}).items():
        if flag in refused:
            continue
        values = value.split() if value else []
        if flag in words:
            at = words.index(flag) + 1
            words[at:at + len(values)] = values
        else:
            words += [flag, *values]
    return words


def written(words: list[str]) -> list[Path]:
    """The files and directories a command's flags say it writes."""
    path, _ = _subcommand(tuple(words))
    out = [Path(words[i + 1]) for i, w in enumerate(words[:-1])
           if w in WRITES and words[i + 1] != "-"]
    if path == ("demo",):
        folder = out[0] if out else Path("runs/demo-quick")
        out += [folder / "league.sqlite", folder / "report.md", folder / "report.html"]
    if path == ("tournament",) or (path == ("league", "run") and _new_league(words)):
        out.append(Path(words[words.index("--db") + 1]))
    return out


def read(words: list[str]) -> list[Path]:
    """The league files a command reads (and another command writes)."""
    if "--db" not in words:
        return []
    db = Path(words[words.index("--db") + 1])
    return [] if db in written(words) else [db]


def run(words: list[str]) -> int:
    """Run ``arena WORDS`` in this process; its exit status."""
    try:
        return main(words)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


COMMANDS = documented_commands()
RUNNABLE = [c for c in COMMANDS if skip_reason(c) is None]


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One working directory per document, made when its first command runs."""
    return {}


def _play(command: Documented, workdirs: dict[str, Path], tmp_path_factory,
          monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ``command`` shrunk in its document's directory (after the command writing its input)."""
    if command.document not in workdirs:
        workdirs[command.document] = tmp_path_factory.mktemp(command.document.replace("/", "-"))
    workdir = workdirs[command.document]
    monkeypatch.chdir(workdir)
    words = shrunk(command.argv)
    for needed in read(words):
        if not (workdir / needed).exists():
            writer = next(c for c in RUNNABLE[:RUNNABLE.index(command)]
                          if c.document == command.document and needed in written(shrunk(c.argv)))
            _play(writer, workdirs, tmp_path_factory, monkeypatch)
    for target in written(words):  # documented paths inside the repository, as docs/images/
        if (ROOT / target.parent).is_dir():
            (workdir / target.parent).mkdir(parents=True, exist_ok=True)
    for key, value in command.env:
        monkeypatch.setenv(key, value)
    start = time.time()
    assert run(words) == 0, f"{command.where}: {shlex.join(['arena', *words])}"
    for target in written(words):
        assert (workdir / target).exists(), (command.where, target)
    if words[0] == "train":  # a run directory (the default under runs/, or --run-dir) with its
        # resume point
        states = [p for p in workdir.glob("**/state.safetensors")
                  if p.stat().st_mtime >= start - 1]
        assert states, (command.where, "no training state written")
    return words


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c.where} {c.text}"[:90])
def test_documented_command_runs(command, workdirs, tmp_path_factory, monkeypatch, capsys):
    reason = skip_reason(command)
    if reason is not None:
        assert reason in SKIPS
        pytest.skip(f"{reason}: {SKIPS[reason]}")
    _play(command, workdirs, tmp_path_factory, monkeypatch)
    assert capsys.readouterr().out  # every command says something


def test_the_documents_show_commands_to_run():
    assert len(RUNNABLE) >= 40
    documents = {c.document for c in RUNNABLE}
    assert {"README.md", "docs/arena.md", "docs/leagues.md", "docs/rl2_norml.md"} <= documents
    # a code block holds commands: only placeholders and the original policies leave one out
    assert {skip_reason(c) for c in COMMANDS if not c.inline} <= {None, "placeholder", "original"}


def test_budget_flags_are_options_of_their_commands():
    for path, flags in [*SHRINK.items(), *SUMO_ONLY.items()]:
        options = _subcommand(path)[1]._option_string_actions
        assert set(flags) <= set(options), (path, set(flags) - set(options))
    for flag in NEW_LEAGUE_ONLY:
        assert flag in SHRINK[("league", "run")]
    assert VIEWER_ONLY <= set(SHRINK[("replay",)])


def test_commands_are_read_as_a_shell_reads_them():
    text = "\n".join([
        "Run `arena zoo --json` or `SDL_VIDEODRIVER=dummy arena watch random idle",
        "--bodies ant ant`; `arena replay` alone names the command.",
        "```bash",
        "$ arena match random idle --bodies ant bug \\",
        "    --episodes 50   # a comment",
        "python scripts/other.py",
        "```",
        "```",
        "arena demo: 11 agents, round robin",
        "```",
        "```python",
        "arena = 1",
        "```",
    ])
    blocks = _from_blocks("x.md", text.splitlines())
    inline = _inline("x.md", text)
    assert [(c.where, c.argv) for c in blocks] == [
        ("x.md:4", ("match", "random", "idle", "--bodies", "ant", "bug", "--episodes", "50"))]
    assert [(c.where, c.argv, c.env) for c in inline] == [
        ("x.md:1", ("zoo", "--json"), ()),
        ("x.md:1", ("watch", "random", "idle", "--bodies", "ant", "ant"),
         (("SDL_VIDEODRIVER", "dummy"),)),
        ("x.md:2", ("replay",), ())]
    assert [skip_reason(c) for c in inline] == [None, None, "mention"]
    assert shrunk(("match", "random", "idle", "--episodes", "50")) == [
        "match", "random", "idle", "--episodes", "2", "--max-steps", "20"]


def test_the_demo_reads_in_order_in_a_log(tmp_path):
    # `make demo > log 2>&1`: stdout is a pipe (block-buffered), the games' progress goes to stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-m", "arena", "demo", "--quick", "--out", "demo"],
                          cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300, check=True)
    log = done.stdout
    header, progress = log.index("arena demo: "), log.index("\ndemo: ")
    assert header < log.index("built-ins random and idle") < progress < log.index("| rank |")
