"""The `cloacina` command, run as a subprocess against a database another process wrote.

The workflows come from `command_pipeline` (this directory is put on the children's path).
"""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import subprocess
import sys
import textwrap
import time

TESTS = pathlib.Path(__file__).parent
COMMAND = pathlib.Path(sys.executable).parent / "cloacina"


def environment(url: str | None, **extra: str) -> dict[str, str]:
    variables = {key: value for key, value in os.environ.items() if key != "CLOACINA_DATABASE_URL"}
    variables["PYTHONPATH"] = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    if url is not None:
        variables["CLOACINA_DATABASE_URL"] = url
    return {**variables, **extra}


def cloacina(url: str | None, *arguments: str, **extra: str) -> subprocess.CompletedProcess:
    """Runs the console script and waits for it."""
    return subprocess.run(
        [str(COMMAND), *arguments], env=environment(url, **extra), capture_output=True, text=True, timeout=60
    )


def follow(url: str, *arguments: str) -> subprocess.Popen:
    """Starts the console script without waiting."""
    return subprocess.Popen(
        [str(COMMAND), *arguments],
        env=environment(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


RUN_NIGHTLY = textwrap.dedent(
    """
    import sys, command_pipeline
    from cloacina import UnifiedExecutor
    with UnifiedExecutor(sys.argv[1]) as executor:
        result = executor.execute("nightly")
    print(result.execution_id, result.status)
    """
)


def failed_nightly(url: str) -> str:
    """Runs `nightly` to a failure in another process; returns the execution's id."""
    child = subprocess.run(
        [sys.executable, "-c", RUN_NIGHTLY, url],
        env=environment(None, PIPELINE_FAIL="1"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    execution_id, status = child.stdout.split()
    assert status == "Failed"
    return execution_id


def test_executions_list_show_logs_and_events(shared_url):
    execution_id = failed_nightly(shared_url)

    listing = cloacina(shared_url, "executions", "list")
    assert listing.returncode == 0, listing.stderr
    header, row = listing.stdout.splitlines()
    assert header.split()[:4] == ["EXECUTION", "WORKFLOW", "STATUS", "CREATED"]
    assert row.split()[:3] == [execution_id, "nightly", "Failed"]
    assert "ConnectionError: the warehouse is down" in row
    [summary] = json.loads(cloacina(shared_url, "executions", "list", "--status", "Failed", "--json").stdout)
    assert (summary["execution_id"], summary["workflow"], summary["status"]) == (execution_id, "nightly", "Failed")
    assert json.loads(cloacina(shared_url, "executions", "list", "--status", "Completed", "--json").stdout) == []
    assert cloacina(shared_url, "executions", "list", "--workflow", "other").stdout == "no executions\n"

    show = cloacina(shared_url, "executions", "show", execution_id)
    assert show.returncode == 0, show.stderr
    lines = show.stdout.splitlines()
    assert lines[0] == f"execution {execution_id}" and lines[2] == "status    Failed"
    rows = {
        line.split()[0]: line.split() for line in lines if line.split() and line.split()[0] in ("transform", "load")
    }
    assert rows["transform"][1:3] == ["Failed", "2"] and "ConnectionError:" in rows["transform"]
    assert rows["load"][1:3] == ["Skipped", "0"]
    # The graph, drawn from what the database holds: no definition needed.
    assert "└── transform [Failed]" in lines and "    └── load [Skipped]" in lines
    data = json.loads(cloacina(shared_url, "executions", "show", execution_id, "--json").stdout)
    transform = next(task for task in data["tasks"] if task["task_id"] == "transform")
    assert [attempt["status"] for attempt in transform["attempt_history"]] == ["Failed", "Failed"]
    assert transform["dependencies"] == ["extract"] and transform["worker"]

    logs = cloacina(shared_url, "executions", "logs", execution_id).stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in logs] == [
        "INFO     extract#1 pipeline: extracting 3 rows",
        "WARNING  transform#1 pipeline: transforming",
        "WARNING  transform#2 pipeline: transforming",
    ]
    only = cloacina(shared_url, "executions", "logs", execution_id, "--task", "extract", "--json")
    assert [json.loads(line)["message"] for line in only.stdout.splitlines()] == ["extracting 3 rows"]

    events = cloacina(shared_url, "executions", "events", execution_id).stdout.splitlines()
    assert events[0].split()[0::3] == ["1", "ExecutionCreated"]
    assert events[-1].split()[3] == "ExecutionFailed"
    kinds = [
        json.loads(line)["kind"]
        for line in cloacina(shared_url, "executions", "events", execution_id, "--json").stdout.splitlines()
    ]
    assert kinds.count("TaskStarted") == 4 and len(kinds) == len(events)


def test_executions_rerun_runs_what_failed_in_this_process(shared_url):
    execution_id = failed_nightly(shared_url)
    again = cloacina(shared_url, "executions", "rerun", execution_id, "--import", "command_pipeline", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert (data["status"], data["rerun_of"]) == ("Completed", execution_id)
    assert {task["task_id"]: task["attempts"] for task in data["tasks"]} == {
        "extract": 0,
        "audit": 0,
        "transform": 1,
        "load": 1,
    }
    # Still failing: the re-run fails, and the exit status says so.
    failing = cloacina(
        shared_url, "executions", "rerun", execution_id, "--import", "command_pipeline", PIPELINE_FAIL="1"
    )
    assert failing.returncode == 1 and f"re-run of {execution_id}" in failing.stdout
    kept = next(line for line in failing.stdout.splitlines() if line.startswith("extract "))
    assert kept.split()[1:4] == ["Completed", "0", "kept"]
    completed = cloacina(shared_url, "executions", "rerun", data["execution_id"], "--import", "command_pipeline")
    assert completed.returncode == 1 and "nothing is left to run" in completed.stderr
    unimported = cloacina(shared_url, "executions", "rerun", execution_id)
    assert unimported.returncode == 2 and "--import MODULE" in unimported.stderr


START_GATED = textwrap.dedent(
    """
    import sys, command_pipeline
    from cloacina import UnifiedExecutor
    with UnifiedExecutor(sys.argv[1], poll_interval=0.2) as executor:
        handle = executor.start("gated")
        print(handle.execution_id, flush=True)
        print(handle.wait().status, flush=True)
    """
)


def start_gated(url: str, gate: pathlib.Path) -> tuple[subprocess.Popen, str]:
    """Starts `gated` in another process; returns it and the execution's id, once `gate` runs."""
    child = subprocess.Popen(
        [sys.executable, "-c", START_GATED, url],
        env=environment(None, PIPELINE_GATE=str(gate)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    execution_id = child.stdout.readline().strip()
    assert execution_id, child.stderr.read()
    deadline = time.monotonic() + 30
    while "TaskStarted" not in cloacina(url, "executions", "events", execution_id).stdout:
        assert time.monotonic() < deadline, "the gate task never started"
        time.sleep(0.05)
    return child, execution_id


def test_follow_shows_progress_logs_and_events_until_the_end(shared_url, tmp_path):
    gate = tmp_path / "gate"
    child, execution_id = start_gated(shared_url, gate)
    watchers = [
        follow(shared_url, "executions", "show", execution_id, "--follow"),
        follow(shared_url, "executions", "logs", execution_id, "--follow"),
        follow(shared_url, "executions", "events", execution_id, "--follow", "--json"),
    ]
    # The progress and event followers have each printed a first line before the gate opens: on a
    # loaded machine a follower can take longer to start than any fixed pause. (The log
    # follower prints only as attempts end.)
    first_lines = [watchers[0].stdout.readline(), "", watchers[2].stdout.readline()]
    assert all(watcher.poll() is None for watcher in watchers), "a follower ended before the execution"
    gate.touch()
    assert child.communicate(timeout=30)[0].strip() == "Completed" and child.returncode == 0
    # Read to the end through the same buffered streams that gave the first lines.
    show, logs, events = (first + watcher.stdout.read() for first, watcher in zip(first_lines, watchers))
    for watcher in watchers:
        assert watcher.wait(timeout=30) == 0, watcher.stderr.read()
        watcher.stderr.close()
        watcher.stdout.close()

    progress = [line for line in show.splitlines() if "tasks done" in line]
    assert progress[0] == "0/2 tasks done; running: gate" and progress[-1] == "2/2 tasks done; running: nothing"
    assert "status    Completed" in show
    # Every record, each task's in order. Nothing shows when the log follower is ready: one that
    # starts following after the gate's attempt ended prints the gate's records last.
    records = [line.split(" ", 2)[2] for line in logs.splitlines()]
    assert len(records) == 3, records
    assert [record for record in records if "gate#1" in record] == [
        "INFO     gate#1 pipeline: waiting at the gate",
        "INFO     gate#1 pipeline: through the gate",
    ]
    assert [record for record in records if "after#1" in record] == ["INFO     after#1 pipeline: after the gate"]
    sequences = [json.loads(line)["sequence"] for line in events.splitlines()]
    assert sequences == list(range(1, len(sequences) + 1))
    assert json.loads(events.splitlines()[-1])["kind"] == "ExecutionCompleted"


def read_terminal(controller: int, until: bytes | None = None, timeout: float = 30) -> bytes:
    """What the far end of a pseudo-terminal wrote: until `until` has appeared, or else until it
    closed."""
    shown = b""
    deadline = time.monotonic() + timeout
    while until is None or until not in shown:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the terminal showed {shown!r} in {timeout} s"
        if not select.select([controller], [], [], remaining)[0]:
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: everything was read
            chunk = b""
        if not chunk:
            assert until is None, f"the terminal closed after {shown!r}"
            break
        shown += chunk
    return shown


def test_follow_on_a_terminal_rewrites_one_line_in_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'terminal.db'}"
    gate = tmp_path / "gate"
    child, execution_id = start_gated(url, gate)
    # The follower's standard output is a terminal (the far end of a pseudo-terminal).
    controller, terminal = pty.openpty()
    watcher = subprocess.Popen(
        [str(COMMAND), "executions", "show", execution_id, "--follow"],
        env=environment(url),
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    # The gate opens once the follower has shown the running task (it may take a while to start
    # on a loaded machine), so that there is a change to rewrite the line with.
    shown = read_terminal(controller, until=b"running: gate")
    gate.touch()
    assert child.communicate(timeout=30)[0].strip() == "Completed"
    shown += read_terminal(controller)
    errors = watcher.communicate(timeout=30)[1]
    assert watcher.returncode == 0, errors
    os.close(controller)
    text = shown.decode().replace("\r\n", "\n")
    # Each change rewrites the line: carriage return, erase the line, the new progress.
    rewrites = text.split("\r\x1b[2K")
    assert rewrites[1].startswith("0/2 tasks done; running: gate"), text
    assert rewrites[-1].startswith("2/2 tasks done; running: nothing\n"), text
    assert "status    Completed" in rewrites[-1]


def test_executions_cancel_stops_an_execution_another_process_runs(shared_url, tmp_path):
    child, execution_id = start_gated(shared_url, tmp_path / "never")
    cancelled = cloacina(shared_url, "executions", "cancel", execution_id)
    assert (cancelled.returncode, cancelled.stdout) == (0, f"execution {execution_id}: Cancelled\n")
    assert child.communicate(timeout=30)[0].strip() == "Cancelled" and child.returncode == 0
    again = cloacina(shared_url, "executions", "cancel", execution_id, "--json")
    assert json.loads(again.stdout) == {"execution_id": execution_id, "status": "Cancelled"}


def test_workflows_show_draws_the_graph_in_three_formats():
    text = cloacina(None, "workflows", "show", "nightly", "--import", "command_pipeline")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1:] == [
        "The nightly load.",
        "",
        "extract",
        "├── audit",
        "└── transform",
        "    └── load",
    ]
    dot = cloacina(None, "workflows", "show", "nightly", "--import", "command_pipeline", "--format", "dot").stdout
    assert '  "extract" -> "transform";' in dot and dot.startswith('digraph "nightly" {')
    mermaid = cloacina(None, "workflows", "show", "nightly", "--import", "command_pipeline", "--format", "mermaid")
    assert mermaid.stdout.splitlines()[:2] == ["flowchart LR", '  t0["extract"]'] and "  t2 --> t3" in mermaid.stdout
    data = json.loads(cloacina(None, "workflows", "show", "gated", "--import", "command_pipeline", "--json").stdout)
    assert data["dependencies"] == {"gate": [], "after": ["gate"]}
    missing = cloacina(None, "workflows", "show", "weekly", "--import", "command_pipeline")
    assert missing.returncode == 1 and "workflow `weekly` is not registered" in missing.stderr


def test_mistakes_are_named_with_their_fix(tmp_path):
    nowhere = cloacina(None, "executions", "list")
    assert nowhere.returncode == 2
    assert "no database: give --database-url URL, or set CLOACINA_DATABASE_URL" in nowhere.stderr
    typo = cloacina(None, "executions", "list", "--database-url", f"sqlite:///{tmp_path / 'typo.db'}")
    assert typo.returncode == 2 and "no SQLite database at" in typo.stderr
    assert not (tmp_path / "typo.db").exists()
    memory = cloacina("sqlite:///:memory:", "executions", "list")
    assert memory.returncode == 2 and "in-memory database" in memory.stderr
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    failed_nightly(url)
    unknown = cloacina(url, "executions", "show", "01a244a3-97e4-724d-8d07-e659aad5f50e")
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr
    malformed = cloacina(url, "executions", "logs", "yesterday")
    assert malformed.returncode == 1 and "is not an execution id" in malformed.stderr
    module = cloacina(None, "workflows", "show", "nightly", "--import", "no_such_module")
    assert module.returncode == 2 and "cannot import 'no_such_module'" in module.stderr
    usage = cloacina(url, "executions", "list", "--status", "Done")
    assert usage.returncode == 2 and "invalid choice: 'Done'" in usage.stderr


def test_python_dash_m_cloacina_is_the_same_command(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    execution_id = failed_nightly(url)
    child = subprocess.run(
        [sys.executable, "-m", "cloacina", "executions", "list", "--json"],
        env=environment(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [summary["execution_id"] for summary in json.loads(child.stdout)] == [execution_id]
    usage = subprocess.run([sys.executable, "-m", "cloacina"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: python -m cloacina")


def test_the_tree_draws_a_join_once_and_names_it_again():
    from cloacina._command import _drawing

    diamond = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}
    assert _drawing.tree(diamond) == [
        "a",
        "├── b",
        "│   └── d",
        "└── c",
        "    └── d (above)",
        "e",
    ]
    chain = {f"t{index}": [f"t{index - 1}"] if index else [] for index in range(3000)}
    lines = _drawing.tree(chain)
    assert len(lines) == 3000 and lines[-1].endswith("└── t2999")
    quoted = {'say "hi"': [], "b\\": ['say "hi"']}
    assert '  "say \\"hi\\"" -> "b\\\\";' in _drawing.dot("n", quoted)
    assert '  t0["say #quot;hi#quot;"]' in _drawing.mermaid(quoted)


def test_durations_read_in_the_unit_that_fits():
    from cloacina._command._formatting import duration, worker_name

    readings = [duration(seconds) for seconds in (None, 0.00042, 0.0123, 4.2, 187, 7500)]
    assert readings == ["-", "420 us", "12.3 ms", "4.20 s", "3 min 7 s", "2 h 5 min"]
    assert worker_name("host.example/boot.ns/4242/99/abcdef") == "host.example:4242"
    assert worker_name("odd") == "odd"


def test_schedules_list_pause_resume_and_delete(shared_url):
    from cloacina import UnifiedExecutor

    # Declared by a program that does not serve it: no executor has "absent" registered.
    with UnifiedExecutor(shared_url) as executor:
        executor.schedule("nightly", "0 2 * * *", timezone="Europe/Paris", name="report")
        executor.schedule("absent", "* * * * *")
    listed = cloacina(shared_url, "schedules", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "WORKFLOW", "CRON", "TIME", "ZONE", "STATE", "NEXT", "TICK", "LAST", "TICK"]
    assert lines[1].startswith("absent") and "active" in lines[1]
    assert lines[2].startswith("report") and "Europe/Paris" in lines[2] and " 02:00:00 +0" in lines[2]
    paused = cloacina(shared_url, "schedules", "pause", "report")
    assert (paused.returncode, paused.stdout) == (0, "schedule 'report' paused\n"), paused.stderr
    data = json.loads(cloacina(shared_url, "schedules", "list", "--json").stdout)
    assert [(entry["name"], entry["paused"], entry["workflow"]) for entry in data] == [
        ("absent", False, "absent"),
        ("report", True, "nightly"),
    ]
    resumed = json.loads(cloacina(shared_url, "schedules", "resume", "report", "--json").stdout)
    assert resumed["paused"] is False and resumed["cron"] == "0 2 * * *"
    deleted = cloacina(shared_url, "schedules", "delete", "report")
    assert deleted.stdout == "schedule 'report' deleted\n"
    missing = cloacina(shared_url, "schedules", "delete", "report")
    assert missing.returncode == 1 and "no schedule is named `report`" in missing.stderr


def test_executions_show_draws_a_mapped_task_with_its_instances(tmp_path):
    url = f"sqlite:///{tmp_path / 'mapped.db'}"
    from cloacina import UnifiedExecutor, task, workflow

    @task
    def pages(context):
        return {"pages": ["a", "b", "c"]}

    @task(dependencies=[pages], map_over="pages")
    def fetch(context):
        if context["item"] == "b":
            raise ValueError("page b is gone")

    workflow(name="mapped_pages", tasks=[pages, fetch])
    with UnifiedExecutor(url) as executor:
        execution_id = str(executor.execute("mapped_pages").execution_id)
    show = cloacina(url, "executions", "show", execution_id)
    assert show.returncode == 0, show.stderr
    lines = show.stdout.splitlines()
    assert "└── fetch [Failed; 3 instances: 2 Completed, 1 Failed]" in lines, show.stdout
    rows = {line.split()[0]: line.split() for line in lines if line.split() and line.split()[0].startswith("fetch")}
    assert rows["fetch[1]"][1:3] == ["Failed", "1"] and rows["fetch[0]"][1] == "Completed"
    data = json.loads(cloacina(url, "executions", "show", execution_id, "--json").stdout)
    assert [task["map_index"] for task in data["tasks"]] == [None, None, 0, 1, 2]
