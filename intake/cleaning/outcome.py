"""What each format module hands back to the dispatcher in api.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    data: bytes
    media_type: str
    extension: str
    removed: set[str] = field(default_factory=set)
