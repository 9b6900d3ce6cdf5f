"""install-skills, install-rules and install-mcp in temporary projects: every
client, beside existing files, run twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dataqueue.cli import main
from dataqueue.cli.install import BEGIN, END


def run(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result


def lines(result: Result) -> list[str]:
    return [
        line
        for line in result.output.splitlines()
        if line.split(" ")[0] in {"created", "updated", "unchanged"}
    ]


@pytest.mark.parametrize(
    ("client", "folder"),
    [
        ("claude", ".claude/skills"),
        ("cursor", ".cursor/skills"),
        ("agents", ".agents/skills"),
        ("copilot", ".github/skills"),
    ],
)
def test_skills_are_written_once(tmp_path: Path, client: str, folder: str) -> None:
    own = tmp_path / folder / "my-skill" / "SKILL.md"
    own.parent.mkdir(parents=True)
    own.write_text("mine")

    first = run("install-skills", "--client", client, "--dir", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert lines(first) == [
        f"created {folder}/dataqueue-core/SKILL.md",
        f"created {folder}/dataqueue-advanced/SKILL.md",
    ]
    core = (tmp_path / folder / "dataqueue-core" / "SKILL.md").read_text()
    assert core.startswith("---\nname: dataqueue-core\n")

    second = run("install-skills", "--client", client, "--dir", str(tmp_path))
    assert lines(second) == [
        line.replace("created", "unchanged") for line in lines(first)
    ]
    assert own.read_text() == "mine"


def test_an_outdated_skill_is_updated(tmp_path: Path) -> None:
    run("install-skills", "--client", "claude", "--dir", str(tmp_path))
    skill = tmp_path / ".claude/skills/dataqueue-core/SKILL.md"
    skill.write_text("old version")
    again = run("install-skills", "--client", "claude", "--dir", str(tmp_path))
    assert "updated .claude/skills/dataqueue-core/SKILL.md" in again.output
    assert "old version" not in skill.read_text()


def test_the_client_is_asked_when_not_given(tmp_path: Path) -> None:
    asked = run("install-skills", "--dir", str(tmp_path), input="cursor\n")
    assert "for which client?" in asked.output
    assert (tmp_path / ".cursor/skills/dataqueue-core/SKILL.md").exists()
    refused = CliRunner().invoke(
        main, ["install-skills", "--dir", str(tmp_path)], input="emacs\n"
    )
    assert refused.exit_code != 0
    assert not (tmp_path / ".emacs").exists()


@pytest.mark.parametrize(
    ("client", "target"),
    [
        ("claude", "CLAUDE.md"),
        ("agents", "AGENTS.md"),
        ("copilot", ".github/copilot-instructions.md"),
    ],
)
def test_rules_go_between_markers_beside_existing_text(
    tmp_path: Path, client: str, target: str
) -> None:
    path = tmp_path / target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# My project\n\nUse tabs.\n")

    first = run("install-rules", "--client", client, "--dir", str(tmp_path))
    assert lines(first) == [f"updated {target}"]
    text = path.read_text()
    assert text.startswith("# My project\n\nUse tabs.\n\n" + BEGIN + "\n")
    assert text.endswith(END + "\n")
    assert "# dataqueue — basic rules" in text
    assert "# dataqueue — advanced rules" in text

    second = run("install-rules", "--client", client, "--dir", str(tmp_path))
    assert lines(second) == [f"unchanged {target}"]
    assert path.read_text() == text

    # The user edits around the section; a re-run replaces only dataqueue's part.
    edited = (
        text.replace(BEGIN, "More notes.\n\n" + BEGIN).replace(
            "# dataqueue — basic rules", "# stale rules"
        )
        + "\nFooter.\n"
    )
    path.write_text(edited)
    third = run("install-rules", "--client", client, "--dir", str(tmp_path))
    assert lines(third) == [f"updated {target}"]
    final = path.read_text()
    assert final.count(BEGIN) == 1
    assert "# stale rules" not in final
    assert "More notes." in final
    assert final.endswith("Footer.\n")


def test_rules_create_a_missing_file(tmp_path: Path) -> None:
    result = run("install-rules", "--client", "claude", "--dir", str(tmp_path))
    assert lines(result) == ["created CLAUDE.md"]
    assert (tmp_path / "CLAUDE.md").read_text().startswith(BEGIN)


def test_cursor_rules_are_mdc_files(tmp_path: Path) -> None:
    other = tmp_path / ".cursor/rules/python.mdc"
    other.parent.mkdir(parents=True)
    other.write_text("mine")
    first = run("install-rules", "--client", "cursor", "--dir", str(tmp_path))
    assert lines(first) == [
        "created .cursor/rules/dataqueue-basic.mdc",
        "created .cursor/rules/dataqueue-advanced.mdc",
    ]
    basic = (tmp_path / ".cursor/rules/dataqueue-basic.mdc").read_text()
    assert basic.startswith("---\ndescription: dataqueue basics")
    assert 'globs: "**/*.py"' in basic
    second = run("install-rules", "--client", "cursor", "--dir", str(tmp_path))
    assert all(line.startswith("unchanged") for line in lines(second))
    assert other.read_text() == "mine"


def test_windsurf_rules_get_their_own_file(tmp_path: Path) -> None:
    first = run("install-rules", "--client", "windsurf", "--dir", str(tmp_path))
    assert lines(first) == ["created .windsurf/rules/dataqueue.md"]
    second = run("install-rules", "--client", "windsurf", "--dir", str(tmp_path))
    assert lines(second) == ["unchanged .windsurf/rules/dataqueue.md"]


def test_several_clients_at_once(tmp_path: Path) -> None:
    result = run(
        "install-rules",
        "--client",
        "claude",
        "--client",
        "agents",
        "--dir",
        str(tmp_path),
    )
    assert lines(result) == ["created CLAUDE.md", "created AGENTS.md"]


@pytest.mark.parametrize(
    ("client", "config", "key", "extra"),
    [
        ("claude", ".mcp.json", "mcpServers", {}),
        ("cursor", ".cursor/mcp.json", "mcpServers", {}),
        ("vscode", ".vscode/mcp.json", "servers", {"type": "stdio"}),
    ],
)
def test_mcp_config_is_merged(
    tmp_path: Path, client: str, config: str, key: str, extra: dict[str, str]
) -> None:
    path = tmp_path / config
    path.parent.mkdir(parents=True, exist_ok=True)
    other = {"command": "npx", "args": ["-y", "other-server"]}
    path.write_text(json.dumps({key: {"other": other}, "inputs": [1]}))

    first = run("install-mcp", "--client", client, "--dir", str(tmp_path))
    assert lines(first) == [f"updated {config}"]
    written = json.loads(path.read_text())
    assert written["inputs"] == [1]
    assert written[key]["other"] == other
    assert written[key]["dataqueue"] == {
        **extra,
        "command": "dataqueue",
        "args": ["mcp"],
    }

    second = run("install-mcp", "--client", client, "--dir", str(tmp_path))
    assert lines(second) == [f"unchanged {config}"]

    third = run(
        "install-mcp",
        "--client",
        client,
        "--dir",
        str(tmp_path),
        "--url",
        "${DATAQUEUE_URL}",
        "--allow-writes",
    )
    assert lines(third) == [f"updated {config}"]
    entry = json.loads(path.read_text())[key]["dataqueue"]
    assert entry["args"] == ["mcp", "--url", "${DATAQUEUE_URL}", "--allow-writes"]
    assert json.loads(path.read_text())[key]["other"] == other


def test_mcp_config_is_created(tmp_path: Path) -> None:
    result = run("install-mcp", "--client", "claude", "--dir", str(tmp_path))
    assert lines(result) == ["created .mcp.json"]
    assert json.loads((tmp_path / ".mcp.json").read_text()) == {
        "mcpServers": {"dataqueue": {"command": "dataqueue", "args": ["mcp"]}}
    }


def test_windsurf_mcp_config_lives_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = tmp_path / "home/.codeium/windsurf/mcp_config.json"
    config.parent.mkdir(parents=True)
    config.write_text('{"mcpServers": {"git": {"command": "git-mcp"}}}')
    first = run("install-mcp", "--client", "windsurf", "--dir", str(tmp_path / "proj"))
    assert "updated" in first.output
    second = run("install-mcp", "--client", "windsurf", "--dir", str(tmp_path / "proj"))
    assert "unchanged" in second.output
    servers = json.loads(config.read_text())["mcpServers"]
    assert set(servers) == {"git", "dataqueue"}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"mcpServers": ["x"]}'])
def test_a_config_it_cannot_merge_is_left_alone(tmp_path: Path, content: str) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text(content)
    result = CliRunner().invoke(
        main, ["install-mcp", "--client", "claude", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "left as it is" in result.output or "by hand" in result.output
    assert path.read_text() == content


def test_a_url_with_a_password_is_never_written(tmp_path: Path) -> None:
    secret_url = "postgresql://app:s3cret@db.internal/app"
    refused = CliRunner().invoke(
        main,
        [
            "install-mcp",
            "--client",
            "claude",
            "--dir",
            str(tmp_path),
            "--url",
            secret_url,
        ],
    )
    assert refused.exit_code == 2
    assert "s3cret" not in refused.output
    assert "DATAQUEUE_URL" in refused.output
    assert not (tmp_path / ".mcp.json").exists()

    written = run(
        "install-mcp",
        "--client",
        "claude",
        "--dir",
        str(tmp_path),
        "--env-file",
        ".env",
        "--allow-writes",
    )
    assert lines(written) == ["created .mcp.json"]
    entry = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["dataqueue"]
    assert entry["args"] == ["mcp", "--env-file", ".env", "--allow-writes"]
