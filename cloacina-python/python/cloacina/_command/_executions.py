"""`cloacina executions ...`: list, show, follow, read the logs and events of, cancel and re-run
executions, through the executor's public API."""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from cloacina import Event, ExecutionResult, ExecutionStatus, LogEntry, TaskResult, UnifiedExecutor

from . import _drawing, _formatting
from ._database import add_database_option, open_executor
from ._modules import add_import_option, import_modules

FINISHED_TASK_EVENTS = ("TaskCompleted", "TaskFailed", "TaskSkipped", "TaskCancelled")
"""Events after which a task does not run again."""

ATTEMPT_END_EVENTS = ("TaskCompleted", "TaskRetried", "TaskFailed", "TaskCancelled")
"""Events that end an attempt, whose logs are stored with them."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds `executions` and its subcommands."""
    executions = commands.add_parser("executions", help="look at, follow, cancel and re-run executions")
    actions = executions.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="executions, newest first")
    listing.add_argument("--workflow", help="only executions of this workflow")
    listing.add_argument("--status", choices=[status.value for status in ExecutionStatus], help="only in this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    _common(listing, json_help="print a JSON array")
    listing.set_defaults(run=list_executions)

    show = actions.add_parser("show", help="an execution's tasks: status, attempts, timings, errors, graph")
    show.add_argument("execution_id", metavar="ID")
    show.add_argument("--follow", action="store_true", help="show progress until the execution ends")
    _common(show, json_help="print a JSON object")
    show.set_defaults(run=show_execution)

    logs = actions.add_parser("logs", help="what an execution's tasks logged")
    logs.add_argument("execution_id", metavar="ID")
    logs.add_argument("--task", help="only this task's records")
    logs.add_argument("--follow", action="store_true", help="print records as attempts end, until the execution ends")
    _common(logs, json_help="print one JSON object per line")
    logs.set_defaults(run=show_logs)

    events = actions.add_parser("events", help="an execution's events, in order")
    events.add_argument("execution_id", metavar="ID")
    events.add_argument("--follow", action="store_true", help="print events as they happen, until the execution ends")
    _common(events, json_help="print one JSON object per line")
    events.set_defaults(run=show_events)

    cancel = actions.add_parser("cancel", help="cancel an execution")
    cancel.add_argument("execution_id", metavar="ID")
    _common(cancel, json_help="print a JSON object")
    cancel.set_defaults(run=cancel_execution)

    rerun = actions.add_parser(
        "rerun", help="run a failed execution again, keeping what completed; the tasks run in this process"
    )
    rerun.add_argument("execution_id", metavar="ID")
    add_import_option(rerun, "the workflow")
    _common(rerun, json_help="print a JSON object")
    rerun.set_defaults(run=rerun_execution)


def _common(parser: argparse.ArgumentParser, *, json_help: str) -> None:
    add_database_option(parser)
    parser.add_argument("--json", action="store_true", help=json_help)


def list_executions(options: argparse.Namespace) -> int:
    """Prints the executions asked for."""
    with open_executor(options) as executor:
        summaries = executor.list_executions(workflow=options.workflow, status=options.status, limit=options.limit)
    if options.json:
        print(json.dumps([_formatting.summary_data(summary) for summary in summaries], indent=2))
        return 0
    rows = [
        (
            summary.execution_id,
            summary.workflow_name,
            summary.status,
            _formatting.moment(summary.created_at),
            _formatting.duration(
                (summary.finished_at - summary.created_at).total_seconds() if summary.finished_at else None
            ),
            _formatting.headline(summary.error),
        )
        for summary in summaries
    ]
    if not rows:
        print("no executions")
        return 0
    print(_formatting.table(("EXECUTION", "WORKFLOW", "STATUS", "CREATED (UTC)", "TOOK", "ERROR"), rows))
    return 0


def show_execution(options: argparse.Namespace) -> int:
    """Prints an execution's tasks; with `--follow`, its progress first, until it ends."""
    with open_executor(options) as executor:
        result = executor.get_execution(options.execution_id)
        if options.follow and result.finished_at is None:
            follow_progress(executor, result, sys.stdout)
            result = executor.get_execution(options.execution_id)
    if options.json:
        print(json.dumps(_formatting.result_data(result), indent=2))
    else:
        print(describe(result))
    return 0


def _kept(result: ExecutionResult, task: TaskResult) -> bool:
    """Whether a re-run kept the task's output from the execution it came from (a mapped task,
    whose instances make the attempts, ran when it has a start)."""
    return result.rerun_of is not None and task.status == "Completed" and task.attempts == 0 and not task.started_at


def describe(result: ExecutionResult) -> str:
    """An execution as text: what and when, a table of its tasks, and its graph."""
    took = _formatting.duration(result.duration)
    lines = [
        f"execution {result.execution_id}",
        f"workflow  {result.workflow_name} (version {result.workflow_version[:12]})",
        f"status    {result.status}",
        f"created   {_formatting.moment(result.created_at)} UTC, took {took}",
    ]
    if result.rerun_of:
        lines.append(f"re-run of {result.rerun_of}")
    if result.error:
        lines.append(f"error     {_formatting.headline(result.error)}")
    rows = [
        (
            task.task_id,
            task.status,
            str(task.attempts),
            "kept" if _kept(result, task) else _formatting.moment(task.started_at, precise=True),
            _formatting.duration(task.wait),
            _formatting.duration(task.duration),
            _formatting.worker_name(task.worker),
            _formatting.headline(task.error, 80),
        )
        for task in result.task_results
    ]
    headers = ("TASK", "STATUS", "ATTEMPTS", "STARTED (UTC)", "WAITED", "TOOK", "WORKER", "ERROR")
    lines += ["", _formatting.table(headers, rows)]
    instances = _instances(result)
    graph = {task.task_id: task.dependencies for task in result.task_results if task.task_id not in instances}
    statuses = {task.task_id: str(task.status) for task in result.task_results}
    counts: dict[str, collections.Counter[str]] = {}
    for instance, mapped in instances.items():
        counts.setdefault(mapped, collections.Counter())[statuses[instance]] += 1

    def label(task: str) -> str:
        if task not in counts:
            return f"{task} [{statuses[task]}]"
        tally = ", ".join(f"{count} {status}" for status, count in sorted(counts[task].items()))
        return f"{task} [{statuses[task]}; {sum(counts[task].values())} instances: {tally}]"

    if any(graph.values()):
        lines += ["", *_drawing.tree(graph, label)]
    return "\n".join(lines)


def _instances(result: ExecutionResult) -> dict[str, str]:
    """The instances of the execution's mapped tasks, each with its task's id."""
    return {task.task_id: task.task_id.rsplit("[", 1)[0] for task in result.task_results if task.map_index is not None}


class _Progress:
    """Tasks done and running, as an execution's events tell."""

    def __init__(self, tasks: Iterable[str]) -> None:
        # Grows as a mapped task's instances appear.
        self.known: set[str] = set(tasks)
        self.done: set[str] = set()
        self.running: set[str] = set()

    def apply(self, event: Event) -> None:
        task = event.task_id
        if task is None:
            return
        self.known.add(task)
        if event.kind == "TaskStarted":
            self.running.add(task)
        elif event.kind in FINISHED_TASK_EVENTS:
            self.running.discard(task)
            self.done.add(task)
        elif event.kind in ("TaskRetried", "TaskReady"):
            self.running.discard(task)

    def line(self) -> str:
        now = ", ".join(sorted(self.running)) if self.running else "nothing"
        return f"{len(self.done)}/{len(self.known)} tasks done; running: {now}"


def follow_progress(executor: UnifiedExecutor, result: ExecutionResult, out: TextIO) -> None:
    """Shows how many tasks are done and which run, until the execution ends: one line
    rewritten in place on a terminal, a line per change elsewhere."""
    live = out.isatty()
    progress = _Progress(task.task_id for task in result.task_results)
    seen = 0
    for event in executor.events(result.execution_id):
        progress.apply(event)
        seen = event.sequence or seen
    shown = ""
    # The first line at once, then one per change as events arrive (`chain`, not a list: the
    # events go on until the execution ends).
    updates: Iterator[Event | None] = itertools.chain([None], executor.handle(result.execution_id).events())
    for update in updates:
        if update is not None:
            if (update.sequence or 0) <= seen:
                continue
            progress.apply(update)
        line = progress.line()
        if line == shown:
            continue
        shown = line
        if live:
            out.write(f"\r\x1b[2K{line}")
            out.flush()
        else:
            print(line, file=out, flush=True)
    if live:
        out.write("\n")


def _print_entry(entry: LogEntry, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_formatting.entry_data(entry)), flush=True)
        return
    first, *rest = entry.message.split("\n")
    where = f"{entry.task_id}#{entry.attempt}"
    print(f"{_formatting.moment(entry.time, precise=True)} {entry.level:<8} {where} {entry.logger}: {first}")
    for line in rest:
        print(f"    {line}")
    sys.stdout.flush()


def show_logs(options: argparse.Namespace) -> int:
    """Prints what the tasks logged; with `--follow`, goes on as attempts end."""
    with open_executor(options) as executor:
        printed: set[tuple[str, int]] = set()

        def print_new(entries: Iterable[LogEntry]) -> None:
            fresh = [entry for entry in entries if (entry.task_id, entry.attempt) not in printed]
            for entry in fresh:
                _print_entry(entry, options.json)
            printed.update((entry.task_id, entry.attempt) for entry in fresh)

        print_new(executor.logs(options.execution_id, task_id=options.task))
        if options.follow:
            for event in executor.handle(options.execution_id).events():
                if event.kind in ATTEMPT_END_EVENTS and event.task_id and options.task in (None, event.task_id):
                    print_new(executor.logs(options.execution_id, task_id=event.task_id))
            # Records of attempts ended by the execution's end (cancelled ones).
            print_new(executor.logs(options.execution_id, task_id=options.task))
    return 0


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_formatting.event_data(event)), flush=True)
        return
    message = event.message or ""
    if event.kind == "TaskStarted":
        message = f"on {_formatting.worker_name(message)}" if message else ""
    attempt = f"#{event.attempt}" if event.attempt is not None else ""
    task = f"{event.task_id or ''}{attempt}"
    when = _formatting.moment(event.at, precise=True)
    print(f"{event.sequence:>4}  {when}  {event.kind:<18} {task:<20} {_formatting.headline(message)}".rstrip())
    sys.stdout.flush()


def show_events(options: argparse.Namespace) -> int:
    """Prints the execution's events; with `--follow`, goes on until it ends."""
    with open_executor(options) as executor:
        last = 0
        for event in executor.events(options.execution_id):
            _print_event(event, options.json)
            last = event.sequence or last
        if options.follow:
            for event in executor.handle(options.execution_id).events():
                if (event.sequence or 0) > last:
                    _print_event(event, options.json)
    return 0


def cancel_execution(options: argparse.Namespace) -> int:
    """Cancels the execution; prints its final status."""
    with open_executor(options) as executor:
        status = executor.cancel(options.execution_id)
    if options.json:
        print(json.dumps({"execution_id": options.execution_id, "status": str(status)}))
    else:
        print(f"execution {options.execution_id}: {status}")
    return 0


def rerun_execution(options: argparse.Namespace) -> int:
    """Re-runs the execution in this process; exits 0 if the re-run completed, 1 otherwise."""
    import_modules(options, "a re-run runs its tasks in this process")
    with open_executor(options, run_tasks=True) as executor:
        result = executor.rerun(options.execution_id)
    if options.json:
        print(json.dumps(_formatting.result_data(result), indent=2))
    else:
        print(describe(result))
    return 0 if result.status == "Completed" else 1
