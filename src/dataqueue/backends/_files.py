"""Load a backend's ``.sql`` / ``.lua`` files, shipped as package data."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import LiteralString, cast


@cache
def load_dir(package: str, folder: str, suffix: str) -> dict[str, LiteralString]:
    """Map each file's stem to its text, e.g. ``{"claim_batch": "..."}``."""
    root = resources.files(package).joinpath(folder)
    texts: dict[str, LiteralString] = {}
    for entry in root.iterdir():
        if entry.name.endswith(suffix):
            # The files are package data written by us, never user input, so
            # they are as trustworthy as a literal in the source.
            texts[entry.name.removesuffix(suffix)] = cast(
                LiteralString, entry.read_text(encoding="utf-8")
            )
    return dict(sorted(texts.items()))
