"""`cloacina schedules ...`: list, pause, resume and delete cron schedules, through the executor's
public API. Schedules are made by programs (`UnifiedExecutor.schedule`), where their workflows are
defined."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cloacina import Schedule

from . import _formatting
from ._database import add_database_option, open_executor

DONE = {"pause": "paused", "resume": "resumed", "delete": "deleted"}
"""What each action did, for its message."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds `schedules` and its subcommands."""
    schedules = commands.add_parser("schedules", help="list, pause, resume and delete cron schedules")
    actions = schedules.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="every schedule, by name, with its next tick")
    add_database_option(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(run=list_schedules)

    for action, verb, run in (
        ("pause", "pause a schedule: it starts nothing until resumed", pause_schedule),
        ("resume", "resume a paused schedule from its next tick", resume_schedule),
        ("delete", "delete a schedule (the executions it started are kept)", delete_schedule),
    ):
        parser = actions.add_parser(action, help=verb)
        parser.add_argument("name", metavar="NAME")
        add_database_option(parser)
        parser.add_argument("--json", action="store_true", help="print a JSON object")
        parser.set_defaults(run=run)


def schedule_data(schedule: Schedule) -> dict[str, Any]:
    """A schedule as plain data."""
    return {
        "name": schedule.name,
        "workflow": schedule.workflow,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "catchup": schedule.catchup,
        "paused": schedule.paused,
        "overdue": schedule.overdue,
        "next_fire_at": _formatting.when(schedule.next_fire_at),
        "last_fired_at": _formatting.when(schedule.last_fired_at),
        "last_execution_id": schedule.last_execution_id,
    }


def _state(schedule: Schedule) -> str:
    if schedule.paused:
        return "paused"
    if schedule.overdue:
        return "overdue: no running executor has its workflow"
    return "active"


def _local(schedule: Schedule, value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %z") if value is not None else _formatting.MISSING


def list_schedules(options: argparse.Namespace) -> int:
    """Prints every schedule."""
    with open_executor(options) as executor:
        schedules = executor.list_schedules()
    if options.json:
        print(json.dumps([schedule_data(schedule) for schedule in schedules], indent=2))
        return 0
    if not schedules:
        print("no schedules")
        return 0
    rows = [
        (
            schedule.name,
            schedule.workflow,
            schedule.cron,
            schedule.timezone,
            _state(schedule),
            _local(schedule, schedule.next_fire_at),
            _local(schedule, schedule.last_fired_at),
        )
        for schedule in schedules
    ]
    headers = ("NAME", "WORKFLOW", "CRON", "TIME ZONE", "STATE", "NEXT TICK", "LAST TICK")
    print(_formatting.table(headers, rows))
    return 0


def _change(options: argparse.Namespace, action: str) -> int:
    with open_executor(options) as executor:
        schedule = executor.get_schedule(options.name)
        getattr(schedule, action)()
    if options.json:
        data = {"name": options.name, "deleted": True} if action == "delete" else schedule_data(schedule)
        print(json.dumps(data, indent=2))
    else:
        print(f"schedule {options.name!r} {DONE[action]}")
    return 0


def pause_schedule(options: argparse.Namespace) -> int:
    """Pauses a schedule."""
    return _change(options, "pause")


def resume_schedule(options: argparse.Namespace) -> int:
    """Resumes a schedule."""
    return _change(options, "resume")


def delete_schedule(options: argparse.Namespace) -> int:
    """Deletes a schedule."""
    return _change(options, "delete")
