"""The guide as data: pages load, search ranks, llms.txt files are fresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dataqueue import _docs
from dataqueue.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_llms_files_are_fresh() -> None:
    pages = _docs.load_pages(ROOT / "docs")
    for name, content in _docs.llms_files(pages).items():
        current = (ROOT / name).read_text(encoding="utf-8")
        assert current == content, f"{name} is stale: run `dataqueue docs build`"


def test_docs_build_check_passes_in_the_checkout() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dataqueue", "docs", "build", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_page_dropped_into_the_folder_is_picked_up(tmp_path: Path) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    (source / "jobs.md").write_text("# Jobs\n\n> Adding jobs.\n\n## Add\n\nadd_job\n")
    (source / "cron.md").write_text("# Cron\n\n> Schedules.\n\n## Add\n\ncron text\n")
    (source / "getting-started.md").write_text("# Getting started\n\nNo summary.\n")
    out = tmp_path / "out"
    runner = CliRunner()

    built = runner.invoke(
        main, ["docs", "build", "--source", str(source), "--output", str(out)]
    )
    assert built.exit_code == 0, built.output
    index = (out / "llms.txt").read_text()
    # Known pages in reading order, then the new one.
    assert (
        index.index("getting-started.md")
        < index.index("jobs.md")
        < index.index("cron.md")
    )
    assert "- [Cron](docs/cron.md): Schedules." in index
    assert "cron text" in (out / "llms-full.txt").read_text()

    fresh = runner.invoke(
        main,
        ["docs", "build", "--source", str(source), "--output", str(out), "--check"],
    )
    assert fresh.exit_code == 0, fresh.output
    (source / "flows.md").write_text("# Flows\n\n> Fan out.\n")
    stale = runner.invoke(
        main,
        ["docs", "build", "--source", str(source), "--output", str(out), "--check"],
    )
    assert stale.exit_code == 1
    assert "out of date" in stale.output


def test_every_page_has_a_title_and_summary() -> None:
    pages = _docs.load_pages(ROOT / "docs")
    guide = [p for p in pages if p.slug in _docs.ORDER]
    assert [page.slug for page in guide] == list(_docs.ORDER)
    for page in pages:  # `dataqueue docs list` shows every one
        assert page.title, page.slug
        assert page.description, f"{page.path} needs a '> summary' line under its title"


def test_search_ranks_pages_by_their_best_section() -> None:
    pages = _docs.load_pages(ROOT / "docs")
    assert _docs.search("idempotency_key", pages=pages)[0].page.slug == "jobs"
    assert _docs.search("FakeClock advance", pages=pages)[0].page.slug == "testing"
    assert _docs.search("install-mcp", pages=pages)[0].page.slug == "building-with-ai"
    assert _docs.search("SIGTERM drain timeout deploy", pages=pages)[0].page.slug in {
        "scaling",
        "processing",
        "deploy",
    }
    assert _docs.search("", pages=pages) == []
    assert _docs.search("qqqzzz", pages=pages) == []


def test_cli_lists_shows_and_searches() -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["docs", "list"])
    assert listed.exit_code == 0
    assert listed.output.startswith("getting-started")
    shown = runner.invoke(main, ["docs", "show", "stores"])
    assert shown.output.startswith("# Stores")
    missing = runner.invoke(main, ["docs", "show", "nope"])
    assert missing.exit_code == 2
    found = runner.invoke(main, ["docs", "search", "redis key_prefix"])
    assert found.exit_code == 0
    assert "connecting" in found.output or "stores" in found.output


def test_the_docs_call_the_maintenance_methods_with_their_own_keywords() -> None:
    import inspect
    import re

    import dataqueue as dq

    texts = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    texts += (ROOT / "src" / "dataqueue" / "assistants").rglob("*.md")
    for name in ("reclaim_stuck_jobs", "create_supervisor"):
        known = set(inspect.signature(getattr(dq.JobQueue, name)).parameters)
        for path in texts:
            for call in re.findall(rf"{name}\(([^)]*)\)", path.read_text()):
                # "cleanup_*_days_to_keep=" names several at once
                used = set(re.findall(r"(?<![\w*])(\w+)\s*=", call))
                assert used <= known, f"{path.name}: {name}({call})"
