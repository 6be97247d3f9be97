"""Checks every link and anchor between the pages of the built site.

    python docs/scripts/check_links.py target/docs

Hugo already refuses a Markdown link to a page or anchor that does not exist
(layouts/_markup/render-link.html); this checks the site as built: every `href` and `src` inside
it (templates, the generated reference, links to the Rust reference and images) must name a file
that exists and, with a `#fragment`, an element of that file with that id. Links leaving the site
are not followed. The Rust reference (`/rust/`) is checked where the site links into it, not
inside it (rustdoc checks its own links).
"""

from __future__ import annotations

import argparse
import html.parser
import pathlib
import sys
import urllib.parse

SKIPPED_FOLDERS = ("rust", "pagefind")


class Page(html.parser.HTMLParser):
    """The links and ids of one HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        values = dict(attributes)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.ids.add(values["name"])
        for attribute in ("href", "src"):
            value = values.get(attribute)
            if value and not (tag == "link" and values.get("rel") in {"canonical", "alternate"}):
                self.links.append(value)


def parse(path: pathlib.Path, cache: dict[pathlib.Path, Page]) -> Page:
    """The parsed file, read once."""
    if path not in cache:
        page = Page()
        page.feed(path.read_text(errors="replace"))
        cache[path] = page
    return cache[path]


def target_file(site: pathlib.Path, page: pathlib.Path, path: str) -> pathlib.Path:
    """The file a link's path names, as a web server would serve it."""
    base = site if path.startswith("/") else page.parent
    target = (base / urllib.parse.unquote(path.lstrip("/"))).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target


def check(site: pathlib.Path) -> list[str]:
    """Every broken link of the site, as `page: link: what is wrong`."""
    site = site.resolve()
    cache: dict[pathlib.Path, Page] = {}
    problems = []
    pages = [path for path in sorted(site.rglob("*.html")) if path.relative_to(site).parts[0] not in SKIPPED_FOLDERS]
    for page_path in pages:
        page = parse(page_path, cache)
        for link in page.links:
            parts = urllib.parse.urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "data:", "javascript:")):
                continue
            target = target_file(site, page_path, parts.path) if parts.path else page_path
            where = f"{page_path.relative_to(site)}: {link}"
            if not target.is_relative_to(site) or not target.exists():
                problems.append(f"{where}: no such file")
                continue
            if parts.fragment and target.suffix == ".html":
                fragment = urllib.parse.unquote(parts.fragment)
                if fragment not in parse(target, cache).ids:
                    problems.append(f"{where}: {target.relative_to(site)} has no element with id {fragment!r}")
    return problems


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", type=pathlib.Path, help="the built site's folder")
    options = parser.parse_args(arguments)
    problems = check(options.site)
    for problem in problems:
        print(f"check_links: {problem}", file=sys.stderr)
    if problems:
        print(f"check_links: {len(problems)} broken links", file=sys.stderr)
        return 1
    checked = sum(1 for _ in options.site.rglob("*.html"))
    print(f"check_links: every link of {options.site} leads somewhere ({checked} HTML files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
