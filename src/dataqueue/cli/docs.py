"""``dataqueue docs``: read the guide in the terminal; regenerate llms.txt."""

from __future__ import annotations

from pathlib import Path

import click

from dataqueue import _docs


@click.group()
def docs() -> None:
    """The user guide: list, show and search its pages; build llms.txt."""


@docs.command("list")
def list_pages() -> None:
    """Every page: slug, title and summary."""
    for page in _docs.load_pages():
        click.echo(f"{page.slug:18} {page.title} — {page.description}")


@docs.command()
@click.argument("slug")
def show(slug: str) -> None:
    """Print the page SLUG (see `dataqueue docs list`)."""
    page = _docs.get_page(slug)
    if page is None:
        raise click.BadParameter(f"no page {slug!r}; see `dataqueue docs list`")
    click.echo(page.body)


@docs.command()
@click.argument("query")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
def search(query: str, limit: int) -> None:
    """Pages that answer QUERY, best first."""
    hits = _docs.search(query, limit=limit)
    if not hits:
        click.echo("no page matches")
    for hit in hits:
        click.echo(f"{hit.page.slug} ({hit.score}): {hit.excerpt}\n")


@docs.command()
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Markdown pages (default: dataqueue's guide).",
)
@click.option(
    "--output",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where llms.txt and llms-full.txt go.",
)
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if stale.")
def build(source: Path | None, output: Path, check: bool) -> None:
    """Regenerate llms.txt and llms-full.txt from the pages."""
    pages = _docs.load_pages(source)
    stale = []
    for name, content in _docs.llms_files(pages).items():
        target = output / name
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == content:
            click.echo(f"unchanged {target}")
            continue
        stale.append(name)
        if not check:
            output.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            click.echo(f"wrote {target}")
    if check and stale:
        raise click.ClickException(
            f"{', '.join(stale)} out of date: run `dataqueue docs build`"
        )
