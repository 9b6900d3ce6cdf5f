"""The command group; one sibling module per subcommand."""

from __future__ import annotations

import click

from dataqueue.cli.cron import cron
from dataqueue.cli.dashboard import dashboard
from dataqueue.cli.demo import demo
from dataqueue.cli.docs import docs
from dataqueue.cli.init import init
from dataqueue.cli.install import install_mcp, install_rules, install_skills
from dataqueue.cli.jobs import healthcheck, jobs, stats
from dataqueue.cli.limits import limits, pause, resume
from dataqueue.cli.mcp import mcp
from dataqueue.cli.migrate import migrate
from dataqueue.cli.worker import worker


@click.group()
@click.version_option(package_name="dataqueue")
def main() -> None:
    """dataqueue: background jobs on PostgreSQL, Redis or SQLite."""


main.add_command(migrate)
main.add_command(worker)
main.add_command(demo)
main.add_command(docs)
main.add_command(mcp)
main.add_command(init)
main.add_command(install_skills)
main.add_command(install_rules)
main.add_command(install_mcp)
main.add_command(cron)
main.add_command(dashboard)
main.add_command(jobs)
main.add_command(stats)
main.add_command(healthcheck)
main.add_command(limits)
main.add_command(pause)
main.add_command(resume)
