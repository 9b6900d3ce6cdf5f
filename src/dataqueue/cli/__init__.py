"""The ``dataqueue`` command."""

from dataqueue.cli.main import main

__all__ = ["main"]
