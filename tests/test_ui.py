"""`cloacina ui` and `UnifiedExecutor.serve_ui`: the web page's server started from Python, over a
database another process wrote. The API itself is tested in Rust (cloacina-ui/tests) and the page
in a browser (tests/browser)."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
from test_command import COMMAND, environment, failed_nightly

import cloacina
from cloacina import UnifiedExecutor, task, workflow


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """A request's status, content type and body (error answers included)."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("content-type", ""), refused.read()


def start_page(url: str, *arguments: str, **variables: str) -> tuple[subprocess.Popen, str]:
    """Starts `cloacina ui` on a free port; returns the process and the page's address."""
    process = subprocess.Popen(
        [str(COMMAND), "ui", "--port", "0", *arguments],
        env=environment(url, **variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://[0-9.]+:\d+/", line)
    assert found, f"no address in {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
    return process, found.group(0)


def stop_page(process: subprocess.Popen) -> int:
    """Stops `cloacina ui` as Ctrl-C would; returns its exit status."""
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)
    return process.returncode


def test_the_command_serves_executions_another_process_wrote(shared_url):
    execution_id = failed_nightly(shared_url)
    page, address = start_page(shared_url, "--import", "command_pipeline")
    try:
        status, kind, body = fetch(address + "api/executions")
        assert (status, kind) == (200, "application/json")
        listed = json.loads(body)["executions"]
        assert [(item["id"], item["status"], item["workflow"]) for item in listed] == [
            (execution_id, "Failed", "nightly")
        ]
        status, kind, _ = fetch(address)
        assert (status, kind.split(";")[0]) == (200, "text/html")
        _, _, info = fetch(address + "api/info")
        assert json.loads(info)["registered_workflows"] == ["gated", "nightly"]

        # Re-run from the page: a new execution, run by whichever worker serves `nightly`.
        status, _, created = fetch(
            address + f"api/executions/{execution_id}/rerun", method="POST", headers={"X-Cloacina-Action": "1"}
        )
        assert status == 200, created
        rerun = json.loads(created)["id"]
        _, _, shown = fetch(address + f"api/executions/{rerun}")
        assert json.loads(shown)["rerun_of"] == execution_id
    finally:
        assert stop_page(page) == 130


def test_the_command_refuses_what_would_be_unsafe_or_cannot_work(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with UnifiedExecutor(url):
        pass
    cases = [
        (["--host", "0.0.0.0"], {}, "CLOACINA_UI_TOKEN"),
        (["--host", "0.0.0.0"], {"CLOACINA_UI_TOKEN": "short"}, "too short"),
        (["--host", "example.org"], {}, "not an IP address"),
    ]
    for arguments, variables, words in cases:
        finished = subprocess.run(
            [str(COMMAND), "ui", "--port", "0", *arguments],
            env=environment(url, **variables),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert finished.returncode != 0 and words in finished.stderr, (arguments, finished.stderr)
    page, address = start_page(url)
    try:
        taken = subprocess.run(
            [str(COMMAND), "ui", "--port", address.rsplit(":", 1)[1].rstrip("/")],
            env=environment(url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert taken.returncode == 2 and "choose another with --port" in taken.stderr, taken.stderr
    finally:
        stop_page(page)


def test_serve_ui_runs_until_the_executor_shuts_down(unique_name):
    @task
    def only(context):
        return {"done": True}

    with UnifiedExecutor("sqlite:///:memory:") as executor:
        workflow(name=unique_name, tasks=[only])
        result = executor.execute(unique_name)
        addresses: queue.Queue[str] = queue.Queue()
        serving = threading.Thread(target=executor.serve_ui, kwargs={"port": 0, "ready": addresses.put})
        serving.start()
        address = addresses.get(timeout=20)
        _, _, body = fetch(address + f"api/executions/{result.execution_id}")
        assert json.loads(body)["context"] == {"done": True}
    serving.join(timeout=20)
    assert not serving.is_alive()


@pytest.mark.parametrize(("options", "error"), [({"token": "short"}, "too short"), ({"host": "0.0.0.0"}, "token")])
def test_serve_ui_refuses_unsafe_options(options, error):
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        with pytest.raises(cloacina.ValidationError, match=error):
            executor.serve_ui(port=0, **options)
