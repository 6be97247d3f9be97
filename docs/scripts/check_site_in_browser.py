"""Opens the built site in headless Chromium, at desktop and phone widths, and checks it.

    python docs/scripts/check_site_in_browser.py target/docs [--screenshots target/docs-screenshots]

Serves the site on a free local port and drives Debian's Chromium (`/usr/bin/chromium`, or
`CHROMIUM`) with Playwright, never a downloaded browser. On the home page, an API page and a
tutorial, at 1280 and 390 pixels wide: no console error or uncaught exception, every image
loaded, and nothing wider than the phone's screen; on the phone the menu button opens the
navigation; the search box finds `UnifiedExecutor` and its first result leads to its page.
Full-page screenshots of each go to the screenshots folder, to be looked at.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import pathlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page, sync_playwright

PAGES = {
    "home": "/",
    "api-unifiedexecutor": "/reference/python-api/unifiedexecutor/",
    "tutorial-first-workflow": "/python-bindings/tutorials/01-first-workflow/",
}
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
CHROMIUM_ARGUMENTS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site's folder without logging each request."""

    def log_message(self, format: str, *arguments: object) -> None:
        pass


@contextmanager
def serve(site: pathlib.Path) -> Iterator[str]:
    """The site served on a free local port, for as long as the block runs."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def page_problems(page: Page, name: str, viewport: str) -> list[str]:
    """What is wrong with the page as shown: overflow, images that did not load."""
    problems = []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    shown = page.evaluate("() => window.innerWidth")
    if width > shown:
        wide = page.evaluate(
            """(limit) => [...document.querySelectorAll('body *')]
                .filter(element => element.getBoundingClientRect().right > limit + 1)
                .filter(element => !element.closest('pre, table, .signature, .sidebar'))
                .slice(0, 5).map(element => element.tagName + '.' + element.className)""",
            shown,
        )
        problems.append(f"{name} ({viewport}): the page is {width}px wide on a {shown}px screen: {wide}")
    broken = page.evaluate("() => [...document.images].filter(image => !image.naturalWidth).map(image => image.src)")
    if broken:
        problems.append(f"{name} ({viewport}): images did not load: {broken}")
    return problems


def check(site: pathlib.Path, screenshots: pathlib.Path, chromium: str) -> list[str]:
    """Every problem found, as readable lines; screenshots written on the way."""
    problems: list[str] = []
    screenshots.mkdir(parents=True, exist_ok=True)
    with serve(site) as address, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGUMENTS)
        for viewport, options in VIEWPORTS.items():
            context = browser.new_context(**options)
            for name, path in PAGES.items():
                page = context.new_page()
                errors: list[str] = []
                page.on(
                    "console", lambda message, errors=errors: message.type == "error" and errors.append(message.text)
                )
                page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
                response = page.goto(address + path, wait_until="networkidle")
                if response is None or response.status != 200:
                    problems.append(
                        f"{name} ({viewport}): {path} answered {response.status if response else 'nothing'}"
                    )
                    continue
                problems.extend(page_problems(page, name, viewport))
                page.screenshot(path=str(screenshots / f"{name}-{viewport}.png"), full_page=True)
                if viewport == "phone" and name == "home":
                    page.click(".menu-button")
                    if not page.is_visible(".sidebar"):
                        problems.append("home (phone): the menu button does not show the navigation")
                    page.screenshot(path=str(screenshots / "navigation-phone.png"))
                    page.click(".menu-button")
                if name == "home":
                    problems.extend(search(page, viewport, screenshots))
                problems.extend(f"{name} ({viewport}): console: {error}" for error in errors)
                page.close()
            context.close()
        browser.close()
    return problems


def search(page: Page, viewport: str, screenshots: pathlib.Path) -> list[str]:
    """Searches for `UnifiedExecutor` and follows the first result."""
    box = page.locator(".pagefind-ui__search-input")
    box.fill("UnifiedExecutor")
    try:
        page.wait_for_selector(".pagefind-ui__result-link", timeout=10_000)
    except Exception:  # Playwright's timeout: reported as a problem, with what the page shows
        return [f"search ({viewport}): no result for UnifiedExecutor"]
    page.screenshot(path=str(screenshots / f"search-{viewport}.png"))
    links = page.eval_on_selector_all(".pagefind-ui__result-link", "links => links.map(link => link.href)")
    if not any("/reference/python-api/unifiedexecutor/" in link for link in links):
        return [f"search ({viewport}): the results for UnifiedExecutor do not include its page: {links}"]
    first = page.locator(".pagefind-ui__result-link").first
    first.click()
    page.wait_for_load_state("networkidle")
    if page.locator("h1").first.inner_text().strip() == "":
        return [f"search ({viewport}): the first result opened a page without a title"]
    return []


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", type=pathlib.Path, help="the built site's folder")
    parser.add_argument("--screenshots", type=pathlib.Path, default=pathlib.Path("target/docs-screenshots"))
    options = parser.parse_args(arguments)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not pathlib.Path(chromium).exists():
        print(f"check_site_in_browser: no Chromium at {chromium}: apt-get install chromium", file=sys.stderr)
        return 1
    problems = check(options.site, options.screenshots, chromium)
    for problem in problems:
        print(f"check_site_in_browser: {problem}", file=sys.stderr)
    if problems:
        return 1
    count = len(list(options.screenshots.glob("*.png")))
    print(
        f"check_site_in_browser: {len(PAGES)} pages at {len(VIEWPORTS)} widths: no console errors, no overflow, "
        f"search finds UnifiedExecutor; {count} screenshots in {options.screenshots}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
