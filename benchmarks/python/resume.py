"""Crash to resume: how soon a new process resumes the work of one that was killed.

    python resume.py URL TRIALS

Each trial starts a process running a chain of 60 tasks (20 ms each), kills it with SIGKILL at a
random point, then starts a new process that waits for the execution with the default 30 s
lease. Prints a line of JSON for ``run.py``: for each trial, the seconds from the moment the new
process is started (interpreter start-up included) to the start of the first task it resumed.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time

CHAIN = 60
PAUSE = 0.02


def chain():
    """The workflow: `step_00 -> ... -> step_59`, each writing its own key."""
    from cloacina import task, workflow

    tasks = []
    for number in range(CHAIN):

        @task(id=f"step_{number:02}", dependencies=tasks[-1:])
        def step(context, number=number):
            time.sleep(PAUSE)
            return {f"out_{number:02}": True}

        tasks.append(step)
    return workflow(name="resume_chain", tasks=tasks)


def run(url: str) -> None:
    """The process that is killed: starts the chain and runs it."""
    from cloacina import UnifiedExecutor

    chain()
    executor = UnifiedExecutor(url)
    print(executor.start("resume_chain").execution_id, flush=True)
    threading.Event().wait()


def resume(url: str, execution_id: str, started: float) -> None:
    """The new process: waits for the execution and reports when it resumed it."""
    from cloacina import UnifiedExecutor

    chain()
    with UnifiedExecutor(url) as executor:
        result = executor.wait(execution_id, timeout=120)
    starts = [task.started_at.timestamp() for task in result.task_results if task.started_at]
    resumed = min(start for start in starts if start >= started)
    done = len(result.context) == CHAIN and result.status == "Completed"
    print(json.dumps({"resumed_after": resumed - started, "completed": done}), flush=True)


def trial(url: str) -> float:
    """One kill and resume; the seconds to the first resumed task."""
    child = subprocess.Popen([sys.executable, __file__, "--run", url], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    execution_id = child.stdout.readline().strip()
    time.sleep(random.uniform(0.3, 0.9))
    child.send_signal(signal.SIGKILL)
    child.wait()
    started = time.time()
    resumed = subprocess.run(
        [sys.executable, __file__, "--resume", url, execution_id, repr(started)],
        capture_output=True,
        text=True,
        check=True,
    )
    line = json.loads(resumed.stdout.splitlines()[-1])
    if not line["completed"]:
        sys.exit(f"trial of {execution_id}: the resumed execution did not complete")
    return float(line["resumed_after"])


def main(arguments: list[str]) -> None:
    if arguments[:1] == ["--run"]:
        run(arguments[1])
    elif arguments[:1] == ["--resume"]:
        resume(arguments[1], arguments[2], float(arguments[3]))
    elif len(arguments) == 2:
        url, trials = arguments[0], int(arguments[1])
        print(json.dumps({"resumed_after": [trial(url) for _ in range(trials)]}), flush=True)
    else:
        sys.exit("usage: resume.py URL TRIALS")


if __name__ == "__main__":
    main(sys.argv[1:])
