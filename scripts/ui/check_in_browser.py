"""The web page in headless Chromium, against a database another process writes.

    python scripts/ui/check_in_browser.py [--screenshots target/ui-screenshots]

Starts `scripts/ui/workflows.py` (which runs executions and keeps running tasks) and
`cloacina ui --import workflows` on a SQLite file, then drives Debian's Chromium
(`/usr/bin/chromium`, or `CHROMIUM`) with Playwright, never a downloaded browser, at 1280 and
390 pixels wide: the list shows the four executions the other process wrote; an execution's
graph has one node per task in its status's colour; the running execution's nodes turn green by
themselves when its gate opens (no reload); cancel stops an execution and re-run from failure
runs the failed part again; markup in a context value shows as text and runs nothing; no console
error or uncaught exception; nothing wider than the phone's screen outside the scrolling graph
and tables. Screenshots of each page go to the screenshots folder, to be looked at.
"""

from __future__ import annotations

import argparse
import colorsys
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Dialog, Page, sync_playwright

HERE = pathlib.Path(__file__).parent
COMMAND = pathlib.Path(sys.executable).parent / "cloacina"
CHROMIUM_ARGUMENTS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
# The colour each status must be drawn in, by hue.
COLOURS = {"Completed": "green", "Failed": "red", "Running": "blue", "Cancelled": "orange"}


@contextmanager
def running(command: list[str], ready: str, environment: dict[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """A process, once it printed a line matching `ready` (returned); stopped as Ctrl-C would."""
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        if not re.search(ready, line):
            process.kill()
            _, errors = process.communicate(timeout=20)
            raise SystemExit(f"check_in_browser: {command[1]} did not start: {line!r}\n{errors}")
        yield process, line
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


# A node's fill, read in one step in the page: a live update may replace the graph between a
# query and a later read, and a replaced (detached) element has no computed style.
NODE_FILL = """task_id => {
    const box = document.querySelector(`g.dag-node[data-task-id='${task_id}'] rect`);
    const fill = box && box.isConnected ? getComputedStyle(box).fill : '';
    return /\\d/.test(fill) ? fill : null;
}"""


def colour(page: Page, task_id: str) -> str:
    """The hue a graph node is filled with: red, orange, green, blue or grey."""
    fill = page.wait_for_function(NODE_FILL, arg=task_id, timeout=10_000).json_value()
    red, green, blue = (int(part) for part in re.findall(r"\d+", fill)[:3])
    hue, saturation, _ = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    if saturation < 0.25:
        return "grey"
    degrees = hue * 360
    for name, end in (("red", 15), ("orange", 50), ("yellow", 70), ("green", 170), ("blue", 260), ("purple", 330)):
        if degrees < end:
            return name
    return "red"


def check_colour(page: Page, task_id: str, status: str) -> Iterator[str]:
    """Whether a node of `status` is drawn in its colour."""
    found = colour(page, task_id)
    if found != COLOURS[status]:
        yield f"the {status} node {task_id} is drawn {found}, not {COLOURS[status]}"


def overflow(page: Page) -> list[str]:
    """Elements wider than the screen, outside the scrolling containers."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(element => element.getBoundingClientRect().right > window.innerWidth + 1)
            .filter(element => !element.closest('.scroll, table, svg, pre'))
            .slice(0, 5).map(element => element.tagName + '.' + element.className)"""
    )


def check(
    address: str, ids: dict[str, str], directory: pathlib.Path, screenshots: pathlib.Path, chromium: str
) -> list[str]:
    """Every problem found; screenshots written on the way."""
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGUMENTS)
        for viewport, options in VIEWPORTS.items():
            context = browser.new_context(**options)
            page = context.new_page()
            errors: list[str] = []
            watch(page, errors)
            walked = pages(page, address, ids, directory, viewport, screenshots)
            problems.extend(f"{viewport}: {problem}" for problem in walked)
            problems.extend(f"{viewport}: console: {error}" for error in errors)
            context.close()
        browser.close()
    return problems


def watch(page: Page, errors: list[str]) -> None:
    """Notes console errors, uncaught exceptions and any dialog (which markup could open)."""

    def dialog_opened(dialog: Dialog) -> None:
        errors.append(f"a dialog opened: {dialog.message}")
        dialog.dismiss()

    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", dialog_opened)


def pages(
    page: Page, address: str, ids: dict[str, str], directory: pathlib.Path, viewport: str, screenshots: pathlib.Path
) -> Iterator[str]:
    """Walks the pages at one width, yielding what is wrong."""
    page.goto(address, wait_until="networkidle")
    page.wait_for_selector("tr[data-execution-id]")
    listed = set(page.eval_on_selector_all("tr[data-execution-id]", "rows => rows.map(row => row.dataset.executionId)"))
    if not set(ids.values()) <= listed:
        yield f"the list shows {sorted(listed)}, not every execution written: {sorted(ids.values())}"
    yield from (f"list: wider than the screen: {found}" for found in overflow(page))
    page.screenshot(path=str(screenshots / f"executions-{viewport}.png"), full_page=True)

    # The completed execution: one node per task, green; the markup shown as text.
    page.click(f"tr[data-execution-id='{ids['etl']}'] a")
    page.wait_for_selector("g.dag-node[data-task-id='load']")
    nodes = page.eval_on_selector_all(
        "g.dag-node", "nodes => nodes.map(node => [node.dataset.taskId, node.dataset.status])"
    )
    if sorted(nodes) != [["extract", "Completed"], ["load", "Completed"], ["transform", "Completed"]]:
        yield f"the etl graph shows {nodes}"
    yield from check_colour(page, "load", "Completed")
    final = page.inner_text("section[data-context=final]")
    if "<script>alert('not run')</script>" not in final:
        yield f"the markup in a context value is not shown as text: {final[:200]!r}"
    injected = page.evaluate("() => document.querySelectorAll('main script, main img').length")
    if injected:
        yield f"markup in a context value became {injected} element(s)"
    page.click("g.dag-node[data-task-id='transform']")
    page.wait_for_selector("section[data-panel=task]")
    panel = page.inner_text("section[data-panel=task]")
    if "total" not in panel or "rows" not in panel:
        yield f"the task panel does not show the task's input and output: {panel[:200]!r}"
    yield from (f"execution: wider than the screen: {found}" for found in overflow(page))
    page.screenshot(path=str(screenshots / f"execution-{viewport}.png"), full_page=True)

    # A mapped task is one node, its six instances counted, not drawn.
    page.goto(f"{address}#/executions/{ids['fan']}", wait_until="networkidle")
    page.wait_for_selector("g.dag-node[data-task-id='total'][data-status='Completed']")
    drawn = page.eval_on_selector_all("g.dag-node", "nodes => nodes.map(node => node.dataset.taskId)")
    if sorted(drawn) != ["fetch", "pages", "total"]:
        yield f"the mapped workflow's graph draws {drawn}, not its three tasks"
    label = page.eval_on_selector("g.dag-node[data-task-id='fetch']", "node => node.textContent")
    if "\u00d76" not in label:
        yield "the mapped task's node does not count its six instances"
    page.screenshot(path=str(screenshots / f"mapped-{viewport}.png"), full_page=True)

    if viewport != "desktop":
        return
    # A workflow's page: its graph, versions and executions.
    page.goto(f"{address}#/workflows/etl", wait_until="networkidle")
    page.wait_for_selector("g.dag-node[data-task-id='transform']")
    page.screenshot(path=str(screenshots / "workflow-desktop.png"), full_page=True)
    # The running execution turns green by itself.
    page.goto(f"{address}#/executions/{ids['gated']}", wait_until="networkidle")
    page.wait_for_selector("g.dag-node[data-task-id='wait'][data-status='Running']")
    yield from check_colour(page, "wait", "Running")
    loads = page.evaluate("() => performance.getEntriesByType('navigation').length")
    (directory / "open").touch()
    try:
        page.wait_for_selector("g.dag-node[data-task-id='after'][data-status='Completed']", timeout=20_000)
    except Exception:  # Playwright's timeout, reported with what the page shows
        yield "the running execution did not turn green by itself"
    if page.evaluate("() => performance.getEntriesByType('navigation').length") != loads:
        yield "the page reloaded to show the change"
    page.screenshot(path=str(screenshots / "live-desktop.png"), full_page=True)

    # Cancel.
    page.goto(f"{address}#/executions/{ids['to_cancel']}", wait_until="networkidle")
    page.click("button[data-action=cancel]")
    try:
        page.wait_for_selector("g.dag-node[data-task-id='wait'][data-status='Cancelled']", timeout=20_000)
        yield from check_colour(page, "wait", "Cancelled")
    except Exception:  # Playwright's timeout
        yield "cancel did not stop the execution"

    # Re-run from failure: the failed part runs again, and completes now.
    page.goto(f"{address}#/executions/{ids['flaky']}", wait_until="networkidle")
    page.wait_for_selector("g.dag-node[data-task-id='load'][data-status='Failed']")
    yield from check_colour(page, "load", "Failed")
    (directory / "fixed").touch()
    page.click("button[data-action=rerun]")
    try:
        page.wait_for_url(re.compile(r"#/executions/(?!" + ids["flaky"] + ")"), timeout=20_000)
        page.wait_for_selector("g.dag-node[data-task-id='load'][data-status='Completed']", timeout=20_000)
    except Exception:  # Playwright's timeout
        yield "re-run did not run the failed part again to completion"
    page.screenshot(path=str(screenshots / "rerun-desktop.png"), full_page=True)


@contextmanager
def served_page(url: str | None = None) -> Iterator[tuple[str, dict, pathlib.Path]]:
    """Starts workflows.py on `url` (by default a fresh SQLite file) and `cloacina ui` over it
    (with the workflows imported, no token); gives the page's address, the ids workflows.py
    printed and the folder."""
    with tempfile.TemporaryDirectory(prefix="cloacina-ui-") as folder:
        directory = pathlib.Path(folder)
        url = url or f"sqlite:///{directory / 'runs.db'}"
        environment = {**os.environ, "PYTHONPATH": str(HERE), "CLOACINA_DATABASE_URL": url}
        environment.pop("CLOACINA_UI_TOKEN", None)
        writer = [sys.executable, str(HERE / "workflows.py"), url, str(directory)]
        with running(writer, r"^ready ", environment) as (_, line):
            ids = json.loads(line.split(" ", 1)[1])
            page = [str(COMMAND), "ui", "--port", "0", "--import", "workflows"]
            with running(page, r"http://", environment) as (_, served):
                address = re.search(r"http://[0-9.]+:\d+/", served).group(0)  # type: ignore[union-attr]
                yield address, ids, directory


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screenshots", type=pathlib.Path, default=pathlib.Path("target/ui-screenshots"))
    options = parser.parse_args(arguments)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not pathlib.Path(chromium).exists():
        print(f"check_in_browser: no Chromium at {chromium}: apt-get install chromium", file=sys.stderr)
        return 1
    options.screenshots.mkdir(parents=True, exist_ok=True)
    with served_page() as (address, ids, directory):
        problems = check(address, ids, directory, options.screenshots, chromium)
    for problem in problems:
        print(f"check_in_browser: {problem}", file=sys.stderr)
    if problems:
        return 1
    count = len(list(options.screenshots.glob("*.png")))
    print(
        "check_in_browser: the list, graphs in status colours, a live update, cancel, re-run and markup shown as "
        f"text all work at 1280 and 390 pixels, no console errors; {count} screenshots in {options.screenshots}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
