"""Management commands that are ``dataqueue`` CLI commands with Django set up:
the same options, output and exit codes, with the store taken from settings."""

from __future__ import annotations

import os
import sys
from typing import Any, ClassVar

import click
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from dataqueue.contrib.django.conf import queue_settings
from dataqueue.contrib.django.worker import HANDLERS_TARGET

# manage.py has applied these before the command runs.
DJANGO_STARTUP_OPTIONS = ("--settings", "--pythonpath")


class ClickCommand(BaseCommand):
    """Runs ``click_command`` on the rest of the command line."""

    click_command: ClassVar[click.Command]

    def run_from_argv(self, argv: list[str]) -> None:
        prog_name = f"{os.path.basename(argv[0])} {argv[1]}"
        try:
            defaults = settings_defaults()
        except ImproperlyConfigured as error:
            sys.exit(f"{prog_name}: {error}")
        try:
            self.click_command.main(
                without_startup_options(argv[2:]),
                prog_name=prog_name,
                default_map=defaults,
            )
        finally:
            connections.close_all()

    def print_help(self, prog_name: str, subcommand: str) -> None:
        with click.Context(
            self.click_command, info_name=f"{os.path.basename(prog_name)} {subcommand}"
        ) as ctx:
            click.echo(self.click_command.get_help(ctx))

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("args", nargs="*", help="Arguments of the command.")

    def handle(self, *args: Any, **options: Any) -> None:
        """``call_command(name, *arguments)``: the arguments as on the command line."""
        try:
            self.click_command.main(
                list(args),
                prog_name=self.click_command.name,
                default_map=settings_defaults(),
                standalone_mode=False,
            )
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        except click.ClickException as error:
            raise CommandError(error.format_message()) from error


def settings_defaults() -> dict[str, Any]:
    """Defaults for the command's options, from Django's settings."""
    queue = queue_settings()
    return {
        "url": queue.url,
        "schema": queue.schema,
        "key_prefix": queue.key_prefix,
        "handlers": HANDLERS_TARGET,
    }


def without_startup_options(args: list[str]) -> list[str]:
    kept: list[str] = []
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg in DJANGO_STARTUP_OPTIONS:
            skip_value = True
        elif not arg.startswith(tuple(f"{o}=" for o in DJANGO_STARTUP_OPTIONS)):
            kept.append(arg)
    return kept
