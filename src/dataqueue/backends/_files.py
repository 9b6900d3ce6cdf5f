"""Load a backend's ``.sql`` / ``.lua`` files, shipped as package data."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import LiteralString


@cache
def load_dir(package: str, folder: str, suffix: str) -> dict[str, LiteralString]:
    """Map each file's stem to its text, e.g. ``{"claim_batch": "..."}``."""
    root = resources.files(package).joinpath(folder)
    texts: dict[str, LiteralString] = {}
    for entry in root.iterdir():
        if entry.name.endswith(suffix):
            # The files are package data written by us, never user input, so
            # they are as trustworthy as a literal in the source. (mypy treats
            # LiteralString as str; the annotation documents the intent.)
            text: LiteralString = entry.read_text(encoding="utf-8")
            texts[entry.name.removesuffix(suffix)] = text
    return dict(sorted(texts.items()))
