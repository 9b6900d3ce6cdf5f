"""``dataqueue init``: set a project up for background jobs.

Detects FastAPI, Django, Flask or a plain script from the project's files,
asks for (or takes flags for) the store, writes a handlers module, a queue
module, a ``DATAQUEUE_URL`` line in ``.env`` and the framework's wiring, then
prints what to run next. It never overwrites a file without asking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

FRAMEWORKS = ("fastapi", "django", "flask", "script")
STORES = {
    "sqlite": "sqlite:///dataqueue.db",
    "postgres": "postgresql://localhost/app",
    "redis": "redis://localhost:6379/0",
}
EXTRAS = {
    "sqlite": "dataqueue",
    "postgres": "'dataqueue[postgres]'",
    "redis": "'dataqueue[redis]'",
}
DEPENDENCY_FILES = (
    "pyproject.toml",
    "requirements.txt",
    "requirements.in",
    "requirements-dev.txt",
    "setup.py",
    "setup.cfg",
    "Pipfile",
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Planned:
    """One file ``init`` wants to write (relative to the project)."""

    path: str
    content: str


def detect_framework(root: Path) -> str:
    """``django`` when there is a manage.py, else the first web framework the
    dependency files or top-level modules mention, else ``script``."""
    if (root / "manage.py").exists():
        return "django"
    texts = [
        (root / name).read_text(encoding="utf-8", errors="replace").lower()
        for name in DEPENDENCY_FILES
        if (root / name).is_file()
    ]
    for path in [*root.glob("*.py"), *root.glob("*/*.py")]:
        if ".venv" not in path.parts:
            texts.append(path.read_text(encoding="utf-8", errors="replace").lower())
    for framework in ("django", "fastapi", "flask"):
        pattern = re.compile(rf"(^|[^a-z0-9_-]){framework}([^a-z0-9_-]|$)", re.M)
        if any(pattern.search(text) for text in texts):
            return framework
    return "script"


def _template(name: str, package: str) -> str:
    node = resources.files("dataqueue").joinpath(
        "assistants", "init", f"{name}.py.tmpl"
    )
    return node.read_text(encoding="utf-8").format(package=package)


def plan(framework: str, package: str) -> list[Planned]:
    """The modules to write for ``framework``, in package ``package``."""
    sync = framework in ("django", "flask")
    files = [
        Planned(f"{package}/__init__.py", '"""Background jobs (dataqueue)."""\n'),
        Planned(
            f"{package}/handlers.py",
            _template("handlers_sync" if sync else "handlers_async", package),
        ),
        Planned(
            f"{package}/queue.py",
            _template("queue_sync" if sync else "queue_async", package),
        ),
    ]
    if framework == "fastapi":
        files.append(
            Planned(f"{package}/lifespan.py", _template("fastapi_lifespan", package))
        )
    if sync:
        files.append(Planned(f"{package}/worker.py", _template("worker", package)))
    if framework == "django":
        files += [
            Planned(f"{package}/apps.py", _template("django_apps", package)),
            Planned(f"{package}/management/__init__.py", ""),
            Planned(f"{package}/management/commands/__init__.py", ""),
            Planned(
                f"{package}/management/commands/dataqueue_worker.py",
                _template("django_command", package),
            ),
        ]
    if framework == "flask":
        files.append(
            Planned(f"{package}/flask_cli.py", _template("flask_cli", package))
        )
    return files


def env_with_url(existing: str, url: str) -> str | None:
    """``existing`` .env text with a DATAQUEUE_URL line; None if one is there."""
    for line in existing.splitlines():
        key = line.strip().removeprefix("export ").partition("=")[0].strip()
        if key == "DATAQUEUE_URL":
            return None
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    return f"{prefix}DATAQUEUE_URL={url}\n"


def next_steps(framework: str, store: str, package: str) -> list[str]:
    steps = [f"pip install {EXTRAS[store]}"]
    steps.append("set -a; . ./.env; set +a          # DATAQUEUE_URL into this shell")
    if store == "postgres":
        steps.append("dataqueue migrate                  # once per database")
    worker = f"dataqueue worker {package}.handlers:handlers"
    match framework:
        case "fastapi":
            steps += [
                f"# in your app: from {package}.lifespan import lifespan",
                "#              app = FastAPI(lifespan=lifespan)",
                f"# or run workers beside it: {worker}",
            ]
        case "django":
            steps += [
                f'# add "{package}" to INSTALLED_APPS, then:',
                "python manage.py dataqueue_worker",
            ]
        case "flask":
            steps += [
                f"# in your app factory: from {package}.flask_cli import init_app",
                "#                      init_app(app)",
                "flask dataqueue-worker",
            ]
        case _:
            steps.append(worker)
    return steps


@click.command("init")
@click.option("--framework", type=click.Choice(FRAMEWORKS), help="Default: detected.")
@click.option("--store", type=click.Choice(list(STORES)), help="Asked when not given.")
@click.option("--url", help="Store URL for .env (default: a local one for the store).")
@click.option(
    "--package",
    default="jobs",
    show_default=True,
    help="Python package to create for the jobs code.",
)
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The project folder.",
)
@click.option("--yes", is_flag=True, help="Take the defaults; never overwrite files.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be written; write nothing."
)
def init(
    framework: str | None,
    store: str | None,
    url: str | None,
    package: str,
    directory: Path,
    yes: bool,
    dry_run: bool,
) -> None:
    """Set this project up for background jobs with dataqueue."""
    if not _IDENTIFIER.match(package):
        raise click.BadParameter("must be a Python identifier", param_hint="--package")
    root = directory.resolve()
    if framework is None:
        detected = detect_framework(root)
        framework = (
            detected
            if yes
            else str(
                click.prompt(
                    "Framework", type=click.Choice(FRAMEWORKS), default=detected
                )
            )
        )
    if store is None:
        store = (
            "sqlite"
            if yes
            else str(
                click.prompt("Store", type=click.Choice(list(STORES)), default="sqlite")
            )
        )
    url = url or STORES[store]
    click.echo(f"Setting up dataqueue for {framework} on {store} in {root}")

    files = plan(framework, package)
    env_path = root / ".env"
    env_text = env_path.read_text(encoding="utf-8") if env_path.exists() else ""
    new_env = env_with_url(env_text, url)
    for item in files:
        _write(root / item.path, item.path, item.content, yes=yes, dry_run=dry_run)
    if new_env is None:
        click.echo("kept .env (DATAQUEUE_URL is already set there)")
    else:
        verb = "append DATAQUEUE_URL to" if env_text else "create"
        if dry_run:
            click.echo(f"would {verb} .env: DATAQUEUE_URL={url}")
        else:
            env_path.write_text(new_env, encoding="utf-8")
            click.echo(
                f"{'updated' if env_text else 'created'} .env (DATAQUEUE_URL={url})"
            )

    click.echo("\nNext:")
    for step in next_steps(framework, store, package):
        click.echo(f"  {step}")


def _write(path: Path, shown: str, content: str, *, yes: bool, dry_run: bool) -> None:
    if path.exists():
        if path.read_text(encoding="utf-8") == content:
            click.echo(f"unchanged {shown}")
            return
        if dry_run:
            click.echo(f"would ask before overwriting {shown} (it exists and differs)")
            return
        if yes or not click.confirm(f"{shown} exists. Overwrite it?", default=False):
            click.echo(f"kept {shown} (exists; not overwritten)")
            return
        verb = "overwrote"
    else:
        verb = "created"
    if dry_run:
        click.echo(f"would create {shown}:")
        click.echo("".join(f"    {line}\n" for line in content.splitlines()))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    click.echo(f"{verb} {shown}")
