"""``dataqueue install-skills | install-rules | install-mcp``: teach coding assistants.

Each command writes where the chosen client reads, only ever touches
dataqueue's own files or its own marked section of a shared file, and prints
one line per file: created, updated or unchanged. Running it twice changes
nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import click

from dataqueue import redact

BEGIN = "<!-- dataqueue:begin -->"
END = "<!-- dataqueue:end -->"

SKILLS = ("dataqueue-core", "dataqueue-advanced")
SKILL_DIRS = {
    "claude": ".claude/skills",
    "cursor": ".cursor/skills",
    "agents": ".agents/skills",
    "copilot": ".github/skills",
}
RULE_TARGETS = {
    "cursor": ".cursor/rules",
    "claude": "CLAUDE.md",
    "agents": "AGENTS.md",
    "copilot": ".github/copilot-instructions.md",
    "windsurf": ".windsurf/rules/dataqueue.md",
}
# client: (config file, key holding the servers, extra fields of an entry)
MCP_CONFIGS: dict[str, tuple[str, str, dict[str, str]]] = {
    "claude": (".mcp.json", "mcpServers", {}),
    "cursor": (".cursor/mcp.json", "mcpServers", {}),
    "vscode": (".vscode/mcp.json", "servers", {"type": "stdio"}),
    "windsurf": ("~/.codeium/windsurf/mcp_config.json", "mcpServers", {}),
}
CLIENT_NAMES = {
    "claude": "Claude Code",
    "cursor": "Cursor",
    "agents": "AGENTS.md (Codex and others)",
    "copilot": "GitHub Copilot",
    "windsurf": "Windsurf",
    "vscode": "VS Code (Copilot)",
}


def assistant_text(*parts: str) -> str:
    """A text shipped in ``dataqueue/assistants``."""
    node = resources.files("dataqueue").joinpath("assistants", *parts)
    return node.read_text(encoding="utf-8")


def write(path: Path, content: str, root: Path) -> None:
    """Write ``content`` to ``path`` unless it is already there; say what happened."""
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    if path.exists():
        if path.read_text(encoding="utf-8") == content:
            click.echo(f"unchanged {shown}")
            return
        verb = "updated"
    else:
        verb = "created"
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    click.echo(f"{verb} {shown}")


def with_section(existing: str, section: str) -> str:
    """``existing`` with dataqueue's marked section replaced, or appended."""
    block = f"{BEGIN}\n{section.strip()}\n{END}\n"
    start, end = existing.find(BEGIN), existing.find(END)
    if start != -1 and end > start:
        return existing[:start] + block + existing[end + len(END) :].lstrip("\n")
    if not existing.strip():
        return block
    return existing.rstrip("\n") + "\n\n" + block


def choose_clients(
    given: tuple[str, ...], choices: dict[str, Any], what: str
) -> list[str]:
    if given:
        return list(dict.fromkeys(given))
    listing = ", ".join(f"{key} ({CLIENT_NAMES[key]})" for key in choices)
    answer: str = click.prompt(
        f"Install {what} for which client? {listing}",
        type=click.Choice(list(choices)),
    )
    return [answer]


def client_option(choices: dict[str, Any]) -> Callable[[Any], Any]:
    return click.option(
        "--client",
        "clients",
        multiple=True,
        type=click.Choice(list(choices)),
        help="Which assistant (repeatable). Asked when not given.",
    )


def dir_option(func: Any) -> Any:
    return click.option(
        "--dir",
        "directory",
        default=".",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The project folder.",
    )(func)


@click.command("install-skills")
@client_option(SKILL_DIRS)
@dir_option
def install_skills(clients: tuple[str, ...], directory: Path) -> None:
    """Write dataqueue's SKILL.md files into an assistant's skills folder."""
    root = directory.resolve()
    for client in choose_clients(clients, SKILL_DIRS, "skills"):
        for skill in SKILLS:
            path = root / SKILL_DIRS[client] / skill / "SKILL.md"
            write(path, assistant_text("skills", skill, "SKILL.md"), root)


def _rules() -> dict[str, str]:
    return {
        name: assistant_text("rules", f"{name}.md") for name in ("basic", "advanced")
    }


def _cursor_rule(name: str, text: str) -> str:
    description = {
        "basic": "dataqueue basics: connecting, adding jobs, handlers, workers",
        "advanced": "dataqueue advanced: timeouts, retries, idempotency, "
        "transactions, leases, maintenance, scaling",
    }[name]
    return (
        f'---\ndescription: {description}\nglobs: "**/*.py"\n'
        f"alwaysApply: false\n---\n\n{text}"
    )


@click.command("install-rules")
@client_option(RULE_TARGETS)
@dir_option
def install_rules(clients: tuple[str, ...], directory: Path) -> None:
    """Write dataqueue's rules where an assistant reads them.

    CLAUDE.md, AGENTS.md and the Copilot instructions keep their content:
    the rules go between dataqueue markers, replaced on the next run.
    """
    root = directory.resolve()
    rules = _rules()
    combined = rules["basic"].strip() + "\n\n" + rules["advanced"].strip() + "\n"
    for client in choose_clients(clients, RULE_TARGETS, "rules"):
        target = root / RULE_TARGETS[client]
        if client == "cursor":
            for name, text in rules.items():
                write(target / f"dataqueue-{name}.mdc", _cursor_rule(name, text), root)
        elif client == "windsurf":
            write(target, combined, root)
        else:
            existing = target.read_text(encoding="utf-8") if target.exists() else ""
            write(target, with_section(existing, combined), root)


def merge_server(config: Any, key: str, entry: dict[str, Any], path: Path) -> Any:
    """``config`` with ``entry`` as its ``dataqueue`` server; other servers kept."""
    if not isinstance(config, dict):
        raise click.ClickException(
            f"{path} is not a JSON object; add the server by hand"
        )
    servers = config.setdefault(key, {})
    if not isinstance(servers, dict):
        raise click.ClickException(f"{path}: {key!r} is not an object; left as it is")
    servers["dataqueue"] = entry
    return config


@click.command("install-mcp")
@client_option(MCP_CONFIGS)
@dir_option
@click.option(
    "--url",
    help="Store URL for the live-queue tools, only as a reference the client "
    "expands (${DATAQUEUE_URL}) or without a password. By default the server "
    "reads $DATAQUEUE_URL from the environment the client starts it in.",
)
@click.option(
    "--env-file",
    help="A .env file the server reads DATAQUEUE_URL from (its path is written, "
    "not its content).",
)
@click.option("--allow-writes", is_flag=True, help="Offer retry-job and cancel-job.")
@click.option(
    "--command",
    "command",
    default="dataqueue",
    show_default=True,
    help="How the client starts dataqueue (e.g. a venv's bin/dataqueue).",
)
def install_mcp(
    clients: tuple[str, ...],
    directory: Path,
    url: str | None,
    env_file: str | None,
    allow_writes: bool,
    command: str,
) -> None:
    """Add the dataqueue MCP server to an assistant's MCP config.

    The config is often committed: it never holds a secret. The server reads
    the store URL from $DATAQUEUE_URL, or from --env-file's file.
    """
    if url and redact(url) != url:
        raise click.UsageError(
            "--url would write the store's password into the client's config, "
            "a file that is often committed. Leave --url out and set "
            "$DATAQUEUE_URL where the client runs (or pass --env-file .env), "
            "or give a reference the client expands, e.g. --url '${DATAQUEUE_URL}'"
        )
    root = directory.resolve()
    args = ["mcp"]
    if url:
        args += ["--url", url]
    if env_file:
        args += ["--env-file", env_file]
    if allow_writes:
        args.append("--allow-writes")
    for client in choose_clients(clients, MCP_CONFIGS, "the MCP server"):
        name, key, extra = MCP_CONFIGS[client]
        path = Path(name).expanduser() if name.startswith("~") else root / name
        config: Any = {}
        if path.exists():
            raw = path.read_text(encoding="utf-8")
            try:
                config = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as error:
                raise click.ClickException(
                    f"{path} is not valid JSON ({error}); left as it is"
                ) from error
        entry = {**extra, "command": command, "args": args}
        merged = merge_server(config, key, entry, path)
        write(path, json.dumps(merged, indent=2) + "\n", root)
