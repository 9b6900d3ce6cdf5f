"""The ``dataqueue`` commands as a framework's own (``manage.py``, ``flask``)."""

from __future__ import annotations

import click


def with_optional_handlers(command: click.Command, default: str) -> click.Command:
    """``command`` (``dataqueue worker``) with its MODULE:HANDLERS argument
    optional, the framework supplying ``default`` through the default map."""
    params = [
        click.Argument(["handlers"], required=False, metavar="[MODULE:HANDLERS]")
        if param.name == "handlers"
        else param
        for param in command.params
    ]
    return click.Command(
        command.name,
        params=params,
        callback=command.callback,
        help=f"Run jobs until stopped, with the handlers at MODULE:HANDLERS, "
        f"by default {default}.",
    )
