"""What every config dataclass of the agents shares: a JSON-ready dict and back.

``Config`` is a mixin for frozen dataclasses: ``to_dict()`` is ``dataclasses.asdict``, and
``from_dict`` rebuilds nested config fields (a ``PolicyConfig`` inside a ``TrainConfig``) from
their dicts by the fields' declared types, so that a config stored in ``config.json`` or a
checkpoint comes back equal to the one saved.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

C = TypeVar("C", bound="Config")


class Config:
    """``to_dict`` / ``from_dict`` for a (frozen) config dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], d: dict[str, Any]) -> C:
        d = dict(d)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = hints.get(f.name)
            if dataclasses.is_dataclass(kind) and isinstance(d.get(f.name), dict):
                build = getattr(kind, "from_dict", None)
                d[f.name] = build(d[f.name]) if build else kind(**d[f.name])
        return cls(**d)


__all__ = ["Config"]
