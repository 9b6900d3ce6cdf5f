"""The user guide as data: pages, ranked search, and the llms.txt files.

Every ``*.md`` file in the ``docs/`` folder is a page; its slug is the file
name without ``.md``, its title the first ``# `` heading and its summary the
``> `` line under it. The wheel ships the folder as ``dataqueue/docs`` (a
hatch ``force-include``); from a source checkout it is read in place, so a
page dropped into ``docs/`` is picked up everywhere without a second copy.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_SUMMARY = (
    "Background jobs for Python on PostgreSQL, Redis or an embedded SQLite "
    "file: one API, the same behaviour on all three."
)

# Reading order of the guide; pages not listed follow in alphabetical order.
ORDER = (
    "getting-started",
    "connecting",
    "jobs",
    "processing",
    "flow-control",
    "cron",
    "stores",
    "testing",
    "scaling",
    "deploy",
    "troubleshooting",
    "building-with-ai",
)

_WORD = re.compile(r"[a-z0-9_]+")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class DocPage:
    """One page of the guide."""

    slug: str
    title: str
    description: str
    body: str

    @property
    def path(self) -> str:
        """Where the page lives in the repository."""
        return f"docs/{self.slug}.md"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A page that matches a query, with the passage that matched best."""

    page: DocPage
    score: float
    excerpt: str


def docs_dir() -> Path:
    """The folder holding the pages: inside the package, else the checkout's."""
    shipped = Path(__file__).resolve().parent / "docs"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[2] / "docs"


def parse_page(slug: str, text: str) -> DocPage:
    """Split a Markdown page into its title, one-line summary and body."""
    title, description = "", ""
    for line in text.splitlines():
        if line.startswith("## "):
            break
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.startswith("> ") and not description:
            description = line[2:].strip()
    return DocPage(
        slug=slug,
        title=title or slug.replace("-", " ").capitalize(),
        description=description,
        body=text,
    )


def load_pages(folder: Path | None = None) -> list[DocPage]:
    """Every page of ``folder`` (default: the guide), in reading order."""
    if folder is None:
        return list(_load_default())
    return _load(folder)


@cache
def _load_default() -> tuple[DocPage, ...]:
    return tuple(_load(docs_dir()))


def _load(folder: Path) -> list[DocPage]:
    pages = [
        parse_page(path.stem, path.read_text(encoding="utf-8"))
        for path in folder.glob("*.md")
        if _SLUG.match(path.stem)
    ]
    rank = {slug: index for index, slug in enumerate(ORDER)}
    return sorted(pages, key=lambda page: (rank.get(page.slug, len(ORDER)), page.slug))


def get_page(slug: str, pages: list[DocPage] | None = None) -> DocPage | None:
    """The page with this slug, or None."""
    for page in load_pages() if pages is None else pages:
        if page.slug == slug:
            return page
    return None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _sections(page: DocPage) -> list[str]:
    """The page cut at its ``##`` headings: the units search ranks."""
    parts = re.split(r"(?m)^(?=## )", page.body)
    return [part.strip() for part in parts if part.strip()]


def search(
    query: str, limit: int = 5, pages: list[DocPage] | None = None
) -> list[SearchHit]:
    """Pages ranked by BM25 over their sections, titles weighing triple.

    Each page scores as its best section plus a tenth of the rest, so a page
    that answers the query in one place beats one that mentions it in passing.
    """
    terms = list(dict.fromkeys(_words(query)))
    if not terms:
        return []
    corpus = load_pages() if pages is None else pages
    units: list[tuple[DocPage, str, Counter[str]]] = []
    for page in corpus:
        title_words = _words(page.title) * 3
        for section in _sections(page):
            units.append((page, section, Counter(_words(section) + title_words)))
    if not units:
        return []
    average = sum(sum(c.values()) for _, _, c in units) / len(units)
    frequency = Counter(term for _, _, c in units for term in terms if term in c)
    k1, b = 1.2, 0.75
    per_page: dict[str, list[tuple[float, str]]] = {}
    for page, section, counts in units:
        length = sum(counts.values())
        score = 0.0
        for term in terms:
            tf = counts.get(term, 0)
            if not tf:
                continue
            idf = math.log(
                1 + (len(units) - frequency[term] + 0.5) / (frequency[term] + 0.5)
            )
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))
        if score > 0:
            per_page.setdefault(page.slug, []).append((score, section))
    hits = []
    by_slug = {page.slug: page for page in corpus}
    for slug, scored in per_page.items():
        scored.sort(key=lambda item: -item[0])
        total = scored[0][0] + sum(score for score, _ in scored[1:]) / 10
        hits.append(
            SearchHit(by_slug[slug], round(total, 3), _excerpt(scored[0][1], terms))
        )
    hits.sort(key=lambda hit: (-hit.score, hit.page.slug))
    return hits[:limit]


def _excerpt(section: str, terms: list[str], width: int = 300) -> str:
    lowered = section.lower()
    positions = [lowered.find(term) for term in terms if term in lowered]
    start = max(0, min(positions) - width // 3) if positions else 0
    text = " ".join(section[start : start + width].split())
    return ("…" if start else "") + text + ("…" if start + width < len(section) else "")


def build_llms_txt(pages: list[DocPage]) -> str:
    """The concise index, per the llms.txt convention (llmstxt.org)."""
    lines = [
        "# dataqueue",
        "",
        f"> {PROJECT_SUMMARY}",
        "",
        "Install with `pip install dataqueue` (SQLite), `dataqueue[postgres]` or "
        "`dataqueue[redis]`. Import it as `import dataqueue as dq`. Every page "
        "below is plain Markdown; `llms-full.txt` holds them all in one file.",
        "",
        "## Docs",
        "",
    ]
    for page in pages:
        summary = f": {page.description}" if page.description else ""
        lines.append(f"- [{page.title}]({page.path}){summary}")
    return "\n".join(lines) + "\n"


def build_llms_full_txt(pages: list[DocPage]) -> str:
    """Every page in one file, each under a line naming its source."""
    parts = [f"# dataqueue\n\n> {PROJECT_SUMMARY}\n"]
    for page in pages:
        parts.append(f"<!-- source: {page.path} -->\n\n{page.body.strip()}\n")
    return "\n".join(parts)


def llms_files(pages: list[DocPage]) -> dict[str, str]:
    """``{file name: content}`` of both generated files."""
    return {
        "llms.txt": build_llms_txt(pages),
        "llms-full.txt": build_llms_full_txt(pages),
    }
