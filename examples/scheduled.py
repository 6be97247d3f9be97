"""A workflow on a cron schedule, and a start that waits: each tick of the schedule starts one
execution, whose context holds the tick, however many processes serve it.

Run it with ``python examples/scheduled.py`` once the package is installed. It declares a
schedule that ticks every second (six fields: seconds first), lets it run for three seconds,
pauses it and lists what it started; then starts the same workflow one second from now.
"""

import tempfile
import time

from cloacina import UnifiedExecutor, task, workflow


@task
def summarize(context):
    tick = context["scheduled_at"]
    return {"summary": f"report for {tick:%H:%M:%S %Z}"}


workflow(name="report", tasks=[summarize])

with tempfile.TemporaryDirectory() as directory, UnifiedExecutor(f"sqlite:///{directory}/runs.db") as executor:
    # Declared each time the program starts: the same declaration finds the stored schedule.
    schedule = executor.schedule("report", "* * * * * *", timezone="Europe/Paris", context={"team": "ops"})
    print(f"schedule {schedule.name!r}: next ticks", [f"{tick:%H:%M:%S}" for tick in schedule.next_fire_times(3)])
    time.sleep(3.2)
    schedule.pause()
    time.sleep(0.3)

    started = executor.list_executions(workflow="report")
    print(f"{len(started)} executions, one per tick:")
    for summary in reversed(started):
        result = executor.get_execution(summary.execution_id)
        print(f"  {result.status.value:<9} {result.context['summary']} (team {result.context['team']})")

    # A delayed start: stored, so it survives a restart; it runs a second from now.
    handle = executor.start("report", {"scheduled_at": schedule.next_fire_at}, delay=1.0)
    print("delayed start:", handle.status.value)
    print("then:", handle.wait(timeout=30).context["summary"])
    schedule.delete()
