"""Argument types the commands share, so that bad values get argparse's one-line error with the
flag's name."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def seed(text: str) -> int:
    """A seed: an integer >= 0 (numpy's seeding refuses negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seeds are integers >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a standard deviation, a scale)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


positive_float.__name__ = "number > 0"


def count(minimum: int) -> Callable[[str], int]:
    """An argument type for a count: an integer >= ``minimum`` (``type=options.count(1)``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"  # argparse names the type in some errors
    return parse


def flagged(cls: type, **fields: Any) -> Any:
    """``cls(**fields)``, with a field its error names (``GameConfig.max_steps``) given as its
    flag (``--max-steps``): the config validates, the user reads the option they typed."""
    try:
        return cls(**fields)
    except ValueError as err:
        message = str(err)
        for name in fields:
            message = message.replace(f"{cls.__name__}.{name}", "--" + name.replace("_", "-"))
        raise ValueError(message) from None


def with_flags(make: Callable[[], Any], flags: dict[str, str]) -> Any:
    """``make()``, with the config fields its error names (``shaping_anneal``, ``policy
    features``, ``ppo.lr``) given as the flags that set them (``flags``: flag -> field path).

    A nested field's bare name is translated only where no other flag's field has that name."""
    try:
        return make()
    except ValueError as err:
        message = str(err)
        names = [path.split(".")[-1] for path in flags.values()]
        # quoted values (paths, ids) are the user's own words: only the text between them
        parts = re.split(r"('[^']*'|\"[^\"]*\")", message)
        for flag, path in sorted(flags.items(), key=lambda kv: -len(kv[1])):
            *outer, name = path.split(".")
            spellings = [path, " ".join(path.split("."))] if outer else [path]
            if outer and names.count(name) == 1:
                spellings.append(name)
            for spelled in spellings:
                pattern = rf"(?<![\w./-]){re.escape(spelled)}(?![\w/-])"
                parts = [p if i % 2 else re.sub(pattern, flag, p) for i, p in enumerate(parts)]
        raise ValueError("".join(parts)) from None


def add_json(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``: also write the command's result as JSON ('-': standard output)."""
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the result as JSON ('-' for standard output only)")


def write_json(target: Path | None, payload: object) -> bool:
    """Write ``payload`` where ``--json`` says; whether it went to standard output (then the
    command prints nothing else)."""
    if target is None:
        return False
    text = json.dumps(payload, indent=2, default=str) + "\n"
    if str(target) == "-":
        sys.stdout.write(text)
        return True
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return False


def config_default(cls: type, path: str) -> Any:
    """The default of a config dataclass's field, ``"lr"`` or nested ``"ppo.lr"``: the one home
    of every training default, which the ``arena train`` flags show and fall back to."""
    import dataclasses

    head, _, rest = path.partition(".")
    field = {f.name: f for f in dataclasses.fields(cls)}[head]
    if field.default is not dataclasses.MISSING:
        value = field.default
    else:
        value = field.default_factory()  # type: ignore[misc]
    return _nested(value, rest) if rest else value


def _nested(value: Any, path: str) -> Any:
    for name in path.split("."):
        value = getattr(value, name)
    return value


def per_env(*pairs: tuple[str, type, str]) -> str:
    """Help text of a flag whose default differs by env: ``"default: 200 locomotion, 100
    RoboSumo"``, read from the configs (``(label, config class, field)`` each)."""
    return "default: " + ", ".join(f"{config_default(cls, field)} {label}"
                                   for label, cls, field in pairs)


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a config class's docstring: field name -> its text."""
    import inspect
    import re

    docs, name = {}, None
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    inside = False
    for line in lines:
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):  # the next section
            break
        match = re.match(r"^ {4}(\w+): (.*)$", line)
        if match:
            name = match.group(1)
            docs[name] = match.group(2).strip()
        elif name is not None and line.strip():
            docs[name] += " " + line.strip()
    return docs


def field_help(cls: type, path: str) -> str:
    """The docstring text of a config field (``"lr"`` or nested ``"ppo.lr"``)."""
    *heads, last = path.split(".")
    owner = cls
    for head in heads:
        owner = type(config_default(owner, head))
    return attribute_docs(owner).get(last, "")


def help_from_config(parser: argparse.ArgumentParser, cls: type, fields: dict[str, str]) -> None:
    """Give every flag of ``fields`` (flag -> config field) without help text its field's
    docstring, so that ``--help`` documents the option where the config does."""
    for action in parser._actions:
        flag = next((f for f in action.option_strings if f in fields), None)
        if flag is not None and not action.help:
            action.help = field_help(cls, fields[flag]) or " "


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with every default shown (also of flags without help text), except where the
    help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        return f"{text} (default: %(default)s)"
